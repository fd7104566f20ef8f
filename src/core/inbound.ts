/**
 * What arrives at the node: envelopes (dedup, identity binding, decrypt, store the message or apply
 * the receipt, all in one unit) and bundle requests (one-time prekeys rationed per requester).
 */
import type { MessageStatus } from './api.js'
import type { NodeContext } from './context.js'
import type { Contacts } from './contacts.js'
import type { Outbox } from './outbox.js'
import { decodePlaintext } from './plaintext.js'
import { displayNameBase, identityKeyOfPeer, MAX_RECEIPT_QUEUE, reject } from './util.js'
import { bytesEqual, toHex, utf8 } from '../crypto/bytes.js'
import { ParleyCryptoError, DuplicateMessageError } from '../crypto/errors.js'
import { encodePreKeyBundle } from '../crypto/prekeys.js'
import { parsePreKeySignalMessage } from '../crypto/message.js'
import { decryptMessage, serializeSessionRecord, type SessionRecord } from '../crypto/session.js'
import type { Contact } from '../store/index.js'
import type { AckStatus, Envelope } from '../net/index.js'

type AckResult = { status: AckStatus, reason?: string }

export class Inbound {
  private readonly lastBundleTo = new Map<string, number>()

  constructor (
    private readonly ctx: NodeContext,
    private readonly contacts: Contacts,
    private readonly outbox: Outbox,
    /** Called (in the background) after prekeys were consumed or handed out: replenish them. */
    private readonly onPreKeysUsed: () => Promise<void>
  ) {}

  async onEnvelope (from: string, env: Envelope): Promise<AckResult> {
    if (this.ctx.stopped) return { status: 'ERROR', reason: 'stopping' }
    try {
      return await this.ctx.withPeerLock(from, async () => await this.receive(from, env))
    } catch {
      // store failure or the like: the sender keeps the envelope and retries
      return { status: 'ERROR', reason: 'internal error' }
    }
  }

  private async receive (from: string, env: Envelope): Promise<AckResult> {
    const ctx = this.ctx
    const idHex = toHex(env.id)
    // 1. dedup by message id before any crypto (issue 3: duplicates never shown twice)
    const existing = await ctx.store.getMessage(idHex)
    if (existing != null) {
      if (existing.peerId !== from || existing.direction !== 'in') return reject('message id collision')
      this.outbox.queueDeliveredAgain(from, env.id) // the first receipt may have been lost
      return { status: 'DUPLICATE' }
    }
    let expectedKey: Uint8Array
    try {
      expectedKey = identityKeyOfPeer(from)
    } catch {
      return reject('sender is not a Parley identity')
    }
    const contact = await ctx.store.getContact(from)
    if (contact?.keyChange != null) return reject('identity key change not accepted')
    if (contact != null && !bytesEqual(contact.identityKey, expectedKey)) {
      // the peer presents another identity key than the stored one: refuse until the user accepts it
      await this.contacts.recordKeyChange(from, expectedKey)
      return reject('identity key changed')
    }
    const type = env.type === 'PREKEY' ? 'prekey' : 'whisper'
    if (type === 'prekey') {
      // Impersonation check before any prekey is touched: the PreKey message's identity key must be
      // the one bound to the Noise-authenticated PeerId (libp2p noise spec §Handshake; identity.ts).
      let claimed: Uint8Array
      try {
        claimed = parsePreKeySignalMessage(env.body).identityKey
      } catch {
        return reject('malformed message')
      }
      if (!bytesEqual(claimed, expectedKey)) return reject('identity key not bound to the sender PeerId')
    }
    let record: SessionRecord | null
    try {
      record = await ctx.loadRecord(from)
    } catch {
      return { status: 'ERROR', reason: 'session state unreadable' }
    }
    let res
    try {
      res = await decryptMessage({
        identity: ctx.identity,
        registrationId: ctx.prekeys.registrationId,
        ...(record != null ? { record } : {}),
        message: { type, body: env.body },
        preKeys: ctx.prekeys.lookup(),
        // PQXDH only between Parley peers: a classic X3DH start would be a downgrade (PQXDH §4.7)
        acceptClassic: false
      })
    } catch (err) {
      if (err instanceof DuplicateMessageError) return { status: 'DUPLICATE' }
      if (err instanceof ParleyCryptoError) return reject(err.code)
      throw err
    }
    if (!bytesEqual(res.remoteIdentityKey, expectedKey)) return reject('identity key not bound to the sender PeerId')
    let pt
    try {
      pt = decodePlaintext(res.plaintext)
    } catch {
      return reject('malformed content')
    }
    // the authenticated inner id must be the envelope's (the dedup key)
    if (!bytesEqual(pt.id, env.id)) return reject('message id mismatch')
    const now = Date.now()
    const recordBytes = serializeSessionRecord(res.record)
    const consumedOt = res.consumedOneTimePreKeyId
    const consumedKy = res.consumedKyberPreKeyId
    if (pt.content.text != null) {
      const text = pt.content.text
      // The delivery receipt is encrypted now; its ratchet step and its receipt-outbox entry commit
      // with the message (one unit): after a crash it is still there and leaves on the next flush.
      const sealed = await this.outbox.sealReceipts(res.record, from, 'DELIVERED', [env.id])
      const sealedBytes = serializeSessionRecord(sealed.record)
      const out = await ctx.store.write((tx) => {
        let created: Contact | null = null
        if (tx.getContact(from) == null) {
          // a message request: a stranger becomes an unverified contact (its key is bound to its PeerId)
          created = { peerId: from, name: tx.suggestContactName(displayNameBase(pt.profileName) ?? `peer-${from.slice(-8)}`), identityKey: expectedKey, verified: false, keyChange: null, addresses: ctx.recentAddrs.get(from) ?? [], lastSeen: now, createdAt: now }
          tx.putContact(created)
        } else {
          tx.updateContact(from, { lastSeen: now })
        }
        const ins = tx.insertMessage({ id: idHex, peerId: from, direction: 'in', body: utf8.encode(text), sentAt: pt.timestamp, receivedAt: now, status: 'delivered' })
        tx.putSession(from, sealedBytes)
        for (const e of sealed.entries) tx.enqueueReceipt(e)
        tx.trimReceipts(from, MAX_RECEIPT_QUEUE)
        // X3DH §3.4: the one-time prekey is deleted in the same unit as the session it created
        if (consumedOt != null) tx.removePreKey('onetime', consumedOt)
        if (consumedKy != null) tx.removePreKey('kyber', consumedKy)
        return { created, message: ins.result === 'inserted' ? tx.getMessage(idHex) : null }
      })
      if (out.created != null) {
        ctx.net.watch(from, out.created.addresses)
        ctx.emit({ type: 'contact-added', contact: ctx.contactInfo(out.created, 1) })
      }
      if (out.message != null) ctx.emit({ type: 'message', message: ctx.messageInfo(out.message) })
      // the receipt leaves after the Ack of this exchange
      setImmediate(() => { this.outbox.kick(from, false) })
    } else if (pt.content.receipt != null) {
      if (contact == null) return reject('receipt from a stranger')
      const kind = pt.content.receipt.kind === 'READ' ? 'read' : 'delivered'
      const ids = pt.content.receipt.ids.map(i => toHex(i))
      const events = await ctx.store.write((tx) => {
        tx.putSession(from, recordBytes)
        if (consumedOt != null) tx.removePreKey('onetime', consumedOt)
        if (consumedKy != null) tx.removePreKey('kyber', consumedKy)
        tx.updateContact(from, { lastSeen: now })
        const ev: Array<{ id: string, status: MessageStatus }> = []
        for (const id of ids) {
          const before = tx.getMessage(id)
          // addReceipt checks the message is ours and belongs to this conversation, and removes the outbox entry
          if (!tx.addReceipt({ messageId: id, kind, at: now, fromPeerId: from })) continue
          const after = tx.getMessage(id)
          if (after != null && after.status !== before?.status) ev.push({ id, status: after.status })
        }
        return ev
      })
      for (const e of events) ctx.emitStatus(from, e.id, e.status)
    }
    if (consumedOt != null || consumedKy != null) ctx.bg(this.onPreKeysUsed())
    return { status: 'OK' }
  }

  async onBundleRequest (from: string): Promise<Uint8Array | null> {
    if (this.ctx.stopped) return null
    // one one-time prekey per requester per minute: a stranger cannot drain them quickly
    const last = this.lastBundleTo.get(from) ?? 0
    const oneTime = Date.now() - last > 60_000
    if (oneTime) this.lastBundleTo.set(from, Date.now())
    if (this.lastBundleTo.size > 4096) this.lastBundleTo.clear()
    const bundle = await this.ctx.prekeys.issueBundle({ oneTime })
    if (oneTime) this.ctx.bg(this.onPreKeysUsed())
    return encodePreKeyBundle(bundle)
  }
}

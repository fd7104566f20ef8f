/**
 * What arrives at the node: envelopes (dedup, identity binding, decrypt, store the message or apply
 * the receipt, all in one unit) and bundle requests (one-time prekeys rationed per requester).
 */
import type { MessageStatus } from './api.js'
import type { NodeContext } from './context.js'
import type { Contacts } from './contacts.js'
import type { Outbox } from './outbox.js'
import { decodePlaintext, groupControlOf, type Plaintext } from './plaintext.js'
import { conversationOf, inOrder, noteReceived, noteRefused } from './mailboxes.js'
import { displayNameBase, identityKeyOfPeer, MAX_RECEIPT_QUEUE, reject } from './util.js'
import { bytesEqual, toHex, utf8 } from '../crypto/bytes.js'
import { ParleyCryptoError, DuplicateMessageError } from '../crypto/errors.js'
import { encodePreKeyBundle } from '../crypto/prekeys.js'
import { parsePreKeySignalMessage } from '../crypto/message.js'
import { decryptMessage, serializeSessionRecord, type SessionRecord } from '../crypto/session.js'
import type { Contact, StoredMessage, WriteTx } from '../store/index.js'
import type { AckStatus, Envelope } from '../net/index.js'

type AckResult = { status: AckStatus, reason?: string }

/**
 * The status events of a receipt's status change. A receipt can overtake the Ack of its own message
 * (pipelined streams): a still `queued` (or `failed`) message then also reports `sent` first, so
 * listeners always see queued -> sent -> delivered -> read in order.
 */
function statusSteps (id: string, before: MessageStatus | undefined, after: MessageStatus): Array<{ id: string, status: MessageStatus }> {
  const skipped = (before === 'queued' || before === 'failed') && (after === 'delivered' || after === 'read')
  return skipped ? [{ id, status: 'sent' }, { id, status: after }] : [{ id, status: after }]
}

export class Inbound {
  private readonly lastBundleTo = new Map<string, number>()
  /** issue 5: receives group control messages (GroupManager.onControl); set by node.ts. */
  groupHandler: ((from: string, control: Uint8Array, commit: (tx: WriteTx) => void) => Promise<void>) | null = null
  /** issue 4: called when a text arrived before its predecessor (node.ts fetches the mailboxes). */
  onGap: (peerId: string) => void = () => {}

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
      return await this.ctx.withPeerLock(from, async () => {
        const r = await this.receive(from, env)
        // issue 4: an envelope of this (authenticated) peer refused for good may be a text that will
        // never come: remembered, so that a later text is not held for it (PROTOCOL.md Part 3 §6)
        if (r.status === 'REJECTED') await this.ctx.store.write((tx) => { noteRefused(tx, from) })
        return r
      })
    } catch {
      // store failure or the like: the sender keeps the envelope and retries
      return { status: 'ERROR', reason: 'internal error' }
    }
  }

  /** Decrypts one ratchet message with our identity and prekeys (both the direct and the mailbox path). */
  private async decrypt (record: SessionRecord | null, type: 'prekey' | 'whisper', body: Uint8Array): ReturnType<typeof decryptMessage> {
    const ctx = this.ctx
    return await decryptMessage({
      identity: ctx.identity,
      registrationId: ctx.prekeys.registrationId,
      ...(record != null ? { record } : {}),
      message: { type, body },
      preKeys: ctx.prekeys.lookup(),
      // PQXDH only between Parley peers: a classic X3DH start would be a downgrade (PQXDH §4.7)
      acceptClassic: false
    })
  }

  private async receive (from: string, env: Envelope): Promise<AckResult> {
    const ctx = this.ctx
    const idHex = toHex(env.id)
    // 1. dedup by message id before any crypto (issue 3: duplicates never shown twice)
    // (perf, issue 3: only where the id belongs is needed, not the row and its body)
    const existing = await ctx.store.messageOrigin(idHex)
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
      res = await this.decrypt(record, type, env.body)
    } catch (err) {
      if (err instanceof DuplicateMessageError) return { status: 'DUPLICATE' }
      if (err instanceof ParleyCryptoError) return reject(err.code)
      throw err
    }
    if (!bytesEqual(res.remoteIdentityKey, expectedKey)) return reject('identity key not bound to the sender PeerId')
    // issue 5: a group control message (src/core/groups.ts) rides in the same plaintext; the group
    // manager commits the advanced session (and consumed prekeys) in the unit of the control's effect
    const groupCtl = this.groupHandler != null ? groupControlOf(res.plaintext) : null
    if (groupCtl != null) {
      if (!bytesEqual(groupCtl.id, env.id)) return reject('message id mismatch')
      const rec = serializeSessionRecord(res.record)
      const ot = res.consumedOneTimePreKeyId
      const ky = res.consumedKyberPreKeyId
      await this.groupHandler!(from, groupCtl.group, (tx) => {
        tx.putSession(from, rec)
        if (ot != null) tx.removePreKey('onetime', ot)
        if (ky != null) tx.removePreKey('kyber', ky)
      })
      if (ot != null || ky != null) ctx.bg(this.onPreKeysUsed())
      return { status: 'OK' }
    }
    let pt
    try {
      pt = decodePlaintext(res.plaintext)
    } catch {
      return reject('malformed content')
    }
    // the authenticated inner id must be the envelope's (the dedup key)
    if (!bytesEqual(pt.id, env.id)) return reject('message id mismatch')
    // issue 4, gap detection (PROTOCOL.md Part 3 §6): a text whose predecessor has not been shown is
    // not committed (the ratchet step is dropped too): ERROR makes the sender retry it, in order
    if (pt.content.text != null && pt.seq != null) {
      const stored = await ctx.store.getConversation(from) // one statement: no read transaction needed
      const conv = conversationOf({ getConversation: () => stored }, from)
      if (!inOrder(conv, pt.seq)) {
        this.onGap(from)
        return { status: 'ERROR', reason: `gap: waiting for text ${conv.recvSeq + 1}` }
      }
    }
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
        // (perf, issue 3: the lastSeen UPDATE doubles as the existence check; nothing read back)
        if (!tx.touchContact(from, now)) {
          // a message request: a stranger becomes an unverified contact (its key is bound to its PeerId)
          created = { peerId: from, name: tx.suggestContactName(displayNameBase(pt.profileName) ?? `peer-${from.slice(-8)}`), identityKey: expectedKey, verified: false, keyChange: null, addresses: ctx.recentAddrs.get(from) ?? [], relays: [], lastSeen: now, createdAt: now }
          tx.putContact(created)
        }
        noteReceived(tx, from, pt.seq, pt.route) // issue 4: shown text number, the peer's mailbox route
        const body = utf8.encode(text)
        const ins = tx.insertMessage({ id: idHex, peerId: from, direction: 'in', body, sentAt: pt.timestamp, receivedAt: now, status: 'delivered' })
        tx.putSession(from, sealedBytes)
        for (const e of sealed.entries) tx.enqueueReceipt(e)
        tx.trimReceipts(from, MAX_RECEIPT_QUEUE)
        // X3DH §3.4: the one-time prekey is deleted in the same unit as the session it created
        if (consumedOt != null) tx.removePreKey('onetime', consumedOt)
        if (consumedKy != null) tx.removePreKey('kyber', consumedKy)
        // the row just inserted, as getMessage would return it (not read back: issue 3 hot path)
        const message: StoredMessage | null = ins.result === 'inserted'
          ? { id: idHex, peerId: from, direction: 'in', body, sentAt: pt.timestamp, receivedAt: now, status: 'delivered', seq: ins.seq, readAt: null }
          : null
        return { created, message }
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
      // A DELIVERED receipt only advances our receiving chain and moves statuses forward: a deferred
      // unit (no fsync of its own). Nothing derived from this state leaves before the next full unit,
      // which makes this one durable too (WAL order); a power cut before that rolls back only the
      // receipt, and the message's outbox entry (removed here) re-sends it: the peer answers DUPLICATE
      // and seals a new receipt (src/store/README.md, "Durability per unit"). READ receipts (not
      // re-sent) and units that consume a prekey (X3DH §3.4) stay full.
      const durability = kind === 'delivered' && consumedOt == null && consumedKy == null ? 'deferred' : 'full'
      const events = await ctx.store.write((tx) => {
        tx.putSession(from, recordBytes)
        if (pt.route != null) noteReceived(tx, from, undefined, pt.route) // issue 4: the peer's mailbox route (nothing to note without one)
        if (consumedOt != null) tx.removePreKey('onetime', consumedOt)
        if (consumedKy != null) tx.removePreKey('kyber', consumedKy)
        tx.touchContact(from, now)
        const ev: Array<{ id: string, status: MessageStatus }> = []
        for (const id of ids) {
          // applyReceipt checks the message is ours and belongs to this conversation, removes the outbox
          // entry, and says how the status moved (no re-read of the message before and after)
          const r = tx.applyReceipt({ messageId: id, kind, at: now, fromPeerId: from })
          if (r != null && r.after !== r.before) ev.push(...statusSteps(id, r.before, r.after))
        }
        return ev
      }, { durability })
      for (const e of events) ctx.emitStatus(from, e.id, e.status)
    }
    if (consumedOt != null || consumedKy != null) ctx.bg(this.onPreKeysUsed())
    return { status: 'OK' }
  }

  // -- issue 4: envelopes fetched from our mailboxes -------------------------------------------------

  /**
   * One sender's envelopes from a mailbox page, in deposit order, under the peer lock: decrypted one
   * after the other on one in-memory ratchet record and committed in ONE store transaction together
   * with ONE delivery receipt for all its texts (not one fsync per message). The sender named by the
   * sealed item is bound by the decryption itself: a whisper message only opens with that peer's
   * session, a PreKey message only if its identity key is the PeerId's (as on the direct path).
   * Returns per envelope: true = done (committed, duplicate, or refused for good: acknowledge it),
   * false = held (it follows a gap, or a transient failure: it stays in the mailbox and comes again).
   */
  async receiveBatch (from: string, envs: Envelope[]): Promise<boolean[]> {
    const ctx = this.ctx
    const done = envs.map(() => false)
    if (ctx.stopped) return done
    let expectedKey: Uint8Array
    try {
      expectedKey = identityKeyOfPeer(from)
    } catch {
      return envs.map(() => true) // not a Parley identity: never readable
    }
    return await ctx.withPeerLock(from, async () => {
      const contact = await ctx.store.getContact(from)
      // a pending identity change: keep the mail until the user decided (nothing is lost)
      if (contact?.keyChange != null || (contact != null && !bytesEqual(contact.identityKey, expectedKey))) return done
      let record: SessionRecord | null
      try {
        record = await ctx.loadRecord(from)
      } catch {
        return done
      }
      // one snapshot for the conversation state and the dedup look-ups of the whole batch
      const snap = await ctx.store.read(tx => ({ conv: conversationOf(tx, from), known: envs.map(e => tx.getMessage(toHex(e.id))) }))
      let recvSeq = snap.conv.recvSeq
      let skips = snap.conv.skips
      const texts: Array<{ i: number, idHex: string, pt: Plaintext }> = []
      const receipts: Array<{ i: number, pt: Plaintext }> = []
      const consumedOt: number[] = []
      const consumedKy: number[] = []
      const seen = new Set<string>()
      let route: Plaintext['route']
      let profileName: string | undefined
      let rest = envs.length // index of the first envelope left to the one-by-one path
      let gap = false
      for (let i = 0; i < envs.length; i++) {
        const env = envs[i]!
        const idHex = toHex(env.id)
        if (seen.has(idHex)) { done[i] = true; continue }
        const existing = snap.known[i]
        if (existing != null) {
          if (existing.peerId === from && existing.direction === 'in') this.outbox.queueDeliveredAgain(from, env.id)
          done[i] = true
          continue
        }
        const type = env.type === 'PREKEY' ? 'prekey' : 'whisper'
        if (type === 'prekey') {
          // the PreKey message's identity key must be the claimed sender's (identity.ts; as onEnvelope)
          let claimed: Uint8Array
          try {
            claimed = parsePreKeySignalMessage(env.body).identityKey
          } catch {
            done[i] = true
            continue
          }
          if (!bytesEqual(claimed, expectedKey)) { done[i] = true; continue }
        }
        // a whisper message before any session: its PreKey message may still come (directly or in a
        // later page); keep it in the mailbox rather than drop it
        if (type === 'whisper' && record == null) continue
        let res
        try {
          res = await this.decrypt(record, type, env.body)
        } catch (err) {
          if (err instanceof ParleyCryptoError) { done[i] = true; continue } // duplicate, bad MAC, forged sender
          throw err
        }
        if (!bytesEqual(res.remoteIdentityKey, expectedKey)) { done[i] = true; continue }
        let pt: Plaintext
        try {
          pt = decodePlaintext(res.plaintext)
        } catch {
          done[i] = true
          continue
        }
        if (!bytesEqual(pt.id, env.id)) { done[i] = true; continue }
        if (pt.content.text != null) {
          // gap detection (PROTOCOL.md Part 3 §6): hold this text and everything after it
          if (!inOrder({ ...snap.conv, recvSeq, skips }, pt.seq)) { gap = true; break }
          if (pt.seq != null && pt.seq > recvSeq) {
            skips = Math.max(0, skips - (pt.seq - recvSeq - 1))
            recvSeq = pt.seq
          }
          texts.push({ i, idHex, pt })
          profileName ??= pt.profileName
        } else if (pt.content.receipt != null) {
          if (contact == null) { done[i] = true; continue }
          receipts.push({ i, pt })
        } else {
          rest = i // other content: committed so far, then the one-by-one path takes over
          break
        }
        seen.add(idHex)
        record = res.record
        if (res.consumedOneTimePreKeyId != null) consumedOt.push(res.consumedOneTimePreKeyId)
        if (res.consumedKyberPreKeyId != null) consumedKy.push(res.consumedKyberPreKeyId)
        route = pt.route ?? route
      }
      if (gap) this.onGap(from)
      if (record != null && (texts.length > 0 || receipts.length > 0)) {
        const sealed = texts.length > 0 ? await this.outbox.sealReceipts(record, from, 'DELIVERED', texts.map(t => t.pt.id)) : { record, entries: [] }
        const sessionBytes = serializeSessionRecord(sealed.record)
        const now = Date.now()
        const out = await ctx.store.write((tx) => {
          let created: Contact | null = null
          if (tx.getContact(from) == null) {
            created = { peerId: from, name: tx.suggestContactName(displayNameBase(profileName) ?? `peer-${from.slice(-8)}`), identityKey: expectedKey, verified: false, keyChange: null, addresses: ctx.recentAddrs.get(from) ?? [], relays: [], lastSeen: now, createdAt: now }
            tx.putContact(created)
          } else {
            tx.updateContact(from, { lastSeen: now })
          }
          const messages = []
          for (const t of texts) {
            const ins = tx.insertMessage({ id: t.idHex, peerId: from, direction: 'in', body: utf8.encode(t.pt.content.text!), sentAt: t.pt.timestamp, receivedAt: now, status: 'delivered' })
            if (ins.result === 'inserted') messages.push(tx.getMessage(t.idHex)!)
          }
          tx.putSession(from, sessionBytes)
          for (const e of sealed.entries) tx.enqueueReceipt(e)
          tx.trimReceipts(from, MAX_RECEIPT_QUEUE)
          for (const id of consumedOt) tx.removePreKey('onetime', id)
          for (const id of consumedKy) tx.removePreKey('kyber', id)
          const statuses: Array<{ id: string, status: MessageStatus }> = []
          for (const r of receipts) {
            const kind = r.pt.content.receipt!.kind === 'READ' ? 'read' : 'delivered'
            for (const rid of r.pt.content.receipt!.ids.map(x => toHex(x))) {
              const st = tx.applyReceipt({ messageId: rid, kind, at: now, fromPeerId: from })
              if (st != null && st.after !== st.before) statuses.push(...statusSteps(rid, st.before, st.after))
            }
          }
          noteReceived(tx, from, recvSeq, route, skips)
          return { created, messages, statuses }
        })
        for (const t of texts) done[t.i] = true
        for (const r of receipts) done[r.i] = true
        if (out.created != null) {
          ctx.net.watch(from, out.created.addresses)
          ctx.emit({ type: 'contact-added', contact: ctx.contactInfo(out.created, out.messages.length) })
        }
        for (const m of out.messages) ctx.emit({ type: 'message', message: ctx.messageInfo(m) })
        for (const e of out.statuses) ctx.emitStatus(from, e.id, e.status)
        if (sealed.entries.length > 0) setImmediate(() => { this.outbox.kick(from, false) })
        if (consumedOt.length > 0 || consumedKy.length > 0) ctx.bg(this.onPreKeysUsed())
      }
      for (let i = rest; i < envs.length && !gap; i++) {
        const r = await this.receive(from, envs[i]!)
        done[i] = r.status !== 'ERROR'
        if (!done[i]) break
      }
      return done
    })
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

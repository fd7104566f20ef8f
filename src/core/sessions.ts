/**
 * Sessions of the node: PQXDH set-up from a fetched bundle, sealing texts and receipts with the
 * Double Ratchet, and the queue of messages that still wait for a session (no bundle yet).
 * Every method that reads or advances a record expects the caller to hold the peer lock.
 */
import type { NodeContext } from './context.js'
import type { Contacts } from './contacts.js'
import { KeyChangePendingError, NoBundleError } from './errors.js'
import { encodePlaintext, MAX_PROFILE_NAME_CHARS, type MailboxRoute } from './plaintext.js'
import { conversationOf, noteSentSeq } from './mailboxes.js'
import { fromHexId, identityKeyOfPeer, mergeSignals, newId } from './util.js'
import { bytesEqual, toHex, utf8 } from '../crypto/bytes.js'
import { UntrustedIdentityError } from '../crypto/errors.js'
import { decodePreKeyBundle } from '../crypto/prekeys.js'
import { encryptMessage, initiateSession, serializeSessionRecord, type SessionRecord } from '../crypto/session.js'
import type { Envelope } from '../net/index.js'
import type { Contact, NewReceiptOutboxEntry } from '../store/index.js'
import { encodeEnvelope } from '../wire/index.js'

export type ReceiptKind = 'DELIVERED' | 'READ'

export class Sessions {
  /** Peers with queued messages that still wait for a session (no bundle could be fetched yet). */
  readonly awaitingSession = new Map<string, { attempt: number, nextAt: number }>()

  constructor (private readonly ctx: NodeContext, private readonly contacts: Contacts) {}

  async sealText (record: SessionRecord, id: Uint8Array, timestamp: number, text: string, extra: { seq?: number, route?: MailboxRoute } = {}): Promise<{ record: SessionRecord, bytes: Uint8Array }> {
    // while the session is new (PreKey phase) our display name travels along, for the peer's message request
    const fresh = record.current?.pendingPreKey != null
    const pt = encodePlaintext({ id, timestamp, content: { text }, ...(fresh ? { profileName: this.ctx.profileName.slice(0, MAX_PROFILE_NAME_CHARS) } : {}), ...extra })
    const { record: next, message } = await encryptMessage(record, pt)
    const env: Envelope = { id, sender: this.ctx.peerId, timestamp, type: message.type === 'prekey' ? 'PREKEY' : 'WHISPER', body: message.body }
    return { record: next, bytes: encodeEnvelope(env) }
  }

  /**
   * issue 4: the route we give peers (set by node.ts from src/core/mailboxes.ts). Every plaintext we
   * seal carries it, so a peer always knows where to deposit for us.
   */
  routeFor: (peerId: string) => Promise<MailboxRoute | undefined> = async () => undefined

  /**
   * issue 4: sealText with the next per-conversation text number and our mailbox route. The caller
   * holds the peer lock and commits `noteSentSeq(tx, peerId, seq)` with the returned record.
   */
  async sealTextFor (peerId: string, record: SessionRecord, id: Uint8Array, timestamp: number, text: string): Promise<{ record: SessionRecord, bytes: Uint8Array, seq: number }> {
    const stored = await this.ctx.store.getConversation(peerId) // one statement: no read transaction needed
    const seq = conversationOf({ getConversation: () => stored }, peerId).sendSeq + 1
    const route = await this.routeFor(peerId)
    const env = await this.sealText(record, id, timestamp, text, { seq, ...(route != null ? { route } : {}) })
    return { ...env, seq }
  }

  /** Encrypts one receipt; the caller commits the returned record together with the returned outbox entry. */
  async sealReceipt (record: SessionRecord, peerId: string, kind: ReceiptKind, ids: Uint8Array[]): Promise<{ record: SessionRecord, entry: NewReceiptOutboxEntry }> {
    const id = newId()
    const timestamp = Date.now()
    const route = await this.routeFor(peerId) // issue 4
    const pt = encodePlaintext({ id, timestamp, content: { receipt: { kind, ids } }, ...(route != null ? { route } : {}) })
    const { record: next, message } = await encryptMessage(record, pt)
    const env: Envelope = { id, sender: this.ctx.peerId, timestamp, type: message.type === 'prekey' ? 'PREKEY' : 'WHISPER', body: message.body }
    return { record: next, entry: { id: toHex(id), peerId, envelope: encodeEnvelope(env) } }
  }

  /**
   * Fetches the peer's bundle (directly, else from its DHT record), checks it and starts a PQXDH
   * session. Caller holds the peer lock.
   */
  async establish (contact: Contact, existing: SessionRecord | null, signal: AbortSignal): Promise<SessionRecord> {
    const ctx = this.ctx
    const peerId = contact.peerId
    let bytes: Uint8Array | null = null
    let firstErr: unknown
    // warm-up: the DM stream opens while the bundle is fetched, over the same connection (dialled first
    // when needed: never a second dial or lookup of its own), so the first message need not wait for a
    // stream negotiation after the bundle came
    try {
      if (!ctx.net.isConnected(peerId)) await ctx.net.connect(peerId, { addrs: contact.addresses, signal })
      ctx.net.sendEnvelopes(peerId, [], { addrs: contact.addresses, signal }).catch(() => {})
      bytes = await ctx.net.fetchBundle(peerId, { addrs: contact.addresses, signal })
    } catch (err) {
      firstErr = err
    }
    // a DHT lookup needs DHT peers: with no connection at all it could only time out
    if (bytes == null && !signal.aborted && ctx.net.connections().length > 0) {
      try {
        const rec = await ctx.net.findRecord(peerId, { signal })
        if (rec != null) {
          bytes = rec.payload
          ctx.bg(this.contacts.onPeerAddresses(peerId, rec.addresses))
        }
      } catch (err) {
        firstErr ??= err
      }
    }
    if (bytes == null) throw new NoBundleError(`no prekey bundle available for ${peerId}`, { cause: firstErr })
    const bundle = decodePreKeyBundle(bytes)
    // Identity binding: the bundle's identity key must be the one the PeerId determines (src/crypto/identity.ts;
    // identityKeyOfPeer derives it with the same check once per peer and caches it: the point validation
    // costs milliseconds, on a new contact's first-message path)
    let bound: Uint8Array
    try {
      bound = identityKeyOfPeer(peerId)
    } catch (err) {
      throw new UntrustedIdentityError('peer key is not a usable Ed25519 key', { cause: err })
    }
    if (!bytesEqual(bundle.identityKey, bound)) throw new UntrustedIdentityError('identity key is not bound to the peer key')
    if (!bytesEqual(bundle.identityKey, contact.identityKey)) {
      await this.contacts.recordKeyChange(peerId, bundle.identityKey)
      throw new KeyChangePendingError(peerId)
    }
    // PQXDH §3.3: verifies both prekey signatures before use; a Kyber prekey is mandatory.
    return await initiateSession({ identity: ctx.identity, registrationId: ctx.prekeys.registrationId, bundle, mode: 'pqxdh', ...(existing != null ? { record: existing } : {}), signal })
  }

  /** Encrypts every queued message of the peer that has no envelope yet, oldest first. Caller holds the lock. */
  async sealPendingLocked (peerId: string, record: SessionRecord): Promise<SessionRecord> {
    const store = this.ctx.store
    const queued = (await store.listMessages(peerId, { limit: 1000 })).filter(m => m.direction === 'out' && m.status === 'queued')
    for (const m of queued) {
      if (await store.getOutbox(m.id) != null) continue
      const env = await this.sealTextFor(peerId, record, fromHexId(m.id), m.sentAt, utf8.decode(m.body))
      record = env.record
      await store.write((tx) => {
        tx.putSession(peerId, serializeSessionRecord(env.record))
        noteSentSeq(tx, peerId, env.seq) // issue 4
        tx.enqueueOutbox({ messageId: m.id, peerId, envelope: env.bytes })
      })
    }
    this.awaitingSession.delete(peerId)
    return record
  }

  /** Marks a peer's queued messages as waiting for a session (first retry after one backoff step). */
  markAwaiting (peerId: string, immediately = false): void {
    if (this.awaitingSession.has(peerId)) return
    this.awaitingSession.set(peerId, immediately ? { attempt: 0, nextAt: 0 } : { attempt: 1, nextAt: Date.now() + this.ctx.retryDelay(1) })
  }

  /** Peers whose session retry is due now. */
  dueRetries (now: number): string[] {
    return [...this.awaitingSession].filter(([, st]) => st.nextAt <= now).map(([p]) => p)
  }

  /**
   * Retries the session set-up for a peer whose queued messages wait for a bundle. True when the
   * messages were sealed into the outbox (the caller flushes it).
   */
  async retrySession (peerId: string): Promise<boolean> {
    const ctx = this.ctx
    const st = this.awaitingSession.get(peerId)
    if (st == null || ctx.stopped) return false
    st.nextAt = Number.MAX_SAFE_INTEGER // in progress
    let ok = false
    try {
      await ctx.withPeerLock(peerId, async () => {
        const contact = await ctx.store.getContact(peerId)
        if (contact == null || contact.keyChange != null) return
        let record = await ctx.loadRecord(peerId)
        if (record?.current == null) record = await this.establish(contact, record, mergeSignals(ctx.policy.sessionSetupMs, ctx.life.signal))
        await this.sealPendingLocked(peerId, record)
        ok = true
      })
    } catch {
      ok = false
    }
    if (!ok && this.awaitingSession.get(peerId) === st) {
      st.attempt++
      st.nextAt = Date.now() + ctx.retryDelay(st.attempt)
    }
    return ok
  }
}

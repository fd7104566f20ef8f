/**
 * Offline delivery through mailboxes (issue 4; docs/PROTOCOL.md Part 3 §6 and Part 4 §7): the node's
 * side of `/parley/mailbox/1.0.0`.
 *
 * - Our mailboxes are our relays (`ctx.relays`). For every contact we derive a routing tag from a
 *   mailbox secret (HKDF of the identity seed, so it needs no storage and survives restarts) and send
 *   it with our relays inside the encrypted session (Plaintext.route). An "introduction" tag (label
 *   `intro`) travels in our invites and our DHT record (format 3), for first messages from contacts
 *   that have no session yet.
 * - Sending: when a peer cannot be reached directly, the outbox hands its due envelopes to `deposit`:
 *   each one is sealed to the peer's identity key together with our PeerId (src/mailbox/seal.ts) and
 *   deposited in batches with every mailbox of the peer's route, from a throwaway libp2p identity.
 * - Receiving: `fetch` runs on start, whenever a connection to one of our relays opens, periodically,
 *   and when a gap is seen; it pages through our items, opens them, hands them per sender to the
 *   inbound path (one store transaction per sender and page), and acknowledges what was committed
 *   (or is garbage). Items held back by gap detection stay in the mailbox and come again.
 */
import type { NodeContext } from './context.js'
import type { MailboxRoute } from './plaintext.js'
import { MailboxRoute as PbMailboxRoute } from './gen/plaintext.js'
import { relayPeerIdOf, mergeRelays } from './relays.js'
import { concatBytes } from '../crypto/bytes.js'
import { primitives } from '../crypto/primitives/index.js'
import { decodePublicKey } from '../crypto/keys.js'
import {
  createEphemeralMailboxClient, deriveMailboxKey, MailboxFullError, MailboxRateLimitedError, openItem, sealItem,
  MAILBOX_LIMITS, type EphemeralMailboxClient, type MailboxItem, type MailboxKey
} from '../mailbox/index.js'
import type { ConversationState, WriteTx } from '../store/index.js'
import { decodeEnvelope, type Envelope } from '../wire/index.js'
import { fromHexId, identityKeyOfPeer, mergeSignals } from './util.js'

/** Tunables of offline delivery. */
export interface MailboxPolicy {
  /** Fetch from our mailboxes this often (also on start and when a relay connection opens). @default 60000 */
  fetchIntervalMs: number
  /** After a failed direct attempt, go straight to the mailboxes for this long (while not connected). @default 5000 */
  directRetryMs: number
  /** Deadline of one mailbox operation (dial + request + response). @default 15000 */
  requestTimeoutMs: number
}

export const DEFAULT_MAILBOX_POLICY: Readonly<MailboxPolicy> = Object.freeze({
  fetchIntervalMs: 60_000,
  directRetryMs: 5_000,
  requestTimeoutMs: 15_000
})

/** A peer with no known route gets its DHT record looked up for one at most this often. */
const RECORD_LOOKUP_MS = 5 * 60_000
/** Tag epoch: tags do not rotate yet (PROTOCOL.md Part 4 §8, known limits). */
const EPOCH = 0
/** Label of the introduction tag (a PeerId never equals it). */
export const INTRO_LABEL = 'intro'
const te = new TextEncoder()
const SECRET_INFO = te.encode('parley/mailbox/secret/v1')
const CLIENT_ID_PREFIX = te.encode('parley/mailbox/client-id/v1')

/** What happened to one envelope handed to deposit(). */
export type DepositOutcome =
  | { kind: 'stored' }
  | { kind: 'full', reason: string }
  | { kind: 'error', reason: string }

/** One envelope to deposit: its id (hex, the idempotency key's source) and its wire bytes. */
export interface DepositItem { id: string, envelope: Uint8Array }

/** An item fetched from a mailbox, opened: who it claims to be from and its envelope. */
export interface FetchedEnvelope { sender: string, env: Envelope }

/** The inbound side: processes one sender's envelopes in order; true per envelope = done (ack it). */
export type BatchReceiver = (sender: string, envs: Envelope[]) => Promise<boolean[]>

export function encodeRoute (r: MailboxRoute): Uint8Array {
  return PbMailboxRoute.encode({ tag: r.tag as Uint8Array<ArrayBuffer>, relays: [...r.relays] })
}

export function decodeRoute (b: Uint8Array): MailboxRoute | null {
  if (b.length === 0) return null
  try {
    const r = PbMailboxRoute.decode(b, { limits: { relays: 8 } })
    if (r.tag.length !== 32) return null
    return { tag: new Uint8Array(r.tag), relays: mergeRelays(r.relays, []) }
  } catch {
    return null
  }
}

/** The conversation row of `peerId` inside a unit of work (a zero row when none exists yet). */
export function conversationOf (tx: { getConversation: (p: string) => ConversationState | null }, peerId: string): ConversationState {
  return tx.getConversation(peerId) ?? { peerId, sendSeq: 0, recvSeq: 0, skips: 0, route: new Uint8Array(0) }
}

/**
 * Gap rule (PROTOCOL.md Part 3 §6): may text number `seq` be shown now? Yes when nothing before it is
 * missing — or when the missing ones are at most the envelopes of this peer we refused for good.
 */
export function inOrder (c: ConversationState, seq: number | undefined): boolean {
  return seq == null || seq <= c.recvSeq + 1 + c.skips
}

/** Records, inside a unit of work, that we refused an envelope of `peerId` for good (direct path). */
export function noteRefused (tx: WriteTx, peerId: string): void {
  const c = conversationOf(tx, peerId)
  if (c.skips < MAX_SKIPS) tx.putConversation({ ...c, skips: c.skips + 1 })
}

/** Refusals remembered per conversation. */
const MAX_SKIPS = 1000

/** Records, inside a unit of work, that we sealed text number `seq` for `peerId`. */
export function noteSentSeq (tx: WriteTx, peerId: string, seq: number): void {
  const c = conversationOf(tx, peerId)
  if (seq > c.sendSeq) tx.putConversation({ ...c, sendSeq: seq })
}

/**
 * Records, inside a unit of work, what a decrypted plaintext of `peerId` told us: the text number
 * it showed (recvSeq only grows) and the peer's mailbox route (the newest wins; its relays also
 * become the contact's relays).
 */
export function noteReceived (tx: WriteTx, peerId: string, seq: number | undefined, route: MailboxRoute | undefined, skips?: number): void {
  const c = conversationOf(tx, peerId)
  let next = c
  // one text: those skipped over (seq - recvSeq - 1) use up as many remembered refusals; a batch
  // (receiveBatch) passes what is left itself
  if (seq != null && seq > c.recvSeq) next = { ...next, recvSeq: seq, skips: skips ?? Math.max(0, c.skips - (seq - c.recvSeq - 1)) }
  if (route != null) {
    const relays = mergeRelays(route.relays, [])
    const enc = encodeRoute({ tag: route.tag, relays })
    if (!bytesEq(enc, c.route)) {
      next = { ...next, route: enc }
      if (relays.length > 0) {
        const contact = tx.getContact(peerId)
        if (contact != null && !(contact.relays.length === relays.length && contact.relays.every((a, i) => a === relays[i]))) tx.updateContact(peerId, { relays })
      }
    }
  }
  if (next !== c) tx.putConversation(next)
}

function bytesEq (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export class Mailboxes {
  private secret: Uint8Array | null = null
  private readonly keys = new Map<string, Promise<MailboxKey>>()
  private clientP: Promise<EphemeralMailboxClient> | null = null
  private timer: NodeJS.Timeout | null = null
  private fetching: Promise<void> | null = null
  private fetchAgain = false
  private receiver: BatchReceiver | null = null
  /** Peers whose DHT record we looked up for a route, and when. */
  private readonly recordLookups = new Map<string, number>()
  /** Peers whose last direct attempt failed, and when. */
  private readonly directFailedAt = new Map<string, number>()
  /** Counters for tests and metrics. */
  readonly stats = { deposited: 0, depositFull: 0, depositErrors: 0, fetched: 0, acked: 0, held: 0, garbage: 0, fetchErrors: 0 }

  constructor (private readonly ctx: NodeContext, readonly policy: MailboxPolicy) {}

  // -- keys and routes ------------------------------------------------------------------------------

  private async mailboxSecret (): Promise<Uint8Array> {
    // A function of the identity seed (HKDF, RFC 5869 §3.1: independent output per info string):
    // nothing to store, and a restored identity fetches its old mail.
    this.secret ??= await primitives.hkdfSha256(this.ctx.identity.seed, new Uint8Array(0), SECRET_INFO, 32)
    return this.secret
  }

  /** Our owner key for `label` (a contact's PeerId, or INTRO_LABEL). */
  async keyFor (label: string): Promise<MailboxKey> {
    let k = this.keys.get(label)
    if (k == null) {
      k = this.mailboxSecret().then(async s => await deriveMailboxKey(s, label, EPOCH))
      if (this.keys.size > 4096) this.keys.clear()
      this.keys.set(label, k)
    }
    return await k
  }

  /** The route we give `peerId` (null while we have no relays). */
  async routeFor (peerId: string): Promise<MailboxRoute | undefined> {
    if (this.ctx.relays.length === 0) return undefined
    return { tag: (await this.keyFor(peerId)).tag, relays: [...this.ctx.relays] }
  }

  /** Our introduction tag (for invites): where contacts without a session deposit. */
  async introTag (): Promise<Uint8Array> {
    return (await this.keyFor(INTRO_LABEL)).tag
  }

  private async client (): Promise<EphemeralMailboxClient> {
    this.clientP ??= createEphemeralMailboxClient({ dialTimeoutMs: this.policy.requestTimeoutMs, readTimeoutMs: this.policy.requestTimeoutMs })
    try {
      return await this.clientP
    } catch (err) {
      this.clientP = null
      throw err
    }
  }

  // -- sending --------------------------------------------------------------------------------------

  noteDirectFailure (peerId: string): void {
    this.directFailedAt.set(peerId, Date.now())
    if (this.directFailedAt.size > 4096) this.directFailedAt.delete(this.directFailedAt.keys().next().value!)
  }

  noteDirectSuccess (peerId: string): void {
    this.directFailedAt.delete(peerId)
  }

  /** True when a direct attempt failed very recently and the peer is still not connected: skip it. */
  skipDirect (peerId: string): boolean {
    const at = this.directFailedAt.get(peerId)
    return at != null && Date.now() - at < this.policy.directRetryMs && !this.ctx.net.isConnected(peerId)
  }

  /**
   * A contact's signed DHT record (format 3) named its introduction tag and relays: they become the
   * contact's route when we know none yet (no route from its session, no invite tag). A route we
   * already have is never replaced from here. True when the route was set.
   */
  async noteRecordRoute (peerId: string, introTag: Uint8Array | null, relays: readonly string[]): Promise<boolean> {
    if (introTag == null || introTag.length !== 32 || this.ctx.stopped) return false
    const valid = mergeRelays(relays, [])
    if (valid.length === 0) return false
    const tag = introTag.slice()
    return await this.ctx.store.write((tx) => {
      if (tx.getContact(peerId) == null) return false
      const conv = conversationOf(tx, peerId)
      if (conv.route.length > 0) return false
      tx.putConversation({ ...conv, route: encodeRoute({ tag, relays: valid }) })
      return true
    })
  }

  /**
   * No route known: the peer's DHT record may name one (format 3); noteRecordRoute stores it. At most
   * once per RECORD_LOOKUP_MS per peer (a peer without a format 3 record would otherwise cost a DHT
   * query per flush).
   */
  private lookupRecordRoute (peerId: string): void {
    const last = this.recordLookups.get(peerId)
    if (this.ctx.stopped || (last != null && Date.now() - last < RECORD_LOOKUP_MS)) return
    this.recordLookups.delete(peerId)
    this.recordLookups.set(peerId, Date.now())
    if (this.recordLookups.size > 4096) this.recordLookups.delete(this.recordLookups.keys().next().value!)
    this.ctx.bg((async () => {
      const rec = await this.ctx.net.findRecord(peerId, { signal: mergeSignals(this.policy.requestTimeoutMs, this.ctx.life.signal) })
      if (rec != null) await this.noteRecordRoute(peerId, rec.introTag, rec.relays)
    })().catch(() => {}))
  }

  /** The mailbox route we know for `peerId`, or null (then nothing can be deposited). */
  async routeOf (peerId: string): Promise<MailboxRoute | null> {
    const { conv, contact } = await this.ctx.store.read(tx => ({ conv: tx.getConversation(peerId), contact: tx.getContact(peerId) }))
    const r = conv != null ? decodeRoute(conv.route) : null
    if (r == null) return null
    const relays = r.relays.length > 0 ? r.relays : (contact?.relays ?? [])
    return relays.length > 0 ? { tag: r.tag, relays } : null
  }

  /**
   * Deposits `items` (in order) with every mailbox of the peer's route. An item counts as stored
   * when at least one mailbox accepted it; FULL when every mailbox that answered refused it as full.
   * Returns null when the peer has no known route.
   */
  async deposit (peerId: string, items: DepositItem[], signal?: AbortSignal): Promise<DepositOutcome[] | null> {
    if (items.length === 0) return []
    const route = await this.routeOf(peerId)
    if (route == null) {
      // the next attempt may find one in the peer's DHT record (looked up in the background: a DHT
      // query must not hold up this flush)
      this.lookupRecordRoute(peerId)
      return null
    }
    const recipient = decodePublicKey(identityKeyOfPeer(peerId))
    const inputs = await Promise.all(items.map(async (it) => ({
      tag: route.tag,
      clientId: await clientIdOf(route.tag, it.id),
      sealed: await sealItem(recipient, this.ctx.peerId, it.envelope)
    })))
    const out: Array<DepositOutcome | null> = items.map(() => null)
    const reasons: string[] = []
    const c = await this.client()
    const s = mergeSignals(this.policy.requestTimeoutMs * 4, signal, this.ctx.life.signal)
    await Promise.all(route.relays.map(async (addr) => {
      if (relayPeerIdOf(addr) == null) return
      try {
        const res = await c.client.depositMany(c.target(addr), inputs, { signal: s })
        res.forEach((r, i) => {
          if (r.ok) out[i] = { kind: 'stored' }
          else if (r.error instanceof MailboxFullError) { if (out[i]?.kind !== 'stored') out[i] = { kind: 'full', reason: r.error.message } } else if (out[i] == null) out[i] = { kind: 'error', reason: r.error.message }
        })
      } catch (err) {
        const e = err as Error
        reasons.push(err instanceof MailboxRateLimitedError ? `mailbox rate limit (retry in ${e instanceof MailboxRateLimitedError ? e.retryAfterMs : 0} ms)` : `mailbox: ${e.message}`)
      }
    }))
    const reason = reasons[0] ?? 'mailbox unreachable'
    const final = out.map(o => o ?? { kind: 'error' as const, reason })
    for (const o of final) {
      if (o.kind === 'stored') this.stats.deposited++
      else if (o.kind === 'full') this.stats.depositFull++
      else this.stats.depositErrors++
    }
    return final
  }

  // -- receiving ------------------------------------------------------------------------------------

  /**
   * Prepares the mailbox client and dials our mailboxes in the background (the connection set-up —
   * Noise, Yamux — is most of a first fetch's time), so the fetch at start finds them connected.
   */
  warm (): void {
    if (this.ctx.relays.length === 0 || this.ctx.stopped) return
    this.ctx.bg((async () => {
      const c = await this.client()
      await Promise.allSettled(this.ctx.relays.map(async a => { await c.dial(c.target(a), { signal: mergeSignals(this.policy.requestTimeoutMs, this.ctx.life.signal) }) }))
    })())
  }

  /** Starts fetching: now, then every fetchIntervalMs. `receiver` processes what arrives. */
  start (receiver: BatchReceiver): void {
    this.receiver = receiver
    this.requestFetch()
    this.timer = setInterval(() => { this.requestFetch() }, this.policy.fetchIntervalMs)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = null
    await this.fetching?.catch(() => {})
    const c = this.clientP
    this.clientP = null
    if (c != null) await (await c.catch(() => null))?.stop().catch(() => {})
  }

  /** True when `peerId` is one of our relays (its connection opening triggers a fetch). */
  isOwnRelay (peerId: string): boolean {
    return this.ctx.relays.some(a => relayPeerIdOf(a) === peerId)
  }

  /** Fetches soon (coalesced: one fetch at a time, one more after it when asked meanwhile). */
  requestFetch (): void {
    if (this.ctx.stopped || this.receiver == null || this.ctx.relays.length === 0) return
    if (this.fetching != null) {
      this.fetchAgain = true
      return
    }
    const run = (async () => {
      try {
        do {
          this.fetchAgain = false
          await this.fetchAll()
        } while (this.fetchAgain && !this.ctx.stopped)
      } finally {
        this.fetching = null
      }
    })()
    this.fetching = run
    this.ctx.bg(run)
  }

  /** Resolves once no fetch is running (tests). */
  async idle (): Promise<void> {
    while (this.fetching != null) await this.fetching.catch(() => {})
  }

  /** One pass over every mailbox of ours (the node's stop, or `signal`, aborts it). */
  async fetchAll (options: { signal?: AbortSignal } = {}): Promise<void> {
    const ctx = this.ctx
    if (ctx.stopped || this.receiver == null) return
    const signal = options.signal != null ? AbortSignal.any([options.signal, ctx.life.signal]) : ctx.life.signal
    const contacts = await ctx.store.listContacts()
    const labels = [INTRO_LABEL, ...contacts.map(c => c.peerId)]
    const keys = await Promise.all(labels.map(async l => await this.keyFor(l)))
    const groups: MailboxKey[][] = []
    for (let i = 0; i < keys.length; i += MAILBOX_LIMITS.maxTags) groups.push(keys.slice(i, i + MAILBOX_LIMITS.maxTags))
    await Promise.all(ctx.relays.map(async (addr) => {
      for (const g of groups) {
        try {
          await this.fetchFrom(addr, g, signal)
        } catch {
          this.stats.fetchErrors++
        }
      }
    }))
  }

  private async fetchFrom (addr: string, keys: MailboxKey[], signal: AbortSignal): Promise<void> {
    const ctx = this.ctx
    const c = await this.client()
    const target = c.target(addr)
    let after = 0
    const acks: Array<Promise<void>> = []
    // pipelined: the next page is requested while this one is processed
    let next: Promise<Awaited<ReturnType<typeof c.client.fetch>>> | null = c.client.fetch(target, keys, { after, signal: mergeSignals(this.policy.requestTimeoutMs, signal) })
    while (next != null && !ctx.stopped && !signal.aborted) {
      const page = await next
      next = null
      if (page.more && page.items.length > 0) {
        after = page.next
        next = c.client.fetch(target, keys, { after, signal: mergeSignals(this.policy.requestTimeoutMs, signal) })
        next.catch(() => {})
      }
      this.stats.fetched += page.items.length
      const done = await this.process(page.items)
      // acknowledged in the background (only after the commit above): the next page is not held up
      if (done.length > 0) acks.push(c.client.ack(target, keys, done, { signal: mergeSignals(this.policy.requestTimeoutMs, signal) }).then(n => { this.stats.acked += n }))
    }
    const results = await Promise.allSettled(acks)
    const failed = results.find(r => r.status === 'rejected')
    if (failed != null) throw (failed as PromiseRejectedResult).reason
  }

  /** Opens and hands over one page; returns the server ids that can be acknowledged. */
  private async process (items: MailboxItem[]): Promise<number[]> {
    const ctx = this.ctx
    const done: number[] = []
    const bySender = new Map<string, Array<{ id: number, env: Envelope }>>()
    const opened = await Promise.all(items.map(async (it) => {
      try {
        const o = await openItem(ctx.identity.dhPrivateKey, ctx.identity.dhPublicKey, it.sealed)
        return { id: it.id, sender: o.sender, env: decodeEnvelope(o.envelope) }
      } catch {
        return { id: it.id, sender: null, env: null }
      }
    }))
    for (const o of opened) {
      if (o.sender == null || o.env == null || o.sender === ctx.peerId) {
        // not for us / unreadable: nothing will ever make it readable (it is under our tag: drop it)
        this.stats.garbage++
        done.push(o.id)
        continue
      }
      let list = bySender.get(o.sender)
      if (list == null) bySender.set(o.sender, list = [])
      list.push({ id: o.id, env: o.env })
    }
    await Promise.all([...bySender].map(async ([sender, list]) => {
      let ok: boolean[]
      try {
        ok = await this.receiver!(sender, list.map(l => l.env))
      } catch {
        ok = list.map(() => false)
      }
      list.forEach((l, i) => {
        if (ok[i] === true) done.push(l.id)
        else this.stats.held++
      })
    }))
    return done
  }
}

/** client_id = SHA-256("parley/mailbox/client-id/v1" || tag || id)[0..16]: stable per message, unlinkable to its id. */
async function clientIdOf (tag: Uint8Array, idHex: string): Promise<Uint8Array> {
  return (await primitives.sha256(concatBytes(CLIENT_ID_PREFIX, tag, fromHexId(idHex)))).subarray(0, 16)
}

/**
 * The mailbox service: `/parley/mailbox/1.0.0` handler over a MailboxDb (docs/PROTOCOL.md Part 4).
 * One request frame, one response frame per stream. Undecodable/oversize frames and requests that
 * are not exactly one operation reset that stream only; field-level problems get MALFORMED.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { primitives, constantTimeEqual } from '../crypto/primitives/index.js'
import {
  MAILBOX_LIMITS, MAILBOX_PROTOCOL, MAX_REQUEST_BYTES, Status, authProblem, batchProblem, decodeRequest, depositProblem, encodeResponse,
  type Auth, type MailboxRequest, type MailboxResponse
} from './codec.js'
import { MailboxDb, type MailboxLimits, type OpenMailboxDbOptions } from './db.js'
import { MailboxError, MailboxProtocolError } from './errors.js'
import { MailboxFrames } from './frames.js'
import { AuthOp, authTranscript, tagOfOwnerKey } from './keys.js'
import { TokenBuckets, type RateLimitOptions } from './rate-limit.js'

/** What the service needs from a libp2p node (a narrow slice of `Libp2p`). */
export interface MailboxServiceComponents {
  /** This mailbox's PeerId (bound into every ownership proof). */
  peerId: string
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number, runOnLimitedConnection: boolean }): Promise<void>
  unhandle(protocol: string): Promise<void>
}

export interface MailboxServiceInit extends OpenMailboxDbOptions {
  /** @default '/parley/mailbox/1.0.0' */
  protocol?: string
  /** Clock (ms since epoch); inject for tests. @default Date.now */
  now?: () => number
  /** Deadline for reading the request and writing the response. @default 10000 */
  readTimeoutMs?: number
  /** Accepted clock skew of an auth timestamp, either way. @default 300000 (5 min) */
  authWindowMs?: number
  /** Per-sender (remote PeerId) token bucket, applied to every request. */
  rateLimit?: Partial<RateLimitOptions>
  /** Concurrent mailbox streams per connection. @default 8 */
  maxInboundStreams?: number
  /** Interval of the expiry sweep; 0 disables the timer (call sweep()). @default 3600000 */
  sweepIntervalMs?: number
  /** Called when a remote broke the protocol and its stream was reset. */
  onViolation?: (peerId: string, err: Error) => void
  /**
   * Which tags this mailbox stores for: per tag null (accept) or the reason to refuse it (answered
   * REFUSED). A node hosting for its contacts accepts only their registered tags (Part 4 §9).
   * @default every tag is accepted (a relay's mailbox)
   */
  accept?: (tags: readonly Uint8Array[]) => Promise<Array<string | null>>
}

export interface MailboxServiceStats {
  items: number
  bytes: number
  deposits: number
  duplicates: number
  refusedFull: number
  rateLimited: number
  refusedAuth: number
  malformed: number
  /** Deposits refused because the mailbox does not store for their tag (Part 4 §9). */
  refusedTag: number
  violations: number
  fetches: number
  acked: number
}

/** Batch items per extra rate-limit token. */
const BATCH_ITEMS_PER_TOKEN = 32

export class MailboxService {
  readonly protocol: string
  readonly db: MailboxDb
  private readonly now: () => number
  private readonly readMs: number
  private readonly authWindowMs: number
  private readonly buckets: TokenBuckets
  private readonly maxIn: number
  private readonly sweepMs: number
  private sweepTimer: NodeJS.Timeout | undefined
  private started = false
  private readonly counters = { deposits: 0, duplicates: 0, refusedFull: 0, rateLimited: 0, refusedAuth: 0, malformed: 0, refusedTag: 0, violations: 0, fetches: 0, acked: 0 }

  constructor (private readonly components: MailboxServiceComponents, private readonly init: MailboxServiceInit) {
    this.protocol = init.protocol ?? MAILBOX_PROTOCOL
    this.now = init.now ?? Date.now
    this.readMs = init.readTimeoutMs ?? 10_000
    this.authWindowMs = init.authWindowMs ?? 5 * 60_000
    this.buckets = new TokenBuckets(init.rateLimit, this.now)
    this.maxIn = init.maxInboundStreams ?? 8
    this.sweepMs = init.sweepIntervalMs ?? 3_600_000
    this.db = MailboxDb.open(init)
  }

  get limits (): MailboxLimits {
    return this.db.limits
  }

  async start (): Promise<void> {
    if (this.started) return
    await this.components.handle(this.protocol, (stream, connection) => {
      void this.onStream(stream, connection)
    }, { maxInboundStreams: this.maxIn, maxOutboundStreams: 16, runOnLimitedConnection: true })
    this.started = true
    this.sweep()
    if (this.sweepMs > 0) {
      this.sweepTimer = setInterval(() => { this.sweep() }, this.sweepMs)
      this.sweepTimer.unref()
    }
  }

  /** Unregisters the handler and closes the database. */
  async stop (): Promise<void> {
    clearInterval(this.sweepTimer)
    if (this.started) await this.components.unhandle(this.protocol)
    this.started = false
    this.db.close()
  }

  /** Deletes expired items now. Returns how many were purged. */
  sweep (): number {
    try {
      return this.db.sweep(this.now())
    } catch {
      return 0
    }
  }

  stats (): MailboxServiceStats {
    return { ...this.db.stats(), ...this.counters }
  }

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const frames = new MailboxFrames(stream, MAX_REQUEST_BYTES)
    let req: MailboxRequest
    try {
      const frame = await frames.read(this.readMs)
      try {
        req = decodeRequest(frame)
      } catch (err) {
        throw new MailboxProtocolError('undecodable mailbox request', { cause: err })
      }
      const ops = (req.deposit != null ? 1 : 0) + (req.fetch != null ? 1 : 0) + (req.ack != null ? 1 : 0) + (req.batch != null ? 1 : 0)
      if (ops !== 1) throw new MailboxProtocolError('a mailbox request must carry exactly one operation')
    } catch (err) {
      this.violation(from, stream, err)
      return
    }
    let res: Uint8Array
    try {
      res = await this.answer(req, from)
    } catch {
      res = encodeResponse({ status: Status.ERROR, reason: 'mailbox storage failed' })
    }
    try {
      await frames.write(res, this.readMs)
      await stream.close({ signal: AbortSignal.timeout(this.readMs) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error('mailbox response failed'))
    }
  }

  private violation (from: string, stream: Stream, err: unknown): void {
    this.counters.violations++
    const e = err instanceof Error ? err : new Error('mailbox protocol violation')
    stream.abort(e)
    try { this.init.onViolation?.(from, e) } catch { /* observer errors are not ours */ }
  }

  private async answer (req: MailboxRequest, from: string): Promise<Uint8Array> {
    // Per-sender token bucket (spec §Rate limit): keyed by the connection's authenticated PeerId.
    // A batch costs 1 + one token per BATCH_ITEMS_PER_TOKEN items (its items are also bounded by size).
    const cost = req.batch != null ? 1 + Math.floor(req.batch.items.length / BATCH_ITEMS_PER_TOKEN) : 1
    const wait = this.buckets.take(from, cost)
    if (wait > 0) {
      this.counters.rateLimited++
      return encodeResponse({ status: Status.RATE_LIMITED, reason: 'rate limited', retryAfterMs: wait })
    }
    if (req.deposit != null) {
      const refused = depositProblem(req.deposit.tag, req.deposit.clientId, req.deposit.sealed) == null ? (await this.refusals([req.deposit.tag]))[0] : null
      if (refused != null) {
        this.counters.refusedTag++
        return encodeResponse({ status: Status.REFUSED, reason: refused })
      }
      return this.deposit(req.deposit.tag, req.deposit.clientId, req.deposit.sealed)
    }
    if (req.batch != null) return this.depositBatch(req.batch.items, batchProblem(req.batch.items) == null ? await this.refusals(req.batch.items.map(i => i.tag)) : [])
    if (req.fetch != null) {
      const tags = await this.authenticate(req.fetch.auth, AuthOp.fetch, from)
      if (!Array.isArray(tags)) return tags
      const limit = req.fetch.limit === 0 ? MAILBOX_LIMITS.maxPageItems : Math.min(req.fetch.limit, MAILBOX_LIMITS.maxPageItems)
      const after = req.fetch.after > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(req.fetch.after)
      const page = this.db.fetch(tags, after, limit, MAILBOX_LIMITS.maxPageBytes, this.now())
      this.counters.fetches++
      return encodeResponse({
        status: Status.OK,
        more: page.more,
        items: page.items.map(i => ({ id: BigInt(i.id), tag: i.tag as Uint8Array<ArrayBuffer>, sealed: i.sealed as Uint8Array<ArrayBuffer>, depositedAt: BigInt(i.depositedAt) }))
      })
    }
    const ack = req.ack!
    const tags = await this.authenticate(ack.auth, AuthOp.ack, from)
    if (!Array.isArray(tags)) return tags
    const ids = ack.ids.filter(i => i > 0n && i <= BigInt(Number.MAX_SAFE_INTEGER)).map(Number)
    const deleted = this.db.ack(tags, ids, this.now())
    this.counters.acked += deleted
    return encodeResponse({ status: Status.OK, deleted })
  }

  /** Per tag: null (stored here) or why not (the `accept` policy; none: every tag). */
  private async refusals (tags: readonly Uint8Array[]): Promise<Array<string | null>> {
    if (this.init.accept == null) return tags.map(() => null)
    const r = await this.init.accept(tags)
    return tags.map((_, i) => r[i] ?? null)
  }

  private deposit (tag: Uint8Array, clientId: Uint8Array, sealed: Uint8Array): Uint8Array {
    const problem = depositProblem(tag, clientId, sealed)
    if (problem != null) {
      this.counters.malformed++
      return encodeResponse({ status: Status.MALFORMED, reason: problem })
    }
    const r = this.db.deposit(tag, clientId, sealed, this.now())
    switch (r.kind) {
      case 'stored':
        this.counters.deposits++
        return encodeResponse({ status: Status.OK, serverId: BigInt(r.id) })
      case 'duplicate':
        this.counters.duplicates++
        return encodeResponse({ status: Status.OK, serverId: BigInt(r.id), duplicate: true })
      case 'full':
        this.counters.refusedFull++
        return encodeResponse({ status: Status.FULL, reason: r.reason })
    }
  }

  /** A batch (spec §4 step 3b): whole-batch checks, then every item as a deposit, in one transaction. */
  private depositBatch (items: Array<{ tag: Uint8Array, clientId: Uint8Array, sealed: Uint8Array }>, refused: Array<string | null>): Uint8Array {
    const problem = batchProblem(items)
    if (problem != null) {
      this.counters.malformed++
      return encodeResponse({ status: Status.MALFORMED, reason: problem })
    }
    const results: Array<{ status: Status, reason?: string, serverId: bigint, duplicate: boolean }> = new Array(items.length)
    const good: number[] = []
    items.forEach((i, k) => {
      const p = depositProblem(i.tag, i.clientId, i.sealed)
      const r = refused[k]
      if (p != null) {
        this.counters.malformed++
        results[k] = { status: Status.MALFORMED, reason: p, serverId: 0n, duplicate: false }
      } else if (r != null) {
        this.counters.refusedTag++
        results[k] = { status: Status.REFUSED, reason: r, serverId: 0n, duplicate: false }
      } else {
        good.push(k)
      }
    })
    const stored = this.db.depositMany(good.map(k => items[k]!), this.now())
    stored.forEach((r, j) => {
      const k = good[j]!
      switch (r.kind) {
        case 'stored':
          this.counters.deposits++
          results[k] = { status: Status.OK, serverId: BigInt(r.id), duplicate: false }
          break
        case 'duplicate':
          this.counters.duplicates++
          results[k] = { status: Status.OK, serverId: BigInt(r.id), duplicate: true }
          break
        case 'full':
          this.counters.refusedFull++
          results[k] = { status: Status.FULL, reason: r.reason, serverId: 0n, duplicate: false }
      }
    })
    return encodeResponse({ status: Status.OK, results })
  }

  /** Checks every tag proof; returns the proven tags or the refusal to send (spec §Auth). */
  private async authenticate (auth: Auth | undefined, op: AuthOp, from: string): Promise<Uint8Array[] | Uint8Array> {
    const problem = authProblem(auth)
    if (problem != null) {
      this.counters.malformed++
      return encodeResponse({ status: Status.MALFORMED, reason: problem })
    }
    const a = auth!
    const refuse = (reason: string): Uint8Array => {
      this.counters.refusedAuth++
      return encodeResponse({ status: Status.REFUSED, reason })
    }
    // Freshness: a proof is only good within ±authWindowMs of our clock (spec §Auth, replay bound).
    const skew = Math.abs(Number(a.timestamp) - this.now())
    if (!(skew <= this.authWindowMs)) return refuse('auth timestamp outside the accepted window')
    const tags: Uint8Array[] = []
    for (const p of a.proofs) {
      // The signature covers both PeerIds, so it is useless on another mailbox or another connection.
      const ok = await primitives.ed25519Verify(p.ownerKey, authTranscript(op, a.timestamp, this.components.peerId, from, p.ownerKey), p.signature)
      if (!ok) return refuse('ownership proof did not verify')
      const tag = await tagOfOwnerKey(p.ownerKey)
      if (!tags.some(t => constantTimeEqual(t, tag))) tags.push(tag)
    }
    return tags
  }
}

export function isMailboxError (err: unknown): err is MailboxError {
  return err instanceof MailboxError
}

export type { MailboxResponse }

/**
 * Client side of `/parley/mailbox/1.0.0`: deposit for a contact, fetch and acknowledge one's own
 * mail (docs/PROTOCOL.md Part 4). Refusals become typed errors (MailboxFullError carries the
 * "mailbox full" message the sender shows; the message stays in the caller's outbox).
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { MAILBOX_LIMITS, MAILBOX_PROTOCOL, MAX_RESPONSE_BYTES, Status, batchProblem, decodeResponse, depositProblem, encodeRequest, type MailboxResponse } from './codec.js'
import type { Auth } from './gen/mailbox.js'
import {
  MailboxError, MailboxFullError, MailboxMalformedError, MailboxProtocolError, MailboxRateLimitedError, MailboxRefusedError,
  MailboxServerError, MailboxTimeoutError, MailboxUnreachableError
} from './errors.js'
import { MailboxFrames, withTimeout } from './frames.js'
import { AuthOp, signAuth, type MailboxKey } from './keys.js'

export type MailboxTarget = PeerId | Multiaddr | Multiaddr[]

/** What the client needs from a libp2p node. */
export interface MailboxClientComponents {
  /** This node's PeerId (bound into ownership proofs). */
  peerId: string
  dial(target: MailboxTarget, options: { signal?: AbortSignal }): Promise<Connection>
}

export interface MailboxClientInit {
  /** @default '/parley/mailbox/1.0.0' */
  protocol?: string
  /** Deadline for dial + stream open. @default 10000 */
  dialTimeoutMs?: number
  /** Deadline for each frame write/read. @default 15000 */
  readTimeoutMs?: number
  /** Clock for auth timestamps. @default Date.now */
  now?: () => number
}

export interface DepositInput {
  /** The recipient's 32-byte routing tag. */
  tag: Uint8Array
  /** 16 bytes, stable across retries of the same message (idempotency key). */
  clientId: Uint8Array
  sealed: Uint8Array
}

/** The outcome of one item of a batch deposit. */
export type BatchDepositResult =
  | { ok: true, serverId: number, duplicate: boolean }
  | { ok: false, error: MailboxFullError | MailboxMalformedError | MailboxRefusedError }

export interface MailboxItem {
  id: number
  tag: Uint8Array
  sealed: Uint8Array
  depositedAt: number
}

export interface FetchPage {
  items: MailboxItem[]
  more: boolean
  /** Pass as `after` to get the next page. */
  next: number
}

export class MailboxClient {
  readonly protocol: string
  private readonly dialMs: number
  private readonly readMs: number
  private readonly now: () => number

  constructor (private readonly components: MailboxClientComponents, init: MailboxClientInit = {}) {
    this.protocol = init.protocol ?? MAILBOX_PROTOCOL
    this.dialMs = init.dialTimeoutMs ?? 10_000
    this.readMs = init.readTimeoutMs ?? 15_000
    this.now = init.now ?? Date.now
  }

  /**
   * Deposits one sealed item. Resolves with the server id (and whether it was already stored);
   * throws MailboxFullError, MailboxRateLimitedError (retryAfterMs), MailboxMalformedError, ...
   */
  async deposit (target: MailboxTarget, input: DepositInput, options: { signal?: AbortSignal } = {}): Promise<{ serverId: number, duplicate: boolean }> {
    const problem = depositProblem(input.tag, input.clientId, input.sealed)
    if (problem != null) throw new MailboxMalformedError(problem)
    const res = await this.exchange(target, () => encodeRequest({ deposit: { tag: input.tag as Uint8Array<ArrayBuffer>, clientId: input.clientId as Uint8Array<ArrayBuffer>, sealed: input.sealed as Uint8Array<ArrayBuffer> } }), options)
    return { serverId: Number(res.serverId), duplicate: res.duplicate }
  }

  /**
   * Deposits many items with as few requests as the batch limits allow (one stream and one mailbox
   * transaction per request), in order. Resolves with one result per item; a whole request's refusal
   * (rate limit, unreachable, ...) throws. Items after a FULL item of the same tag are FULL too.
   */
  async depositMany (target: MailboxTarget, inputs: DepositInput[], options: { signal?: AbortSignal } = {}): Promise<BatchDepositResult[]> {
    const out: BatchDepositResult[] = []
    let i = 0
    while (i < inputs.length) {
      const first = inputs[i]!
      const p = depositProblem(first.tag, first.clientId, first.sealed)
      if (p != null) {
        out.push({ ok: false, error: new MailboxMalformedError(p) })
        i++
        continue
      }
      // a chunk: consecutive well-formed items within the batch limits
      const chunk: DepositInput[] = []
      let bytes = 0
      while (i < inputs.length && chunk.length < MAILBOX_LIMITS.maxBatchItems) {
        const it = inputs[i]!
        if (depositProblem(it.tag, it.clientId, it.sealed) != null) break
        if (chunk.length > 0 && bytes + it.sealed.length > MAILBOX_LIMITS.maxBatchBytes) break
        chunk.push(it)
        bytes += it.sealed.length
        i++
      }
      if (batchProblem(chunk) != null) {
        // a single item above the batch byte cap goes as a plain deposit
        const r = await this.deposit(target, chunk[0]!, options).then(v => ({ ok: true as const, ...v }), (err: unknown) => {
          if (err instanceof MailboxFullError || err instanceof MailboxMalformedError || err instanceof MailboxRefusedError) return { ok: false as const, error: err }
          throw err
        })
        out.push(r)
        continue
      }
      const res = await this.exchange(target, () => encodeRequest({
        batch: { items: chunk.map(c => ({ tag: c.tag as Uint8Array<ArrayBuffer>, clientId: c.clientId as Uint8Array<ArrayBuffer>, sealed: c.sealed as Uint8Array<ArrayBuffer> })) }
      }), options)
      if (res.results.length !== chunk.length) throw new MailboxProtocolError('mailbox answered a batch with the wrong number of results')
      for (const r of res.results) {
        if (r.status === Status.OK) out.push({ ok: true, serverId: Number(r.serverId), duplicate: r.duplicate })
        else if (r.status === Status.FULL) out.push({ ok: false, error: new MailboxFullError(r.reason ?? 'mailbox full') })
        else if (r.status === Status.REFUSED) out.push({ ok: false, error: new MailboxRefusedError(r.reason ?? 'mailbox refused the item') })
        else out.push({ ok: false, error: new MailboxMalformedError(r.reason ?? 'mailbox judged the item malformed') })
      }
    }
    return out
  }

  /** Fetches one page of the items addressed to `keys`' tags, in deposit order, after id `after`. */
  async fetch (target: MailboxTarget, keys: MailboxKey[], options: { after?: number, limit?: number, signal?: AbortSignal } = {}): Promise<FetchPage> {
    checkKeys(keys)
    const after = options.after ?? 0
    const res = await this.exchange(target, async (mailboxId, me) => {
      const auth = await this.auth(keys, AuthOp.fetch, mailboxId, me)
      return encodeRequest({ fetch: { auth, after: BigInt(after), limit: Math.min(options.limit ?? MAILBOX_LIMITS.maxPageItems, MAILBOX_LIMITS.maxPageItems) } })
    }, options)
    const items = res.items.map(i => ({ id: Number(i.id), tag: plain(i.tag), sealed: plain(i.sealed), depositedAt: Number(i.depositedAt) }))
    for (let k = 1; k < items.length; k++) {
      if (items[k]!.id <= items[k - 1]!.id) throw new MailboxProtocolError('mailbox returned items out of order')
    }
    if (items.length > 0 && items[0]!.id <= after) throw new MailboxProtocolError('mailbox returned an item before the cursor')
    return { items, more: res.more, next: items.length > 0 ? items[items.length - 1]!.id : after }
  }

  /** Fetches every page (up to `maxItems`, default 100000) in deposit order. */
  async fetchAll (target: MailboxTarget, keys: MailboxKey[], options: { after?: number, maxItems?: number, signal?: AbortSignal } = {}): Promise<MailboxItem[]> {
    const out: MailboxItem[] = []
    let after = options.after ?? 0
    const max = options.maxItems ?? 100_000
    for (;;) {
      const page = await this.fetch(target, keys, { after, ...(options.signal != null ? { signal: options.signal } : {}) })
      out.push(...page.items)
      after = page.next
      if (!page.more || page.items.length === 0 || out.length >= max) return out
    }
  }

  /** Acknowledges (deletes) items by server id. Resolves with how many the mailbox deleted. */
  async ack (target: MailboxTarget, keys: MailboxKey[], ids: number[], options: { signal?: AbortSignal } = {}): Promise<number> {
    checkKeys(keys)
    let deleted = 0
    for (let i = 0; i < ids.length; i += MAILBOX_LIMITS.maxAckIds) {
      const chunk = ids.slice(i, i + MAILBOX_LIMITS.maxAckIds)
      const res = await this.exchange(target, async (mailboxId, me) => {
        const auth = await this.auth(keys, AuthOp.ack, mailboxId, me)
        return encodeRequest({ ack: { auth, ids: chunk.map(BigInt) } })
      }, options)
      deleted += res.deleted
    }
    return deleted
  }

  private async auth (keys: MailboxKey[], op: AuthOp, mailboxId: string, me: string): Promise<Auth> {
    const timestamp = BigInt(Math.max(0, Math.trunc(this.now())))
    const proofs = await Promise.all(keys.map(async k => {
      const p = await signAuth(k, op, timestamp, mailboxId, me)
      return { ownerKey: p.ownerKey as Uint8Array<ArrayBuffer>, signature: p.signature as Uint8Array<ArrayBuffer> }
    }))
    return { timestamp, proofs }
  }

  /** Opens a stream, sends one request, reads one response, maps refusals to typed errors. */
  private async exchange (target: MailboxTarget, build: (mailboxPeerId: string, me: string) => Uint8Array | Promise<Uint8Array>, options: { signal?: AbortSignal }): Promise<MailboxResponse> {
    const openSignal = withTimeout(this.dialMs, options.signal)
    let stream: Stream
    let connection: Connection
    try {
      connection = await this.components.dial(target, { signal: openSignal })
      stream = await connection.newStream(this.protocol, { signal: openSignal, runOnLimitedConnection: true })
    } catch (err) {
      if (openSignal.aborted) throw new MailboxTimeoutError(options.signal?.aborted === true ? 'mailbox dial aborted by caller' : 'mailbox dial timed out', { cause: err })
      throw new MailboxUnreachableError('could not open a mailbox stream', { cause: err })
    }
    const frames = new MailboxFrames(stream, MAX_RESPONSE_BYTES)
    let res: MailboxResponse
    try {
      const frame = await build(connection.remotePeer.toString(), this.components.peerId)
      await frames.write(frame, this.readMs, options.signal)
      const answer = await frames.read(this.readMs, options.signal)
      try {
        res = decodeResponse(answer)
      } catch (err) {
        throw new MailboxProtocolError('undecodable mailbox response', { cause: err })
      }
      await stream.close({ signal: withTimeout(this.readMs, options.signal) }).catch(() => { stream.abort(new Error('close failed')) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error('mailbox exchange failed'))
      if (err instanceof MailboxError) throw err
      throw new MailboxProtocolError('mailbox exchange failed', { cause: err })
    }
    switch (res.status) {
      case Status.OK: return res
      case Status.FULL: throw new MailboxFullError(res.reason ?? 'mailbox full')
      case Status.RATE_LIMITED: throw new MailboxRateLimitedError(res.retryAfterMs, res.reason ?? 'mailbox rate limit exceeded')
      case Status.MALFORMED: throw new MailboxMalformedError(res.reason ?? 'mailbox judged the request malformed')
      case Status.REFUSED: throw new MailboxRefusedError(res.reason ?? 'mailbox refused the ownership proof')
      default: throw new MailboxServerError(res.reason ?? 'mailbox failed')
    }
  }
}

/** A plain Uint8Array view (the decoder may hand out Buffers). */
function plain (b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

function checkKeys (keys: MailboxKey[]): void {
  if (keys.length === 0 || keys.length > MAILBOX_LIMITS.maxTags) throw new MailboxMalformedError(`name 1..${MAILBOX_LIMITS.maxTags} mailbox keys`)
}

/**
 * What leaves the node: the durable per-peer outbox of sealed messages (FIFO, one flush at a time per
 * peer, exponential backoff with jitter, retransmission until the delivery receipt) and the durable
 * receipt outbox (our own sealed delivery/read receipts, store table receipt_outbox). Every receipt
 * is committed in the same store unit as the ratchet step that sealed it and the change that caused
 * it, so a crash loses neither; it is deleted once the peer acknowledged its envelope.
 * issue 4: what an unreachable peer does not take goes, unchanged and sealed to the peer, to its
 * mailboxes (src/core/mailboxes.ts): messages become `stored` and stay until the receipt; receipts leave
 * the receipt outbox once a mailbox accepted them; a "gap" answer makes every pending entry go again.
 */
import type { MessageStatus } from './api.js'
import type { NodeContext } from './context.js'
import type { ReceiptKind, Sessions } from './sessions.js'
import type { DepositItem, DepositOutcome, Mailboxes } from './mailboxes.js'
import { fromHexId, MAX_ENVELOPES_PER_FLUSH, MAX_RECEIPT_QUEUE } from './util.js'
import { serializeSessionRecord, type SessionRecord } from '../crypto/session.js'
import { DeliveryIncompleteError, type Ack, type Envelope } from '../net/index.js'
import type { NewReceiptOutboxEntry, OutboxEntry, ReceiptOutboxEntry } from '../store/index.js'
import { decodeEnvelope, LIMITS } from '../wire/index.js'

/** issue 4: envelopes deposited in one flush when the peer is known to be unreachable. */
const MAX_DEPOSITS_PER_FLUSH = 256

export class Outbox {
  /**
   * Per peer, the flush that is choosing what to send (at most one; `again`: kicked meanwhile). It
   * hands over as soon as its envelopes are queued on the peer's DM link, so the next flush need not
   * wait for the previous one's acks (the link keeps the frames of successive calls in call order).
   */
  private readonly selecting = new Map<string, { again: boolean, force: boolean }>()
  /** Per peer, ids (message ids and receipt ids) handed to the link and not yet settled in the store. */
  private readonly inFlight = new Map<string, Set<string>>()
  /** Per peer, the end of the newest flush's settling: flushes settle (deposit, commit) in send order. */
  private readonly settled = new Map<string, Promise<void>>()
  /** Re-sent delivery receipts (duplicates arrived), batched per peer until sealed into the store. */
  private readonly pendingReceipts = new Map<string, Uint8Array[]>()
  /** Backoff of receipt-only flushes after the peer did not take them (kept in memory: a restart retries at once). */
  private readonly receiptRetry = new Map<string, { attempt: number, nextAt: number }>()

  /** issue 4: the node's mailbox side (set by node.ts); null: direct delivery only. */
  mailboxes: Mailboxes | null = null

  constructor (private readonly ctx: NodeContext, private readonly sessions: Sessions) {}

  /**
   * Flushes one peer's outbox now. Kicks coalesce while a flush is choosing its envelopes; once they
   * are on the link, a new kick starts the next flush at once with what is not in flight yet
   * (pipelining: a message sent while the previous one waits for its ack leaves without waiting).
   */
  kick (peerId: string, force: boolean): void {
    if (this.ctx.stopped) return
    const f = this.selecting.get(peerId)
    if (f != null) {
      f.again = true
      f.force ||= force
      return
    }
    const state = { again: false, force: false }
    this.selecting.set(peerId, state)
    let handedOver = false
    const handOver = (): void => {
      if (handedOver) return
      handedOver = true
      if (this.selecting.get(peerId) === state) this.selecting.delete(peerId)
      if (state.again) this.kick(peerId, state.force)
    }
    this.ctx.bg((async () => {
      let more: boolean
      try {
        more = await this.flushPeer(peerId, force, handOver)
      } finally {
        handOver()
      }
      if (more) this.kick(peerId, false)
    })())
  }

  /** One pass: peers with due entries, connected peers with pending receipts, due session retries. */
  async tick (): Promise<void> {
    const ctx = this.ctx
    if (ctx.stopped) return
    const now = Date.now()
    const due = await ctx.store.dueOutbox(now, { limit: 500 })
    for (const p of new Set(due.map(e => e.peerId))) this.kick(p, false)
    // receipts have no backoff of their own: they go whenever the peer is reachable (and on peer:online)
    for (const p of await ctx.store.receiptPeers()) {
      if (ctx.net.isConnected(p) && (this.receiptRetry.get(p)?.nextAt ?? 0) <= now) this.kick(p, false)
    }
    for (const p of this.sessions.dueRetries(now)) {
      ctx.bg((async () => { if (await this.sessions.retrySession(p)) this.kick(p, false) })())
    }
  }

  /**
   * One delivery attempt of a peer's due envelopes that are not in flight yet; true when more are due
   * and this one made progress. `handOver` is called once the envelopes are queued on the link (or
   * nothing goes directly): from then on another flush of the peer may choose and send.
   */
  async flushPeer (peerId: string, force: boolean, handOver: () => void = () => {}): Promise<boolean> {
    const ctx = this.ctx
    if (ctx.stopped) return false
    const now = Date.now()
    // issue 4: a peer that failed directly a moment ago and is still not connected goes straight to
    // its mailboxes, in bigger batches (one deposit request carries up to 256 envelopes)
    const mailboxOnly = !force && this.mailboxes?.skipDirect(peerId) === true
    const perFlush = mailboxOnly ? MAX_DEPOSITS_PER_FLUSH : MAX_ENVELOPES_PER_FLUSH
    const flying = this.inFlight.get(peerId)
    const idle = (id: string): boolean => flying?.has(id) !== true
    const receipts = (await ctx.store.receiptsFor(peerId, { limit: perFlush + (flying?.size ?? 0) })).filter(r => idle(r.id)).slice(0, perFlush)
    // failed entries stay (with their reason) at nextAttemptAt = MAX; at most 64 envelopes per flush;
    // entries an earlier flush has on the link are its own until it settled them
    const pending = (await ctx.store.outboxFor(peerId, { limit: 1000 })).filter(e => e.nextAttemptAt !== Number.MAX_SAFE_INTEGER && idle(e.messageId))
    // Per-peer FIFO: once anything goes, every entry the peer has not accepted yet goes with it, in
    // order (their jittered retry times differ, and the receiver shows messages in arrival order).
    // Accepted entries (waiting for their receipt) are re-sent only when their own time comes.
    const notAccepted = (e: OutboxEntry): boolean => e.attempts === 0 || e.lastError != null
    const anyDue = force || pending.some(e => e.nextAttemptAt <= now)
    const due = anyDue ? pending.filter(e => force || e.nextAttemptAt <= now || notAccepted(e)) : []
    const entries = due.slice(0, perFlush)
    if (receipts.length === 0 && entries.length === 0) return false
    const mine = [...receipts.map(r => r.id), ...entries.map(e => e.messageId)]
    let set = this.inFlight.get(peerId)
    if (set == null) {
      set = new Set()
      this.inFlight.set(peerId, set)
    }
    for (const id of mine) set.add(id)
    const before = this.settled.get(peerId) ?? Promise.resolve()
    let settle = (): void => {}
    const done = new Promise<void>((resolve) => { settle = resolve })
    this.settled.set(peerId, done)
    try {
      return await this.deliver(peerId, { receipts, entries, due, mailboxOnly, perFlush }, before, handOver)
    } finally {
      for (const id of mine) set.delete(id)
      if (set.size === 0 && this.inFlight.get(peerId) === set) this.inFlight.delete(peerId)
      settle()
      if (this.settled.get(peerId) === done) this.settled.delete(peerId)
    }
  }

  /** flushPeer's second half: send (or deposit) the chosen envelopes, then settle them after `before`. */
  private async deliver (
    peerId: string,
    chosen: { receipts: ReceiptOutboxEntry[], entries: OutboxEntry[], due: OutboxEntry[], mailboxOnly: boolean, perFlush: number },
    before: Promise<void>,
    handOver: () => void
  ): Promise<boolean> {
    const ctx = this.ctx
    const { receipts, entries, due, mailboxOnly, perFlush } = chosen
    const envs: Envelope[] = []
    const sentReceipts: string[] = []
    const brokenReceipts: string[] = []
    for (const r of receipts) {
      try {
        envs.push(decodeEnvelope(r.envelope))
        sentReceipts.push(r.id)
      } catch {
        brokenReceipts.push(r.id)
      }
    }
    const good: typeof entries = []
    const broken: string[] = []
    for (const e of entries) {
      try {
        envs.push(decodeEnvelope(e.envelope))
        good.push(e)
      } catch {
        broken.push(e.messageId)
      }
    }
    let acks: Ack[] = []
    let error: string | null = null
    if (envs.length > 0 && mailboxOnly) {
      handOver()
      error = 'peer unreachable'
    } else if (envs.length > 0) {
      // The contact's addresses matter only when a connection must be dialled (an open one is always
      // used first, src/net/node.ts connectTo): while connected, no contact read per flush (issue 3 hot
      // path; if the connection drops meanwhile, the link dials the peer's known addresses, and a
      // failed attempt is retried with the contact's).
      const addrs = ctx.net.isConnected(peerId) ? [] : (await ctx.store.getContact(peerId))?.addresses ?? []
      const dl = ctx.deadline(ctx.policy.sendTimeoutMs)
      try {
        // sendEnvelopes queues the frames on the peer's link before its first await (src/net/dm-link.ts):
        // once it was called, a later flush's frames go after these
        const sending = ctx.net.sendEnvelopes(peerId, envs, { addrs, signal: dl.signal })
        handOver()
        acks = await sending
        this.mailboxes?.noteDirectSuccess(peerId)
      } catch (err) {
        if (err instanceof DeliveryIncompleteError) acks = [...err.acks] as Ack[]
        error = (err as Error).name ?? 'send failed'
        if (acks.length === 0) this.mailboxes?.noteDirectFailure(peerId)
      } finally {
        dl.clear()
      }
    } else {
      handOver()
    }
    // deposits and commits follow the order in which the flushes sent
    await before
    // issue 4: what the peer did not take directly goes to its mailboxes (the same envelope bytes,
    // sealed to the peer; PROTOCOL.md Part 3 §6, Part 4 §7)
    const deposited = new Map<string, DepositOutcome>()
    if (error != null && this.mailboxes != null && !ctx.stopped) {
      const items: DepositItem[] = []
      const receiptBytes = new Map(receipts.map(r => [r.id, r.envelope]))
      sentReceipts.forEach((id, i) => { if (acks[i] == null) items.push({ id, envelope: receiptBytes.get(id)! }) })
      good.forEach((e, i) => { if (acks[sentReceipts.length + i] == null) items.push({ id: e.messageId, envelope: e.envelope }) })
      const res = await this.mailboxes.deposit(peerId, items).catch((err: unknown) => items.map(() => ({ kind: 'error' as const, reason: `mailbox: ${(err as Error).message}` })))
      if (res != null) items.forEach((it, i) => { deposited.set(it.id, res[i]!) })
    }
    // receipts need no receipt: gone once the peer (or one of its mailboxes) took them (an ERROR Ack asks us to retry)
    const ackedReceipts = sentReceipts.filter((id, i) => (acks[i] != null && acks[i]!.status !== 'ERROR') || deposited.get(id)?.kind === 'stored')
    if (ackedReceipts.length < sentReceipts.length) {
      const attempt = (this.receiptRetry.get(peerId)?.attempt ?? 0) + 1
      this.receiptRetry.set(peerId, { attempt, nextAt: Date.now() + ctx.retryDelay(attempt) })
    } else {
      this.receiptRetry.delete(peerId)
    }
    const statusEvents: Array<{ id: string, status: MessageStatus, reason?: string }> = []
    let gapSeen = false
    const later = Date.now()
    // Post-ack bookkeeping only (statuses, retry times, acknowledged receipts; no ratchet step, no
    // prekey): a deferred unit, no fsync of its own. A power cut may lose it; then the entries simply
    // go once more and the peer de-duplicates them (src/store/README.md, "Durability per unit").
    await ctx.store.write((tx) => {
      for (const id of [...ackedReceipts, ...brokenReceipts]) tx.removeReceipt(id)
      for (const id of broken) {
        const reason = 'corrupt envelope'
        tx.setStatus(id, 'failed')
        tx.recordOutboxAttempt(id, { error: reason, nextAttemptAt: Number.MAX_SAFE_INTEGER })
        statusEvents.push({ id, status: 'failed', reason })
      }
      good.forEach((e, i) => {
        const ack = acks[sentReceipts.length + i]
        const dep = deposited.get(e.messageId)
        if (ack == null && dep?.kind === 'stored') {
          // issue 4: in the peer's mailbox; kept until the delivery receipt, re-sent when due
          if (tx.promoteStatus(e.messageId, 'stored')) statusEvents.push({ id: e.messageId, status: 'stored' })
          const wait = Math.min(ctx.policy.receiptWaitMaxMs, ctx.policy.receiptWaitMs * 2 ** Math.min(e.attempts, 20))
          tx.recordOutboxAttempt(e.messageId, { error: null, nextAttemptAt: later + wait })
          return
        }
        if (ack == null && dep?.kind === 'full') {
          // issue 4: a full mailbox refuses: the message stays queued and shows why (Part 4 §7)
          tx.recordOutboxAttempt(e.messageId, { error: dep.reason.slice(0, 200), nextAttemptAt: later + ctx.retryDelay(e.attempts) })
          const m = tx.getMessage(e.messageId)
          if (m != null && m.status === 'queued') statusEvents.push({ id: e.messageId, status: 'queued', reason: dep.reason.slice(0, 200) })
          return
        }
        if (ack == null) {
          tx.recordOutboxAttempt(e.messageId, { error: error ?? 'no ack', nextAttemptAt: later + ctx.retryDelay(e.attempts) })
          return
        }
        if (ack.status === 'OK' || ack.status === 'DUPLICATE') {
          // (only a queued or failed message becomes sent: one conditional UPDATE, nothing read)
          if (tx.promoteStatus(e.messageId, 'sent')) statusEvents.push({ id: e.messageId, status: 'sent' })
          // keep it until the delivery receipt: retransmission until receipt (issue 3)
          const wait = Math.min(ctx.policy.receiptWaitMaxMs, ctx.policy.receiptWaitMs * 2 ** Math.min(e.attempts, 20))
          tx.recordOutboxAttempt(e.messageId, { error: null, nextAttemptAt: later + wait })
        } else if (ack.status === 'REJECTED') {
          const reason = `rejected: ${ack.reason ?? ''}`.slice(0, 200)
          tx.setStatus(e.messageId, 'failed')
          tx.recordOutboxAttempt(e.messageId, { error: reason, nextAttemptAt: Number.MAX_SAFE_INTEGER })
          statusEvents.push({ id: e.messageId, status: 'failed', reason })
        } else {
          // issue 4: "gap" = the peer misses an earlier text: re-send everything pending, in order (below)
          if ((ack.reason ?? '').startsWith('gap')) gapSeen = true
          tx.recordOutboxAttempt(e.messageId, { error: `peer error: ${ack.reason ?? ''}`.slice(0, 200), nextAttemptAt: later + ctx.retryDelay(e.attempts) })
        }
      })
    }, { durability: 'deferred' }).catch(() => {})
    for (const s of statusEvents) {
      if (s.status === 'queued' && s.reason != null) ctx.emit({ type: 'status', peerId, id: s.id, status: s.status, reason: s.reason })
      else ctx.emitStatus(peerId, s.id, s.status, s.reason)
    }
    if (gapSeen) this.resendAfterGap(peerId)
    else if (acks.length > 0) this.gapResends.delete(peerId)
    // go on at once only after progress: envelopes the peer answers with ERROR wait for their backoff
    const progressed = ackedReceipts.length > 0 || acks.slice(sentReceipts.length).some(a => a != null && a.status !== 'ERROR') ||
      good.some(e => deposited.get(e.messageId)?.kind === 'stored')
    return (due.length > entries.length || receipts.length >= perFlush) && progressed
  }

  /** Forced re-sends after "gap" answers, per peer (backoff: 250 ms doubling to 30 s). */
  private readonly gapResends = new Map<string, number>()

  /**
   * issue 4 (PROTOCOL.md Part 3 §6): the peer holds a text back because an earlier one is missing;
   * every pending entry (also those already accepted by a mailbox) goes again, in order.
   */
  private resendAfterGap (peerId: string): void {
    const n = this.gapResends.get(peerId) ?? 0
    this.gapResends.set(peerId, n + 1)
    const t = setTimeout(() => { this.kick(peerId, true) }, Math.min(30_000, 250 * 2 ** Math.min(n, 7)))
    t.unref?.()
  }

  // -- receipts -------------------------------------------------------------------------------------

  /**
   * Seals receipts for `ids` on `record` (at most LIMITS.maxReceiptIds per receipt). The caller
   * commits the returned record and entries in one unit (see commitReceipts).
   */
  async sealReceipts (record: SessionRecord, peerId: string, kind: ReceiptKind, ids: Uint8Array[]): Promise<{ record: SessionRecord, entries: NewReceiptOutboxEntry[] }> {
    const entries: NewReceiptOutboxEntry[] = []
    for (let i = 0; i < ids.length; i += LIMITS.maxReceiptIds) {
      const r = await this.sessions.sealReceipt(record, peerId, kind, ids.slice(i, i + LIMITS.maxReceiptIds))
      record = r.record
      entries.push(r.entry)
    }
    return { record, entries }
  }

  /** Queues a re-sent delivery receipt (the original message arrived again: the first receipt may be lost). */
  queueDeliveredAgain (peerId: string, id: Uint8Array): void {
    if (this.ctx.stopped) return
    let q = this.pendingReceipts.get(peerId)
    const schedule = q == null
    if (q == null) {
      q = []
      this.pendingReceipts.set(peerId, q)
    }
    if (q.length < MAX_RECEIPT_QUEUE) q.push(id)
    if (schedule) setImmediate(() => { this.ctx.bg(this.sealDeliveredAgain(peerId)) })
  }

  private async sealDeliveredAgain (peerId: string): Promise<void> {
    const ctx = this.ctx
    await ctx.withPeerLock(peerId, async () => {
      const ids = this.pendingReceipts.get(peerId)
      this.pendingReceipts.delete(peerId)
      if (ids == null || ids.length === 0 || ctx.stopped) return
      const record = await ctx.loadRecord(peerId)
      if (record?.current == null) return
      const sealed = await this.sealReceipts(record, peerId, 'DELIVERED', ids)
      // the ratchet advance and the receipts commit together (no key reuse, nothing lost after a crash)
      await ctx.store.write((tx) => {
        tx.putSession(peerId, serializeSessionRecord(sealed.record))
        for (const e of sealed.entries) tx.enqueueReceipt(e)
        tx.trimReceipts(peerId, MAX_RECEIPT_QUEUE)
      })
    })
    this.kick(peerId, false)
  }

  /**
   * Marks the peer's incoming messages read and, in the same unit, commits the READ receipt for
   * them (with the ratchet step that sealed it). Without a session nothing can be sealed: the
   * messages are marked read only.
   */
  async markRead (peerId: string): Promise<void> {
    const ctx = this.ctx
    const sent = await ctx.withPeerLock(peerId, async () => {
      const unread = (await ctx.store.listMessages(peerId, { limit: 1000 })).filter(m => m.direction === 'in' && m.readAt == null)
      if (unread.length === 0) return false
      const upToSeq = Math.max(...unread.map(m => m.seq))
      let record: SessionRecord | null
      try {
        record = await ctx.loadRecord(peerId)
      } catch {
        record = null
      }
      const sealed = record?.current != null ? await this.sealReceipts(record, peerId, 'READ', unread.map(m => fromHexId(m.id))) : null
      await ctx.store.write((tx) => {
        tx.markRead(peerId, { upToSeq })
        if (sealed == null || sealed.entries.length === 0) return
        tx.putSession(peerId, serializeSessionRecord(sealed.record))
        for (const e of sealed.entries) tx.enqueueReceipt(e)
        tx.trimReceipts(peerId, MAX_RECEIPT_QUEUE)
      })
      return sealed != null
    })
    if (sent) this.kick(peerId, false)
  }
}

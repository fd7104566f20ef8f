/**
 * Causal ordering for group messages, network-free (docs/PROTOCOL.md Part 5 §4; the same idea as js-waku's
 * Scalable Data Sync, with Lamport clocks after Lamport 1978 §2). Every message carries its sender's
 * sequence number (1, 2, 3, …), a Lamport timestamp, and up to MAX_DEPS messages its sender had
 * delivered (its causal history, each as id + sender + seq, so readiness is a counter comparison and
 * the receiver's state stays bounded however long the group lives). A receiver releases a message only when it is causally ready
 * (previous seq of that sender delivered, all deps delivered) and keeps the display order sorted by
 * (lamport, sender, seq): because lamport is validated to exceed every dep's and the sender's previous
 * one, this is a linear extension of causality, and it is the SAME order at every member once all
 * messages are in. A message arriving late can be inserted before the tail (its `index` says where);
 * `stableLength` tells how much of the order can no longer change.
 *
 * Gaps are never skipped: a buffered message whose sender's earlier seqs are absent, or whose deps are
 * unknown, yields a `missing` event with exactly what to request; `gapsAgainst` compares with another
 * member's `summary` to find trailing losses nobody has referenced yet.
 *
 * State is plain data; every function returns a new state and never mutates its input.
 */
import { CausalBufferFullError, CausalViolationError } from './errors.js'

/** Most causal-history ids one message may carry. */
export const MAX_DEPS = 16
/** Ids a sender puts in `deps` (the most recently delivered messages). */
export const DEPS_PER_MESSAGE = 3
/** Longest message id / member id accepted (hex of a 32-byte hash is 64). */
export const MAX_ID_LENGTH = 128
/** Default for how many messages may wait for gaps to close; beyond it `receive` throws CausalBufferFullError. */
export const MAX_PENDING = 2000

/** Default for how many buffered messages one sender may have (so one member cannot fill the buffer). */
export const MAX_PENDING_PER_SENDER = 500

export interface ReceiveOptions {
  /** Cap on buffered (not yet deliverable) messages. @default MAX_PENDING */
  maxPending?: number
  /** Cap on buffered messages from one sender. @default MAX_PENDING_PER_SENDER */
  maxPendingPerSender?: number
  /**
   * Update `state` in place and return it, instead of a copy: for callers that own the state and drop
   * the old value (large groups: copying the per-member maps per message would cost O(members)).
   * Checks that throw run before anything is changed, so a throw leaves `state` as it was.
   * @default false
   */
  inPlace?: boolean
}
/** Delivered entries remembered for duplicate/equivocation and dep-consistency checks. */
export const KNOWN_WINDOW = 1024
/** Largest seq / lamport value accepted. */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER

export interface CausalMeta {
  /** Unique message id (e.g. hex SHA-256 of the encrypted message). */
  readonly id: string
  /** Member id of the author. */
  readonly sender: string
  /** 1-based, consecutive per sender. */
  readonly seq: number
  /** Lamport timestamp: greater than that of every message in `deps` and of the sender's previous message. */
  readonly lamport: number
  /** Messages the sender had delivered when sending (its causal history). */
  readonly deps: readonly CausalDep[]
}

/** A reference to an earlier message: its id and its (sender, seq) slot. */
export interface CausalDep {
  readonly id: string
  readonly sender: string
  readonly seq: number
}

export interface CausalMessage<P = unknown> extends CausalMeta {
  readonly payload: P
}

/** One entry of the display order. */
export interface OrderEntry {
  readonly id: string
  readonly sender: string
  readonly seq: number
  readonly lamport: number
}

export interface CausalState<P = unknown> {
  readonly self: string
  /** Highest lamport delivered (ours or others'). */
  readonly lamport: number
  /** Per sender: highest seq delivered (all below it are delivered too). */
  readonly delivered: Readonly<Record<string, number>>
  /** Per sender: lamport of its last delivered message. */
  readonly lastLamport: Readonly<Record<string, number>>
  /** The last KNOWN_WINDOW delivered entries, in delivery order (dep and equivocation checks). */
  readonly window: readonly OrderEntry[]
  /** Messages received but not yet deliverable. */
  readonly pending: ReadonlyArray<CausalMessage<P>>
  /** The display order: delivered messages sorted by (lamport, sender, seq). */
  readonly order: readonly OrderEntry[]
  /** Most recently delivered messages (newest last), the next message's deps. */
  readonly recent: readonly CausalDep[]
}

/** What to ask other members for. */
export interface MissingReport {
  /** Per sender, the seqs not yet received (inclusive ranges). */
  readonly seqs: ReadonlyArray<{ sender: string, from: number, to: number }>
  /** Ids of referenced messages that are neither delivered nor buffered (also covered by `seqs`). */
  readonly ids: readonly string[]
}

export type CausalEvent<P = unknown> =
  | { type: 'delivered', message: CausalMessage<P>, index: number }
  | { type: 'duplicate', id: string }
  | { type: 'rejected', id: string, reason: string }
  | { type: 'missing', missing: MissingReport }

export function createCausalState<P = unknown> (self: string): CausalState<P> {
  checkId('self', self)
  return { self, lamport: 0, delivered: {}, lastLamport: {}, window: [], pending: [], order: [], recent: [] }
}

function checkId (what: string, s: unknown): asserts s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_ID_LENGTH) throw new CausalViolationError(`${what} must be a non-empty string of at most ${MAX_ID_LENGTH} chars`)
}
function checkCounter (what: string, n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n >= MAX_COUNTER) throw new CausalViolationError(`${what} must be a positive safe integer`)
}

/** Structural validation of received metadata (caps on sizes, counters in range). */
export function validateMeta (m: CausalMeta): void {
  checkId('id', m.id)
  checkId('sender', m.sender)
  checkCounter('seq', m.seq)
  checkCounter('lamport', m.lamport)
  if (!Array.isArray(m.deps) || m.deps.length > MAX_DEPS) throw new CausalViolationError(`at most ${MAX_DEPS} deps`)
  for (const d of m.deps) {
    if (typeof d !== 'object' || d === null) throw new CausalViolationError('dep must be an object')
    checkId('dep id', d.id)
    checkId('dep sender', d.sender)
    checkCounter('dep seq', d.seq)
    if (d.sender === m.sender && d.seq >= m.seq) throw new CausalViolationError('a message cannot depend on its own sender\'s later message')
  }
  if (new Set(m.deps.map(d => d.id)).size !== m.deps.length || m.deps.some(d => d.id === m.id)) throw new CausalViolationError('deps repeat or include the message itself')
}

/** Total-order key comparison: (lamport, sender, seq). */
export function compareOrder (a: OrderEntry, b: OrderEntry): number {
  if (a.lamport !== b.lamport) return a.lamport - b.lamport
  if (a.sender !== b.sender) return a.sender < b.sender ? -1 : 1
  return a.seq - b.seq
}

/** Metadata for our next message; pass the message (with its id) to `receive` to deliver it locally. */
export function nextMeta (state: CausalState): { sender: string, seq: number, lamport: number, deps: CausalDep[] } {
  return { sender: state.self, seq: (state.delivered[state.self] ?? 0) + 1, lamport: state.lamport + 1, deps: state.recent.slice(-DEPS_PER_MESSAGE) }
}

interface Work<P> {
  lamport: number
  delivered: Record<string, number>
  lastLamport: Record<string, number>
  window: OrderEntry[]
  pending: Array<CausalMessage<P>>
  order: OrderEntry[]
  recent: CausalDep[]
}

function insertSorted (order: OrderEntry[], e: OrderEntry): number {
  let lo = 0
  let hi = order.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareOrder(order[mid]!, e) < 0) lo = mid + 1
    else hi = mid
  }
  order.splice(lo, 0, e)
  return lo
}

/**
 * Takes in one message (ours or another member's). Returns the new state and the events: zero or more
 * `delivered` (this message and any it unblocked, in release order), `duplicate`, `rejected` (causal
 * metadata inconsistent with what is known — the message is dropped), and a `missing` report when gaps
 * remain. Throws CausalViolationError for structurally bad metadata or equivocation (a second, different
 * message for a (sender, seq) already taken) and CausalBufferFullError when MAX_PENDING is reached.
 */
export function receive<P> (state: CausalState<P>, message: CausalMessage<P>, opts: ReceiveOptions = {}): { state: CausalState<P>, events: Array<CausalEvent<P>> } {
  validateMeta(message)
  if (state.pending.some(p => p.id === message.id)) return { state, events: [{ type: 'duplicate', id: message.id }] }
  if (message.seq <= (state.delivered[message.sender] ?? 0)) {
    // Already delivered slot: the same id is a duplicate; another id is equivocation. Beyond the window
    // we cannot tell and call it a duplicate — either way it is never delivered twice.
    const had = state.window.find(e => e.sender === message.sender && e.seq === message.seq)
    if (had !== undefined && had.id !== message.id) throw new CausalViolationError('a different message already holds this sender sequence number')
    return { state, events: [{ type: 'duplicate', id: message.id }] }
  }
  // Equivocation: the (sender, seq) slot is already taken by another buffered message.
  if (state.pending.some(p => p.sender === message.sender && p.seq === message.seq)) {
    throw new CausalViolationError('a different message already holds this sender sequence number')
  }
  if (state.pending.length >= (opts.maxPending ?? MAX_PENDING)) throw new CausalBufferFullError('too many messages waiting for gaps to close')
  let fromSender = 0
  for (const p of state.pending) if (p.sender === message.sender) fromSender++
  if (fromSender >= (opts.maxPendingPerSender ?? MAX_PENDING_PER_SENDER)) throw new CausalBufferFullError('too many buffered messages from this sender')
  const own = opts.inPlace === true
  const w: Work<P> = own
    ? { ...(state as unknown as Work<P>), pending: state.pending as Array<CausalMessage<P>> }
    : {
        lamport: state.lamport,
        delivered: { ...state.delivered },
        lastLamport: { ...state.lastLamport },
        window: state.window.slice(),
        pending: state.pending.slice(),
        order: state.order.slice(),
        recent: state.recent.slice()
      }
  w.pending.push(message)
  const events: Array<CausalEvent<P>> = []
  release(w, events)
  const next: CausalState<P> = own ? Object.assign(state as unknown as Work<P>, { lamport: w.lamport }) as unknown as CausalState<P> : { self: state.self, ...w }
  const missing = findGaps(next)
  if (missing.seqs.length > 0 || missing.ids.length > 0) events.push({ type: 'missing', missing })
  return { state: next, events }
}

function release<P> (w: Work<P>, events: Array<CausalEvent<P>>): void {
  for (let progress = true; progress;) {
    progress = false
    for (let i = 0; i < w.pending.length; i++) {
      const m = w.pending[i]!
      if (m.seq !== (w.delivered[m.sender] ?? 0) + 1) continue
      if (!m.deps.every(d => (w.delivered[d.sender] ?? 0) >= d.seq)) continue
      w.pending.splice(i, 1)
      i--
      progress = true
      // Lamport 1978 IR1/IR2: a message's clock exceeds everything it causally follows; otherwise the
      // sorted order would not respect causality, so the message is refused (and its seq stays open).
      let floor = w.lastLamport[m.sender] ?? 0
      let mismatch = false
      for (const d of m.deps) {
        const e = w.window.find(x => x.sender === d.sender && x.seq === d.seq)
        if (e === undefined) continue
        if (e.id !== d.id) mismatch = true
        floor = Math.max(floor, e.lamport)
      }
      if (mismatch) {
        events.push({ type: 'rejected', id: m.id, reason: 'a dep names a slot that holds another message' })
        continue
      }
      if (m.lamport <= floor) {
        events.push({ type: 'rejected', id: m.id, reason: 'lamport not above its causal history' })
        continue
      }
      const entry: OrderEntry = { id: m.id, sender: m.sender, seq: m.seq, lamport: m.lamport }
      w.delivered[m.sender] = m.seq
      w.lastLamport[m.sender] = m.lamport
      w.window.push(entry)
      if (w.window.length > KNOWN_WINDOW) w.window.splice(0, w.window.length - KNOWN_WINDOW)
      w.lamport = Math.max(w.lamport, m.lamport)
      w.recent.push({ id: m.id, sender: m.sender, seq: m.seq })
      if (w.recent.length > DEPS_PER_MESSAGE) w.recent.splice(0, w.recent.length - DEPS_PER_MESSAGE)
      events.push({ type: 'delivered', message: m, index: insertSorted(w.order, entry) })
    }
  }
}

/**
 * Gaps of one sender: seqs in (delivered, upTo] that are not buffered, as inclusive ranges. Works on
 * the sorted buffered seqs, never seq by seq, so a huge claimed seq costs nothing.
 */
function rangesFor (sender: string, delivered: number, upTo: number, buffered: readonly number[]): Array<{ sender: string, from: number, to: number }> {
  const out: Array<{ sender: string, from: number, to: number }> = []
  let next = delivered + 1
  for (const q of buffered) {
    if (q < next) continue
    if (q > upTo) break
    if (q > next) out.push({ sender, from: next, to: q - 1 })
    next = q + 1
  }
  if (next <= upTo) out.push({ sender, from: next, to: upTo })
  return out
}

function bufferedBySender (state: CausalState): Map<string, number[]> {
  const m = new Map<string, number[]>()
  for (const p of state.pending) {
    const l = m.get(p.sender) ?? []
    l.push(p.seq)
    m.set(p.sender, l)
  }
  for (const l of m.values()) l.sort((a, b) => a - b)
  return m
}

/** Everything the buffered messages show to be missing: earlier seqs of their senders and their deps. */
export function findGaps (state: CausalState): MissingReport {
  const buffered = bufferedBySender(state)
  const need = new Map<string, number>()
  for (const [sender, l] of buffered) need.set(sender, l[l.length - 1]! - 1)
  const pendingIds = new Set(state.pending.map(p => p.id))
  const ids = new Set<string>()
  for (const p of state.pending) {
    for (const d of p.deps) {
      if ((state.delivered[d.sender] ?? 0) >= d.seq || pendingIds.has(d.id)) continue
      ids.add(d.id)
      need.set(d.sender, Math.max(need.get(d.sender) ?? 0, d.seq))
    }
  }
  const seqs: Array<{ sender: string, from: number, to: number }> = []
  for (const sender of [...need.keys()].sort()) {
    seqs.push(...rangesFor(sender, state.delivered[sender] ?? 0, need.get(sender)!, buffered.get(sender) ?? []))
  }
  return { seqs, ids: [...ids].sort() }
}

/** What we have delivered, per sender (send it to other members so they can spot trailing losses). */
export function summary (state: CausalState): Record<string, number> {
  return { ...state.delivered }
}

/** Seqs another member has delivered that we have neither delivered nor buffered. */
export function gapsAgainst (state: CausalState, remote: Readonly<Record<string, number>>): MissingReport {
  const buffered = bufferedBySender(state)
  const seqs: Array<{ sender: string, from: number, to: number }> = []
  for (const sender of Object.keys(remote).sort()) {
    const theirs = remote[sender]!
    if (!Number.isSafeInteger(theirs)) continue
    seqs.push(...rangesFor(sender, state.delivered[sender] ?? 0, theirs, buffered.get(sender) ?? []))
  }
  return { seqs, ids: [] }
}

/**
 * Length of the prefix of the display order that can no longer change, given the current members: a
 * future message from member s has lamport > lastLamport[s], so entries with lamport at or below every
 * member's last lamport are final (nothing can be inserted before them).
 */
export function stableLength (state: CausalState, members: readonly string[]): number {
  if (members.length === 0) return state.order.length
  const bound = Math.min(...members.map(m => state.lastLamport[m] ?? 0))
  let n = 0
  while (n < state.order.length && state.order[n]!.lamport <= bound) n++
  return n
}

/** Tunables of the network layer, each with its default. Plain data. */

export interface NetTimeouts {
  /** Whole dial (all addresses) of one peer. @default 10000 */
  dialMs: number
  /** Opening a protocol stream on a connection (incl. multistream-select). @default 5000 */
  streamOpenMs: number
  /** One frame read or write. @default 15000 */
  readMs: number
  /** A local handler (envelope, bundle) must resolve within this, else the peer gets ERROR. @default 20000 */
  handlerMs: number
  /** A server waits this long for the next frame on an open stream. @default 30000 */
  idleMs: number
  /** One DHT query (findPeer, get, put). @default 15000 */
  dhtMs: number
}

export const DEFAULT_TIMEOUTS: Readonly<NetTimeouts> = Object.freeze({
  dialMs: 10_000,
  streamOpenMs: 5_000,
  readMs: 15_000,
  handlerMs: 20_000,
  idleMs: 30_000,
  dhtMs: 15_000
})

export interface ReconnectOptions {
  /** First retry delay. @default 1000 */
  baseMs: number
  /** Cap of the exponential backoff. @default 300000 (5 min) */
  maxMs: number
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({ baseMs: 1000, maxMs: 300_000 })

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread but never collapse to 0. */
export function backoffDelay (attempt: number, opts: ReconnectOptions, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(exp / 2 + random() * exp / 2)
}

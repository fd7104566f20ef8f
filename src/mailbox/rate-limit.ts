/**
 * Per-sender token buckets (docs/PROTOCOL.md Part 4 §Rate limit). Plain data, injectable clock.
 * A bucket holds up to `burst` tokens and gains `perSecond` tokens per second; a request costs one.
 */
export interface RateLimitOptions {
  /** Bucket capacity (requests allowed at once). @default 200 */
  burst: number
  /** Refill rate in requests per second. @default 20 */
  perSecond: number
  /** Buckets tracked before full (idle) ones are forgotten. @default 10000 */
  maxTracked: number
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { burst: 200, perSecond: 20, maxTracked: 10_000 }

interface Bucket { tokens: number, at: number }

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()
  readonly opts: RateLimitOptions

  constructor (opts: Partial<RateLimitOptions> = {}, private readonly now: () => number = Date.now) {
    this.opts = { ...DEFAULT_RATE_LIMIT, ...opts }
  }

  /** Takes `cost` tokens (default 1) for `key`: 0 when allowed, else the milliseconds until they are available. */
  take (key: string, cost = 1): number {
    const t = this.now()
    let b = this.buckets.get(key)
    if (b == null) {
      if (this.buckets.size >= this.opts.maxTracked) this.forgetIdle(t)
      b = { tokens: this.opts.burst, at: t }
      this.buckets.set(key, b)
    } else {
      b.tokens = Math.min(this.opts.burst, b.tokens + Math.max(0, t - b.at) * this.opts.perSecond / 1000)
      b.at = t
    }
    const need = Math.min(Math.max(1, cost), this.opts.burst)
    if (b.tokens >= need) {
      b.tokens -= need
      return 0
    }
    return Math.ceil((need - b.tokens) * 1000 / this.opts.perSecond)
  }

  private forgetIdle (t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + Math.max(0, t - b.at) * this.opts.perSecond / 1000 >= this.opts.burst) this.buckets.delete(k)
    }
    // Still (nearly) full of active senders: drop the oldest entries (insertion order) down to 90 %
    // rather than grow, so the sweep runs once per ~maxTracked/10 new senders, not on every one.
    const target = Math.floor(this.opts.maxTracked * 0.9)
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= target) break
      this.buckets.delete(k)
    }
  }
}

/**
 * Keeps watched peers (contacts, bootstrap peers) connected: dials them on start and after every
 * disconnect, first at their last known addresses, then at addresses found by a lookup (DHT
 * findPeer / DHT record). Retries use exponential backoff with jitter (capped), reset on success.
 * State is plain data; timers and abort controllers are kept beside it.
 */
import { backoffDelay, type ReconnectOptions } from './options.js'

export interface ReconnectComponents {
  isConnected(peerId: string): boolean
  /** Dials the peer (using these addresses and whatever the node already knows). Throws on failure. */
  dial(peerId: string, addrs: string[], signal: AbortSignal): Promise<void>
  /** Looks fresh addresses up (DHT); [] when nothing is found. Never throws. */
  lookup(peerId: string, signal: AbortSignal): Promise<string[]>
  dialTimeoutMs: number
  lookupTimeoutMs: number
}

/** Plain, serialisable state of one watched peer. */
export interface WatchedPeer {
  peerId: string
  addrs: string[]
  /** Failed attempts since the last success (drives the backoff). */
  attempt: number
  /** When the next attempt is due (ms since epoch), or null when connected / idle. */
  nextAttemptAt: number | null
  lastConnectedAt: number | null
}

export class Reconnector {
  private readonly peers = new Map<string, WatchedPeer>()
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly running = new Map<string, AbortController>()
  private started = false

  constructor (private readonly components: ReconnectComponents, private readonly opts: ReconnectOptions, private readonly random: () => number = Math.random) {}

  watch (peerId: string, addrs: string[]): void {
    const existing = this.peers.get(peerId)
    if (existing != null) {
      existing.addrs = unique([...addrs, ...existing.addrs])
    } else {
      this.peers.set(peerId, { peerId, addrs: unique(addrs), attempt: 0, nextAttemptAt: null, lastConnectedAt: null })
    }
    if (this.started && !this.components.isConnected(peerId)) this.schedule(peerId, 0)
  }

  unwatch (peerId: string): void {
    this.cancel(peerId)
    this.peers.delete(peerId)
  }

  isWatched (peerId: string): boolean {
    return this.peers.has(peerId)
  }

  list (): WatchedPeer[] {
    return [...this.peers.values()].map(p => ({ ...p, addrs: [...p.addrs] }))
  }

  /** Records addresses learned elsewhere (identify, DHT) as the freshest known. */
  learned (peerId: string, addrs: string[]): void {
    const p = this.peers.get(peerId)
    if (p != null && addrs.length > 0) p.addrs = unique([...addrs, ...p.addrs]).slice(0, 16)
  }

  start (): void {
    this.started = true
    for (const p of this.peers.values()) {
      if (!this.components.isConnected(p.peerId)) this.schedule(p.peerId, 0)
    }
  }

  stop (): void {
    this.started = false
    for (const id of [...this.peers.keys()]) this.cancel(id)
  }

  onConnected (peerId: string): void {
    const p = this.peers.get(peerId)
    if (p == null) return
    this.clearTimer(peerId)
    p.attempt = 0
    p.nextAttemptAt = null
    p.lastConnectedAt = Date.now()
  }

  onDisconnected (peerId: string): void {
    const p = this.peers.get(peerId)
    if (p == null || !this.started) return
    this.schedule(peerId, backoffDelay(p.attempt, this.opts, this.random))
  }

  /** Dials now (e.g. a watched peer was discovered on the LAN), unless already connected or dialing. */
  kick (peerId: string): void {
    if (this.started && this.peers.has(peerId) && !this.components.isConnected(peerId) && !this.running.has(peerId)) this.schedule(peerId, 0)
  }

  private schedule (peerId: string, delayMs: number): void {
    const p = this.peers.get(peerId)
    if (p == null || this.running.has(peerId)) return
    this.clearTimer(peerId)
    p.nextAttemptAt = Date.now() + delayMs
    const timer = setTimeout(() => {
      this.timers.delete(peerId)
      void this.tryConnect(peerId)
    }, delayMs)
    timer.unref?.()
    this.timers.set(peerId, timer)
  }

  private async tryConnect (peerId: string): Promise<void> {
    const p = this.peers.get(peerId)
    if (p == null || !this.started) return
    if (this.components.isConnected(peerId)) { this.onConnected(peerId); return }
    const ac = new AbortController()
    this.running.set(peerId, ac)
    let ok = false
    try {
      if (p.addrs.length > 0) {
        ok = await this.dialQuiet(peerId, p.addrs, ac.signal)
      }
      if (!ok && !ac.signal.aborted) {
        const found = await this.components.lookup(peerId, AbortSignal.any([ac.signal, AbortSignal.timeout(this.components.lookupTimeoutMs)]))
        const fresh = found.filter(a => !p.addrs.includes(a))
        if (found.length > 0 && (fresh.length > 0 || p.addrs.length === 0)) {
          ok = await this.dialQuiet(peerId, found, ac.signal)
          // The old addresses failed and the looked-up ones worked: the old ones are stale.
          if (ok) p.addrs = unique(found)
        }
      }
    } finally {
      this.running.delete(peerId)
    }
    if (!this.started || !this.peers.has(peerId)) return
    if (ok || this.components.isConnected(peerId)) {
      this.onConnected(peerId)
    } else {
      p.attempt++
      this.schedule(peerId, backoffDelay(p.attempt, this.opts, this.random))
    }
  }

  private async dialQuiet (peerId: string, addrs: string[], signal: AbortSignal): Promise<boolean> {
    try {
      await this.components.dial(peerId, addrs, AbortSignal.any([signal, AbortSignal.timeout(this.components.dialTimeoutMs)]))
      return true
    } catch {
      return false
    }
  }

  private clearTimer (peerId: string): void {
    const t = this.timers.get(peerId)
    if (t != null) clearTimeout(t)
    this.timers.delete(peerId)
  }

  private cancel (peerId: string): void {
    this.clearTimer(peerId)
    this.running.get(peerId)?.abort()
    this.running.delete(peerId)
    const p = this.peers.get(peerId)
    if (p != null) p.nextAttemptAt = null
  }
}

function unique (a: string[]): string[] {
  return [...new Set(a)]
}

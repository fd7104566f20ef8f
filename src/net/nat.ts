/**
 * Relays and NAT traversal. A relay node runs circuit relay v2 (chat-sized limits), a STUN Binding
 * responder and a DHT server; a client behind NAT reserves a slot on its relays (listens on
 * `/p2p-circuit`), listens on `/webrtc`, and once a relayed connection to a peer exists tries, in the
 * background, a direct WebRTC connection signalled over that relayed connection (ICE with the
 * relays' STUN only). TCP hole punching is not attempted: js-libp2p on Node cannot do it (STACK-NOTES).
 */
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webRTC } from '@libp2p/webrtc'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId } from '@libp2p/interface'
import { cleanup as releaseNativeWebRTC, PeerConnection, type DataChannel } from 'node-datachannel'
import { backoffDelay } from './options.js'
import { NetStateError, NetTimeoutError } from './errors.js'

export interface RelayServerOptions {
  /** Concurrent reservations held for clients. @default 128 */
  maxReservations?: number
  /**
   * Limits per relayed connection, or null for unlimited. A relayed chat connection carries small
   * frames for a long time, so the libp2p defaults (128 KiB / 2 min) would cut conversations; 1 h and
   * 64 MiB bound one connection's cost to the relay operator while no text chat reaches them (the
   * client simply re-dials afterwards). @default { durationMs: 3600000, dataBytes: 67108864 }
   */
  limits?: { durationMs: number, dataBytes: number } | null
  /** Reservation lifetime before the client must refresh it. @default 7200000 */
  reservationTtlMs?: number
  /** STUN Binding responder on UDP for ICE, or false. @default { host: '0.0.0.0', port: 3478 } */
  stun?: { host?: string, port?: number } | false
}

export const DEFAULT_RELAY_LIMITS = Object.freeze({ durationMs: 3_600_000, dataBytes: 64 * 1024 * 1024 })
export const DEFAULT_STUN_PORT = 3478
const P2P_CODE = 421
/** A direct connection that lasted this long is real (failed-dial leftovers were seen to last up to ~7 s). */
const SETTLED_MS = 15_000
/** Start after the relayed dial has fully finished: a dial issued while it is still queued joins it (and returns the relayed connection). */
const FIRST_TRY_MS = 1_000

/** libp2p services for a relay node. */
export function relayServerService (opts: RelayServerOptions): ReturnType<typeof circuitRelayServer> {
  const limits = opts.limits === undefined ? DEFAULT_RELAY_LIMITS : opts.limits
  const ttl = opts.reservationTtlMs ?? 7_200_000
  const factory = circuitRelayServer({
    reservations: {
      maxReservations: opts.maxReservations ?? 128,
      reservationTtl: ttl,
      // Circuit relay v2 spec §Reservation: the relay states the limit it applies to each relayed connection.
      applyDefaultLimit: limits != null,
      ...(limits != null ? { defaultDurationLimit: limits.durationMs, defaultDataLimit: BigInt(limits.dataBytes) } : {})
    }
  })
  return (components) => {
    const service = factory(components)
    renewableReservations((service as unknown as { reservationStore?: unknown }).reservationStore, ttl)
    return service
  }
}

/** An AbortSignal that aborts `ms` after it was made or last reset; clear() disarms it. */
export interface ExpirySignal extends AbortSignal {
  reset: (ms?: number) => void
  clear: () => void
}

/** setTimeout takes a signed 32-bit delay. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * An expiry signal whose reset() really moves the deadline: at most one timer is armed at any time.
 * The timer does not keep the process alive.
 */
export function expirySignal (ms: number): ExpirySignal {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const arm = (after: number): void => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      timer = undefined
      controller.abort(new NetTimeoutError('relay reservation expired'))
    }, Math.min(Math.max(after, 0), MAX_TIMER_MS))
    timer.unref?.()
  }
  arm(ms)
  const signal = controller.signal as ExpirySignal
  signal.reset = (next?: number) => { if (!signal.aborted) arm(next ?? ms) }
  signal.clear = () => { clearTimeout(timer); timer = undefined }
  return signal
}

/** What renewableReservations needs of @libp2p/circuit-relay-v2's server-side ReservationStore. */
interface ServerReservationStore {
  reserve: (peer: PeerId, addr: Multiaddr, limit?: unknown) => unknown
  removeReservation: (peer: PeerId) => void
  clear: () => void
  reservations: { get: (peer: PeerId) => { signal: ExpirySignal } | undefined, delete: (peer: PeerId) => unknown, values: () => Iterable<{ signal: ExpirySignal }> }
}

function isServerReservationStore (v: unknown): v is ServerReservationStore {
  const s = v as Partial<ServerReservationStore> | null
  return s != null && typeof s.reserve === 'function' && typeof s.removeReservation === 'function' && typeof s.clear === 'function' &&
    typeof s.reservations?.get === 'function' && typeof s.reservations.delete === 'function' && typeof s.reservations.values === 'function'
}

/**
 * Makes the relay honour refreshed reservations (circuit relay v2 spec §Reservation: a client keeps its
 * slot by reserving again before `expire`).
 *
 * Why: @libp2p/circuit-relay-v2 4.2.13 times a reservation with retimeable-signal 1.0.1, whose reset()
 * detaches the listener of the first timer only: the timer armed by the first reset keeps its listener
 * through every later reset. So a reservation refreshed twice is deleted one TTL after its FIRST
 * refresh (and the relayed connections through it are cut with it), whatever the client does: with a
 * 60 s TTL and the client refreshing every 30 s, at 30 + 60 = 90 s — what the removed renewal test saw;
 * with the default 2 h TTL, at ~235 min, and the client stays unreachable until its next refresh
 * ~110 min later. Fix: every new reservation gets an expirySignal instead (the library's own signal was
 * never reset, so clear() disarms it cleanly); the library's reserve() then resets ours on refresh.
 * A store of another shape (a later library) is left alone: test/relay/renewal.test.ts checks renewal.
 */
function renewableReservations (store: unknown, ttlMs: number): void {
  if (!isServerReservationStore(store)) return
  const reserve = store.reserve.bind(store)
  const remove = store.removeReservation.bind(store)
  const clear = store.clear.bind(store)
  store.reserve = (peer, addr, limit) => {
    const before = store.reservations.get(peer)
    const result = limit === undefined ? reserve(peer, addr) : reserve(peer, addr, limit)
    const made = store.reservations.get(peer)
    if (made != null && made !== before) {
      made.signal.clear()
      const signal = expirySignal(ttlMs)
      signal.addEventListener('abort', () => {
        if (store.reservations.get(peer) === made) store.reservations.delete(peer)
      }, { once: true })
      made.signal = signal
    }
    return result
  }
  store.removeReservation = (peer) => {
    store.reservations.get(peer)?.signal.clear()
    remove(peer)
  }
  // the relay stops: no expiry timer outlives it
  store.clear = () => {
    for (const r of store.reservations.values()) r.signal.clear()
    clear()
  }
}

/**
 * Client transports for relayed and WebRTC connections; ICE uses exactly `iceServers` (never public STUN).
 * With a ledger, every WebRTC peer connection is created through it (see WebRTCLedger).
 */
export function natTransports (iceServers: string[], ledger?: WebRTCLedger): [ReturnType<typeof circuitRelayTransport>, ReturnType<typeof webRTC>] {
  const ice = iceServers.map(url => ({ urls: [url] }))
  const relayTransport = circuitRelayTransport({ reservationCompletionTimeout: 10_000 })
  return [
    (components) => {
      const transport = relayTransport(components)
      EarlyRenewal.attach(transport)
      return transport
    },
    webRTC({ rtcConfiguration: ledger != null ? () => ledger.rtcConfiguration() : { iceServers: ice } })
  ]
}

/** @libp2p/circuit-relay-v2 4.2.13's client never refreshes sooner than this after a reservation. */
const LIBRARY_REFRESH_MIN_MS = 30_000
/** …and otherwise this long before it expires. */
const LIBRARY_REFRESH_BEFORE_MS = 300_000

/** When the library would refresh a reservation that expires in `expiresInMs` (its REFRESH_TIMEOUT rule). */
export function libraryRefreshDelay (expiresInMs: number): number {
  return Math.min(Math.max(expiresInMs - LIBRARY_REFRESH_BEFORE_MS, LIBRARY_REFRESH_MIN_MS), MAX_TIMER_MS)
}

/**
 * When we refresh a reservation ourselves, or null to leave it to the library. The library's refresh
 * leaves a margin before expiry of 5 min (long reservations) or expire − 30 s (shorter ones, and
 * negative under 30 s: it refreshes only after the reservation expired). A margin of a minute, or of a
 * third of the reservation's life, is enough; under both (a relay TTL under ~45 s) we refresh at
 * half-life.
 */
export function earlyRefreshDelay (expiresInMs: number): number | null {
  const margin = expiresInMs - libraryRefreshDelay(expiresInMs)
  if (margin >= Math.min(expiresInMs / 3, 60_000)) return null
  return Math.max(Math.floor(expiresInMs / 2), 500)
}

/** What EarlyRenewal needs of @libp2p/circuit-relay-v2's client-side ReservationStore. */
interface ClientReservationStore extends EventTarget {
  addRelay: (peer: PeerId, type: 'discovered' | 'configured') => Promise<unknown>
  hasReservation: (peer: PeerId) => boolean
}
interface CreatedReservation { relay: PeerId, details: { type: 'discovered' | 'configured', reservation: { expire: bigint } } }

/**
 * Renews short reservations in time (circuit relay v2 spec §Reservation: the client refreshes before
 * `expire`). The library schedules its refresh at max(expire − 5 min, 30 s); against a relay whose TTL
 * is under 30 s that is after the slot is gone. For such reservations (earlyRefreshDelay) we call the
 * library's own addRelay() at half-life: it runs in the library's per-relay queue, refreshes in place
 * (the relay's address stays advertised), re-arms the library's timer and emits
 * `relay:created-reservation`, which re-arms ours — so the two never refresh concurrently. A failed
 * refresh is the library's to handle (it drops the reservation and looks for a relay again).
 */
class EarlyRenewal {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  static attach (transport: unknown): void {
    const t = transport as { reservationStore?: Partial<ClientReservationStore>, isStarted?: () => boolean, stop?: () => Promise<void> }
    const store = t.reservationStore
    if (store == null || typeof store.addRelay !== 'function' || typeof store.hasReservation !== 'function' ||
      typeof store.addEventListener !== 'function' || typeof t.stop !== 'function' || typeof t.isStarted !== 'function') return
    const renewal = new EarlyRenewal(store as ClientReservationStore, () => t.isStarted?.() === true)
    const stop = t.stop.bind(t)
    t.stop = async () => {
      renewal.stop()
      await stop()
    }
  }

  private constructor (private readonly store: ClientReservationStore, private readonly running: () => boolean) {
    store.addEventListener('relay:created-reservation', (evt) => {
      const { relay, details } = (evt as CustomEvent<CreatedReservation>).detail
      this.schedule(relay, details.type, Number(details.reservation.expire) * 1000 - Date.now())
    })
    store.addEventListener('relay:removed', (evt) => {
      this.cancel((evt as CustomEvent<{ relay: PeerId }>).detail.relay.toString())
    })
  }

  private schedule (relay: PeerId, type: 'discovered' | 'configured', expiresInMs: number): void {
    const id = relay.toString()
    this.cancel(id)
    const delay = earlyRefreshDelay(expiresInMs)
    if (delay == null) return
    const timer = setTimeout(() => {
      this.timers.delete(id)
      if (!this.running() || !this.store.hasReservation(relay)) return
      this.store.addRelay(relay, type).catch(() => {
        // the library logged it and dropped the reservation; its discovery reserves again
      })
    }, delay)
    timer.unref?.()
    this.timers.set(id, timer)
  }

  private cancel (id: string): void {
    clearTimeout(this.timers.get(id))
    this.timers.delete(id)
  }

  stop (): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }
}

/** Calls `over`'s members instead of the target's; every other method stays bound to the native target. */
function intercept<T extends object> (target: T, over: Partial<T>): T {
  return new Proxy(target, {
    get (t, key) {
      if (Object.hasOwn(over, key)) return (over as Record<string | symbol, unknown>)[key]
      const v: unknown = Reflect.get(t, key)
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(t) : v
    }
  })
}

/**
 * Every native WebRTC peer connection and data channel one node creates (node-datachannel, under
 * @libp2p/webrtc), so that closing a peer connection closes its data channels and stop() releases all.
 *
 * Why: a node-datachannel data channel holds a native callback that keeps the Node event loop alive
 * until the channel reports closed, and a channel that never opened does not report closed when only
 * its peer connection is closed. @libp2p/webrtc 6.0.33 leaves exactly that behind when a WebRTC dial
 * fails after creating its 'init' channel (ICE or the handshake times out: symmetric NATs, a busy
 * host); the process then never exits after stop() (test/net/relay.test.ts hung ~1 run in 8). Closing
 * the channel itself, even after its peer connection, releases it. The ledger holds only open peer
 * connections and not-yet-closed channels.
 *
 * libdatachannel can also lose a channel's close report in a race (seen: an open identify channel whose
 * peer connection closed under it); nothing short of node-datachannel's process-wide cleanup() releases
 * that one. So when the last ledger in the process with peer connections is closed (every WebRTC node
 * stopped), closeAll() calls cleanup(): no node then has WebRTC state to lose, and libdatachannel
 * initialises itself again for the next peer connection.
 */
export class WebRTCLedger {
  /** Ledgers (nodes) in this process that have created peer connections since they were last closed. */
  private static readonly active = new Set<WebRTCLedger>()

  private readonly open = new Map<PeerConnection, { channels: Set<DataChannel>, release: () => void }>()
  private readonly iceServers: string[]
  private n = 0

  constructor (iceServers: string[]) {
    this.iceServers = [...iceServers]
  }

  /** Peer connections created and not yet closed. */
  get openPeerConnections (): number {
    return this.open.size
  }

  /** A fresh configuration per peer connection: the node-datachannel polyfill adopts `peerConnection`. */
  rtcConfiguration (): RTCConfiguration {
    const config: RTCConfiguration & { peerConnection: PeerConnection } = {
      iceServers: this.iceServers.map(url => ({ urls: [url] })),
      peerConnection: this.create()
    }
    return config
  }

  /** Closes every peer connection this node still has, and their channels. */
  closeAll (): void {
    for (const { release } of [...this.open.values()]) release()
    if (!WebRTCLedger.active.delete(this) || WebRTCLedger.active.size > 0) return
    try {
      releaseNativeWebRTC()
    } catch {
      // libdatachannel did not shut down within its own 10 s limit; nothing more can be done here.
    }
  }

  private create (): PeerConnection {
    const native = new PeerConnection(`parley-${++this.n}`, { iceServers: this.iceServers })
    WebRTCLedger.active.add(this)
    const channels = new Set<DataChannel>()
    const release = (): void => {
      if (!this.open.delete(native)) return
      try { native.close() } catch { /* already closed */ }
      for (const dc of channels) {
        try { dc.close() } catch { /* already closed */ }
      }
      channels.clear()
    }
    this.open.set(native, { channels, release })
    const track = (dc: DataChannel): DataChannel => {
      channels.add(dc)
      return intercept(dc, {
        onClosed: (cb: () => void) => { dc.onClosed(() => { channels.delete(dc); cb() }) }
      })
    }
    return intercept(native, {
      close: () => { release() },
      createDataChannel: (label, init) => track(native.createDataChannel(label, init)),
      onDataChannel: (cb) => { native.onDataChannel((dc) => { cb(track(dc)) }) },
      onStateChange: (cb) => {
        native.onStateChange((state) => {
          cb(state)
          if (state === 'closed') release()
        })
      }
    })
  }
}

/** `stun:<host>:<port>` for each relay address with an IP or DNS host (the relay runs STUN there). */
export function stunUrlsForRelays (relays: string[], port = DEFAULT_STUN_PORT): string[] {
  const out = new Set<string>()
  for (const r of relays) {
    const c = multiaddr(r).getComponents()[0]
    if (c == null || c.value == null) continue
    if (c.name === 'ip4' || c.name === 'dns4' || c.name === 'dns' || c.name === 'dns6') out.add(`stun:${c.value}:${port}`)
    else if (c.name === 'ip6') out.add(`stun:[${c.value}]:${port}`)
  }
  return [...out]
}

/** The relay PeerIds named by relay multiaddrs (each must end in /p2p/<id>). */
export function relayPeerIds (relays: string[]): string[] {
  return relays.map((r) => {
    const p2p = multiaddr(r).getComponents().filter(c => c.code === P2P_CODE)
    const id = p2p[p2p.length - 1]?.value
    if (id == null) throw new NetStateError('relay address must end in /p2p/<peerId>')
    return id
  })
}

/** A connection that does not go through a relay and carries no relay limits (judged from the connection). */
export function isDirect (c: Connection): boolean {
  return c.limits == null && c.direct !== false
}

/** The WebRTC address of a peer reached over a relayed connection: `<relay>/p2p-circuit/webrtc/p2p/<peer>`. */
export function webrtcAddrVia (relayed: Connection): Multiaddr | null {
  const addr = relayed.remoteAddr
  const parts = addr.getComponents()
  if (!parts.some(c => c.name === 'p2p-circuit')) return null
  const peer = relayed.remotePeer.toString()
  const base = parts[parts.length - 1]?.code === P2P_CODE ? addr.decapsulateCode(P2P_CODE) : addr
  return base.encapsulate(`/webrtc/p2p/${peer}`)
}

export interface UpgraderComponents {
  connections(peer: PeerId): Connection[]
  dial(addr: Multiaddr, signal: AbortSignal): Promise<Connection>
  onDirect(peerId: string): void
}

/**
 * Background WebRTC upgrades of relayed connections. The side that dialed the relayed connection
 * tries; failures (symmetric NAT: ICE times out) back off exponentially while the relay keeps
 * carrying the conversation. Never throws into the caller.
 */
export class DirectUpgrader {
  private readonly pending = new Map<string, { timer?: NodeJS.Timeout, attempt: number, running: boolean }>()
  private stopped = false
  /** Aborts in-flight upgrade dials at stop(), so none outlives the node. */
  private readonly shutdown = new AbortController()
  attempts = 0
  successes = 0

  constructor (private readonly components: UpgraderComponents, private readonly opts: { dialTimeoutMs: number, baseMs: number, maxMs: number }) {}

  /** Called for every new connection: schedules an upgrade for an outbound relayed one. */
  onConnection (conn: Connection): void {
    if (this.stopped || isDirect(conn) || conn.direction !== 'outbound') return
    const id = conn.remotePeer.toString()
    if (this.pending.has(id)) return
    const state: { timer?: NodeJS.Timeout, attempt: number, running: boolean } = { attempt: 0, running: false }
    this.pending.set(id, state)
    const peer = conn.remotePeer
    state.timer = setTimeout(() => { void this.tryUpgrade(peer) }, FIRST_TRY_MS)
    state.timer.unref?.()
  }

  stop (): void {
    this.stopped = true
    this.shutdown.abort()
    for (const s of this.pending.values()) clearTimeout(s.timer)
    this.pending.clear()
  }

  private async tryUpgrade (peer: PeerId): Promise<void> {
    const id = peer.toString()
    const state = this.pending.get(id)
    if (state == null || state.running || this.stopped) return
    const conns = this.components.connections(peer).filter(c => c.status === 'open')
    const relayed = conns.find(c => !isDirect(c))
    // A direct connection counts once it has lasted a moment: a failed WebRTC dial can leave the
    // other side a connection that closes ~300 ms after opening (STACK-NOTES, js-libp2p #2646).
    const settled = (c: Connection): boolean => isDirect(c) && Date.now() - c.timeline.open >= SETTLED_MS
    if (conns.some(settled) || relayed == null) {
      // Already direct (perhaps from the other side's attempt, or ours finished late), or nothing
      // to signal over: done.
      this.pending.delete(id)
      return
    }
    const addr = webrtcAddrVia(relayed)
    if (addr == null) { this.pending.delete(id); return }
    state.running = true
    state.attempt++
    this.attempts++
    try {
      const conn = await this.components.dial(addr, AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.opts.dialTimeoutMs)]))
      // A WebRTC connection's remoteAddr still names the relay: judge it by the connection itself (STACK-NOTES).
      if (isDirect(conn) && conn.status === 'open') {
        this.pending.delete(id)
        this.succeeded(id)
        return
      }
    } catch {
      // ICE failed or timed out (e.g. symmetric NAT): keep the relay, retry later.
    } finally {
      state.running = false
    }
    if (this.stopped || !this.pending.has(id)) return
    const delay = backoffDelay(state.attempt - 1, { baseMs: this.opts.baseMs, maxMs: this.opts.maxMs })
    state.timer = setTimeout(() => { void this.tryUpgrade(peer) }, delay)
    state.timer.unref?.()
  }

  private succeeded (peerId: string): void {
    this.successes++
    this.components.onDirect(peerId)
  }
}

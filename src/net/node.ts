/**
 * The Parley network node: one js-libp2p 3 node (TCP + WebSockets, Noise, Yamux, identify, ping,
 * mDNS, Kademlia DHT under Parley's own prefix) plus Parley's protocols. Nothing libp2p-typed leaves
 * this file: callers see PeerIds and multiaddrs as strings, envelopes and acks as plain data.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { mdns } from '@libp2p/mdns'
import { kadDHT, passthroughMapper, type KadDHT, type SingleKadDHT } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import type { Ack, Envelope } from '../wire/index.js'
import { DirectMessages, type EnvelopeHandler } from './dm.js'
import { Prekeys, type BundleHandler } from './prekeys.js'
import { Reconnector, type WatchedPeer } from './reconnect.js'
import { createRecordSelector, createRecordValidator, recordKey, recordKeyString, recordNamespace, RecordSeqMemory, signPeerRecord, verifyPeerRecord } from './record.js'
import { parseEd25519PeerId, privateKeyFromSeed } from './identity.js'
import { InvalidPeerIdError, NetStateError, NetTimeoutError, PeerUnreachableError, ParleyNetError } from './errors.js'
import { DEFAULT_RECONNECT, DEFAULT_TIMEOUTS, type NetTimeouts, type ReconnectOptions } from './options.js'
import { withTimeout } from './frames.js'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { DEFAULT_STUN_PORT as STUN_PORT, DirectUpgrader, isDirect, natTransports, relayPeerIds, relayServerService, stunUrlsForRelays, WebRTCLedger, type RelayServerOptions } from './nat.js'
import { startStunServer, type StunServer } from './stun.js'
import { GroupPubsub, groupPubsubService, type GroupTransport, type GroupTransportOptions } from './groups.js'
import { autoNAT } from '@libp2p/autonat'
import { isPrivateIp } from '@libp2p/utils'

export interface ParleyNetworkInit {
  /** The user's 32-byte Ed25519 identity seed (becomes the libp2p key / PeerId). */
  seed: Uint8Array
  /** Listen multiaddrs, e.g. ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']. */
  listen: string[]
  /** Addresses to announce instead of the listen addresses. @default [] (announce listen addresses) */
  announce?: string[]
  /** Bootstrap peers (multiaddrs ending in /p2p/<id>); kept connected like contacts. @default [] */
  bootstrap?: string[]
  /** mDNS discovery on the LAN. @default true */
  mdns?: boolean
  /** mDNS service tag. @default '_parley._udp.local' */
  mdnsServiceTag?: string
  /** mDNS query interval. @default 10000 */
  mdnsIntervalMs?: number
  /** Prefix of the Kademlia protocol (`<prefix>/kad/1.0.0`) and of DHT record keys. @default '/parley' */
  dhtPrefix?: string
  /** Serve DHT queries (LAN / reachable nodes). @default true */
  dhtServer?: boolean
  /** Allow-list loopback in the connection manager (many local nodes in tests). @default false */
  allowLoopbackFlood?: boolean
  /** Connection-manager cap. @default 128 */
  maxConnections?: number
  /** Frame cap for direct messages (never above 256 KiB). @default 262144 */
  maxFrameBytes?: number
  timeouts?: Partial<NetTimeouts>
  reconnect?: Partial<ReconnectOptions>
  /** Unwatched peers not seen for this long are removed from the peer store. @default 3600000 */
  staleAfterMs?: number
  /** How often stale peers are pruned. @default 600000 */
  pruneIntervalMs?: number
  /** Re-publish the last DHT record this often (DHT records expire). @default 21600000 (6 h) */
  recordRepublishMs?: number
  /**
   * Run as a relay for others: circuit relay v2 with chat-sized limits, a STUN Binding responder
   * (UDP 3478 by default) for ICE, DHT server mode, and a WebSocket listener (added on port 0 of the
   * first TCP listen host when `listen` has none). @default undefined (not a relay)
   */
  relayServer?: RelayServerOptions
  /**
   * Relays (multiaddrs ending in /p2p/<id>) this node keeps connected and reserves slots on, so peers
   * reach it at `<relay>/p2p-circuit/p2p/<me>`; also enables WebRTC (listen `/webrtc`) and the
   * background upgrade of relayed connections to direct ones. @default []
   */
  relays?: string[]
  /** Enable the relay/WebRTC transports without naming relays (to dial relayed/WebRTC addresses). @default relays.length > 0 */
  nat?: boolean
  /**
   * STUN servers for WebRTC ICE, e.g. ['stun:198.18.0.10:3478']. Never defaults to public hosts.
   * @default one `stun:<relay host>:3478` per relay (the relays run the STUN responder)
   */
  iceServers?: string[]
  /** Try a direct WebRTC connection in the background over each outbound relayed connection. @default true */
  webrtcUpgrade?: boolean
  /** issue 5: group transport (gossipsub) limits; see src/net/groups.ts. @default DEFAULT_GROUP_TRANSPORT */
  groups?: GroupTransportOptions
  /**
   * issue 4: AutoNAT (`<dhtPrefix>/autonat/1.0.0`): ask peers to dial our addresses back (a public one
   * confirmed by several peers makes `reachability()` 'public') and answer their dial-back requests.
   * @default true
   */
  autoNat?: boolean
  /**
   * issue 3 (first message): how long a new direct connection to an ordinary peer waits before this
   * node runs identify on it. Identify and what it sets off (the DHT's routing-table ping, gossipsub's
   * streams, AutoNAT, peer-store updates) is upkeep that nothing on a first message's path needs; run
   * at once it competes with the dial's purpose (a bundle fetch, a first message and its receipt).
   * Connections to relays and bootstrap peers, relayed connections and every connection of a relay
   * server identify at once; a DHT operation that finds no routing-table peer runs pending identifies
   * at once too. 0 = always at once (libp2p's behaviour). @default IDENTIFY_DELAY_MS (250)
   */
  identifyDelayMs?: number
}

/** Default of ParleyNetworkInit.identifyDelayMs. */
export const IDENTIFY_DELAY_MS = 250

export interface ConnectionInfo {
  peerId: string
  remoteAddr: string
  /** True for a relayed / limited connection (judged by the connection, never by the address string). */
  relayed: boolean
  direction: 'inbound' | 'outbound'
}

export interface RelayStats {
  /** Reservations currently held for clients. */
  reservations: number
  /** STUN Binding requests answered. */
  stunAnswered: number
  /** The STUN responder's UDP port, or null when off. */
  stunPort: number | null
}

export interface NetStats {
  /** Outbound /parley/dm/1.0.0 streams opened since start (one per peer while it stays up). */
  dmStreamsOpened: number
  /** Open connections, and how many of them are relayed / limited. */
  connections: number
  relayedConnections: number
  /** Background WebRTC upgrade attempts / successes (relayed -> direct). */
  upgradeAttempts: number
  upgradeSuccesses: number
  /** Relay-server figures (only on a node started with `relayServer`). */
  relay?: RelayStats
}

export interface FoundRecord {
  payload: Uint8Array
  addresses: string[]
  /** The peer's relays / mailboxes (record format 2; [] for format 1), issue 4. */
  relays: string[]
  /** The peer's mailbox introduction tag (record format 3, 32 bytes; null for formats 1 and 2), issue 4. */
  introTag: Uint8Array | null
  seq: number
}

export interface ParleyNetworkEvents {
  'peer:online': CustomEvent<{ peerId: string }>
  'peer:offline': CustomEvent<{ peerId: string }>
  /** Addresses a peer currently listens on (from identify or a DHT lookup): persist them. */
  'peer:addresses': CustomEvent<{ peerId: string, addresses: string[] }>
  /** A peer was discovered (mDNS). */
  'peer:discovered': CustomEvent<{ peerId: string, addresses: string[] }>
  /** A direct (WebRTC) connection replaced a relayed path to this peer; new DM streams use it. */
  'peer:direct': CustomEvent<{ peerId: string }>
  /** A remote broke a Parley protocol; its stream was reset. */
  'protocol:violation': CustomEvent<{ peerId: string, protocol: string, reason: string }>
  /** issue 4: a valid signed DHT record of a peer was fetched (its relays are the peer's mailboxes). */
  'peer:record': CustomEvent<{ peerId: string, seq: number, addresses: string[], relays: string[], introTag: Uint8Array | null }>
  /** issue 4: our reservation on a relay was made (or renewed) / lost. */
  'relay:reservation': CustomEvent<{ relay: string, active: boolean }>
}

export interface TypedEventTarget<E> {
  addEventListener<K extends keyof E & string>(type: K, listener: (evt: E[K]) => void, options?: boolean | AddEventListenerOptions): void
  removeEventListener<K extends keyof E & string>(type: K, listener: (evt: E[K]) => void, options?: boolean | EventListenerOptions): void
}

export interface ParleyNetwork extends TypedEventTarget<ParleyNetworkEvents> {
  readonly peerId: string
  start(): Promise<void>
  stop(): Promise<void>
  /** WebRTC peer connections this node created that are still open (0 after stop()). */
  openWebRTCConnections(): number
  isStarted(): boolean
  /** Multiaddrs (with /p2p/<peerId>) the node can be reached at now. */
  addresses(): string[]
  sendEnvelopes(peerId: string, envelopes: Envelope[], options?: { addrs?: string[], signal?: AbortSignal }): Promise<Ack[]>
  handleEnvelopes(handler: EnvelopeHandler | null): void
  fetchBundle(peerId: string, options?: { addrs?: string[], signal?: AbortSignal }): Promise<Uint8Array>
  handleBundleRequests(handler: BundleHandler | null): void
  /** Publishes (or refreshes) this node's signed DHT record with the given payload and current addresses. */
  /**
   * Publishes (or refreshes) this node's signed DHT record. With `introTag` (our 32-byte mailbox
   * introduction tag) the record is format 3, else format 2; the hourly republish reuses both.
   */
  publishRecord(payload: Uint8Array, options?: { signal?: AbortSignal, introTag?: Uint8Array }): Promise<{ seq: number }>
  findRecord(peerId: string, options?: { signal?: AbortSignal }): Promise<FoundRecord | null>
  findPeer(peerId: string, options?: { signal?: AbortSignal }): Promise<string[]>
  /** Ensures a connection (dial if needed). */
  connect(peerId: string, options?: { addrs?: string[], signal?: AbortSignal }): Promise<void>
  disconnect(peerId: string): Promise<void>
  watch(peerId: string, knownAddrs?: string[]): void
  unwatch(peerId: string): void
  watched(): WatchedPeer[]
  connections(): ConnectionInfo[]
  isConnected(peerId: string): boolean
  /** Counters for metrics and tests. */
  stats(): NetStats
  // -- issue 4: relays, NAT, extra protocols --
  /** Relay PeerIds we currently hold a reservation on (judged from our relayed listen addresses). */
  reservations(): string[]
  /** AutoNAT verdict: 'public' once a public address is confirmed or announced, else 'private'. */
  reachability(): 'public' | 'private'
  /** Registers a further stream protocol (e.g. the mailbox service on a relay). */
  handleProtocol(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number, runOnLimitedConnection: boolean }): Promise<void>
  unhandleProtocol(protocol: string): Promise<void>
  /** Round-trip time to a connected peer (libp2p ping), ms. */
  ping(peerId: string, options?: { signal?: AbortSignal }): Promise<number>
  /** issue 5: group messages over gossipsub: opaque topics, one validator callback. */
  readonly groups: GroupTransport
}

const P2P_CODE = 421
/** stop(): how long libp2p may take to stop before the node gives up waiting (then its WebRTC is force-closed). */
const STOP_TIMEOUT_MS = 10_000

/** Strips a trailing /p2p/<id> that equals `peerId`; returns null for an address of another peer. */
function addrFor (peerId: string, addr: string): Multiaddr | null {
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch {
    return null
  }
  const owner = peerIdOfAddr(ma)
  if (owner == null) return ma
  if (owner !== peerId) return null
  return ma.decapsulateCode(P2P_CODE)
}

// A type alias (not an interface) so it satisfies libp2p's ServiceMap index signature.
type Services = {
  circuitRelay?: CircuitRelayService
  identify: { identify(connection: Connection, options?: { signal?: AbortSignal }): Promise<unknown> }
  ping: { ping(peer: PeerId | Multiaddr, options?: { signal?: AbortSignal }): Promise<number> }
  dht: KadDHT
  pubsub: unknown
}

/** Path quality of a connection, judged from the connection itself (limits / direct), never its address. */
function rank (c: Connection): number {
  return isDirect(c) ? 1 : 0
}

/** The PeerId named by the last /p2p component of an address, if any. */
function peerIdOfAddr (ma: Multiaddr): string | null {
  const p2p = ma.getComponents().filter(c => c.code === P2P_CODE)
  return p2p[p2p.length - 1]?.value ?? null
}

class ParleyNetworkImpl extends EventTarget {
  readonly peerId: string
  private readonly node: Libp2p<Services>
  private readonly timeouts: NetTimeouts
  private readonly prefix: string
  private readonly dm: DirectMessages
  private readonly prekeys: Prekeys
  private readonly reconnector: Reconnector
  private readonly lastSeen = new Map<string, number>()
  private readonly bootstrapPeers: Array<{ peerId: string, addr: string }>
  private pruneTimer: NodeJS.Timeout | undefined
  private republishTimer: NodeJS.Timeout | undefined
  private lastPayload: Uint8Array | null = null
  private lastIntroTag: Uint8Array | undefined
  private started = false
  private stun: StunServer | null = null
  private readonly upgrader: DirectUpgrader | null
  /** Connections whose identify waits (identifyDelayMs), by connection id. */
  private readonly pendingIdentify = new Map<string, { conn: Connection, timer: NodeJS.Timeout }>()
  /** Set by createParleyNetwork when WebRTC is on: every native peer connection, closed at stop(). */
  rtc: WebRTCLedger | null = null
  readonly groups: GroupPubsub

  constructor (private readonly init: ParleyNetworkInit, private readonly privateKey: PrivateKey, node: Libp2p<Services>, timeouts: NetTimeouts, prefix: string, private readonly seqMemory: RecordSeqMemory, groups: GroupPubsub) {
    super()
    this.node = node
    this.groups = groups
    groups.attach(node.services.pubsub)
    this.peerId = node.peerId.toString()
    this.timeouts = timeouts
    this.prefix = prefix
    const components = {
      handle: async (protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number, runOnLimitedConnection: boolean }) => {
        await node.handle(protocol, handler, options)
      },
      unhandle: async (protocol: string) => { await node.unhandle(protocol) },
      connectTo: async (peerId: string, options: { addrs?: string[], signal?: AbortSignal }) => await this.connectTo(peerId, options),
      hasBetterConnection: (peerId: string, conn: Connection) => {
        const best = this.bestConnection(peerId)
        return best != null && best !== conn && rank(best) > rank(conn)
      },
      otherConnection: (peerId: string, conn: Connection) => {
        const others = this.node.getConnections(parseEd25519PeerId(peerId)).filter(c => c !== conn && c.status === 'open')
        return others.sort((x, y) => rank(y) - rank(x))[0]
      },
      checkPeer: (peerId: string) => {
        this.assertStarted()
        if (parseEd25519PeerId(peerId).equals(this.node.peerId)) throw new InvalidPeerIdError('cannot dial self')
      },
      timeouts,
      onViolation: (peerId: string, protocol: string, err: Error) => {
        this.emit('protocol:violation', { peerId, protocol, reason: err.message })
      }
    }
    const dmInit = init.maxFrameBytes != null ? { maxFrameBytes: init.maxFrameBytes } : {}
    this.dm = new DirectMessages(components, dmInit)
    // a peer that fetched our bundle sends a PreKey message next: open our DM stream to it for the receipt
    this.prekeys = new Prekeys(components, { onServed: (peer) => { this.warmDm(peer) } })
    this.reconnector = new Reconnector({
      isConnected: (id) => this.isConnected(id),
      dial: async (id, addrs, signal) => { await this.connectTo(id, { addrs, signal, lookup: false }) },
      lookup: async (id, signal) => await this.lookupAddresses(id, signal),
      dialTimeoutMs: timeouts.dialMs,
      lookupTimeoutMs: timeouts.dhtMs
    }, { ...DEFAULT_RECONNECT, ...init.reconnect })
    this.bootstrapPeers = []
    const relayIds = relayPeerIds(init.relays ?? [])
    for (const [i, r] of (init.relays ?? []).entries()) this.bootstrapPeers.push({ peerId: relayIds[i]!, addr: r })
    const nat = init.nat ?? (init.relays ?? []).length > 0
    this.upgrader = nat && init.webrtcUpgrade !== false
      ? new DirectUpgrader({
        connections: (peer) => node.getConnections(peer),
        dial: async (addr, signal) => await node.dial(addr, { signal, force: true }),
        onDirect: (peerId) => { this.emit('peer:direct', { peerId }) }
      }, { dialTimeoutMs: Math.max(timeouts.dialMs, 15_000), baseMs: 10_000, maxMs: 600_000 })
      : null
    node.addEventListener('connection:open', (evt) => {
      const conn = evt.detail
      this.scheduleIdentify(conn, relayIds)
      if (relayIds.includes(conn.remotePeer.toString())) return
      this.upgrader?.onConnection(conn)
    })
    node.addEventListener('connection:close', (evt) => { this.cancelIdentify(evt.detail) })
    for (const b of init.bootstrap ?? []) {
      const ma = multiaddr(b)
      const id = peerIdOfAddr(ma)
      if (id == null) throw new NetStateError('bootstrap address must end in /p2p/<peerId>')
      this.bootstrapPeers.push({ peerId: id, addr: b })
    }

    node.addEventListener('peer:connect', (evt) => {
      const id = evt.detail.toString()
      this.lastSeen.set(id, Date.now())
      this.reconnector.onConnected(id)
      this.emit('peer:online', { peerId: id })
    })
    node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString()
      this.lastSeen.set(id, Date.now())
      this.emit('peer:offline', { peerId: id })
      this.reconnector.onDisconnected(id)
    })
    node.addEventListener('peer:identify', (evt) => {
      const id = evt.detail.peerId.toString()
      const addrs = evt.detail.listenAddrs.map(a => a.toString())
      if (addrs.length === 0) return
      this.reconnector.learned(id, addrs)
      this.emit('peer:addresses', { peerId: id, addresses: addrs })
    })
    node.addEventListener('peer:discovery', (evt) => {
      const id = evt.detail.id.toString()
      this.emit('peer:discovered', { peerId: id, addresses: evt.detail.multiaddrs.map(a => a.toString()) })
      this.reconnector.kick(id)
    })
  }

  /**
   * Identify on a new connection (libp2p's automatic run is off, see createParleyNetwork): at once for
   * relays, bootstrap peers, relayed connections and on a relay server; after identifyDelayMs for a
   * direct connection to any other peer (ParleyNetworkInit.identifyDelayMs).
   */
  private scheduleIdentify (conn: Connection, relayIds: readonly string[]): void {
    const peer = conn.remotePeer.toString()
    const delay = this.init.identifyDelayMs ?? IDENTIFY_DELAY_MS
    const atOnce = delay <= 0 || this.init.relayServer != null || !isDirect(conn) ||
      relayIds.includes(peer) || this.bootstrapPeers.some(b => b.peerId === peer)
    if (atOnce) { this.runIdentify(conn); return }
    const timer = setTimeout(() => {
      this.pendingIdentify.delete(conn.id)
      this.runIdentify(conn)
    }, delay)
    timer.unref?.()
    this.pendingIdentify.set(conn.id, { conn, timer })
  }

  private runIdentify (conn: Connection): void {
    if (conn.status !== 'open') return
    // identify bounds itself (its own timeout); a failure only leaves the peer unidentified, as with libp2p's own run
    this.node.services.identify.identify(conn).catch(() => {})
  }

  private cancelIdentify (conn: Connection): void {
    const p = this.pendingIdentify.get(conn.id)
    if (p == null) return
    clearTimeout(p.timer)
    this.pendingIdentify.delete(conn.id)
  }

  /** Runs every waiting identify now (a DHT operation needs routing-table peers, which identify adds). */
  private identifyPendingNow (): void {
    for (const [id, p] of [...this.pendingIdentify]) {
      clearTimeout(p.timer)
      this.pendingIdentify.delete(id)
      this.runIdentify(p.conn)
    }
  }

  /** Opens the DM stream to a connected peer ahead of the first envelope (a no-op when one is open). */
  private warmDm (peerId: string): void {
    if (!this.started || !this.isConnected(peerId)) return
    this.dm.send(peerId, []).catch(() => {})
  }

  private emit<K extends keyof ParleyNetworkEvents & string>(type: K, detail: ParleyNetworkEvents[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) return
    if (this.init.relayServer != null && this.init.relayServer.stun !== false) {
      const st = this.init.relayServer.stun ?? {}
      this.stun = await startStunServer({ host: st.host ?? '0.0.0.0', port: st.port ?? STUN_PORT })
    }
    try {
      await this.node.start()
    } catch (err) {
      await this.stun?.close()
      this.stun = null
      throw err
    }
    // LAN / loopback nodes are dialable: serve DHT queries (libp2p kad-dht would otherwise stay a client
    // until it sees a public address).
    if (this.init.dhtServer !== false || this.init.relayServer != null) await this.node.services.dht.setMode('server')
    await this.dm.start()
    await this.prekeys.start()
    this.started = true
    // issue 4: report reservations made / renewed / lost (the transport renews them before expiry)
    let held = new Set<string>()
    this.node.addEventListener('self:peer:update', () => {
      const now = new Set(this.reservations())
      for (const r of now) if (!held.has(r)) this.emit('relay:reservation', { relay: r, active: true })
      for (const r of held) if (!now.has(r)) this.emit('relay:reservation', { relay: r, active: false })
      held = now
    })
    for (const b of this.bootstrapPeers) this.reconnector.watch(b.peerId, [b.addr])
    this.reconnector.start()
    const every = this.init.pruneIntervalMs ?? 600_000
    this.pruneTimer = setInterval(() => { void this.pruneStale() }, every)
    this.pruneTimer.unref?.()
    this.republishTimer = setInterval(() => {
      if (this.lastPayload != null) void this.publishRecord(this.lastPayload, this.lastIntroTag != null ? { introTag: this.lastIntroTag } : {}).catch(() => {})
    }, this.init.recordRepublishMs ?? 6 * 3600_000)
    this.republishTimer.unref?.()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.pruneTimer)
    clearInterval(this.republishTimer)
    this.reconnector.stop()
    this.upgrader?.stop()
    for (const p of this.pendingIdentify.values()) clearTimeout(p.timer)
    this.pendingIdentify.clear()
    await this.stun?.close().catch(() => {})
    this.stun = null
    await this.dm.stop().catch(() => {})
    await this.prekeys.stop().catch(() => {})
    // Bounded: a libp2p stop that never settles must not hang the caller; whatever happens, every
    // WebRTC peer connection and data channel this node created is closed (WebRTCLedger), since one
    // left open keeps the process alive.
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([this.node.stop(), new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new NetTimeoutError(`libp2p did not stop within ${STOP_TIMEOUT_MS} ms`)) }, STOP_TIMEOUT_MS)
      })])
    } finally {
      clearTimeout(timer)
      this.rtc?.closeAll()
    }
  }

  /** WebRTC peer connections this node created that are still open (0 after stop()). */
  openWebRTCConnections (): number {
    return this.rtc?.openPeerConnections ?? 0
  }

  private assertStarted (): void {
    if (!this.started) throw new NetStateError('network is not started')
  }

  addresses (): string[] {
    return this.node.getMultiaddrs().map(a => a.toString())
  }

  isConnected (peerId: string): boolean {
    let id
    try {
      id = parseEd25519PeerId(peerId)
    } catch {
      return false
    }
    return this.node.getConnections(id).some(c => c.status === 'open')
  }

  stats (): NetStats {
    const conns = this.connections()
    const out: NetStats = {
      dmStreamsOpened: this.dm.streamsOpened(),
      connections: conns.length,
      relayedConnections: conns.filter(c => c.relayed).length,
      upgradeAttempts: this.upgrader?.attempts ?? 0,
      upgradeSuccesses: this.upgrader?.successes ?? 0
    }
    const relay = this.node.services.circuitRelay
    if (this.init.relayServer != null) {
      out.relay = { reservations: relay?.reservations.size ?? 0, stunAnswered: this.stun?.answered() ?? 0, stunPort: this.stun?.port ?? null }
    }
    return out
  }

  connections (): ConnectionInfo[] {
    return this.node.getConnections().map(c => ({
      peerId: c.remotePeer.toString(),
      remoteAddr: c.remoteAddr.toString(),
      relayed: !isDirect(c),
      direction: c.direction
    }))
  }

  /** The open connection to a peer with the best path (unlimited before limited/relayed), if any. */
  private bestConnection (peerId: string): Connection | undefined {
    const open = this.node.getConnections(parseEd25519PeerId(peerId)).filter(c => c.status === 'open')
    let best: Connection | undefined
    for (const c of open) if (best == null || rank(c) > rank(best)) best = c
    return best
  }

  /** @internal Bounded dial. Noise authenticates the remote against `peerId` (libp2p noise spec §Handshake). */
  async connectTo (peerId: string, options: { addrs?: string[], signal?: AbortSignal, lookup?: boolean }): Promise<Connection> {
    this.assertStarted()
    const id = parseEd25519PeerId(peerId)
    if (id.equals(this.node.peerId)) throw new InvalidPeerIdError('cannot dial self')
    const open = this.bestConnection(peerId)
    if (open != null) return open
    const signal = withTimeout(this.timeouts.dialMs, options.signal)
    const timeout = (err: unknown): NetTimeoutError => new NetTimeoutError(options.signal?.aborted === true ? 'dial aborted by caller' : 'dial timed out', { cause: err })
    // Dial exactly these addresses, each bound to the expected PeerId.
    const dialAddrs = async (list: Multiaddr[]): Promise<Connection> => await this.node.dial(list.map(a => a.encapsulate(`/p2p/${peerId}`)), { signal })
    const addrs = (options.addrs ?? []).map(a => addrFor(peerId, a)).filter((a): a is Multiaddr => a != null)
    let firstErr: unknown
    try {
      return addrs.length > 0 ? await dialAddrs(addrs) : await this.node.dial(id, { signal })
    } catch (err) {
      if (signal.aborted) throw timeout(err)
      firstErr = err
    }
    // The given addresses may be stale (the peer restarted on a new port): ask the DHT for current
    // ones, if there is anyone to ask.
    if (addrs.length > 0 && options.lookup !== false && this.node.getConnections().length > 0) {
      const fresh = (await this.lookupAddresses(peerId, signal))
        .map(a => addrFor(peerId, a))
        .filter((a): a is Multiaddr => a != null && !addrs.some(b => b.equals(a)))
      if (fresh.length > 0) {
        try {
          return await dialAddrs(fresh)
        } catch (err) {
          if (signal.aborted) throw timeout(err)
          firstErr = err
        }
      }
    }
    if (signal.aborted) throw timeout(firstErr)
    throw new PeerUnreachableError('could not connect to peer', { cause: firstErr })
  }

  async connect (peerId: string, options: { addrs?: string[], signal?: AbortSignal } = {}): Promise<void> {
    await this.connectTo(peerId, options)
  }

  async disconnect (peerId: string): Promise<void> {
    await this.node.hangUp(parseEd25519PeerId(peerId))
  }

  async sendEnvelopes (peerId: string, envelopes: Envelope[], options: { addrs?: string[], signal?: AbortSignal } = {}): Promise<Ack[]> {
    this.assertStarted()
    return await this.dm.send(peerId, envelopes, options)
  }

  handleEnvelopes (handler: EnvelopeHandler | null): void {
    this.dm.setHandler(handler)
  }

  async fetchBundle (peerId: string, options: { addrs?: string[], signal?: AbortSignal } = {}): Promise<Uint8Array> {
    this.assertStarted()
    return await this.prekeys.fetch(peerId, options)
  }

  handleBundleRequests (handler: BundleHandler | null): void {
    this.prekeys.setHandler(handler)
  }

  private lastSeq = 0

  async publishRecord (payload: Uint8Array, options: { signal?: AbortSignal, introTag?: Uint8Array } = {}): Promise<{ seq: number }> {
    this.assertStarted()
    // seq is a ms timestamp, strictly increasing even within one millisecond.
    const seq = Math.max(Date.now(), this.lastSeq + 1)
    this.lastSeq = seq
    const introTag = options.introTag?.slice()
    const value = await signPeerRecord(this.privateKey, this.peerId, { seq, payload, addresses: this.addresses(), relays: this.init.relays ?? [], ...(introTag != null ? { introTag } : {}) })
    this.seqMemory.note(recordKeyString(this.prefix, this.peerId), seq)
    this.lastPayload = payload.slice()
    this.lastIntroTag = introTag
    // kad-dht pauses queries until its routing table has a peer: fail fast instead of waiting out dhtMs.
    if (!this.dhtReachable()) throw new PeerUnreachableError('no DHT peers to publish to yet')
    const signal = withTimeout(this.timeouts.dhtMs, options.signal)
    try {
      for await (const _evt of this.node.services.dht.put(recordKey(this.prefix, this.peerId), value, { signal })) {
        // drain the query
      }
    } catch (err) {
      if (signal.aborted) throw new NetTimeoutError('DHT put timed out', { cause: err })
      throw new PeerUnreachableError('DHT put failed', { cause: err })
    }
    return { seq }
  }

  /** Peers in the DHT routing table (0 when it cannot be read). */
  dhtPeers (): number {
    const rt = (this.node.services.dht as Partial<SingleKadDHT>).routingTable
    return rt?.size ?? 0
  }

  /** A DHT query can make progress: a routing-table peer, or a connection that may become one. */
  private dhtReachable (): boolean {
    if (this.dhtPeers() > 0) return true
    // kad-dht adds peers once identify reports its protocol: let waiting identifies run now
    this.identifyPendingNow()
    return this.node.getConnections().length > 0
  }

  async findRecord (peerId: string, options: { signal?: AbortSignal } = {}): Promise<FoundRecord | null> {
    this.assertStarted()
    parseEd25519PeerId(peerId)
    if (!this.dhtReachable()) return null
    const key = recordKey(this.prefix, peerId)
    const signal = withTimeout(this.timeouts.dhtMs, options.signal)
    let best: FoundRecord | null = null
    try {
      for await (const evt of this.node.services.dht.get(key, { signal })) {
        if (evt.name !== 'VALUE') continue
        try {
          // Re-validate locally and keep the newest valid one ourselves (libp2p Kademlia DHT spec §Value retrieval).
          const rec = await verifyPeerRecord(this.prefix, key, evt.value)
          if (best == null || rec.seq > best.seq) best = { payload: rec.payload, addresses: rec.addresses, relays: rec.relays, introTag: rec.format === 3 ? rec.introTag : null, seq: rec.seq }
        } catch {
          // invalid values are ignored
        }
      }
    } catch (err) {
      if (best != null) { this.emitRecord(peerId, best); return best }
      if (options.signal?.aborted === true) throw new NetTimeoutError('DHT get aborted by caller', { cause: err })
      return null
    }
    if (best != null) this.emitRecord(peerId, best)
    return best
  }

  // -- issue 4: relays, NAT, extra protocols ---------------------------------------------------------

  private emitRecord (peerId: string, rec: FoundRecord): void {
    this.emit('peer:record', { peerId, seq: rec.seq, addresses: [...rec.addresses], relays: [...rec.relays], introTag: rec.introTag?.slice() ?? null })
  }

  reservations (): string[] {
    const out = new Set<string>()
    for (const a of this.node.getMultiaddrs()) {
      const parts = a.getComponents()
      const i = parts.findIndex(c => c.name === 'p2p-circuit')
      if (i <= 0) continue
      const relay = parts.slice(0, i).filter(c => c.code === P2P_CODE).pop()?.value
      if (relay != null) out.add(relay)
    }
    return [...out]
  }

  reachability (): 'public' | 'private' {
    for (const a of this.node.getMultiaddrs()) {
      const parts = a.getComponents()
      if (parts.some(c => c.name === 'p2p-circuit')) continue
      const host = parts[0]
      if (host == null || host.value == null) continue
      if (host.name === 'dns' || host.name === 'dns4' || host.name === 'dns6') return 'public'
      if ((host.name === 'ip4' || host.name === 'ip6') && isPrivateIp(host.value) === false) return 'public'
    }
    return 'private'
  }

  async handleProtocol (protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number, runOnLimitedConnection: boolean }): Promise<void> {
    await this.node.handle(protocol, handler, options)
  }

  async unhandleProtocol (protocol: string): Promise<void> {
    await this.node.unhandle(protocol)
  }

  async findPeer (peerId: string, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    this.assertStarted()
    const id = parseEd25519PeerId(peerId)
    if (!this.dhtReachable()) return []
    const signal = withTimeout(this.timeouts.dhtMs, options.signal)
    try {
      // Ask the network, not the local cache: the cached addresses are what just failed.
      const info = await this.node.peerRouting.findPeer(id, { signal, useCache: false })
      return info.multiaddrs.map(a => a.toString())
    } catch (err) {
      if (options.signal?.aborted === true) throw new NetTimeoutError('findPeer aborted by caller', { cause: err })
      return []
    }
  }

  /** Fresh addresses for a watched peer: DHT findPeer, then its DHT record. */
  private async lookupAddresses (peerId: string, signal: AbortSignal): Promise<string[]> {
    if (!this.started) return []
    const out: string[] = await this.findPeer(peerId, { signal }).catch(() => [])
    if (out.length === 0 && !signal.aborted) {
      const rec = await this.findRecord(peerId, { signal }).catch(() => null)
      if (rec != null) out.push(...rec.addresses)
    }
    if (out.length > 0) this.emit('peer:addresses', { peerId, addresses: out })
    return out
  }

  watch (peerId: string, knownAddrs: string[] = []): void {
    parseEd25519PeerId(peerId)
    this.reconnector.watch(peerId, knownAddrs)
    // Contacts are protected from connection-manager pruning.
    void this.node.peerStore.merge(parseEd25519PeerId(peerId), { tags: { 'parley-contact': { value: 100 } } }).catch(() => {})
  }

  unwatch (peerId: string): void {
    this.reconnector.unwatch(peerId)
    void this.node.peerStore.merge(parseEd25519PeerId(peerId), { tags: { 'parley-contact': undefined } }).catch(() => {})
  }

  watched (): WatchedPeer[] {
    return this.reconnector.list()
  }

  async ping (peerId: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    this.assertStarted()
    const signal = withTimeout(this.timeouts.readMs, options.signal)
    try {
      return await this.node.services.ping.ping(parseEd25519PeerId(peerId), { signal })
    } catch (err) {
      if (err instanceof ParleyNetError) throw err
      if (signal.aborted) throw new NetTimeoutError('ping timed out', { cause: err })
      throw new PeerUnreachableError('ping failed', { cause: err })
    }
  }

  /** Removes unwatched, unconnected peers not seen for staleAfterMs from the peer store. */
  async pruneStale (now: number = Date.now()): Promise<number> {
    const staleAfter = this.init.staleAfterMs ?? 3_600_000
    let removed = 0
    const peers = await this.node.peerStore.all()
    for (const p of peers) {
      const id = p.id.toString()
      if (this.reconnector.isWatched(id) || this.node.getConnections(p.id).length > 0) continue
      const seen = this.lastSeen.get(id)
      if (seen != null && now - seen < staleAfter) continue
      if (seen == null) { this.lastSeen.set(id, now); continue }
      await this.node.peerStore.delete(p.id).catch(() => {})
      this.lastSeen.delete(id)
      removed++
    }
    return removed
  }
}

/** Creates (does not start) a Parley network node. */
export async function createParleyNetwork (init: ParleyNetworkInit): Promise<ParleyNetwork & { pruneStale(now?: number): Promise<number> }> {
  const privateKey = await privateKeyFromSeed(init.seed)
  const prefix = init.dhtPrefix ?? '/parley'
  const ns = recordNamespace(prefix)
  const timeouts: NetTimeouts = { ...DEFAULT_TIMEOUTS, ...init.timeouts }
  const seqMemory = new RecordSeqMemory()
  const groups = new GroupPubsub(init.groups)
  const loopback = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128']
  const relays = init.relays ?? []
  relayPeerIds(relays) // each must name its relay
  const nat = init.nat ?? relays.length > 0
  const listen = [...init.listen]
  if (init.relayServer != null && !listen.some(a => a.includes('/ws'))) {
    const tcpHost = listen.map(a => /^\/(ip4|ip6)\/([^/]+)\/tcp\//.exec(a)).find(m => m != null)
    listen.push(tcpHost != null ? `/${tcpHost[1]!}/${tcpHost[2]!}/tcp/0/ws` : '/ip4/0.0.0.0/tcp/0/ws')
  }
  // One `/p2p-circuit` listen address per relay: the transport reserves a slot on each relay it is
  // connected to (the relays are dialed and kept connected like bootstrap peers).
  // issue 4: a `listen` that names /p2p-circuit or /webrtc itself chooses them (e.g. a node reachable
  // only through its relays: listen ['/p2p-circuit']); it still gets one circuit listener per relay.
  const chosen = listen.some(a => a === '/p2p-circuit' || a === '/webrtc')
  const circuits = listen.filter(a => a === '/p2p-circuit').length
  if (nat) listen.push(...relays.slice(circuits).map(() => '/p2p-circuit'))
  if (nat && !chosen) listen.push('/webrtc')
  // ICE servers are always explicit: without them @libp2p/webrtc would fall back to public STUN hosts.
  const iceServers = init.iceServers ?? stunUrlsForRelays(relays)
  let rtc: WebRTCLedger | null = null
  const node = await createLibp2p({
    privateKey,
    start: false,
    addresses: { listen, announce: init.announce ?? [] },
    transports: [tcp(), webSockets(), ...(nat ? natTransports(iceServers, rtc ??= new WebRTCLedger(iceServers)) : [])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: init.mdns === false ? [] : [mdns({ serviceTag: init.mdnsServiceTag ?? '_parley._udp.local', interval: init.mdnsIntervalMs ?? 10_000 })],
    connectionManager: {
      maxConnections: init.maxConnections ?? 128,
      dialTimeout: timeouts.dialMs,
      maxIncomingPendingConnections: 16,
      ...(init.allowLoopbackFlood === true ? { allow: loopback, inboundConnectionThreshold: 1000 } : {})
    },
    services: {
      // identify runs from ParleyNetworkImpl.scheduleIdentify (deferred on direct connections to ordinary peers)
      identify: identify({ runOnConnectionOpen: false }),
      ping: ping(),
      dht: kadDHT({
        protocol: `${prefix}/kad/1.0.0`,
        logPrefix: 'parley:dht',
        datastorePrefix: `${prefix}/dht`,
        clientMode: false,
        // kad-dht needs a validator and a selector for a custom record namespace (STACK-NOTES).
        validators: { [ns]: createRecordValidator(prefix, seqMemory) },
        selectors: { [ns]: createRecordSelector(prefix) },
        // LAN and loopback addresses are real Parley addresses: keep them.
        peerInfoMapper: passthroughMapper
      }),
      ...(init.relayServer != null ? { circuitRelay: relayServerService(init.relayServer) } : {}),
      pubsub: groupPubsubService(init.groups ?? {}, (p) => groups.penalty(p)),
      // issue 4: NAT discovery (AutoNAT v1 under Parley's prefix, so we serve Parley nodes only)
      ...(init.autoNat !== false ? { autoNAT: autoNAT({ protocolPrefix: prefix.slice(1), startupDelay: 5_000, refreshInterval: 600_000 }) } : {})
    }
  }) as unknown as Libp2p<Services>
  // Sanity: the libp2p identity is exactly the seed's Ed25519 key.
  if (!node.peerId.equals(peerIdFromPrivateKey(privateKey))) throw new NetStateError('libp2p identity mismatch')
  const impl = new ParleyNetworkImpl(init, privateKey, node, timeouts, prefix, seqMemory, groups)
  impl.rtc = rtc
  return impl as unknown as ParleyNetwork & { pruneStale(now?: number): Promise<number> }
}

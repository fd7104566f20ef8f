/**
 * Direct messages: `/parley/dm/1.0.0`. The dialer keeps one long-lived stream per peer (dm-link.ts)
 * and writes length-prefixed Envelope frames on it; the listener answers each Envelope with one Ack,
 * in order, only after the local handler resolved (i.e. after durable processing). A sliding window
 * bounds unacked bytes; the dialer closes its write side when idle.
 * Any protocol violation (bad frame, oversize, wrong sender) resets the stream; nothing else.
 */
import type { Connection, Stream } from '@libp2p/interface'
import {
  LIMITS, decodeEnvelope, encodeAck, encodeEnvelope,
  type Ack, type AckStatus, type Envelope
} from '../wire/index.js'
import { NetTimeoutError, ProtocolViolationError } from './errors.js'
import { FrameStream } from './frames.js'
import { PeerLink } from './dm-link.js'
import type { NetTimeouts } from './options.js'

export type EnvelopeHandler = (from: string, env: Envelope) => Promise<AckStatus | { status: AckStatus, reason?: string }>

export interface DirectMessagesInit {
  /** @default '/parley/dm/1.0.0' */
  protocol?: string
  /** @default LIMITS.maxFrameBytes (256 KiB); never above it */
  maxFrameBytes?: number
  /** The sender closes its idle DM stream after this long. @default timeouts.idleMs / 2 (before the receiver's idle deadline) */
  idleCloseMs?: number
  /** Unacknowledged bytes in flight per stream. @default 1 MiB */
  maxInFlightBytes?: number
  /** Concurrent inbound DM streams per connection. @default 8 */
  maxInboundStreams?: number
  /** Concurrent outbound DM streams per connection. @default 16 */
  maxOutboundStreams?: number
}

/** What the protocol needs from the node: stream registration and a bounded dial. */
export interface DirectMessagesComponents {
  /** Registers a stream handler. Parley's small frames may also run over relayed (limited) connections. */
  handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number, runOnLimitedConnection: boolean }): Promise<void>
  unhandle(protocol: string): Promise<void>
  connectTo(peerId: string, options: { addrs?: string[], signal?: AbortSignal }): Promise<Connection>
  /** True when an open connection better than `conn` (unlimited where `conn` is limited) exists. */
  hasBetterConnection(peerId: string, conn: Connection): boolean
  /** Another open connection to the peer than `conn`, best first. */
  otherConnection(peerId: string, conn: Connection): Connection | undefined
  /** Throws InvalidPeerIdError / NetStateError for a peer that cannot be sent to (bad id, self, not started). */
  checkPeer(peerId: string): void
  timeouts: NetTimeouts
  /** Called when a remote breaks the protocol (its stream was reset). */
  onViolation(peerId: string, protocol: string, err: Error): void
}

export const DM_PROTOCOL = '/parley/dm/1.0.0'

export class DirectMessages {
  readonly protocol: string
  private readonly maxFrameBytes: number
  private readonly idleCloseMs: number
  private readonly links = new Map<string, PeerLink>()
  private openedTotal = 0
  private readonly maxInFlight: number
  private readonly maxIn: number
  private readonly maxOut: number
  private handler: EnvelopeHandler | null = null

  constructor (private readonly components: DirectMessagesComponents, init: DirectMessagesInit = {}) {
    this.protocol = init.protocol ?? DM_PROTOCOL
    this.maxFrameBytes = Math.min(init.maxFrameBytes ?? LIMITS.maxFrameBytes, LIMITS.maxFrameBytes)
    this.idleCloseMs = init.idleCloseMs ?? Math.max(1, Math.floor(components.timeouts.idleMs / 2))
    this.maxInFlight = init.maxInFlightBytes ?? 1024 * 1024
    this.maxIn = init.maxInboundStreams ?? 8
    this.maxOut = init.maxOutboundStreams ?? 16
  }

  async start (): Promise<void> {
    await this.components.handle(this.protocol, (stream, connection) => {
      void this.onStream(stream, connection)
    }, { maxInboundStreams: this.maxIn, maxOutboundStreams: this.maxOut, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    for (const link of this.links.values()) link.stop()
    this.links.clear()
    await this.components.unhandle(this.protocol)
  }

  setHandler (handler: EnvelopeHandler | null): void {
    this.handler = handler
  }

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const t = this.components.timeouts
    const from = connection.remotePeer.toString()
    // The peer will want its receipts back: open our own stream to it now (warm-up), not after the
    // first envelope was handled (saves a stream negotiation on a new conversation's first receipt).
    try {
      this.components.checkPeer(from)
      this.linkFor(from).warm()
    } catch {
      // not a peer we can send to (e.g. stopping): nothing to warm
    }
    // Room for one maximal frame being read plus the sender's whole window.
    const frames = new FrameStream(stream, Math.max(4 * 1024 * 1024, 2 * this.maxFrameBytes + this.maxInFlight))
    try {
      // One long-lived stream carries any number of envelopes; the read deadline (idleMs) bounds an
      // idle stream and the byte-stream buffer bounds what an unacked sender can queue.
      for (;;) {
        const frame = await frames.read({ maxBytes: this.maxFrameBytes, timeoutMs: t.idleMs })
        if (frame == null) break
        let env: Envelope
        try {
          env = decodeEnvelope(frame, this.maxFrameBytes)
        } catch (err) {
          throw new ProtocolViolationError('malformed envelope', { cause: err })
        }
        // The envelope's claimed sender must be the peer authenticated by Noise (libp2p noise spec §Handshake: static key = PeerId key).
        if (env.sender != null && env.sender !== from) throw new ProtocolViolationError('envelope sender differs from the connection peer')
        const ack = await this.runHandler(from, env)
        await frames.write(encodeAck(ack), { timeoutMs: t.readMs })
      }
      await stream.close({ signal: AbortSignal.timeout(t.readMs) })
    } catch (err) {
      if (err instanceof ProtocolViolationError) {
        this.components.onViolation(from, this.protocol, err)
      }
      stream.abort(err instanceof Error ? err : new Error('dm stream failed'))
    }
  }

  private async runHandler (from: string, env: Envelope): Promise<Ack> {
    const handler = this.handler
    if (handler == null) return { id: env.id, status: 'ERROR', reason: 'not accepting messages' }
    const timeoutMs = this.components.timeouts.handlerMs
    let timer: NodeJS.Timeout | undefined
    try {
      const res = await Promise.race([
        handler(from, env),
        new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new NetTimeoutError('handler timed out')) }, timeoutMs) })
      ])
      const { status, reason } = typeof res === 'string' ? { status: res, reason: undefined } : res
      const ack: Ack = { id: env.id, status }
      if (reason != null) ack.reason = reason.slice(0, LIMITS.maxReasonChars)
      return ack
    } catch (err) {
      // Never leak local error text to a peer.
      return { id: env.id, status: 'ERROR', reason: err instanceof NetTimeoutError ? 'timeout' : 'handler failed' }
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Sends envelopes to a peer over its long-lived DM stream (dialing / opening it if needed) and
   * resolves with one Ack per envelope, in order. Concurrent calls to one peer are written in call
   * order, each call's envelopes contiguously. Throws MalformedFrameError/OversizeFrameError (before
   * any I/O) for invalid envelopes, PeerUnreachableError / NetTimeoutError if no stream could be
   * opened, and DeliveryIncompleteError (with the acks received so far) if the exchange broke part-way.
   * With no envelopes it only opens the peer's stream ahead of time (a warm-up) and resolves `[]` at once.
   */
  async send (peerId: string, envelopes: Envelope[], options: { addrs?: string[], signal?: AbortSignal } = {}): Promise<Ack[]> {
    if (envelopes.length === 0) {
      // no envelopes: a warm-up of the peer's stream (PeerLink.warm), resolved at once
      this.components.checkPeer(peerId)
      this.linkFor(peerId).warm(options.addrs != null ? { addrs: options.addrs } : {})
      return []
    }
    const frames = envelopes.map(e => encodeEnvelope(e))
    for (const f of frames) {
      if (f.byteLength > this.maxFrameBytes) throw new ProtocolViolationError(`envelope frame exceeds ${this.maxFrameBytes} bytes`)
    }
    this.components.checkPeer(peerId)
    return await this.linkFor(peerId).submit(frames, envelopes.map(e => e.id), options)
  }

  private linkFor (peerId: string): PeerLink {
    let link = this.links.get(peerId)
    if (link == null) {
      link = new PeerLink(peerId, this.components, {
        protocol: this.protocol,
        maxInFlightBytes: this.maxInFlight,
        maxOutboundStreams: this.maxOut,
        idleCloseMs: this.idleCloseMs,
        onStreamOpened: () => { this.openedTotal++ }
      }, (l) => { if (this.links.get(l.peerId) === l && l.isIdle()) this.links.delete(l.peerId) })
      this.links.set(peerId, link)
    }
    return link
  }

  /** Outbound DM streams opened since start (all peers; metrics and tests). */
  streamsOpened (): number {
    return this.openedTotal
  }
}

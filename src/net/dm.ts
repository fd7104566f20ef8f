/**
 * Direct messages: `/parley/dm/1.0.0`. The dialer writes length-prefixed Envelope frames, then
 * closes its write side; the listener answers each Envelope with one Ack, in order, only after the
 * local handler resolved (i.e. after durable processing). A sliding window bounds unacked bytes.
 * Any protocol violation (bad frame, oversize, wrong sender) resets the stream; nothing else.
 */
import type { Connection, Stream } from '@libp2p/interface'
import {
  LIMITS, MAX_ACK_BYTES, decodeAck, decodeEnvelope, encodeAck, encodeEnvelope,
  type Ack, type AckStatus, type Envelope
} from '../wire/index.js'
import { DeliveryIncompleteError, NetTimeoutError, PeerUnreachableError, ProtocolViolationError } from './errors.js'
import { FrameStream, mapAbort, withTimeout } from './frames.js'
import type { NetTimeouts } from './options.js'

export type EnvelopeHandler = (from: string, env: Envelope) => Promise<AckStatus | { status: AckStatus, reason?: string }>

export interface DirectMessagesInit {
  /** @default '/parley/dm/1.0.0' */
  protocol?: string
  /** @default LIMITS.maxFrameBytes (256 KiB); never above it */
  maxFrameBytes?: number
  /** Envelopes per stream; larger batches use several streams. @default 64 */
  maxEnvelopesPerStream?: number
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
  timeouts: NetTimeouts
  /** Called when a remote breaks the protocol (its stream was reset). */
  onViolation(peerId: string, protocol: string, err: Error): void
}

export const DM_PROTOCOL = '/parley/dm/1.0.0'

export class DirectMessages {
  readonly protocol: string
  private readonly maxFrameBytes: number
  private readonly maxPerStream: number
  private readonly maxInFlight: number
  private readonly maxIn: number
  private readonly maxOut: number
  private handler: EnvelopeHandler | null = null

  constructor (private readonly components: DirectMessagesComponents, init: DirectMessagesInit = {}) {
    this.protocol = init.protocol ?? DM_PROTOCOL
    this.maxFrameBytes = Math.min(init.maxFrameBytes ?? LIMITS.maxFrameBytes, LIMITS.maxFrameBytes)
    this.maxPerStream = init.maxEnvelopesPerStream ?? 64
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
    await this.components.unhandle(this.protocol)
  }

  setHandler (handler: EnvelopeHandler | null): void {
    this.handler = handler
  }

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const t = this.components.timeouts
    const from = connection.remotePeer.toString()
    // Room for one maximal frame being read plus the sender's whole window.
    const frames = new FrameStream(stream, Math.max(4 * 1024 * 1024, 2 * this.maxFrameBytes + this.maxInFlight))
    try {
      for (let n = 0; ; n++) {
        const frame = await frames.read({ maxBytes: this.maxFrameBytes, timeoutMs: t.idleMs })
        if (frame == null) break
        if (n >= this.maxPerStream) throw new ProtocolViolationError('too many envelopes on one stream')
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
   * Sends envelopes to a peer (dialing if needed) and resolves with one Ack per envelope, in order.
   * Throws MalformedFrameError/OversizeFrameError (before any I/O) for invalid envelopes,
   * PeerUnreachableError / NetTimeoutError if no stream could be opened, and
   * DeliveryIncompleteError (with the acks received so far) if the exchange broke part-way.
   */
  async send (peerId: string, envelopes: Envelope[], options: { addrs?: string[], signal?: AbortSignal } = {}): Promise<Ack[]> {
    if (envelopes.length === 0) return []
    const frames = envelopes.map(e => encodeEnvelope(e))
    for (const f of frames) {
      if (f.byteLength > this.maxFrameBytes) throw new ProtocolViolationError(`envelope frame exceeds ${this.maxFrameBytes} bytes`)
    }
    const connectOpts: { addrs?: string[], signal?: AbortSignal } = {}
    if (options.addrs != null) connectOpts.addrs = options.addrs
    if (options.signal != null) connectOpts.signal = options.signal
    const connection = await this.components.connectTo(peerId, connectOpts)
    const acks: Ack[] = []
    for (let start = 0; start < frames.length; start += this.maxPerStream) {
      const chunk = frames.slice(start, start + this.maxPerStream)
      const ids = envelopes.slice(start, start + this.maxPerStream).map(e => e.id)
      try {
        acks.push(...await this.sendChunk(connection, chunk, ids, options.signal))
      } catch (err) {
        if (err instanceof DeliveryIncompleteError) {
          throw new DeliveryIncompleteError(err.message, [...acks, ...err.acks], { cause: err.cause })
        }
        throw err
      }
    }
    return acks
  }

  private async sendChunk (connection: Connection, frames: Uint8Array[], ids: Uint8Array[], signal?: AbortSignal): Promise<Ack[]> {
    const t = this.components.timeouts
    const openSignal = withTimeout(t.streamOpenMs, signal)
    let stream: Stream
    try {
      stream = await connection.newStream(this.protocol, { signal: openSignal, maxOutboundStreams: this.maxOut, runOnLimitedConnection: true})
    } catch (err) {
      const mapped = mapAbort(err, openSignal, signal, 'stream open')
      if (mapped instanceof NetTimeoutError) throw mapped
      throw new PeerUnreachableError('could not open a direct-message stream', { cause: err })
    }
    const fs = new FrameStream(stream, 4 * MAX_ACK_BYTES * Math.max(1, frames.length))
    const acks: Ack[] = []
    try {
      let next = 0
      let inFlight = 0
      let closed = false
      while (acks.length < frames.length) {
        while (next < frames.length && (inFlight === 0 || inFlight + frames[next]!.byteLength <= this.maxInFlight)) {
          await fs.write(frames[next]!, { timeoutMs: t.readMs, ...(signal != null ? { signal } : {}) })
          inFlight += frames[next]!.byteLength
          next++
        }
        if (next === frames.length && !closed) {
          await stream.close({ signal: withTimeout(t.readMs, signal) })
          closed = true
        }
        // The receiver acks only after its handler resolved: allow for the handler's deadline.
        const frame = await fs.read({ maxBytes: MAX_ACK_BYTES, timeoutMs: t.handlerMs + t.readMs, ...(signal != null ? { signal } : {}) })
        if (frame == null) throw new ProtocolViolationError('stream ended before all acks arrived')
        let ack: Ack
        try {
          ack = decodeAck(frame)
        } catch (err) {
          throw new ProtocolViolationError('malformed ack', { cause: err })
        }
        const expected = ids[acks.length]!
        if (!sameBytes(ack.id, expected)) throw new ProtocolViolationError('ack for an unexpected envelope id')
        acks.push(ack)
        inFlight -= frames[acks.length - 1]!.byteLength
      }
      return acks
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error('dm send failed'))
      throw new DeliveryIncompleteError(`delivery stopped after ${acks.length}/${frames.length} acks`, acks, { cause: err })
    }
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

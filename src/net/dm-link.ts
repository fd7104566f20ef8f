/**
 * One long-lived outbound `/parley/dm/1.0.0` stream per peer. Every sendEnvelopes call appends its
 * envelopes to the peer's FIFO synchronously, so the frames of one call stay in call order and
 * calls are written in the order they were made. Frames are pipelined under a byte window; the
 * receiver answers one Ack per Envelope in order, so each ack must carry the id of the oldest
 * unacknowledged frame. The stream is opened lazily (or ahead of the first frame by warm()), reused,
 * closed after an idle period, and re-opened when it dies or a better (unlimited) connection to the
 * peer appears. A frame lost to a
 * dead transport is re-sent once on a fresh stream (receivers de-duplicate by id).
 */
import type { Connection, Stream } from '@libp2p/interface'
import { MAX_ACK_BYTES, decodeAck, type Ack } from '../wire/index.js'
import { DeliveryIncompleteError, NetStateError, NetTimeoutError, PeerUnreachableError, ProtocolViolationError } from './errors.js'
import { FrameStream, mapAbort } from './frames.js'
import type { NetTimeouts } from './options.js'

export interface LinkComponents {
  /** Returns an open connection to the peer (dialing `addrs` if needed), preferring an unlimited one. */
  connectTo(peerId: string, options: { addrs?: string[], signal?: AbortSignal }): Promise<Connection>
  /** True when an open connection better than `conn` (unlimited where `conn` is limited) exists. */
  hasBetterConnection(peerId: string, conn: Connection): boolean
  /** Another open connection to the peer than `conn` (the fallback when a stream cannot be opened on `conn`). */
  otherConnection(peerId: string, conn: Connection): Connection | undefined
  timeouts: NetTimeouts
}

export interface LinkSettings {
  protocol: string
  maxInFlightBytes: number
  maxOutboundStreams: number
  /** Close an idle stream after this long (below the receiver's idle timeout). */
  idleCloseMs: number
  onStreamOpened?: () => void
}

interface Call {
  readonly total: number
  readonly acks: Ack[]
  readonly addrs: string[]
  done: boolean
  written: boolean
  resolve(acks: Ack[]): void
  reject(err: unknown): void
}

interface Entry {
  readonly call: Call
  readonly frame: Uint8Array
  readonly id: Uint8Array
  attempts: number
}

interface LiveStream {
  readonly conn: Connection
  readonly stream: Stream
  readonly fs: FrameStream
  dead: boolean
  closing: boolean
  ackTimer?: NodeJS.Timeout
}

/** Most a frame is written: once, then once more on a fresh stream after a transport failure. */
const MAX_ATTEMPTS = 2

export class PeerLink {
  private readonly queue: Entry[] = []
  private readonly inflight: Entry[] = []
  private inflightBytes = 0
  private cur: LiveStream | null = null
  /** A stream being opened ahead of the first envelope (warm()); pump() waits for it instead of opening another. */
  private opening: Promise<void> | null = null
  private pumping = false
  private stopped = false
  private idleTimer: NodeJS.Timeout | undefined
  private wake: (() => void) | null = null
  /** Streams opened so far (for tests and metrics). */
  streamsOpened = 0

  constructor (readonly peerId: string, private readonly components: LinkComponents, private readonly settings: LinkSettings, private readonly onEmpty: (link: PeerLink) => void) {}

  /** True when nothing is queued, in flight or open: the owner may forget this link. */
  isIdle (): boolean {
    return this.queue.length === 0 && this.inflight.length === 0 && this.cur == null && !this.pumping && this.opening == null
  }

  /**
   * Opens the stream ahead of the first envelope (e.g. while a session is being set up, or when the
   * peer opened its own DM stream to us and a receipt will follow), so that the first frame does not
   * wait for a stream negotiation. No-op when a stream is open or being opened; a failure is silent
   * (the first send opens again and reports). The idle close applies as to any stream.
   */
  warm (options: { addrs?: string[] } = {}): void {
    if (this.stopped || this.cur != null || this.pumping || this.opening != null) return
    this.clearIdle()
    this.opening = (async () => {
      try {
        const s = await this.open(options.addrs ?? [])
        if (this.stopped || this.cur != null) {
          this.retire(s)
          return
        }
        this.cur = s
        void this.readLoop(s)
      } catch {
        // nothing was waiting for this stream
      } finally {
        this.opening = null
        this.settle()
      }
    })()
  }

  submit (frames: Uint8Array[], ids: Uint8Array[], options: { addrs?: string[], signal?: AbortSignal }): Promise<Ack[]> {
    if (this.stopped) return Promise.reject(new NetStateError('network is stopped'))
    const signal = options.signal
    if (signal?.aborted === true) return Promise.reject(new NetTimeoutError('send aborted by caller', { cause: signal.reason }))
    return new Promise<Ack[]>((resolve, reject) => {
      const onAbort = (): void => { this.failCall(call, new NetTimeoutError('send aborted by caller', { cause: signal?.reason })) }
      const call: Call = {
        total: frames.length,
        acks: [],
        addrs: options.addrs ?? [],
        done: false,
        written: false,
        resolve: (acks) => { signal?.removeEventListener('abort', onAbort); resolve(acks) },
        reject: (err) => { signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      for (let i = 0; i < frames.length; i++) this.queue.push({ call, frame: frames[i]!, id: ids[i]!, attempts: 0 })
      this.clearIdle()
      void this.pump()
    })
  }

  /** Fails everything pending and resets the stream. */
  stop (): void {
    this.stopped = true
    this.clearIdle()
    const err = new NetStateError('network is stopped')
    if (this.cur != null) this.kill(this.cur, err)
    for (const e of [...this.inflight, ...this.queue]) this.failCall(e.call, err)
    this.queue.length = 0
    this.inflight.length = 0
    this.inflightBytes = 0
    this.notify()
  }

  private async pump (): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      for (;;) {
        while (this.queue.length > 0 && this.queue[0]!.call.done) this.queue.shift()
        if (this.queue.length === 0 || this.stopped) return
        let s = this.cur
        if (s != null && s.conn.status !== 'open') {
          this.kill(s, new PeerUnreachableError('connection closed'))
          s = null
        }
        // Switch to a better connection only between batches so the receiver sees one ordered stream.
        if (s != null && this.inflight.length === 0 && this.components.hasBetterConnection(this.peerId, s.conn)) {
          this.retire(s)
          s = null
        }
        if (s == null && this.opening != null) {
          await this.opening // a warm-up is opening the stream: use it (or open one below if it failed)
          continue
        }
        if (s == null) {
          try {
            s = await this.open([...new Set(this.queue.flatMap(e => e.call.addrs))])
          } catch (err) {
            for (const e of this.queue.splice(0)) this.failCall(e.call, err)
            continue
          }
          if (this.stopped) { this.kill(s, new NetStateError('network is stopped')); return }
          this.cur = s
          void this.readLoop(s)
          continue
        }
        const e = this.queue[0]!
        if (this.inflight.length > 0 && this.inflightBytes + e.frame.byteLength > this.settings.maxInFlightBytes) {
          await this.progress()
          continue
        }
        this.queue.shift()
        e.attempts++
        e.call.written = true
        this.inflight.push(e)
        this.inflightBytes += e.frame.byteLength
        if (this.inflight.length === 1) this.armAckTimer(s)
        try {
          await s.fs.write(e.frame, { timeoutMs: this.components.timeouts.readMs })
        } catch (err) {
          this.kill(s, err)
        }
      }
    } finally {
      this.pumping = false
      this.settle()
    }
  }

  private async open (addrs: string[]): Promise<LiveStream> {
    let conn = await this.components.connectTo(this.peerId, addrs.length > 0 ? { addrs } : {})
    let stream: Stream
    try {
      stream = await this.newStream(conn)
    } catch (err) {
      // A just-opened direct path can be unusable (a WebRTC connection that closes right after
      // opening, STACK-NOTES): fall back once to another open connection, e.g. the relayed one.
      const alt = this.components.otherConnection(this.peerId, conn)
      if (alt == null) throw err
      conn = alt
      stream = await this.newStream(conn)
    }
    this.streamsOpened++
    this.settings.onStreamOpened?.()
    // Acks are tiny; bound what a misbehaving peer can make us buffer.
    return { conn, stream, fs: new FrameStream(stream, 64 * MAX_ACK_BYTES), dead: false, closing: false }
  }

  private async newStream (conn: Connection): Promise<Stream> {
    const openSignal = AbortSignal.timeout(this.components.timeouts.streamOpenMs)
    try {
      return await conn.newStream(this.settings.protocol, { signal: openSignal, maxOutboundStreams: this.settings.maxOutboundStreams, runOnLimitedConnection: true })
    } catch (err) {
      const mapped = mapAbort(err, openSignal, undefined, 'stream open')
      if (mapped instanceof NetTimeoutError) throw mapped
      throw new PeerUnreachableError('could not open a direct-message stream', { cause: err })
    }
  }

  private async readLoop (s: LiveStream): Promise<void> {
    try {
      for (;;) {
        // No read deadline while idle (and no timer per ack): the ack timer bounds waits while frames
        // are unacknowledged, and the idle close ends the stream.
        const frame = await s.fs.read({ maxBytes: MAX_ACK_BYTES, timeoutMs: Number.POSITIVE_INFINITY })
        if (s.dead) return
        if (frame == null) {
          // A peer that stops or restarts ends its streams cleanly, possibly before it read frames we
          // wrote onto the (idle, reused) stream meanwhile: a transport loss, so the unacknowledged
          // frames go once more on a fresh stream (receivers de-duplicate by envelope id).
          if (this.cur === s && this.inflight.length > 0) throw new PeerUnreachableError('stream ended before all acks arrived')
          s.dead = true
          clearTimeout(s.ackTimer)
          if (this.cur === s) this.cur = null
          s.stream.abort(new Error('dm stream ended'))
          this.settle()
          return
        }
        let ack: Ack
        try {
          ack = decodeAck(frame)
        } catch (err) {
          throw new ProtocolViolationError('malformed ack', { cause: err })
        }
        const head = this.cur === s ? this.inflight[0] : undefined
        if (head == null) throw new ProtocolViolationError('ack for no outstanding envelope')
        if (!sameBytes(ack.id, head.id)) throw new ProtocolViolationError('ack for an unexpected envelope id')
        this.inflight.shift()
        this.inflightBytes -= head.frame.byteLength
        clearTimeout(s.ackTimer)
        if (this.inflight.length > 0) this.armAckTimer(s)
        const call = head.call
        if (!call.done) {
          call.acks.push(ack)
          if (call.acks.length === call.total) { call.done = true; call.resolve(call.acks) }
        }
        this.notify()
        this.settle()
      }
    } catch (err) {
      this.kill(s, err)
    }
  }

  /** The receiver acks only after its handler resolved: allow for the handler's deadline per ack. */
  private armAckTimer (s: LiveStream): void {
    clearTimeout(s.ackTimer)
    const t = this.components.timeouts
    s.ackTimer = setTimeout(() => { this.kill(s, new NetTimeoutError('no ack in time')) }, t.handlerMs + t.readMs)
  }

  /** Ends a stream after a failure; its unacknowledged frames are re-queued once (transport loss) or fail their calls. */
  private kill (s: LiveStream, err: unknown): void {
    if (s.dead) return
    s.dead = true
    clearTimeout(s.ackTimer)
    s.stream.abort(err instanceof Error ? err : new Error('dm stream failed'))
    if (this.cur !== s) return
    this.cur = null
    const retryable = !(err instanceof ProtocolViolationError) && !(err instanceof NetTimeoutError) && !(err instanceof NetStateError)
    const lost = this.inflight.splice(0)
    this.inflightBytes = 0
    const again: Entry[] = []
    for (const e of lost) {
      if (e.call.done) continue
      if (retryable && e.attempts < MAX_ATTEMPTS) again.push(e)
      else this.failCall(e.call, err)
    }
    this.queue.unshift(...again.filter(e => !e.call.done))
    this.notify()
    if (this.queue.length > 0) void this.pump()
    else this.settle()
  }

  /** Closes our write side of an idle stream; the receiver then closes too. */
  private retire (s: LiveStream): void {
    if (this.cur === s) this.cur = null
    s.closing = true
    clearTimeout(s.ackTimer)
    void s.stream.close({ signal: AbortSignal.timeout(this.components.timeouts.readMs) }).catch(() => { s.dead = true; s.stream.abort(new Error('dm close failed')) })
  }

  private failCall (call: Call, err: unknown): void {
    if (call.done) return
    call.done = true
    if (call.acks.length === 0 && !call.written && !(err instanceof ProtocolViolationError)) {
      call.reject(err)
      return
    }
    const msg = err instanceof Error ? err.message : 'stream failed'
    call.reject(new DeliveryIncompleteError(`delivery stopped after ${call.acks.length}/${call.total} acks: ${msg}`, [...call.acks], { cause: err }))
  }

  private async progress (): Promise<void> {
    await new Promise<void>((resolve) => { this.wake = resolve })
  }

  private notify (): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  private clearIdle (): void {
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
  }

  /** Arms the idle close when nothing is pending; tells the owner when the link holds nothing. */
  private settle (): void {
    if (this.pumping || this.opening != null || this.queue.length > 0 || this.inflight.length > 0) return
    const s = this.cur
    if (s == null) {
      this.clearIdle()
      this.onEmpty(this)
      return
    }
    if (this.idleTimer != null) return
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined
      if (this.cur === s && this.queue.length === 0 && this.inflight.length === 0) {
        this.retire(s)
        this.settle()
      }
    }, this.settings.idleCloseMs)
    this.idleTimer.unref?.()
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

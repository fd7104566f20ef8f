/**
 * Length-prefixed frames (unsigned varint length, then that many bytes — the libp2p convention) on a
 * libp2p stream, with a hard cap checked before any body byte is buffered and a timeout per read.
 * The frame CONTENTS are protobuf messages encoded by the generated codecs in src/wire.
 */
import { byteStream, UnexpectedEOFError } from '@libp2p/utils'
import type { ByteStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { ProtocolViolationError, NetTimeoutError } from './errors.js'

/** A varint for any length < 2^35 fits in 5 bytes; ours are far smaller (multiformats unsigned-varint spec caps it at 9). */
const MAX_VARINT_BYTES = 5

export function encodeLength (n: number): Uint8Array {
  const out: number[] = []
  let v = n
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v = Math.floor(v / 128)
  }
  out.push(v)
  return Uint8Array.from(out)
}

export interface FrameReadOptions {
  /** Hard cap on the frame body; a larger announced length aborts before the body is read. */
  maxBytes: number
  /**
   * Per-read deadline (covers the whole frame). Infinity only where something else bounds the wait
   * and resets the stream (dm-link's ack timer and idle close).
   */
  timeoutMs: number
  signal?: AbortSignal
}

export class FrameStream {
  private readonly bytes: ByteStream<Stream>

  constructor (readonly stream: Stream, maxBufferBytes: number) {
    this.bytes = byteStream(stream, { maxBufferSize: maxBufferBytes })
  }

  /**
   * Reads one frame. Returns null on a clean end of stream at a frame boundary; throws
   * ProtocolViolationError on an oversize/invalid length or EOF inside a frame, NetTimeoutError on timeout.
   */
  async read (opts: FrameReadOptions): Promise<Uint8Array | null> {
    // Infinity: no timer of our own (only the caller's signal, if any). perf (issue 3): a cleared
    // deadline, not AbortSignal.timeout (whose timer and signal live on for the whole timeout, per frame)
    const dl = opts.timeoutMs === Number.POSITIVE_INFINITY ? null : deadline(opts.timeoutMs, opts.signal)
    const signal = dl?.signal ?? opts.signal
    const sig = signal != null ? { signal } : {}
    try {
      let length = 0
      let shift = 1
      for (let i = 0; ; i++) {
        if (i >= MAX_VARINT_BYTES) throw new ProtocolViolationError('frame length varint too long')
        let b
        try {
          b = await this.bytes.read({ bytes: 1, ...sig })
        } catch (err) {
          if (err instanceof UnexpectedEOFError) {
            if (i === 0) return null
            throw new ProtocolViolationError('stream ended inside a frame length', { cause: err })
          }
          throw err
        }
        const byte = b.get(0)
        length += (byte & 0x7f) * shift
        shift *= 128
        if ((byte & 0x80) === 0) break
      }
      // Refuse an oversize frame from its announced length, before buffering any of its body.
      if (length > opts.maxBytes) throw new ProtocolViolationError(`frame of ${length} bytes exceeds cap ${opts.maxBytes}`)
      if (length === 0) return new Uint8Array(0)
      try {
        return (await this.bytes.read({ bytes: length, ...sig })).subarray()
      } catch (err) {
        if (err instanceof UnexpectedEOFError) throw new ProtocolViolationError('stream ended inside a frame', { cause: err })
        throw err
      }
    } catch (err) {
      throw mapAbort(err, signal, opts.signal, 'frame read')
    } finally {
      dl?.clear()
    }
  }

  /** Writes one frame (prefix and body in one buffer; waits for the stream to drain when its buffer is full). */
  async write (frame: Uint8Array, opts: { timeoutMs: number, signal?: AbortSignal }): Promise<void> {
    const n = frame.byteLength
    const prefixLen = varintLength(n)
    const out = new Uint8Array(prefixLen + n)
    let v = n
    for (let i = 0; i < prefixLen - 1; i++) {
      out[i] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    out[prefixLen - 1] = v
    out.set(frame, prefixLen)
    // perf (issue 3): byteStream looks at the signal only when the stream's buffer is full (it then
    // waits for 'drain'): the deadline is made on that first look, not for every frame
    let dl: Deadline | null = null
    const lazy = { get signal (): AbortSignal { dl ??= deadline(opts.timeoutMs, opts.signal); return dl.signal } }
    try {
      // through byteStream: it refuses a stream that is closing or reset (dm-link then retries on a
      // fresh stream), which a bare stream.send() on a half-closed stream would not report
      await this.bytes.write(out, lazy)
    } catch (err) {
      throw mapAbort(err, (dl as Deadline | null)?.signal, opts.signal, 'frame write')
    } finally {
      (dl as Deadline | null)?.clear()
    }
  }
}

function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

/** A signal that fires after `ms` or when `parent` fires, and `clear()` to drop its timer and listener. */
export interface Deadline {
  readonly signal: AbortSignal
  clear: () => void
}

/**
 * Like withTimeout, for a deadline whose operation usually ends long before it: `clear()` removes the
 * timer and the listener on `parent` at once (AbortSignal.timeout's timer cannot be cleared and keeps
 * its signal alive for the whole timeout; AbortSignal.any links every result to the parent until GC).
 */
export function deadline (ms: number, parent?: AbortSignal): Deadline {
  const ac = new AbortController()
  if (parent?.aborted === true) {
    ac.abort(parent.reason)
    return { signal: ac.signal, clear: () => {} }
  }
  const timer = setTimeout(() => { ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) }, ms)
  timer.unref?.()
  const onParent = (): void => { clearTimeout(timer); ac.abort(parent?.reason) }
  parent?.addEventListener('abort', onParent, { once: true })
  return {
    signal: ac.signal,
    clear: () => {
      clearTimeout(timer)
      parent?.removeEventListener('abort', onParent)
    }
  }
}

/** A signal that fires after `ms` or when `parent` fires. */
export function withTimeout (ms: number, parent?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return parent == null ? t : AbortSignal.any([t, parent])
}

/** Turns an abort of our own deadline into NetTimeoutError; leaves other errors alone. */
export function mapAbort (err: unknown, signal: AbortSignal | undefined, parent: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted === true && !(err instanceof ProtocolViolationError)) {
    const byCaller = parent?.aborted === true
    return new NetTimeoutError(byCaller ? `${what} aborted by caller` : `${what} timed out`, { cause: err })
  }
  return err
}

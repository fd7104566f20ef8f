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
  /** Per-read deadline (covers the whole frame). */
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
    const signal = withTimeout(opts.timeoutMs, opts.signal)
    try {
      let length = 0
      let shift = 1
      for (let i = 0; ; i++) {
        if (i >= MAX_VARINT_BYTES) throw new ProtocolViolationError('frame length varint too long')
        let b
        try {
          b = await this.bytes.read({ bytes: 1, signal })
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
        return (await this.bytes.read({ bytes: length, signal })).subarray()
      } catch (err) {
        if (err instanceof UnexpectedEOFError) throw new ProtocolViolationError('stream ended inside a frame', { cause: err })
        throw err
      }
    } catch (err) {
      throw mapAbort(err, signal, opts.signal, 'frame read')
    }
  }

  /** Writes one frame (waits for the stream to drain when its buffer is full). */
  async write (frame: Uint8Array, opts: { timeoutMs: number, signal?: AbortSignal }): Promise<void> {
    const signal = withTimeout(opts.timeoutMs, opts.signal)
    try {
      const prefix = encodeLength(frame.byteLength)
      const out = new Uint8Array(prefix.byteLength + frame.byteLength)
      out.set(prefix, 0)
      out.set(frame, prefix.byteLength)
      await this.bytes.write(out, { signal })
    } catch (err) {
      throw mapAbort(err, signal, opts.signal, 'frame write')
    }
  }
}

/** A signal that fires after `ms` or when `parent` fires. */
export function withTimeout (ms: number, parent?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return parent == null ? t : AbortSignal.any([t, parent])
}

/** Turns an abort of our own deadline into NetTimeoutError; leaves other errors alone. */
export function mapAbort (err: unknown, signal: AbortSignal, parent: AbortSignal | undefined, what: string): unknown {
  if (signal.aborted && !(err instanceof ProtocolViolationError)) {
    const byCaller = parent?.aborted === true
    return new NetTimeoutError(byCaller ? `${what} aborted by caller` : `${what} timed out`, { cause: err })
  }
  return err
}

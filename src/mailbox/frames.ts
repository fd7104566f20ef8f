/**
 * One length-prefixed frame each way (unsigned varint length + protobuf bytes, the libp2p
 * convention), with a hard cap checked from the announced length and a deadline on every read/write.
 */
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { MailboxProtocolError, MailboxTimeoutError } from './errors.js'

export class MailboxFrames {
  private readonly lp: LengthPrefixedStream<Stream>

  constructor (readonly stream: Stream, maxFrameBytes: number) {
    this.lp = lpStream(stream, { maxDataLength: maxFrameBytes, maxBufferSize: maxFrameBytes + 16 })
  }

  async read (timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    const s = withTimeout(timeoutMs, signal)
    try {
      return (await this.lp.read({ signal: s })).subarray()
    } catch (err) {
      throw mapError(err, s, signal, 'read')
    }
  }

  async write (frame: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const s = withTimeout(timeoutMs, signal)
    try {
      await this.lp.write(frame, { signal: s })
    } catch (err) {
      throw mapError(err, s, signal, 'write')
    }
  }
}

export function withTimeout (ms: number, parent?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(ms)
  return parent == null ? t : AbortSignal.any([t, parent])
}

function mapError (err: unknown, s: AbortSignal, parent: AbortSignal | undefined, what: string): Error {
  if (s.aborted) return new MailboxTimeoutError(parent?.aborted === true ? `mailbox ${what} aborted by caller` : `mailbox ${what} timed out`, { cause: err })
  return new MailboxProtocolError(`mailbox frame ${what} failed`, { cause: err })
}

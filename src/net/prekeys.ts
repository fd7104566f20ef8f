/**
 * Prekey bundles on request: `/parley/prekeys/1.0.0`. The dialer sends one BundleRequest frame and
 * closes its write side; the listener answers with one BundleResponse and closes. Bundle bytes are
 * opaque here (the crypto core signs and checks them).
 */
import type { Connection, Stream } from '@libp2p/interface'
import {
  MAX_BUNDLE_REQUEST_BYTES, MAX_BUNDLE_RESPONSE_BYTES, decodeBundleRequest, decodeBundleResponse,
  encodeBundleRequest, encodeBundleResponse, LIMITS
} from '../wire/index.js'
import { BundleUnavailableError, NetTimeoutError, ParleyNetError, PeerUnreachableError, ProtocolViolationError } from './errors.js'
import { FrameStream, mapAbort, withTimeout } from './frames.js'
import type { DirectMessagesComponents } from './dm.js'

export const PREKEYS_PROTOCOL = '/parley/prekeys/1.0.0'

/** Returns the bundle to hand out, or null when none is available. */
export type BundleHandler = (from: string) => Promise<Uint8Array | null>

export interface PrekeysInit {
  /** @default '/parley/prekeys/1.0.0' */
  protocol?: string
  /** @default 4 */
  maxInboundStreams?: number
  /** @default 4 */
  maxOutboundStreams?: number
  /**
   * Called with the requester's PeerId after a bundle was handed out (issue 3: the requester is about
   * to send a PreKey message whose receipt goes back to it, so the node opens its DM stream now).
   */
  onServed?: (peerId: string) => void
}

export type PrekeysComponents = DirectMessagesComponents

export class Prekeys {
  readonly protocol: string
  private handler: BundleHandler | null = null
  private readonly maxIn: number
  private readonly maxOut: number
  private readonly onServed: ((peerId: string) => void) | undefined

  constructor (private readonly components: PrekeysComponents, init: PrekeysInit = {}) {
    this.protocol = init.protocol ?? PREKEYS_PROTOCOL
    this.onServed = init.onServed
    this.maxIn = init.maxInboundStreams ?? 4
    this.maxOut = init.maxOutboundStreams ?? 4
  }

  async start (): Promise<void> {
    await this.components.handle(this.protocol, (stream, connection) => {
      void this.onStream(stream, connection)
    }, { maxInboundStreams: this.maxIn, maxOutboundStreams: this.maxOut, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    await this.components.unhandle(this.protocol)
  }

  setHandler (handler: BundleHandler | null): void {
    this.handler = handler
  }

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const t = this.components.timeouts
    const from = connection.remotePeer.toString()
    const fs = new FrameStream(stream, 1024)
    try {
      const frame = await fs.read({ maxBytes: MAX_BUNDLE_REQUEST_BYTES, timeoutMs: t.readMs })
      if (frame == null) throw new ProtocolViolationError('no bundle request')
      try {
        decodeBundleRequest(frame)
      } catch (err) {
        throw new ProtocolViolationError('malformed bundle request', { cause: err })
      }
      let bundle: Uint8Array | null = null
      const handler = this.handler
      if (handler != null) {
        let timer: NodeJS.Timeout | undefined
        try {
          bundle = await Promise.race([
            handler(from),
            new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new NetTimeoutError('bundle handler timed out')) }, t.handlerMs) })
          ])
        } catch {
          bundle = null
        } finally {
          clearTimeout(timer)
        }
      }
      const ok = bundle != null && bundle.byteLength > 0 && bundle.byteLength <= LIMITS.maxBundleBytes
      await fs.write(encodeBundleResponse(ok ? { status: 'OK', bundle: bundle! } : { status: 'UNAVAILABLE', bundle: new Uint8Array(0) }), { timeoutMs: t.readMs })
      if (ok) this.onServed?.(from)
      await stream.close({ signal: AbortSignal.timeout(t.readMs) })
    } catch (err) {
      if (err instanceof ProtocolViolationError) this.components.onViolation(from, this.protocol, err)
      stream.abort(err instanceof Error ? err : new Error('prekeys stream failed'))
    }
  }

  /** Asks the peer for a prekey bundle. Throws BundleUnavailableError if it has none. */
  async fetch (peerId: string, options: { addrs?: string[], signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const t = this.components.timeouts
    const connection = await this.components.connectTo(peerId, options)
    const openSignal = withTimeout(t.streamOpenMs, options.signal)
    let stream: Stream
    try {
      stream = await connection.newStream(this.protocol, { signal: openSignal, maxOutboundStreams: this.maxOut, runOnLimitedConnection: true })
    } catch (err) {
      const mapped = mapAbort(err, openSignal, options.signal, 'stream open')
      if (mapped instanceof NetTimeoutError) throw mapped
      throw new PeerUnreachableError('could not open a prekeys stream', { cause: err })
    }
    const fs = new FrameStream(stream, 2 * MAX_BUNDLE_RESPONSE_BYTES)
    const sig = options.signal != null ? { signal: options.signal } : {}
    try {
      await fs.write(encodeBundleRequest(), { timeoutMs: t.readMs, ...sig })
      await stream.close({ signal: withTimeout(t.readMs, options.signal) })
      const frame = await fs.read({ maxBytes: MAX_BUNDLE_RESPONSE_BYTES, timeoutMs: t.handlerMs + t.readMs, ...sig })
      if (frame == null) throw new ProtocolViolationError('stream ended before the bundle response')
      let res
      try {
        res = decodeBundleResponse(frame)
      } catch (err) {
        throw new ProtocolViolationError('malformed bundle response', { cause: err })
      }
      if (res.status !== 'OK') throw new BundleUnavailableError('peer has no prekey bundle available')
      return res.bundle
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error('prekeys fetch failed'))
      if (err instanceof ParleyNetError) throw err
      throw new PeerUnreachableError('prekeys exchange failed', { cause: err })
    }
  }
}

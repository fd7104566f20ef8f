// Shared helpers for the network tests: real libp2p nodes on 127.0.0.1 only, mDNS off.
import { randomBytes } from 'node:crypto'
import { createParleyNetwork, type ParleyNetwork, type ParleyNetworkInit, type ParleyNetworkEvents } from '../../src/net/index.js'
import type { Envelope } from '../../src/wire/index.js'

export type TestNode = ParleyNetwork & { pruneStale(now?: number): Promise<number> }

export async function makeNode (over: Partial<ParleyNetworkInit> = {}): Promise<TestNode> {
  return await createParleyNetwork({
    seed: new Uint8Array(randomBytes(32)),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    allowLoopbackFlood: true,
    timeouts: { dialMs: 5_000, streamOpenMs: 5_000, readMs: 5_000, handlerMs: 5_000, idleMs: 5_000, dhtMs: 8_000 },
    reconnect: { baseMs: 200, maxMs: 2_000 },
    ...over
  })
}

export function envelope (over: Partial<Envelope> = {}): Envelope {
  return { id: new Uint8Array(randomBytes(16)), timestamp: Date.now(), type: 'WHISPER', body: new Uint8Array(randomBytes(100)), ...over }
}

/** Resolves with the first event of `type` matching `pred`, or rejects after `ms` (generous: loaded CI). */
export async function waitForEvent<K extends keyof ParleyNetworkEvents & string> (net: ParleyNetwork, type: K, pred: (e: ParleyNetworkEvents[K]) => boolean, ms = 20_000): Promise<ParleyNetworkEvents[K]> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { net.removeEventListener(type, on); reject(new Error(`timed out waiting for ${type}`)) }, ms)
    const on = (e: ParleyNetworkEvents[K]): void => {
      if (!pred(e)) return
      clearTimeout(timer)
      net.removeEventListener(type, on)
      resolve(e)
    }
    net.addEventListener(type, on)
  })
}

/** Polls `cond` until true or `ms` elapse. */
export async function until (cond: () => boolean | Promise<boolean>, ms = 20_000, step = 50): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise(resolve => setTimeout(resolve, step))
  }
  throw new Error('condition not met in time')
}

export function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN
}

/**
 * Stops every node with a bounded wait (use in `after` hooks): a stop() that does not settle within
 * `ms`, fails, or leaves WebRTC peer connections open is reported by name instead of hanging the run.
 */
export async function stopAll (nodes: Record<string, ParleyNetwork | null | undefined>, ms = 20_000): Promise<void> {
  const problems: string[] = []
  await Promise.all(Object.entries(nodes).map(async ([name, node]) => {
    if (node == null) return
    let timer: NodeJS.Timeout | undefined
    const limit = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, ms) })
    try {
      const r = await Promise.race([node.stop().then(() => 'ok' as const), limit])
      if (r === 'timeout') problems.push(`${name}: stop() did not settle within ${ms} ms`)
    } catch (err) {
      problems.push(`${name}: stop() failed: ${(err as Error).message}`)
    } finally {
      clearTimeout(timer)
    }
    const open = node.openWebRTCConnections()
    if (open > 0) problems.push(`${name}: ${open} WebRTC peer connection(s) still open after stop()`)
  }))
  if (problems.length > 0) throw new Error(`nodes did not stop cleanly:\n${problems.join('\n')}`)
}

/**
 * Shutdown group (the relay-test hang), in one process on loopback:
 *
 * - `shutdown.stop-webrtc`: `stop()` of a Parley network node that holds a direct WebRTC connection
 *   (upgraded from a relayed one through a loopback relay with STUN) — libp2p's stop plus the
 *   WebRTCLedger closing every peer connection and data channel and, as the last WebRTC node in the
 *   process, node-datachannel's cleanup() — against `stop()` of the same kind of node that holds only a
 *   TCP connection (no WebRTC at all). Each round builds both set-ups afresh and stops them back to back.
 *
 * Stop time is what a daemon's shutdown or a test's after hook waits for; the figure shows what
 * releasing WebRTC costs on top of a plain stop.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { createParleyNetwork, type ParleyNetwork, type ParleyNetworkInit } from '../../src/net/index.js'
import { collectGarbage, median } from '../measure.js'
import { BenchIntegrityError, type BenchGroup, type BenchOptions, type Figure } from '../types.js'

/** Bound on one set-up step (a hang fails the group instead of the run). */
const STEP_TIMEOUT_MS = 60_000

async function node (over: Partial<ParleyNetworkInit> = {}): Promise<ParleyNetwork> {
  return await createParleyNetwork({
    seed: new Uint8Array(randomBytes(32)),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    allowLoopbackFlood: true,
    autoNat: false,
    ...over
  })
}

async function until (cond: () => boolean, what: string, signal?: AbortSignal): Promise<void> {
  const end = Date.now() + STEP_TIMEOUT_MS
  while (!cond()) {
    signal?.throwIfAborted()
    if (Date.now() > end) throw new BenchIntegrityError(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

interface Timed { wallMs: number, cpuMs: number }

async function timedStop (n: ParleyNetwork): Promise<Timed> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await n.stop()
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
}

/** Relay + two clients with a direct WebRTC connection; returns the stop time of client a. */
async function webrtcRound (signal?: AbortSignal): Promise<Timed> {
  const relay = await node({ relayServer: { stun: { host: '127.0.0.1', port: 0 } } })
  const extra: ParleyNetwork[] = [relay]
  try {
    await relay.start()
    const relayAddr = relay.addresses().find(x => /\/tcp\/\d+\/p2p\//.test(x) && !x.includes('/ws'))!
    const iceServers = [`stun:127.0.0.1:${relay.stats().relay!.stunPort!}`]
    const a = await node({ relays: [relayAddr], iceServers })
    const b = await node({ relays: [relayAddr], iceServers })
    extra.push(b)
    b.handleEnvelopes(async () => 'OK')
    await a.start(); await b.start()
    await until(() => b.addresses().some(x => x.includes('/p2p-circuit')), 'b\'s reservation', signal)
    const circuit = `${relayAddr}/p2p-circuit/p2p/${b.peerId}`
    await a.sendEnvelopes(b.peerId, [{ id: new Uint8Array(randomBytes(16)), timestamp: Date.now(), type: 'WHISPER', body: new Uint8Array(100) }], { addrs: [circuit] })
    await until(() => a.stats().upgradeSuccesses >= 1, 'the WebRTC upgrade', signal)
    if (a.openWebRTCConnections() < 1) throw new BenchIntegrityError('no WebRTC connection to stop')
    // b stops first so that a is the last WebRTC node: its stop includes the process-wide release.
    await b.stop()
    const t = await timedStop(a)
    if (a.openWebRTCConnections() !== 0) throw new BenchIntegrityError('WebRTC connections left open after stop()')
    return t
  } finally {
    for (const n of extra) await n.stop().catch(() => {})
  }
}

/** Two plain nodes with one TCP connection; returns the stop time of a. */
async function tcpRound (): Promise<Timed> {
  const a = await node()
  const b = await node()
  try {
    b.handleEnvelopes(async () => 'OK')
    await a.start(); await b.start()
    const addr = b.addresses().find(x => x.includes('/tcp/'))!
    await a.sendEnvelopes(b.peerId, [{ id: new Uint8Array(randomBytes(16)), timestamp: Date.now(), type: 'WHISPER', body: new Uint8Array(100) }], { addrs: [addr] })
    return await timedStop(a)
  } finally {
    await b.stop().catch(() => {})
    await a.stop().catch(() => {})
  }
}

const group: BenchGroup = {
  name: 'shutdown',
  description: 'stop() of a node holding a WebRTC connection vs one holding a TCP connection',
  run: async (opts: BenchOptions): Promise<Figure[]> => {
    const rounds = opts.quick ? 1 : 5
    const p: Timed[] = []
    const base: Timed[] = []
    for (let r = 0; r < rounds; r++) {
      opts.signal?.throwIfAborted()
      collectGarbage()
      p.push(await webrtcRound(opts.signal))
      collectGarbage()
      base.push(await tcpRound())
      opts.log?.(`shutdown round ${r + 1}/${rounds}: webrtc ${p[r]!.wallMs.toFixed(1)} ms, tcp ${base[r]!.wallMs.toFixed(1)} ms`)
    }
    const parley = median(p.map(x => x.wallMs))
    const baseline = median(base.map(x => x.wallMs))
    const cpuP = median(p.map(x => x.cpuMs))
    const cpuB = median(base.map(x => x.cpuMs))
    const spread = (xs: Timed[]): [number, number] => [Math.min(...xs.map(x => x.wallMs)), Math.max(...xs.map(x => x.wallMs))]
    return [{
      name: 'shutdown.stop-webrtc',
      unit: 'ms',
      parley,
      baseline,
      ratio: baseline > 0 ? parley / baseline : null,
      better: 'lower',
      baselineName: 'stop() of a Parley node with one TCP connection (same libp2p stack, no WebRTC)',
      rounds,
      opsPerRound: { parley: 1, baseline: 1 },
      pairedRatio: median(p.map((x, i) => x.wallMs / Math.max(base[i]!.wallMs, 1e-3))),
      cpu: { parley: cpuP, baseline: cpuB, ratio: cpuB > 0 ? cpuP / cpuB : null },
      spread: { parley: spread(p), baseline: spread(base) },
      note: 'includes closing the WebRTC peer connection and data channels and node-datachannel cleanup()'
    }]
  }
}

export default group

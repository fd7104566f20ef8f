/**
 * Relay group (issue 4), in one process on loopback, with a real relay (`startRelay`: circuit relay v2,
 * STUN, DHT server, AutoNAT, mailbox on its own SQLite file):
 *
 * - `relay.reservation`: a client network node configured with the relay (`relays: [addr]`), from
 *   `start()` until it holds a reservation there (dial, Noise, identify, RESERVE, relayed listen
 *   addresses advertised). Baseline: the same node with the relay as a plain bootstrap peer, from
 *   `start()` until it is connected (dial, Noise, identify) — the price of the reservation itself.
 * - `relay.record-lookup`: finding a peer's signed format 2 DHT record (with its relays) on the relay's
 *   DHT server (`findRecord`: kad GET, signature check, newest wins). Baseline: `findPeer` of the same
 *   peer through the same DHT (a kad query without record validation).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { createParleyNetwork, type ParleyNetwork } from '../../src/net/index.js'
import { startRelay, type RunningRelay } from '../../src/relay/relay.js'
import { DEFAULT_RELAY_CONFIG, type RelayConfig } from '../../src/relay/config.js'
import { latencyFigure } from '../measure.js'
import { BenchIntegrityError, type BenchGroup, type BenchOptions, type Figure } from '../types.js'

const OP_TIMEOUT_MS = 30_000

async function until (cond: () => boolean, what: string, ms = OP_TIMEOUT_MS): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  throw new BenchIntegrityError(`${what}: not within ${ms} ms`)
}

async function client (over: { relays?: string[], bootstrap?: string[] }): Promise<ParleyNetwork> {
  return await createParleyNetwork({
    seed: new Uint8Array(randomBytes(32)),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    allowLoopbackFlood: true,
    iceServers: [],
    webrtcUpgrade: false,
    nat: true,
    ...over
  })
}

async function run (opts: BenchOptions): Promise<Figure[]> {
  const log = opts.log ?? (() => {})
  const rounds = opts.quick ? 2 : 10
  const home = await mkdtemp(join(tmpdir(), 'parley-bench-relay-'))
  let relay: RunningRelay | null = null
  const nets: ParleyNetwork[] = []
  try {
    const config: RelayConfig = { ...structuredClone(DEFAULT_RELAY_CONFIG) as RelayConfig, listen: ['/ip4/127.0.0.1/tcp/0'], stun: { host: '127.0.0.1', port: 0 }, metricsIntervalMs: 0 }
    relay = await startRelay({ home, config })
    const r = relay
    const addr = r.addresses().find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))
    if (addr == null) throw new BenchIntegrityError('relay has no loopback TCP address')

    const reserve: number[] = []
    const connect: number[] = []
    for (let i = 0; i < rounds; i++) {
      opts.signal?.throwIfAborted()
      const a = await client({ relays: [addr] })
      let t = performance.now()
      await a.start()
      await until(() => a.reservations().includes(r.peerId), 'reservation')
      reserve.push(performance.now() - t)
      await a.stop()
      const b = await client({ bootstrap: [addr] })
      t = performance.now()
      await b.start()
      await until(() => b.isConnected(r.peerId), 'bootstrap connection')
      connect.push(performance.now() - t)
      await b.stop()
      log(`relay: round ${i + 1}: reservation ${reserve[i]!.toFixed(1)} ms, plain connection ${connect[i]!.toFixed(1)} ms`)
    }

    // one publisher with the relay, one reader bootstrapped to it; lookups through the relay's DHT
    const pub = await client({ relays: [addr] })
    nets.push(pub)
    await pub.start()
    await until(() => pub.reservations().includes(r.peerId), 'publisher reservation')
    await pub.publishRecord(new Uint8Array(2500).fill(7))
    const reader = await client({ bootstrap: [addr] })
    nets.push(reader)
    await reader.start()
    await until(() => reader.isConnected(r.peerId), 'reader connection')
    const rec: number[] = []
    const peer: number[] = []
    for (let i = 0; i < rounds * 2; i++) {
      opts.signal?.throwIfAborted()
      let t = performance.now()
      const found = await reader.findRecord(pub.peerId)
      rec.push(performance.now() - t)
      if (found == null || found.relays[0] !== addr) throw new BenchIntegrityError('record lookup did not return the publisher\'s relays')
      t = performance.now()
      const addrs = await reader.findPeer(pub.peerId)
      peer.push(performance.now() - t)
      if (addrs.length === 0) throw new BenchIntegrityError('findPeer found nothing')
    }
    return [
      latencyFigure('relay.reservation', reserve, connect, 'the same node dialling the relay as a bootstrap peer (no reservation)',
        'start() until a circuit relay v2 reservation is held and advertised, loopback'),
      latencyFigure('relay.record-lookup', rec, peer, 'findPeer of the same peer through the same DHT',
        'findRecord of a format 2 record (2.5 KB payload + relays) from the relay\'s DHT server, signature verified')
    ]
  } finally {
    for (const n of nets) await n.stop().catch(() => {})
    await relay?.stop().catch(() => {})
    await rm(home, { recursive: true, force: true }).catch(() => {})
  }
}

const group: BenchGroup = {
  name: 'relay',
  description: 'reservation on a relay vs a plain connection; format 2 record lookup vs findPeer (loopback)',
  run
}
export default group

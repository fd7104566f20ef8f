/**
 * Offline group (issue 4, "Benchmark"), in one process on loopback, with a real relay (`startRelay`:
 * circuit relay v2, DHT server, mailbox service on its own SQLite file):
 *
 * - `offline.catch-up-1000`: 1,000 messages queued for an offline recipient and deposited in its
 *   mailbox; the recipient's node starts (new port) — time from `createParleyNode` to the 1,000th
 *   message event (store open, network start, relay dial, batched fetch pages, unseal, Double Ratchet
 *   decrypt, one SQLite transaction per page, ack). Baseline: a bare mailbox client fetching and
 *   acknowledging the same number of items of the same size (the network + mailbox floor).
 *   Target (issue 4): under 1 s — stated in the note.
 * - `offline.relayed-rtt-p50`: the message round trip `send(…, {wait})` between two nodes that reach
 *   each other only through the relay (circuit relay v2), against the same round trip over a direct
 *   connection, in the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { createParleyNode, initIdentity, type CreateNodeOptions, type ParleyNode } from '../../src/core/node.js'
import { startRelay, type RunningRelay } from '../../src/relay/relay.js'
import { DEFAULT_RELAY_CONFIG } from '../../src/relay/config.js'
import { createEphemeralMailboxClient, deriveMailboxKey, newMailboxSecret } from '../../src/mailbox/index.js'
import { latencyFigure, median } from '../measure.js'
import { BenchIntegrityError, type BenchGroup, type BenchOptions, type Figure } from '../types.js'

const OP_TIMEOUT_MS = 60_000

interface Ctx { dirs: string[], nodes: ParleyNode[], relays: RunningRelay[] }

async function home (c: Ctx): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'parley-bench-offline-'))
  c.dirs.push(d)
  return d
}

function nodeOptions (h: string, relay: string, over: Partial<CreateNodeOptions> = {}): CreateNodeOptions {
  return {
    home: h,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    allowLoopbackFlood: true,
    relays: [relay],
    mailbox: { fetchIntervalMs: 60_000 },
    outbox: { tickMs: 200, retryBaseMs: 200, retryMaxMs: 2_000 },
    ...over
  }
}

async function until (cond: () => boolean | Promise<boolean>, what: string, ms = OP_TIMEOUT_MS): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new BenchIntegrityError(`${what}: not within ${ms} ms`)
}

async function startBenchRelay (c: Ctx): Promise<{ relay: RunningRelay, addr: string }> {
  const relay = await startRelay({
    home: await home(c),
    config: {
      ...DEFAULT_RELAY_CONFIG,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      stun: false,
      metricsIntervalMs: 0,
      mailbox: { ...DEFAULT_RELAY_CONFIG.mailbox, quotaItems: 10_000, rateBurst: 100_000, ratePerSecond: 100_000 }
    }
  })
  c.relays.push(relay)
  const a = relay.addresses().find(x => x.startsWith('/ip4/127.0.0.1/tcp/') && !x.includes('/ws'))!
  return { relay, addr: a.includes('/p2p/') ? a : `${a}/p2p/${relay.peerId}` }
}

/** One catch-up round: n messages deposited for an offline recipient, then its start → last shown. */
async function catchUpRound (c: Ctx, relayAddr: string, n: number): Promise<{ total: number, afterStart: number, size: number, cpu: number }> {
  const aHome = await home(c)
  const bHome = await home(c)
  await initIdentity({ home: aHome, name: 'alice' })
  await initIdentity({ home: bHome, name: 'bob' })
  const a = await createParleyNode(nodeOptions(aHome, relayAddr))
  let b = await createParleyNode(nodeOptions(bHome, relayAddr))
  c.nodes.push(a)
  await a.addContact((await b.invite()).invite)
  await b.addContact((await a.invite()).invite)
  await a.send(b.peerId, 'hello', { wait: true, timeoutMs: OP_TIMEOUT_MS })
  await b.send(a.peerId, 'hi', { wait: true, timeoutMs: OP_TIMEOUT_MS })
  const bobId = b.peerId
  await b.stop()
  await until(() => !a.internals.net.isConnected(bobId), 'bob offline')
  const ids = new Set<string>()
  for (let i = 0; i < n; i++) ids.add((await a.send(bobId, `queued message ${i} ${'x'.repeat(60)}`)).id)
  await until(async () => {
    const ms = await a.messages(bobId, { limit: 1000 })
    return ms.filter(m => ids.has(m.id) && m.status === 'stored').length === n
  }, 'all deposited')
  const env = await a.internals.store.getOutbox([...ids][0]!)
  await a.stop()
  // the recipient comes back on a new port
  let last = 0
  let count = 0
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  b = await createParleyNode(nodeOptions(bHome, relayAddr))
  const tStarted = performance.now()
  c.nodes.push(b)
  const done = new Promise<void>((resolve) => {
    const unsub = b.subscribe((e) => {
      if (e.type !== 'message' || e.message.direction !== 'in' || !ids.has(e.message.id)) return
      count++
      if (count === n) { last = performance.now(); unsub(); resolve() }
    })
    // messages committed before the subscription (none expected: the fetch starts in start())
    void b.messages(a.peerId, { limit: 1000 }).then(ms => { if (ms.filter(m => ids.has(m.id)).length === n && count < n) { last = performance.now(); unsub(); resolve() } })
  })
  await Promise.race([done, new Promise((_resolve, reject) => setTimeout(() => { reject(new BenchIntegrityError(`only ${count} of ${n} arrived`)) }, OP_TIMEOUT_MS).unref())])
  const cu = process.cpuUsage(c0)
  const shown = (await b.messages(a.peerId, { limit: 1000 })).filter(m => ids.has(m.id))
  if (shown.length !== n) throw new BenchIntegrityError(`${shown.length} of ${n} shown`)
  for (let i = 0; i < n; i++) if (!shown[i]!.text.startsWith(`queued message ${i} `)) throw new BenchIntegrityError('out of order')
  await b.stop()
  return { total: last - t0, afterStart: last - tStarted, size: env?.envelope.length ?? 300, cpu: (cu.user + cu.system) / 1000 }
}

/** Baseline: a bare client fetches and acks n items of `size` bytes from the same mailbox. */
async function rawFetchRound (relayAddr: string, n: number, size: number): Promise<{ wall: number, cpu: number }> {
  const depositor = await createEphemeralMailboxClient()
  const fetcher = await createEphemeralMailboxClient()
  try {
    const key = await deriveMailboxKey(newMailboxSecret(), 'bench', 0)
    const target = depositor.target(relayAddr)
    const items = Array.from({ length: n }, () => ({ tag: key.tag, clientId: new Uint8Array(randomBytes(16)), sealed: new Uint8Array(randomBytes(size)) }))
    const res = await depositor.client.depositMany(target, items)
    if (res.some(r => !r.ok)) throw new BenchIntegrityError('baseline deposit refused')
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    const got = await fetcher.client.fetchAll(fetcher.target(relayAddr), [key])
    await fetcher.client.ack(fetcher.target(relayAddr), [key], got.map(g => g.id))
    const t = performance.now() - t0
    const cu = process.cpuUsage(c0)
    if (got.length !== n) throw new BenchIntegrityError(`baseline fetched ${got.length} of ${n}`)
    return { wall: t, cpu: (cu.user + cu.system) / 1000 }
  } finally {
    await depositor.stop()
    await fetcher.stop()
  }
}

/** Round trips over a connection through the relay vs a direct one. */
async function rttRound (c: Ctx, relayAddr: string, relay: RunningRelay, n: number, log: (s: string) => void): Promise<{ relayed: number[], direct: number[] }> {
  const mk = async (name: string, over: Partial<CreateNodeOptions>): Promise<ParleyNode> => {
    const h = await home(c)
    await initIdentity({ home: h, name })
    const node = await createParleyNode(nodeOptions(h, relayAddr, over))
    c.nodes.push(node)
    return node
  }
  // alice and bob listen on the relay only (no TCP listener, no WebRTC upgrade): they reach each other
  // through the relay alone; dave is a plain TCP node without relays (the direct pair alice -> dave)
  const relayedOnly: Partial<CreateNodeOptions> = { listen: [], network: { webrtcUpgrade: false, iceServers: [] } }
  const a = await mk('alice', relayedOnly)
  const b = await mk('bob', relayedOnly)
  const d = await mk('dave', { relays: [] })
  await until(() => a.internals.net.reservations().includes(relay.peerId) && b.internals.net.reservations().includes(relay.peerId), 'relay slots reserved')
  // only the plain circuit addresses (no /webrtc, which would be a direct path after signalling)
  const circuitOnly = (invite: string): string => {
    const u = new URL(invite)
    const keep = u.searchParams.getAll('addr').filter(x => x.includes('/p2p-circuit') && !x.includes('/webrtc') && !x.includes('/ws'))
    u.searchParams.delete('addr')
    for (const x of keep) u.searchParams.append('addr', x)
    return u.toString()
  }
  await a.addContact(circuitOnly((await b.invite()).invite))
  await b.addContact(circuitOnly((await a.invite()).invite))
  await a.addContact((await d.invite()).invite)
  await d.addContact((await a.invite()).invite)
  const relayed: number[] = []
  const direct: number[] = []
  await a.send(b.peerId, 'warm-up', { wait: true, timeoutMs: OP_TIMEOUT_MS })
  await a.send(d.peerId, 'warm-up', { wait: true, timeoutMs: OP_TIMEOUT_MS })
  const toBob = a.internals.net.connections().filter(x => x.peerId === b.peerId)
  const viaRelay = toBob.length > 0 && toBob.every(x => x.relayed)
  log(`offline: alice -> bob connections: ${toBob.map(x => x.remoteAddr).join(', ')}`)
  for (let i = 0; i < n; i++) {
    let t = performance.now()
    await a.send(b.peerId, `rtt ${i}`, { wait: true, timeoutMs: OP_TIMEOUT_MS })
    relayed.push(performance.now() - t)
    t = performance.now()
    await a.send(d.peerId, `rtt ${i}`, { wait: true, timeoutMs: OP_TIMEOUT_MS })
    direct.push(performance.now() - t)
  }
  if (!viaRelay) relayed.length = 0 // the connection was upgraded to a direct path: not a relayed figure
  return { relayed, direct }
}

async function run (opts: BenchOptions): Promise<Figure[]> {
  const c: Ctx = { dirs: [], nodes: [], relays: [] }
  const log = opts.log ?? (() => {})
  const n = opts.quick ? 100 : 1000
  const rounds = opts.quick ? 1 : Number(process.env.PARLEY_BENCH_OFFLINE_ROUNDS ?? 3)
  try {
    const { relay, addr } = await startBenchRelay(c)
    const parley: number[] = []
    const afterStart: number[] = []
    const base: number[] = []
    const cpuP: number[] = []
    const cpuB: number[] = []
    for (let r = 0; r < rounds; r++) {
      opts.signal?.throwIfAborted()
      const x = await catchUpRound(c, addr, n)
      parley.push(x.total)
      afterStart.push(x.afterStart)
      const raw = await rawFetchRound(addr, n, x.size)
      base.push(raw.wall)
      cpuP.push(x.cpu)
      cpuB.push(raw.cpu)
      log(`offline: round ${r + 1}: ${n} messages shown ${x.total.toFixed(0)} ms after start (${x.afterStart.toFixed(0)} ms after the node was up; process CPU ${x.cpu.toFixed(0)} ms, relay included); raw fetch+ack ${raw.wall.toFixed(0)} ms (CPU ${raw.cpu.toFixed(0)} ms)`)
    }
    const m = median(parley)
    const catchUp = latencyFigure('offline.catch-up-1000', parley, base, 'bare MailboxClient fetch + ack of the same items',
      `${n} messages; median ${m.toFixed(0)} ms from createParleyNode to the last message shown (${median(afterStart).toFixed(0)} ms after it returned; ` +
      `process CPU ${median(cpuP).toFixed(0)} ms, relay included); target < 1000 ms: ${m < 1000 ? 'met' : 'NOT met'}`)
    catchUp.cpu = { parley: median(cpuP), baseline: median(cpuB), ratio: median(cpuP) / Math.max(1e-9, median(cpuB)) }
    const figures = [catchUp]
    const rtt = await rttRound(c, addr, relay, opts.quick ? 10 : 50, log)
    figures.push(latencyFigure('offline.relayed-rtt-p50', rtt.relayed, rtt.direct, 'the same send(wait) round trip over a direct connection',
      rtt.relayed.length > 0 ? 'circuit relay v2 on loopback; p50 of send(…, {wait}) per round trip' : 'the relayed connection was upgraded to a direct one: no relayed figure'))
    return figures
  } finally {
    for (const nd of c.nodes) await nd.stop().catch(() => {})
    for (const r of c.relays) await r.stop().catch(() => {})
    for (const d of c.dirs) await rm(d, { recursive: true, force: true }).catch(() => {})
  }
}

const group: BenchGroup = {
  name: 'offline',
  description: '1,000 queued messages to a returning recipient via its mailbox; relayed vs direct round trip (loopback)',
  run
}
export default group

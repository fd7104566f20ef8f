/**
 * Node group (issue 3, "Benchmark"), in one process on loopback:
 *
 * - `node.rtt-p50` / `node.rtt-p99`: the encrypted message round trip — `send(peer, text, {wait})` on a
 *   real Parley node (src/core/node.ts): encrypt, durable SQLite commit, `/parley/dm` stream, the peer
 *   decrypts and commits, seals an encrypted delivery receipt and sends it back, the sender decrypts it
 *   and commits the status — against a raw libp2p echo of the same payload size on the same stack
 *   (TCP + Noise + Yamux, identify, ping), on one long-lived stream as Parley keeps one DM stream per peer.
 * - `node.first-message`: a new contact — `addContact(invite)` + `send(…, {wait})` on fresh nodes
 *   (dial, Noise handshake, bundle fetch, PQXDH session set-up, first message and its receipt) —
 *   against a raw dial + stream open on fresh libp2p nodes.
 *
 * The breakdown (SQLite units timed in the real path by wrapping the node's store; crypto from the
 * Double Ratchet alone; the network floor from the raw echo) goes to the log and to the p50 note.
 * Homes are temporary directories on the same disk as a default home (synchronous=FULL commits fsync).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { diffieHellman, generateKeyPairSync } from 'node:crypto'
import { DatabaseSync } from 'node:sqlite'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { byteStream } from '@libp2p/utils'
import type { Connection, Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createParleyNode, initIdentity, type ParleyNode } from '../../src/core/node.js'
import { loadParleyContender } from '../crypto/parley.js'
import { collectGarbage, median } from '../measure.js'
import { BenchIntegrityError, type BenchGroup, type BenchOptions, type Better, type Figure } from '../types.js'

/** Payload size of one chat message and of the raw echo. */
export const MESSAGE_BYTES = 100
const ECHO_PROTOCOL = '/parley-bench/echo/1.0.0'
const LOOPBACK = ['/ip4/127.0.0.0/ipcidr/8']
/** Bound on every single exchange in this group (a hang fails the group instead of the run). */
const OP_TIMEOUT_MS = 30_000

/** Nearest-rank percentile of a non-empty list. */
export function percentile (values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list')
  const s = [...values].sort((a, b) => a - b)
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)))
  return s[rank - 1]!
}

function text (i: number): string {
  const head = `msg ${i} `
  return head + 'x'.repeat(MESSAGE_BYTES - head.length)
}

function payload (): Uint8Array {
  const m = new Uint8Array(MESSAGE_BYTES)
  for (let i = 0; i < m.length; i++) m[i] = (i * 31 + 7) & 0xff
  return m
}

// ------------------------------------------------------------------------------------------------
// Baseline: plain libp2p nodes with the network layer's stack (src/net/node.ts) and an echo protocol.

type RawNode = Libp2p

async function rawNode (): Promise<RawNode> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: LOOPBACK, inboundConnectionThreshold: 1000 },
    services: { identify: identify(), ping: ping() }
  })
  await node.handle(ECHO_PROTOCOL, (stream: Stream) => { void echoServe(stream) }, { maxInboundStreams: 1024, maxOutboundStreams: 1024 })
  return node as unknown as RawNode
}

/** Echoes MESSAGE_BYTES-sized chunks until the dialer closes. */
async function echoServe (stream: Stream): Promise<void> {
  const bytes = byteStream(stream, { maxBufferSize: 1024 * 1024 })
  try {
    for (;;) {
      let chunk
      try {
        chunk = await bytes.read({ bytes: MESSAGE_BYTES, signal: AbortSignal.timeout(OP_TIMEOUT_MS) })
      } catch {
        break // end of stream (or idle): done
      }
      await bytes.write(chunk.subarray(), { signal: AbortSignal.timeout(OP_TIMEOUT_MS) })
    }
    await stream.close({ signal: AbortSignal.timeout(OP_TIMEOUT_MS) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error('echo failed'))
  }
}

/** One echo on a fresh stream: open, write, read back, close. */
async function echoOnce (conn: Connection, msg: Uint8Array): Promise<void> {
  const signal = AbortSignal.timeout(OP_TIMEOUT_MS)
  const stream = await conn.newStream(ECHO_PROTOCOL, { signal, maxOutboundStreams: 1024 })
  const bytes = byteStream(stream, { maxBufferSize: 1024 * 1024 })
  await bytes.write(msg, { signal })
  const back = await bytes.read({ bytes: msg.byteLength, signal })
  if (back.byteLength !== msg.byteLength || Buffer.compare(back.subarray(), msg) !== 0) throw new BenchIntegrityError('echo returned other bytes')
  await stream.close({ signal })
}

/** An echo client on one long-lived stream (Parley keeps one DM stream per peer, so this is the fair floor). */
async function openEcho (conn: Connection): Promise<{ once: (msg: Uint8Array) => Promise<void>, close: () => Promise<void> }> {
  const stream = await conn.newStream(ECHO_PROTOCOL, { signal: AbortSignal.timeout(OP_TIMEOUT_MS), maxOutboundStreams: 1024 })
  const bytes = byteStream(stream, { maxBufferSize: 1024 * 1024 })
  return {
    once: async (msg) => {
      const signal = AbortSignal.timeout(OP_TIMEOUT_MS)
      await bytes.write(msg, { signal })
      const back = await bytes.read({ bytes: msg.byteLength, signal })
      if (back.byteLength !== msg.byteLength || Buffer.compare(back.subarray(), msg) !== 0) throw new BenchIntegrityError('echo returned other bytes')
    },
    close: async () => { await stream.close({ signal: AbortSignal.timeout(OP_TIMEOUT_MS) }) }
  }
}

// ------------------------------------------------------------------------------------------------
// Parley side.

interface Home { dir: string, home: string }

async function tempHome (label: string): Promise<Home> {
  const dir = await mkdtemp(join(tmpdir(), `parley-bench-${label}-`))
  return { dir, home: join(dir, 'home') }
}

async function parleyNode (h: Home, name: string, signal?: AbortSignal): Promise<ParleyNode> {
  await initIdentity({ home: h.home, name, ...(signal != null ? { signal } : {}) })
  return await createParleyNode({ home: h.home, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, allowLoopbackFlood: true, ...(signal != null ? { signal } : {}) })
}

/** Durations of calls to one method, collected while `on`; `deferred`: how many were store units without an fsync of their own. */
interface PhaseSink { on: boolean, ms: number[], deferred: number }

function newSink (): PhaseSink { return { on: false, ms: [], deferred: 0 } }

/** Wraps `obj[method]` (an async method) so that each call's duration lands in `sink` while it is on. */
function timeMethod (obj: object, method: string, sink: PhaseSink): void {
  const o = obj as Record<string, (...args: unknown[]) => Promise<unknown>>
  const orig = o[method]
  if (typeof orig !== 'function') throw new BenchIntegrityError(`cannot instrument ${method}`)
  const bound = orig.bind(obj)
  o[method] = async (...args: unknown[]): Promise<unknown> => {
    const t0 = performance.now()
    try {
      return await bound(...args)
    } finally {
      if (sink.on) {
        sink.ms.push(performance.now() - t0)
        // store.write(fn, { durability: 'deferred' }): committed without its own fsync (src/store/README.md)
        if ((args[1] as { durability?: string } | undefined)?.durability === 'deferred') sink.deferred++
      }
    }
  }
}

/**
 * Times a node's store units (every write goes through `store.write`: BEGIN IMMEDIATE … COMMIT, with
 * an fsync unless the unit is deferred bookkeeping, src/store/README.md) and its envelope exchanges (`net.sendEnvelopes`: stream open, frames, the peer's
 * handler, acks) — in the real path, without changing the node.
 */
function instrument (node: ParleyNode, sinks: { sqlite: PhaseSink, exchanges: PhaseSink, bundles?: PhaseSink, dials?: PhaseSink }): void {
  timeMethod(node.internals.store, 'write', sinks.sqlite)
  timeMethod(node.internals.net, 'sendEnvelopes', sinks.exchanges)
  if (sinks.bundles != null) timeMethod(node.internals.net, 'fetchBundle', sinks.bundles)
  // the session set-up dials first (src/core/sessions.ts establish), then fetches the bundle over that connection
  if (sinks.dials != null) timeMethod(node.internals.net, 'connect', sinks.dials)
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)

async function sendWait (from: ParleyNode, to: string, body: string): Promise<void> {
  const m = await from.send(to, body, { wait: true, timeoutMs: OP_TIMEOUT_MS })
  if (m.status !== 'delivered' && m.status !== 'read') throw new BenchIntegrityError(`message ended ${m.status}`)
  if (m.text !== body) throw new BenchIntegrityError('stored text differs from what was sent')
}

// ------------------------------------------------------------------------------------------------
// The round trip's floor: what no implementation of the design can avoid on this machine.

/**
 * p50 of one durable SQLite commit (WAL, synchronous=FULL — the mode of Parley's full units — one
 * 300-byte row per BEGIN IMMEDIATE … COMMIT) in a scratch database in `dir`, on the same disk as the
 * nodes' homes: the receiver's commit that must reach the disk before DELIVERED may be claimed.
 */
export function durableCommitP50 (dir: string, n: number): number {
  const db = new DatabaseSync(join(dir, 'floor.db'))
  try {
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, b BLOB)')
    const ins = db.prepare('INSERT INTO t (b) VALUES (?)')
    const row = new Uint8Array(300).fill(0x5a)
    const lat: number[] = []
    for (let i = 0; i < n + 20; i++) {
      const t0 = performance.now()
      db.exec('BEGIN IMMEDIATE')
      ins.run(row)
      db.exec('COMMIT')
      if (i >= 20) lat.push(performance.now() - t0) // the first commits create the WAL: not steady state
    }
    return percentile(lat, 50)
  } finally {
    db.close()
  }
}

/** p50 of one X25519 agreement on node:crypto with both keys already imported (the cheapest form there is). */
export function x25519P50 (n: number): number {
  const a = generateKeyPairSync('x25519')
  const b = generateKeyPairSync('x25519')
  const lat: number[] = []
  for (let i = 0; i < n + 50; i++) {
    const t0 = performance.now()
    diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey })
    if (i >= 50) lat.push(performance.now() - t0)
  }
  return percentile(lat, 50)
}

/**
 * DH agreements per round trip in steady state, counted for the most favourable implementation: the
 * message and the receipt travel in opposite directions, so each arrives with a new ratchet key
 * (Double Ratchet §3.5): the receiver needs one DH to derive the receiving chain and one for its new
 * sending chain, twice per round trip; key generation is assumed free (precomputed off the path).
 */
export const FLOOR_DH_PER_ROUND_TRIP = 4

// ------------------------------------------------------------------------------------------------
// Figures.

interface Samples { perRound: number[][], cpuMs: number, ops: number }

function newSamples (): Samples { return { perRound: [], cpuMs: 0, ops: 0 } }

async function timedRound (s: Samples, n: number, op: (i: number) => Promise<number | undefined>, signal?: AbortSignal): Promise<void> {
  collectGarbage()
  const lat: number[] = []
  const c0 = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    signal?.throwIfAborted()
    const t0 = performance.now()
    const own = await op(i)
    lat.push(own ?? performance.now() - t0)
  }
  const c1 = process.cpuUsage(c0)
  s.cpuMs += (c1.user + c1.system) / 1000
  s.ops += n
  s.perRound.push(lat)
}

function latencyFigure (spec: {
  name: string, pct: number, parley: Samples, baseline: Samples, baselineName: string, target?: { ratio: number, better: Better }, note: string
}): Figure {
  const all = (s: Samples): number[] => s.perRound.flat()
  const p = percentile(all(spec.parley), spec.pct)
  const b = percentile(all(spec.baseline), spec.pct)
  const perRoundP = spec.parley.perRound.map((r) => percentile(r, spec.pct))
  const perRoundB = spec.baseline.perRound.map((r) => percentile(r, spec.pct))
  const paired = perRoundP.map((x, i) => x / perRoundB[i]!)
  const cpuP = spec.parley.cpuMs / Math.max(1, spec.parley.ops)
  const cpuB = spec.baseline.cpuMs / Math.max(1, spec.baseline.ops)
  const ratio = p / b
  const fig: Figure = {
    name: spec.name,
    unit: 'ms',
    parley: p,
    baseline: b,
    ratio,
    better: 'lower',
    baselineName: spec.baselineName,
    rounds: spec.parley.perRound.length,
    opsPerRound: { parley: spec.parley.perRound[0]?.length ?? 0, baseline: spec.baseline.perRound[0]?.length ?? 0 },
    pairedRatio: paired.length > 0 ? median(paired) : null,
    // CPU figure: mean process CPU ms per operation (all threads, both nodes) — not a percentile.
    cpu: { parley: cpuP, baseline: cpuB, ratio: cpuB > 0 ? cpuP / cpuB : null },
    spread: { parley: [Math.min(...perRoundP), Math.max(...perRoundP)], baseline: [Math.min(...perRoundB), Math.max(...perRoundB)] },
    note: spec.note
  }
  if (spec.target != null) {
    fig.target = spec.target
    fig.meetsTarget = spec.target.better === 'lower' ? ratio <= spec.target.ratio : ratio >= spec.target.ratio
  }
  return fig
}

const ms = (x: number): string => x.toFixed(x < 1 ? 3 : 2)

async function run (opts: BenchOptions): Promise<Figure[]> {
  const { quick, signal, log } = opts
  const sizes = quick
    ? { warmup: 10, rounds: 3, perRound: 15, firstRounds: 2 }
    : { warmup: 100, rounds: 10, perRound: 100, firstRounds: 12 }
  const homes: Home[] = []
  const parleys: ParleyNode[] = []
  const raws: RawNode[] = []
  const libp2pVersion = 'libp2p 3.3 (TCP + Noise + Yamux), echo protocol'
  try {
    // --- the two long-lived pairs -----------------------------------------------------------------
    log?.('node: starting two Parley nodes and two raw libp2p nodes on 127.0.0.1')
    const ha = await tempHome('a')
    const hb = await tempHome('b')
    homes.push(ha, hb)
    const alice = await parleyNode(ha, 'alice', signal)
    parleys.push(alice)
    const bob = await parleyNode(hb, 'bob', signal)
    parleys.push(bob)
    await alice.addContact((await bob.invite()).invite, { name: 'bob' })
    await bob.addContact((await alice.invite()).invite, { name: 'alice' })
    const sqlite = newSink()
    const exchanges = newSink()
    instrument(alice, { sqlite, exchanges })
    instrument(bob, { sqlite, exchanges })

    const rawA = await rawNode()
    raws.push(rawA)
    const rawB = await rawNode()
    raws.push(rawB)
    const conn = await rawA.dial(rawB.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(OP_TIMEOUT_MS) })
    const msg = payload()
    const echo = await openEcho(conn)

    log?.('node: warm-up')
    for (let i = 0; i < sizes.warmup; i++) {
      signal?.throwIfAborted()
      await sendWait(alice, bob.peerId, text(i))
      await echo.once(msg)
    }

    // --- round trip: interleaved rounds, order alternating -------------------------------------------
    const rtP = newSamples()
    const rtB = newSamples()
    let seqNo = sizes.warmup
    for (let r = 0; r < sizes.rounds; r++) {
      const parleyRound = async (): Promise<void> => {
        sqlite.on = true
        exchanges.on = true
        await timedRound(rtP, sizes.perRound, async () => { await sendWait(alice, bob.peerId, text(seqNo++)); return undefined }, signal)
        sqlite.on = false
        exchanges.on = false
      }
      const baseRound = async (): Promise<void> => { await timedRound(rtB, sizes.perRound, async () => { await echo.once(msg); return undefined }, signal) }
      if (r % 2 === 0) { await parleyRound(); await baseRound() } else { await baseRound(); await parleyRound() }
      log?.(`  node.rtt: round ${r + 1}/${sizes.rounds}`)
    }

    // --- the floor: echo + one durable commit + the round trip's DH agreements, per echo round ---------
    const floorParts = rtB.perRound.map(() => ({ commit: durableCommitP50(ha.dir, quick ? 10 : 100), dh: x25519P50(quick ? 20 : 200) }))
    const echoRounds = rtB.perRound.map((r) => percentile(r, 50))
    const floors = echoRounds.map((e, i) => e + floorParts[i]!.commit + FLOOR_DH_PER_ROUND_TRIP * floorParts[i]!.dh)
    const commitP50 = median(floorParts.map((f) => f.commit))
    const dhP50 = median(floorParts.map((f) => f.dh))
    const echoAll50 = percentile(rtB.perRound.flat(), 50)
    const floorMs = echoAll50 + commitP50 + FLOOR_DH_PER_ROUND_TRIP * dhP50

    // --- breakdown ------------------------------------------------------------------------------------
    await echo.close()
    const fresh: number[] = []
    for (let i = 0; i < Math.min(200, sizes.rounds * sizes.perRound); i++) {
      const t0 = performance.now()
      await echoOnce(conn, msg)
      fresh.push(performance.now() - t0)
    }
    const loaded = await loadParleyContender()
    let cryptoMs: number | null = null
    if (typeof loaded !== 'string') {
      // Strictly alternating direction, as message and receipt alternate: a DH ratchet step each time.
      const pair = await loaded.createPair()
      const m = payload() as Uint8Array<ArrayBuffer>
      const n = quick ? 40 : 400
      for (let i = 0; i < 20; i++) await pair.send(i % 2 === 0 ? 'alice' : 'bob', m)
      const t0 = performance.now()
      for (let i = 0; i < n; i++) await pair.send(i % 2 === 0 ? 'alice' : 'bob', m)
      cryptoMs = (performance.now() - t0) / n
    }
    const rtts = rtP.perRound.flat()
    const unitsPerRt = sqlite.ms.length / rtts.length
    const fullPerRt = (sqlite.ms.length - sqlite.deferred) / rtts.length
    const sqliteUnitP50 = percentile(sqlite.ms, 50)
    const sqlitePerRt = sqlite.ms.reduce((a, b) => a + b, 0) / rtts.length
    const rttMean = rtts.reduce((a, b) => a + b, 0) / rtts.length
    const echoFresh50 = percentile(fresh, 50)
    const echoPersist50 = percentile(rtB.perRound.flat(), 50)
    const cryptoPerRt = cryptoMs == null ? null : 2 * cryptoMs
    const networkPerRt = 2 * echoPersist50 // message + ack, receipt + ack: two exchanges on the long-lived DM streams
    const other = rttMean - sqlitePerRt - (cryptoPerRt ?? 0) - networkPerRt
    const exchangesPerRt = exchanges.ms.length / rtts.length
    const exchangeMsPerRt = exchanges.ms.reduce((a, b) => a + b, 0) / rtts.length
    const cpuPerRt = rtP.cpuMs / rtP.ops
    const cpuPerEcho = rtB.cpuMs / rtB.ops
    const breakdown = `per round trip (mean ${ms(rttMean)} ms): SQLite ${unitsPerRt.toFixed(1)} units (${fullPerRt.toFixed(1)} full = fsync'd, ${(unitsPerRt - fullPerRt).toFixed(1)} deferred) x p50 ${ms(sqliteUnitP50)} ms = ${ms(sqlitePerRt)} ms (timed in the path); ` +
      `Double Ratchet encrypt+decrypt x2 (message, receipt) ${cryptoPerRt == null ? 'n/a' : ms(cryptoPerRt)} ms; ` +
      `network 2 exchanges ~ ${ms(networkPerRt)} ms (one-stream echo p50 ${ms(echoPersist50)} ms; fresh-stream echo p50 ${ms(echoFresh50)} ms); ` +
      `rest (protobuf, outbox bookkeeping, event loop, locks) ${ms(other)} ms. ` +
      `Cross-checks: ${exchangesPerRt.toFixed(1)} sendEnvelopes calls per round trip taking ${ms(exchangeMsPerRt)} ms in all (each includes the peer's handler: decrypt + commit); ` +
      `process CPU ${ms(cpuPerRt)} ms per round trip vs ${ms(cpuPerEcho)} ms per echo`
    log?.(`node: breakdown: ${breakdown}`)

    const figures: Figure[] = []
    const rttNote = `${MESSAGE_BYTES} B text; parley = send(wait) until the encrypted delivery receipt is back (${unitsPerRt.toFixed(1)} SQLite write units per round trip, ${fullPerRt.toFixed(1)} of them fsync'd (synchronous=FULL), the rest deferred bookkeeping); baseline = ${MESSAGE_BYTES} B echo on one long-lived stream over an open connection (as Parley keeps one DM stream per peer)`
    figures.push(latencyFigure({ name: 'node.rtt-p50', pct: 50, parley: rtP, baseline: rtB, baselineName: libp2pVersion, target: { ratio: 2.5, better: 'lower' }, note: `${rttNote}; breakdown ${breakdown}` }))
    figures.push(latencyFigure({ name: 'node.rtt-p99', pct: 99, parley: rtP, baseline: rtB, baselineName: libp2pVersion, target: { ratio: 3, better: 'lower' }, note: rttNote }))

    const floorRatio = floorMs / echoAll50
    figures.push({
      name: 'node.rtt-floor',
      unit: 'ms',
      parley: floorMs,
      baseline: echoAll50,
      ratio: floorRatio,
      better: 'lower',
      baselineName: libp2pVersion,
      rounds: floors.length,
      opsPerRound: { parley: quick ? 10 : 100, baseline: sizes.perRound },
      pairedRatio: median(floors.map((f, i) => f / echoRounds[i]!)),
      cpu: { parley: null, baseline: null, ratio: null },
      spread: { parley: [Math.min(...floors), Math.max(...floors)], baseline: [Math.min(...echoRounds), Math.max(...echoRounds)] },
      note: `lower bound for node.rtt-p50 on this machine, whatever the code: the one-stream echo p50 (${ms(echoAll50)} ms) + ONE durable SQLite commit ` +
        `(WAL, synchronous=FULL, p50 ${ms(commitP50)} ms: the receiver's, before DELIVERED) + ${FLOOR_DH_PER_ROUND_TRIP} X25519 agreements ` +
        `(p50 ${ms(dhP50)} ms each on node:crypto, keys pre-imported, key generation assumed free); the issue's p50 target (2.5x) is ` +
        (floorRatio > 2.5 ? 'BELOW this floor: unreachable here with durable writes and the Double Ratchet in the path' : 'above this floor')
    })

    // --- first message to a new contact ---------------------------------------------------------------
    log?.('node: first message to a new contact')
    const fmP = newSamples()
    const fmB = newSamples()
    const first = { sqlite: newSink(), exchanges: newSink(), bundles: newSink(), dials: newSink(), addContact: [] as number[] }
    for (let r = 0; r < sizes.firstRounds; r++) {
      signal?.throwIfAborted()
      const parleyRound = async (): Promise<void> => {
        const h1 = await tempHome('f1')
        const h2 = await tempHome('f2')
        homes.push(h1, h2)
        const p1 = await parleyNode(h1, 'p1', signal)
        parleys.push(p1)
        const p2 = await parleyNode(h2, 'p2', signal)
        parleys.push(p2)
        try {
          const inv = (await p2.invite()).invite
          instrument(p1, first)
          instrument(p2, first)
          const sinks = [first.sqlite, first.exchanges, first.bundles, first.dials]
          for (const k of sinks) k.on = true
          await timedRound(fmP, 1, async () => {
            const t0 = performance.now()
            await p1.addContact(inv, { name: 'p2' })
            first.addContact.push(performance.now() - t0)
            await sendWait(p1, p2.peerId, text(0))
            return undefined
          }, signal)
          for (const k of sinks) k.on = false
        } finally {
          parleys.splice(parleys.indexOf(p1), 1)
          parleys.splice(parleys.indexOf(p2), 1)
          await p1.stop()
          await p2.stop()
        }
      }
      const baseRound = async (): Promise<void> => {
        const r1 = await rawNode()
        raws.push(r1)
        const r2 = await rawNode()
        raws.push(r2)
        try {
          const addr = r2.getMultiaddrs()[0]!
          await timedRound(fmB, 1, async () => {
            const signal2 = AbortSignal.timeout(OP_TIMEOUT_MS)
            const t0 = performance.now()
            const c = await r1.dial(multiaddr(addr.toString()), { signal: signal2 })
            const s = await c.newStream(ECHO_PROTOCOL, { signal: signal2 })
            const took = performance.now() - t0 // the stream is open: closing it is not part of the figure
            await s.close({ signal: signal2 })
            return took
          }, signal)
        } finally {
          raws.splice(raws.indexOf(r1), 1)
          raws.splice(raws.indexOf(r2), 1)
          await r1.stop()
          await r2.stop()
        }
      }
      if (r % 2 === 0) { await parleyRound(); await baseRound() } else { await baseRound(); await parleyRound() }
      log?.(`  node.first-message: round ${r + 1}/${sizes.firstRounds}`)
    }
    const nFirst = fmP.perRound.length
    const firstBreakdown = `per first message (mean ${ms(sum(fmP.perRound.flat()) / nFirst)} ms): addContact ${ms(sum(first.addContact) / nFirst)} ms; ` +
      `dial (TCP + Noise + Yamux) ${ms(sum(first.dials.ms) / nFirst)} ms; ` +
      `bundle fetch (stream + request on that connection) ${ms(sum(first.bundles.ms) / nFirst)} ms; ` +
      `${(first.exchanges.ms.length / nFirst).toFixed(1)} envelope exchanges ${ms(sum(first.exchanges.ms) / nFirst)} ms (incl. the peer's PreKey decrypt + commit); ` +
      `SQLite ${(first.sqlite.ms.length / nFirst).toFixed(1)} units (${((first.sqlite.ms.length - first.sqlite.deferred) / nFirst).toFixed(1)} full) ${ms(sum(first.sqlite.ms) / nFirst)} ms (both nodes); raw dial + stream open p50 ${ms(percentile(fmB.perRound.flat(), 50))} ms`
    log?.(`node: first-message breakdown: ${firstBreakdown}`)
    figures.push(latencyFigure({
      name: 'node.first-message',
      pct: 50,
      parley: fmP,
      baseline: fmB,
      baselineName: libp2pVersion,
      target: { ratio: 2, better: 'lower' },
      note: `median over fresh node pairs; parley = addContact(invite) + send(wait): dial, Noise, bundle fetch, PQXDH, first message and its encrypted receipt; baseline = raw dial + stream open; breakdown ${firstBreakdown}`
    }))
    return figures
  } finally {
    for (const p of parleys) await p.stop().catch(() => {})
    for (const r of raws) await Promise.resolve(r.stop()).catch(() => {})
    for (const h of homes) await rm(h.dir, { recursive: true, force: true }).catch(() => {})
  }
}

const group: BenchGroup = {
  name: 'node',
  description: 'E2EE message round trip and first message to a new contact vs raw libp2p (loopback)',
  run
}
export default group

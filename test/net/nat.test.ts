// NAT traversal in ../shared/netlab (network namespaces, root): a relay on the lab's "internet" (a
// real `parley relay` process of the compiled CLI, its metrics read with `parley status --json`), two
// clients behind NAT routers. Cone NATs: chat starts on the relay, a direct WebRTC connection appears
// (ICE with the relay's STUN), and the chat survives SIGKILL of the relay. Symmetric NATs: chat works
// over the relay and no direct connection appears. Skips with netlab's reason where the lab cannot run.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NETLAB, netlab } from '../helpers/netlab.js'

const { env: ENV, skip, lab } = netlab('rl-', 'NAT tests')
const SCRIPT = join(fileURLToPath(new URL('.', import.meta.url)), 'netlab-node.js')
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))


type Line = Record<string, unknown>
interface ConnInfo { peerId: string, relayed: boolean, remoteAddr: string, direction: string }

/** One lab process: JSON lines out, JSON commands in. */
class LabNode {
  readonly proc: ChildProcessWithoutNullStreams
  readonly lines: Line[] = []
  private readonly listeners = new Set<() => void>()
  log = ''
  exited = false
  private seq = 0

  constructor (where: 'relay' | 'a' | 'b', role: 'relay' | 'peer', opts: Record<string, unknown>, argv?: string[]) {
    const seed = randomBytes(32).toString('hex')
    this.proc = spawn(NETLAB, ['exec', where, process.execPath, ...(argv ?? [SCRIPT, role, seed, JSON.stringify(opts)])], { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] })
    let buf = ''
    this.proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i)
        buf = buf.slice(i + 1)
        this.log += `${where}> ${l}\n`
        const ready = /^parley relay ready (\{.*\})$/.exec(l)
        try { this.lines.push(ready != null ? { ...JSON.parse(ready[1]!) as Line, ready: true } : JSON.parse(l) as Line) } catch { /* not ours */ }
        for (const f of this.listeners) f()
      }
    })
    this.proc.stderr.on('data', (d: Buffer) => { this.log += `${where}! ${d.toString()}` })
    this.proc.on('exit', () => { this.exited = true; for (const f of this.listeners) f() })
  }

  async waitFor (pred: (l: Line) => boolean, ms: number, what: string): Promise<Line> {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.lines.find(pred)
        if (hit != null) { done(); resolve(hit); return }
        if (this.exited) { done(); reject(new Error(`process exited while waiting for ${what}\n${this.log}`)) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${what}\n${this.log}`)) }, ms)
      const done = (): void => { clearTimeout(timer); this.listeners.delete(check) }
      this.listeners.add(check)
      check()
    })
  }

  command (cmd: Record<string, unknown>): void {
    this.proc.stdin.write(JSON.stringify(cmd) + '\n')
  }

  async send (to: string, texts: string[], addrs?: string[]): Promise<string[]> {
    const id = ++this.seq
    this.command({ cmd: 'send', id, to, texts, ...(addrs != null ? { addrs } : {}) })
    const r = await this.waitFor(l => l.sent === id || l.sendError === id, 40_000, `send #${id}`)
    if (r.sendError != null) throw new Error(`send failed: ${String(r.error)}\n${this.log}`)
    return r.acks as string[]
  }

  async state (): Promise<{ connections: ConnInfo[], stats: Record<string, number> }> {
    const before = this.lines.length
    this.command({ cmd: 'state' })
    const r = await this.waitFor(l => l.state != null && this.lines.indexOf(l) >= before, 10_000, 'state')
    return r.state as { connections: ConnInfo[], stats: Record<string, number> }
  }

  async gotTexts (texts: string[], ms: number): Promise<void> {
    for (const t of texts) await this.waitFor(l => l.got === t, ms, `message ${t}`)
  }

  kill (signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.proc.kill(signal)
  }
}

interface RelayMetrics { reservations: number, stunAnswered: number, connections: number }

/** The relay's metrics from its home's local API (a Unix socket: reachable across network namespaces). */
function relayMetrics (home: string): RelayMetrics {
  const out = execFileSync(process.execPath, [CLI, '--home', home, 'status', '--json'], { stdio: 'pipe', timeout: 30_000 })
  return (JSON.parse(out.toString()) as { relay: RelayMetrics }).relay
}

let relayHome = ''
after(() => {
  if (skip === false) lab('down')
  if (relayHome !== '') rmSync(relayHome, { recursive: true, force: true })
})

async function startLab (natType: 'cone' | 'symmetric'): Promise<{ relay: LabNode, a: LabNode, b: LabNode, relayAddr: string, ids: { a: string, b: string } }> {
  lab('down')
  lab('up', '--nat-type', natType)
  if (relayHome !== '') rmSync(relayHome, { recursive: true, force: true })
  relayHome = mkdtempSync(join(tmpdir(), 'parley-rl-nat-'))
  // a real `parley relay`: circuit relay v2, STUN on 3478, DHT server, mailbox, WebSocket
  const relay = new LabNode('relay', 'relay', {}, [CLI, '--home', relayHome, 'relay', '--listen', '/ip4/0.0.0.0/tcp/4001',
    '--announce', '/ip4/198.18.0.10/tcp/4001', '--stun-port', '3478', '--metrics-interval', '0'])
  const r = await relay.waitFor(l => l.ready === true, 20_000, 'relay ready')
  const relayAddr = `/ip4/198.18.0.10/tcp/4001/p2p/${String(r.peerId)}`
  const a = new LabNode('a', 'peer', { relay: relayAddr })
  const b = new LabNode('b', 'peer', { relay: relayAddr })
  const [ra, rb] = await Promise.all([a.waitFor(l => l.ready === true, 30_000, 'a ready'), b.waitFor(l => l.ready === true, 30_000, 'b ready')])
  for (const x of [ra, rb]) assert.ok((x.addresses as string[]).some(s => s.startsWith(`${relayAddr}/p2p-circuit`)), `a slot was reserved on the relay: ${JSON.stringify(x.addresses)}`)
  return { relay, a, b, relayAddr, ids: { a: String(ra.peerId), b: String(rb.peerId) } }
}

async function poll<T> (f: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms
  let last: T
  do {
    last = await f()
    if (ok(last)) return last
    await new Promise(resolve => setTimeout(resolve, 250))
  } while (Date.now() < end)
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`)
}

test('cone NATs: relayed chat, then a direct WebRTC path that survives killing the relay', { skip, timeout: 75_000 }, async () => {
  const nodes: LabNode[] = []
  try {
    const { relay, a, b, relayAddr, ids } = await startLab('cone')
    nodes.push(relay, a, b)
    // A reaches B only through the relay (B is behind its NAT).
    assert.deepEqual(await a.send(ids.b, ['r1', 'r2', 'r3'], [`${relayAddr}/p2p-circuit/p2p/${ids.b}`]), ['OK', 'OK', 'OK'])
    await b.gotTexts(['r1', 'r2', 'r3'], 10_000)
    // The background WebRTC upgrade gives a direct connection (judged from the connection, not its address).
    await poll(async () => await a.state(), s => s.connections.some(c => c.peerId === ids.b && !c.relayed) && (s.stats.upgradeSuccesses ?? 0) >= 1, 30_000, 'a direct connection A->B')
    const relayStats = relayMetrics(relayHome)
    assert.ok(relayStats.reservations >= 2, `both clients hold a reservation: ${JSON.stringify(relayStats)}`)
    assert.ok(relayStats.stunAnswered >= 1, 'ICE used the relay\'s STUN responder')
    // New DM streams use the direct connection; then the relay dies and the chat goes on both ways.
    assert.equal((await a.state()).stats.dmStreamsOpened, 1, 'the first batch used a stream over the relay')
    assert.deepEqual(await a.send(ids.b, ['d1']), ['OK'])
    await b.gotTexts(['d1'], 10_000)
    assert.equal((await a.state()).stats.dmStreamsOpened, 2, 'the next batch moved to a new stream on the direct connection')
    relay.kill('SIGKILL')
    await poll(async () => relay.exited, x => x, 10_000, 'relay exit')
    assert.deepEqual(await a.send(ids.b, ['k1', 'k2']), ['OK', 'OK'])
    await b.gotTexts(['k1', 'k2'], 10_000)
    assert.equal((await a.state()).stats.dmStreamsOpened, 2, 'the direct stream was unaffected by the relay\'s death')
    assert.deepEqual(await b.send(ids.a, ['back']), ['OK'])
    await a.gotTexts(['back'], 10_000)
    const after = await a.state()
    assert.ok(after.connections.some(c => c.peerId === ids.b && !c.relayed), 'A and B are still directly connected')
  } finally {
    for (const n of nodes) n.kill()
    if (process.env.NAT_TEST_LOG != null) for (const n of nodes) console.log(n.log)
    lab('down')
  }
})

test('symmetric NATs: chat works over the relay and no direct connection appears', { skip, timeout: 75_000 }, async () => {
  const nodes: LabNode[] = []
  try {
    const { relay, a, b, relayAddr, ids } = await startLab('symmetric')
    nodes.push(relay, a, b)
    assert.deepEqual(await a.send(ids.b, ['s1', 's2'], [`${relayAddr}/p2p-circuit/p2p/${ids.b}`]), ['OK', 'OK'])
    await b.gotTexts(['s1', 's2'], 10_000)
    // Give the upgrade time to fail (ICE cannot pair through symmetric NATs; libp2p aborts by timeout).
    await poll(async () => await a.state(), s => (s.stats.upgradeAttempts ?? 0) >= 1, 10_000, 'an upgrade attempt')
    // libp2p may briefly list a WebRTC connection that closes right after opening (STACK-NOTES,
    // js-libp2p #2646): what must never appear is a direct connection that lasts.
    const firstSeen = new Map<string, number>()
    let longest = 0
    const end = Date.now() + 10_000
    while (Date.now() < end) {
      const s = await a.state()
      assert.ok(s.connections.some(c => c.peerId === ids.b && c.relayed), 'the relayed connection stays')
      assert.equal(s.stats.upgradeSuccesses ?? 0, 0, 'no WebRTC upgrade succeeded')
      const direct = s.connections.filter(c => c.peerId === ids.b && !c.relayed).map(c => `${c.direction} ${c.remoteAddr}`)
      for (const k of [...firstSeen.keys()]) if (!direct.includes(k)) firstSeen.delete(k)
      for (const k of direct) {
        if (!firstSeen.has(k)) firstSeen.set(k, Date.now())
        longest = Math.max(longest, Date.now() - firstSeen.get(k)!)
      }
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    // Measured: such leftovers last up to ~7 s; a working direct path would stay for good.
    assert.ok(longest < 10_000, `no lasting direct connection through symmetric NATs (one lasted ${longest} ms)`)
    const settled = await poll(async () => await a.state(), s => !s.connections.some(c => c.peerId === ids.b && !c.relayed), 15_000, 'no direct connection A->B')
    assert.equal(settled.stats.upgradeSuccesses ?? 0, 0)
    assert.deepEqual(await a.send(ids.b, ['s3']), ['OK'])
    assert.deepEqual(await b.send(ids.a, ['s4']), ['OK'])
    await b.gotTexts(['s3'], 10_000)
    await a.gotTexts(['s4'], 10_000)
  } finally {
    for (const n of nodes) n.kill()
    if (process.env.NAT_TEST_LOG != null) for (const n of nodes) console.log(n.log)
    lab('down')
  }
})

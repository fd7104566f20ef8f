// A child process for the kill -9 reliability test (offline-reliability.test.ts): either a relay
// (`startRelay`: circuit relay, DHT server, mailbox) on a fixed loopback port, or a Parley node.
// Reports on stdout, one JSON object per line; commands on stdin, one JSON object per line.
//
//   node offline-child.js relay <home> <port>
//   node offline-child.js node <home> <relayAddr> [sendTo <peerId> <count>]
// PARLEY_CHILD_HOST: the IPv4 address to listen on (default 127.0.0.1; netlab: the namespace's address).
import { createInterface } from 'node:readline'
import { createParleyNode, initIdentity, type ParleyNode } from '../../src/core/node.js'
import { openStore } from '../../src/store/index.js'
import { startRelay } from '../../src/relay/relay.js'
import { DEFAULT_RELAY_CONFIG } from '../../src/relay/config.js'

const HOST = process.env.PARLEY_CHILD_HOST ?? '127.0.0.1'

function out (o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n')
}

async function relayMain (home: string, port: number): Promise<void> {
  const r = await startRelay({
    home,
    config: {
      ...DEFAULT_RELAY_CONFIG,
      listen: [`/ip4/${HOST}/tcp/${port}`],
      stun: false,
      metricsIntervalMs: 0,
      mailbox: { ...DEFAULT_RELAY_CONFIG.mailbox, rateBurst: 100_000, ratePerSecond: 100_000 }
    }
  })
  out({ ready: true, peerId: r.peerId, addr: `/ip4/${HOST}/tcp/${port}/p2p/${r.peerId}` })
  process.on('SIGTERM', () => { void r.stop().finally(() => process.exit(0)) })
}

async function nodeMain (home: string, relay: string, args: string[]): Promise<void> {
  // the first start creates the identity (a restart finds it)
  const st = await openStore({ home, passphrase: null })
  const fresh = await st.getIdentity() == null
  await st.close()
  if (fresh) await initIdentity({ home, name: `node-${process.pid}` })
  const node: ParleyNode = await createParleyNode({
    home,
    listen: [`/ip4/${HOST}/tcp/0`],
    mdns: false,
    // no STUN anywhere in these tests (the relay runs none): no ICE traffic leaves the lab/loopback
    network: { iceServers: [] },
    allowLoopbackFlood: true,
    relays: [relay],
    mailbox: { fetchIntervalMs: 1_000 },
    timeouts: { dialMs: 3_000, streamOpenMs: 3_000, readMs: 5_000, handlerMs: 8_000, idleMs: 10_000, dhtMs: 3_000 },
    reconnect: { baseMs: 200, maxMs: 1_000 },
    outbox: { tickMs: 200, retryBaseMs: 200, retryMaxMs: 1_000, receiptWaitMs: 2_000, receiptWaitMaxMs: 5_000, sendTimeoutMs: 5_000, sessionSetupMs: 5_000 }
  })
  // behind NAT the invite must carry the relayed address: wait for the relay slot first, and put our
  // signed record (bundle) in the relay's DHT, so contacts can start a session while we are offline
  const slotBy = Date.now() + 30_000
  while (node.internals.net.reservations().length === 0 && Date.now() < slotBy) await new Promise(resolve => setTimeout(resolve, 100))
  await node.internals.publishRecord().catch(() => {})
  out({ ready: true, peerId: node.peerId, invite: (await node.invite()).invite, reserved: node.internals.net.reservations().length })
  let stopping = false
  process.on('SIGTERM', () => { stopping = true; void node.stop().finally(() => process.exit(0)) })
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    void (async () => {
      const cmd = JSON.parse(line) as { add?: string, hello?: string, burst?: { to: string, count: number } }
      if (cmd.add != null) {
        const c = await node.addContact(cmd.add)
        out({ added: c.peerId })
      }
      if (cmd.hello != null) {
        await node.send(cmd.hello, 'hello', { wait: true, timeoutMs: 60_000 })
        out({ hello: true })
      }
      if (cmd.burst != null) {
        const ids: string[] = []
        for (let i = 1; i <= cmd.burst.count; i++) ids.push((await node.send(cmd.burst.to, `n${i}`)).id)
        out({ burst: ids.length })
      }
    })().catch((err: unknown) => { out({ error: String(err) }) })
  })
  // progress, cheap and often: the position of the newest message of each conversation (= how many
  // messages it holds, both directions)
  const tick = setInterval(() => {
    void (async () => {
      for (const c of await node.listContacts()) {
        const [last] = await node.messages(c.peerId, { limit: 1 })
        out({ at: c.peerId, seq: last?.seq ?? 0 })
      }
    })().catch(() => {})
  }, 100)
  tick.unref()
  // progress in full, less often: incoming count per contact, outgoing delivered count
  const progress = setInterval(() => {
    void (async () => {
      for (const c of await node.listContacts()) {
        const recent = await all(node, c.peerId)
        out({ peer: c.peerId, in: recent.filter(m => m.direction === 'in').length, delivered: recent.filter(m => m.direction === 'out' && (m.status === 'delivered' || m.status === 'read')).length, out: recent.filter(m => m.direction === 'out').length, stored: recent.filter(m => m.direction === 'out' && m.status === 'stored').length })
      }
    })().catch(() => {})
  }, 1000)
  progress.unref()
  if (args[0] === 'sendTo') {
    const peer = args[1]!
    const count = Number(args[2])
    // continue after the last text our store holds (a kill may have cut the loop anywhere)
    const mine = (await all(node, peer)).filter(m => m.direction === 'out' && /^m\d+$/.test(m.text))
    let next = mine.length === 0 ? 1 : Number(mine[mine.length - 1]!.text.slice(1)) + 1
    const pace = Number(process.env.PARLEY_CHILD_PACE_MS ?? 0)
    while (next <= count && !stopping) {
      await node.send(peer, `m${next}`)
      next++
      if (pace > 0) await new Promise(resolve => setTimeout(resolve, pace))
    }
    out({ sent: count })
  }
}

/** The whole conversation, oldest first (pages of 1000). */
async function all (node: ParleyNode, peer: string): Promise<Array<{ direction: string, text: string, status: string, id: string }>> {
  const out: Array<{ direction: string, text: string, status: string, id: string }> = []
  let before: number | undefined
  for (;;) {
    const page = await node.messages(peer, { limit: 1000, ...(before != null ? { before } : {}) })
    out.unshift(...page)
    if (page.length < 1000) return out
    before = page[0]!.seq
  }
}

const [mode, ...rest] = process.argv.slice(2)
const main = mode === 'relay' ? relayMain(rest[0]!, Number(rest[1])) : nodeMain(rest[0]!, rest[1]!, rest.slice(2))
main.catch((err: unknown) => {
  out({ fatal: String((err as Error).stack ?? err) })
  process.exit(1)
})

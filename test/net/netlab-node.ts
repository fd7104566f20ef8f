// Helper process for the NAT tests (run inside a netlab namespace by nat.test.ts; not a test itself).
// argv: role ('relay' | 'peer'), seed hex, JSON options ({ relay?: string, listenIp?: string,
// announce?: string[] }). Prints one JSON line per event on stdout; reads JSON commands on stdin:
//   {"cmd":"send","id":n,"to":peerId,"addrs":[...],"texts":[...]} -> {"sent":n,"acks":[...]} | {"sendError":n,"error":"..."}
//   {"cmd":"state"} -> {"state":{connections, stats, addresses}}
//   {"cmd":"stop"}  -> stops and exits 0
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import { createParleyNetwork, type Envelope } from '../../src/net/index.js'

const role = process.argv[2]
const seed = new Uint8Array(Buffer.from(process.argv[3] ?? '', 'hex'))
const opts = JSON.parse(process.argv[4] ?? '{}') as { relay?: string, listenIp?: string, announce?: string[] }
const out = (o: unknown): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const timeouts = { dialMs: 10_000, streamOpenMs: 10_000, readMs: 10_000, handlerMs: 10_000, idleMs: 60_000, dhtMs: 5_000 }

const net = role === 'relay'
  ? await createParleyNetwork({
    seed,
    listen: [`/ip4/${opts.listenIp ?? '0.0.0.0'}/tcp/4001`],
    announce: opts.announce ?? [],
    mdns: false,
    timeouts,
    relayServer: { stun: { host: '0.0.0.0', port: 3478 } }
  })
  : await createParleyNetwork({
    seed,
    listen: [`/ip4/${opts.listenIp ?? '0.0.0.0'}/tcp/0`],
    mdns: false,
    timeouts,
    reconnect: { baseMs: 500, maxMs: 5_000 },
    relays: opts.relay != null ? [opts.relay] : []
  })

net.handleEnvelopes(async (from, env) => {
  out({ got: new TextDecoder().decode(env.body), from })
  return 'OK'
})
net.addEventListener('peer:direct', (e) => { out({ direct: e.detail.peerId }) })
await net.start()

if (role !== 'relay') {
  // Ready once a relayed (reserved) address is advertised.
  const end = Date.now() + 30_000
  while (!net.addresses().some(a => a.includes('/p2p-circuit')) && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 100))
}
out({ ready: true, peerId: net.peerId, addresses: net.addresses() })

const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  let cmd: { cmd: string, id?: number, to?: string, addrs?: string[], texts?: string[] }
  try {
    cmd = JSON.parse(line) as typeof cmd
  } catch {
    return
  }
  if (cmd.cmd === 'send') {
    const envs: Envelope[] = (cmd.texts ?? []).map(t => ({ id: new Uint8Array(randomBytes(16)), timestamp: Date.now(), type: 'WHISPER', body: new TextEncoder().encode(t) }))
    net.sendEnvelopes(cmd.to ?? '', envs, { ...(cmd.addrs != null ? { addrs: cmd.addrs } : {}), signal: AbortSignal.timeout(30_000) })
      .then(acks => { out({ sent: cmd.id, acks: acks.map(a => a.status) }) })
      .catch((err: unknown) => { out({ sendError: cmd.id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }) })
  } else if (cmd.cmd === 'state') {
    out({ state: { connections: net.connections(), stats: net.stats(), addresses: net.addresses() } })
  } else if (cmd.cmd === 'stop') {
    void net.stop().finally(() => process.exit(0))
  }
})
rl.on('close', () => { void net.stop().finally(() => process.exit(0)) })

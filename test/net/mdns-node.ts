// Helper process for the mDNS test (run inside a network namespace by mdns.test.ts; not a test
// itself). Starts a Parley node with mDNS on, prints one JSON line per discovered peer, and exits
// a few seconds after it has seen the PeerId given in argv[3] (exit 0), or at the deadline in argv[4] ms (exit 2).
import { randomBytes } from 'node:crypto'
import { createParleyNetwork } from '../../src/net/index.js'

const listenIp = process.argv[2] ?? '0.0.0.0'
const want = process.argv[3] ?? ''
const deadline = Number(process.argv[4] ?? '20000')
const seedHex = process.argv[5]
const seed = seedHex != null ? new Uint8Array(Buffer.from(seedHex, 'hex')) : new Uint8Array(randomBytes(32))

const net = await createParleyNetwork({ seed, listen: [`/ip4/${listenIp}/tcp/0`], mdns: true, mdnsServiceTag: '_parley-test._udp.local', mdnsIntervalMs: 1000 })
net.addEventListener('peer:discovered', (e) => {
  console.log(JSON.stringify({ discovered: e.detail.peerId, addresses: e.detail.addresses }))
  // keep answering the other side's queries for a while before leaving
  if (e.detail.peerId === want) setTimeout(() => { void finish(0) }, 3000)
})
async function finish (code: number): Promise<void> {
  await net.stop().catch(() => {})
  process.exit(code)
}
await net.start()
console.log(JSON.stringify({ self: net.peerId, addresses: net.addresses() }))
setTimeout(() => { void finish(2) }, deadline).unref()
setInterval(() => {}, 1000)

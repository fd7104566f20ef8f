// Child process for crash.test.ts: performs write units forever until it is SIGKILLed.
// Each unit writes messages n..n+k-1, the session state "last n", the contact's lastSeen = last n and
// an outbox entry for every even n — all in one store.write(). Prints "ready" after its first commit.
// Usage: node crash-child.js <home> <passphrase|-> [split|mixed]
// With "mixed" every other unit is a deferred one (durability 'deferred': no fsync of its own, still
// atomic and process-crash safe), so SIGKILL must leave the same kind of prefix.
// With "split" (the checker's negative control) the 5th unit is done wrongly — messages committed in
// one write, then the process kills itself before the session write — which the checker must detect.
import { openStore } from '../../src/store/index.js'
import { FAST_SCRYPT } from './helpers.js'

const [home, pass, mode] = process.argv.slice(2)
if (home === undefined) throw new Error('usage: crash-child.js <home> <passphrase|->')
const passphrase = pass === undefined || pass === '-' ? null : pass
const te = new TextEncoder()

const store = await openStore({ home, passphrase, scrypt: FAST_SCRYPT })
const session = await store.getSession('peer')
let n = session === null ? 0 : Number(new TextDecoder().decode(session))
let announced = false

for (let unit = 1; ; unit++) {
  if (mode === 'split' && unit === 5) {
    await store.write(tx => {
      n++
      tx.insertMessage({ id: `m${n}`, peerId: 'peer', direction: 'out', body: new Uint8Array(8).fill(n & 0xff), sentAt: n, status: 'queued' })
      if (n % 2 === 0) tx.enqueueOutbox({ messageId: `m${n}`, peerId: 'peer', envelope: te.encode(`env ${n}`) })
    })
    process.kill(process.pid, 'SIGKILL')
  }
  const k = 1 + Math.floor(Math.random() * 4)
  const bodyLen = Math.floor(Math.random() * 20_000)
  await store.write(tx => {
    if (tx.getContact('peer') === null) {
      tx.putContact({ peerId: 'peer', name: 'peer', identityKey: te.encode('key'), verified: false, keyChange: null, addresses: [], relays: [], lastSeen: 0, createdAt: 1 })
    }
    for (let i = 0; i < k; i++) {
      n++
      tx.insertMessage({ id: `m${n}`, peerId: 'peer', direction: 'out', body: new Uint8Array(bodyLen).fill(n & 0xff), sentAt: n, status: 'queued' })
      if (n % 2 === 0) tx.enqueueOutbox({ messageId: `m${n}`, peerId: 'peer', envelope: te.encode(`env ${n}`) })
    }
    tx.putSession('peer', te.encode(String(n)))
    tx.updateContact('peer', { lastSeen: n })
  }, { durability: mode === 'mixed' && unit % 2 === 0 ? 'deferred' : 'full' })
  if (!announced) {
    announced = true
    process.stdout.write('ready\n')
  }
}

// Store throughput (not a test: run by hand, prints figures). Each unit is durable (WAL,
// synchronous=FULL: fsync at every COMMIT).  node dist-<x>/test/store/throughput.js [units]
import { performance } from 'node:perf_hooks'
import { openStore } from '../../src/store/index.js'
import { FAST_SCRYPT, tempHome } from './helpers.js'

const UNITS = Number(process.argv[2] ?? 1000)
const te = new TextEncoder()
const body = te.encode('x'.repeat(200))
const session = new Uint8Array(1500).fill(7)

for (const passphrase of [null, 'bench pass']) {
  const { home, cleanup } = tempHome('bench')
  const s = await openStore({ home, passphrase, scrypt: FAST_SCRYPT })
  const label = passphrase === null ? 'plain    ' : 'encrypted'

  let t0 = performance.now()
  for (let i = 0; i < UNITS; i++) {
    await s.write(tx => {
      tx.insertMessage({ id: `a${i}`, peerId: 'peer', direction: 'in', body, sentAt: i, receivedAt: i, status: 'delivered' })
      tx.putSession('peer', session)
    })
  }
  let dt = (performance.now() - t0) / 1000
  console.log(`${label} 1 message + session per durable commit: ${Math.round(UNITS / dt)} units/s (${(dt * 1000 / UNITS).toFixed(2)} ms/unit)`)

  const BATCH = 100
  t0 = performance.now()
  for (let b = 0; b < UNITS / 10; b++) {
    await s.write(tx => {
      for (let i = 0; i < BATCH; i++) {
        tx.insertMessage({ id: `b${b}-${i}`, peerId: 'peer2', direction: 'in', body, sentAt: i, status: 'delivered' })
      }
      tx.putSession('peer2', session)
    })
  }
  dt = (performance.now() - t0) / 1000
  console.log(`${label} ${BATCH} messages per durable commit: ${Math.round(UNITS * 10 / dt)} messages/s`)

  t0 = performance.now()
  let read = 0
  for (let i = 0; i < 200; i++) read += (await s.listMessages('peer2', { limit: 50, beforeSeq: 1 + (i * 37) % (UNITS * 10) })).length
  dt = (performance.now() - t0) / 1000
  console.log(`${label} listMessages(limit 50): ${Math.round(read / dt)} messages/s read+decoded`)
  await s.close()
  cleanup()
}

// Reservation renewal: a relay whose reservations live 60 s (the shortest the config allows) and a
// client that reserved on it. The relay deletes a reservation the moment its TTL runs out unless the
// client refreshed it (circuit relay v2 spec §Reservation: the client must refresh before `expire`),
// so a reservation that stays in place without a gap for well over two TTLs was renewed — each
// sample also checks that the client still advertises its relayed address.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createParleyNetwork, type ParleyNetwork } from '../../src/net/index.js'
import { startRelay, type RunningRelay } from '../../src/relay/relay.js'
import { applyConfigDocument, DEFAULT_RELAY_CONFIG, type RelayConfig } from '../../src/relay/config.js'
import { tempHome, cleanup } from '../core/helpers.js'

let relay: RunningRelay | null = null
let client: ParleyNetwork | null = null
after(async () => {
  await client?.stop().catch(() => {})
  await relay?.stop().catch(() => {})
  await cleanup()
})

test('a 60 s reservation is renewed before it expires: no gap for 150 s', { timeout: 240_000 }, async () => {
  const config: RelayConfig = applyConfigDocument(structuredClone(DEFAULT_RELAY_CONFIG) as RelayConfig, {
    listen: ['/ip4/127.0.0.1/tcp/0'], stun: false, metricsIntervalSeconds: 0, relay: { reservationTtlSeconds: 60 }
  })
  const log: string[] = []
  relay = await startRelay({ home: await tempHome(), config, log: (l) => { log.push(l) } })
  const addr = relay.addresses().find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))!
  client = await createParleyNetwork({ seed: new Uint8Array(randomBytes(32)), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, relays: [addr], iceServers: [], webrtcUpgrade: false, allowLoopbackFlood: true })
  await client.start()
  const c = client
  const r = relay
  const end0 = Date.now() + 30_000
  while (!(c.reservations().includes(r.peerId) && r.metrics().reservations === 1)) {
    assert.ok(Date.now() < end0, 'reservation made')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  const end = Date.now() + 150_000
  let samples = 0
  while (Date.now() < end) {
    assert.equal(r.metrics().reservations, 1, `the relay kept the reservation (sample ${samples}); log:\n${log.join('\n')}`)
    assert.ok(c.reservations().includes(r.peerId), `the client kept its relayed address (sample ${samples})`)
    samples++
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  assert.ok(!log.some(l => /reservations 1 -> 0/.test(l)), `the relay never lost it:\n${log.join('\n')}`)
})

// Reservation renewal (issue 4: a node behind NAT stays reachable through its relay). A real relay
// (`startRelay`: circuit relay v2, DHT, mailbox) whose reservations live only TTL_S seconds, and a real
// Parley node reachable ONLY through it (listen /p2p-circuit, no WebRTC). The relay deletes a
// reservation the moment its TTL runs out unless the client reserved again before `expire` (circuit
// relay v2 spec §Reservation), so a reservation that stays in place without a gap for more than three
// TTLs was renewed at least three times. The proof that it is still valid at the end: a node started
// only then reaches the client through `<relay>/p2p-circuit/p2p/<client>` (the relay's CONNECT needs the
// client's reservation) and a chat message is delivered over that relayed connection — not through
// the relay's mailbox. Then the relay restarts: the client reserves again and keeps renewing.
//
// The relay config refuses TTLs under 60 s (operators), so the config object is built here directly.
// Both halves of the fix in src/net/nat.ts are needed: without EarlyRenewal the library refreshes after
// 30 s, past a 15 s TTL; without renewableReservations the relay drops the slot 1.5 TTL in.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ParleyNode } from '../../src/core/node.js'
import { startRelay, type RunningRelay } from '../../src/relay/relay.js'
import { DEFAULT_RELAY_CONFIG, type RelayConfig } from '../../src/relay/config.js'
import { earlyRefreshDelay, expirySignal, libraryRefreshDelay } from '../../src/net/nat.js'
import { cleanup, startNode, tempHome, until } from '../core/helpers.js'

const TTL_S = 15
const relays = new Set<RunningRelay>()
after(async () => {
  await cleanup()
  await Promise.allSettled([...relays].map(async r => { await r.stop() }))
})

function relayConfig (port: number): RelayConfig {
  const config = structuredClone(DEFAULT_RELAY_CONFIG) as RelayConfig
  return {
    ...config,
    listen: [`/ip4/127.0.0.1/tcp/${port}`],
    stun: { host: '127.0.0.1', port: 0 },
    metricsIntervalMs: 0,
    relay: { ...config.relay, reservationTtlMs: TTL_S * 1000 }
  }
}

async function runRelay (home: string, port: number, log: string[]): Promise<{ r: RunningRelay, addr: string }> {
  const r = await startRelay({ home, config: relayConfig(port), log: (l) => { log.push(`${new Date().toISOString()} ${l}`) } })
  relays.add(r)
  const addr = r.addresses().find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))
  assert.ok(addr != null, 'relay has a loopback TCP address')
  return { r, addr }
}

/**
 * Samples every 250 ms for `ms` that the relay holds exactly one reservation and that `client` still
 * advertises its relayed address; returns the number of samples.
 */
async function holds (r: RunningRelay, client: ParleyNode, ms: number, log: string[]): Promise<number> {
  const end = Date.now() + ms
  let samples = 0
  while (Date.now() < end) {
    const t = `${samples * 0.25} s`
    assert.equal(r.metrics().reservations, 1, `the relay kept the reservation (at ${t}); relay log:\n${log.join('\n')}`)
    assert.ok(client.internals.net.reservations().includes(r.peerId), `the client kept its relayed address (at ${t})`)
    samples++
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return samples
}

/** A fresh node reaches `bob` through the relay and delivers a message over the relayed connection. */
async function reachThroughRelay (r: RunningRelay, bob: ParleyNode, name: string, text: string): Promise<void> {
  const depositsBefore = r.metrics().mailbox?.deposits ?? 0
  // no relays of its own (it must not hold a reservation): only the transports to dial relayed addresses
  const alice = await startNode(name, { network: { nat: true, webrtcUpgrade: false, iceServers: [] } })
  const inv = (await bob.invite()).invite
  assert.ok((await bob.id()).addresses.every(a => a.includes(`/p2p/${r.peerId}/p2p-circuit/`)), 'bob is reachable only through the relay')
  await alice.addContact(inv)
  const sent = await alice.send(bob.peerId, text, { wait: true, timeoutMs: 60_000 })
  assert.equal(sent.status, 'delivered')
  assert.deepEqual((await bob.messages(alice.peerId)).map(m => m.text), [text])
  // alice's own connections to bob go through the relay (bob, having learnt alice's address from her
  // message, may also dial her directly: an inbound connection at alice's side)
  const conns = alice.internals.net.connections().filter(c => c.peerId === bob.peerId && c.direction === 'outbound')
  assert.ok(conns.length > 0 && conns.every(c => c.relayed && c.remoteAddr.includes(`/p2p/${r.peerId}/p2p-circuit/`)), `over the relay: ${JSON.stringify(conns)}`)
  assert.equal(r.metrics().mailbox?.deposits ?? 0, depositsBefore, 'delivered directly, not through the mailbox')
  await alice.stop()
}

test(`a ${TTL_S} s reservation is renewed for over three TTLs, stays usable, and comes back after a relay restart`, { timeout: 300_000 }, async () => {
  const log: string[] = []
  const home = await tempHome()
  const first = await runRelay(home, 0, log)
  let r = first.r
  const addr = first.addr
  const port = Number(/\/tcp\/(\d+)\//.exec(addr)?.[1])
  const bob = await startNode('bob', { listen: ['/p2p-circuit'], relays: [addr], network: { webrtcUpgrade: false, iceServers: [] } })
  await until(() => bob.internals.net.reservations().includes(r.peerId) && r.metrics().reservations === 1, 30_000, 'reservation made')

  // 3.5 TTLs without a gap, then a node that did not exist before reaches bob through the relay
  const t0 = Date.now()
  const samples = await holds(r, bob, 3.5 * TTL_S * 1000, log)
  assert.ok(samples >= 3 * TTL_S * 4, `sampled across three TTLs (${samples})`)
  await reachThroughRelay(r, bob, 'alice', 'after three TTLs')
  assert.ok(Date.now() - t0 > 3 * TTL_S * 1000)
  assert.ok(!log.some(l => /reservations 1 -> 0/.test(l)), `the relay never dropped it:\n${log.join('\n')}`)

  // the relay restarts on the same port with the same identity: bob reserves again and keeps renewing
  const relayId = r.peerId
  await r.stop()
  relays.delete(r)
  await until(() => !bob.internals.net.reservations().includes(relayId), 30_000, 'bob saw the relay go')
  const again = await runRelay(home, port, log)
  r = again.r
  assert.equal(again.addr, addr, 'the relay keeps its identity and address')
  await until(() => bob.internals.net.reservations().includes(r.peerId) && r.metrics().reservations === 1, 60_000, 'bob reserved again on the restarted relay')
  const logFrom = log.length
  await holds(r, bob, 2.5 * TTL_S * 1000, log)
  await reachThroughRelay(r, bob, 'carol', 'after the relay restarted')
  assert.ok(!log.slice(logFrom).some(l => /reservations 1 -> 0/.test(l)), `the restarted relay never dropped it:\n${log.join('\n')}`)
})

test('expirySignal: reset() moves the one deadline however often it is called; clear() disarms it', async () => {
  const t0 = Date.now()
  const s = expirySignal(400)
  let abortedAt = 0
  s.addEventListener('abort', () => { abortedAt = Date.now() - t0 })
  // five resets 200 ms apart: the deadline is 400 ms after the last one (retimeable-signal 1.0.1 fired
  // 400 ms after the first reset, i.e. at ~600 ms)
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(s.aborted, false, `alive after reset ${i}`)
    s.reset()
  }
  await until(() => s.aborted, 5_000, 'expiry')
  assert.ok(abortedAt >= 1000 + 400 - 20, `aborted 400 ms after the last reset (${abortedAt} ms)`)
  assert.equal((s.reason as Error).name, 'NetTimeoutError')
  s.reset()
  assert.equal(s.aborted, true, 'an expired signal stays expired')

  const c = expirySignal(100)
  c.reset(150)
  c.clear()
  await new Promise(resolve => setTimeout(resolve, 400))
  assert.equal(c.aborted, false, 'cleared: never fires')
})

test('earlyRefreshDelay: the library keeps long reservations; short ones are refreshed at half-life', () => {
  // the library refreshes at max(expire − 5 min, 30 s)
  assert.equal(libraryRefreshDelay(7_200_000), 6_900_000)
  assert.equal(libraryRefreshDelay(60_000), 30_000)
  assert.equal(libraryRefreshDelay(10_000), 30_000, 'after a 10 s reservation expired')
  assert.equal(earlyRefreshDelay(7_200_000), null)
  assert.equal(earlyRefreshDelay(3_600_000), null)
  assert.equal(earlyRefreshDelay(60_000), null, '30 s of margin is enough')
  assert.equal(earlyRefreshDelay(45_000), null)
  assert.equal(earlyRefreshDelay(40_000), 20_000)
  assert.equal(earlyRefreshDelay(15_000), 7_500)
  assert.equal(earlyRefreshDelay(600), 500, 'never a busy loop')
})

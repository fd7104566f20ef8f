// Connection lifecycle: backoff with jitter, the watch-list state machine, and real reconnects after
// a peer restarts on a NEW port (learned when it dials back, or found through the DHT).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { backoffDelay } from '../../src/net/index.js'
import { Reconnector } from '../../src/net/reconnect.js'
import { makeNode, until, waitForEvent, envelope } from './helpers.js'

test('backoffDelay: exponential, jittered within [exp/2, exp], capped', () => {
  const opts = { baseMs: 1000, maxMs: 300_000 }
  assert.equal(backoffDelay(0, opts, () => 0), 500)
  assert.equal(backoffDelay(0, opts, () => 1), 1000)
  assert.equal(backoffDelay(3, opts, () => 0), 4000)
  assert.equal(backoffDelay(3, opts, () => 1), 8000)
  assert.equal(backoffDelay(20, opts, () => 1), 300_000)
  assert.equal(backoffDelay(1000, opts, () => 0), 150_000)
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, opts)))
  assert.ok(spread.size > 10, 'jitter spreads retries')
})

test('Reconnector: known addresses first, then lookup; stale addresses replaced; backoff resets on success', async () => {
  const dials: Array<{ addrs: string[] }> = []
  let connected = false
  let failUntil = 3
  const r = new Reconnector({
    isConnected: () => connected,
    dial: async (_id, addrs) => {
      dials.push({ addrs })
      if (addrs.includes('/new') && --failUntil <= 0) { connected = true; return }
      throw new Error('unreachable')
    },
    lookup: async () => ['/new'],
    dialTimeoutMs: 1000,
    lookupTimeoutMs: 1000
  }, { baseMs: 5, maxMs: 40 })
  r.watch('peer1', ['/old'])
  assert.equal(r.list()[0]!.nextAttemptAt, null, 'nothing happens before start')
  r.start()
  await until(() => connected, 10_000, 5)
  r.onConnected('peer1')
  const st = r.list()[0]!
  assert.equal(st.attempt, 0)
  assert.deepEqual(st.addrs, ['/new'], 'the stale address was replaced by the looked-up one')
  assert.deepEqual(dials[0]!.addrs, ['/old'], 'last known address tried first')
  assert.ok(dials.some(d => d.addrs.includes('/new')))
  // a disconnect schedules a retry; unwatch cancels it
  connected = false
  r.onDisconnected('peer1')
  assert.ok(r.list()[0]!.nextAttemptAt != null)
  r.unwatch('peer1')
  assert.equal(r.list().length, 0)
  r.stop()
})

test('a contact that restarts on a new port dials back; the other side learns its new address', async () => {
  const seedB = new Uint8Array(randomBytes(32))
  const a = await makeNode()
  let b = await makeNode({ seed: seedB })
  await a.start(); await b.start()
  try {
    a.watch(b.peerId, b.addresses())
    b.watch(a.peerId, a.addresses())
    await until(() => a.isConnected(b.peerId))
    const oldAddrs = b.addresses()
    const offline = waitForEvent(a, 'peer:offline', e => e.detail.peerId === b.peerId)
    await b.stop()
    await offline
    // same identity, new process state, new port
    b = await makeNode({ seed: seedB })
    const online = waitForEvent(a, 'peer:online', e => e.detail.peerId === b.peerId, 30_000)
    const learned = waitForEvent(a, 'peer:addresses', e => e.detail.peerId === b.peerId && !e.detail.addresses.some(x => oldAddrs[0]!.startsWith(x)), 30_000)
    b.watch(a.peerId, a.addresses())
    await b.start()
    await online
    const ev = await learned
    assert.ok(ev.detail.addresses.length > 0)
    assert.ok(b.addresses().some(x => ev.detail.addresses.some(y => x.startsWith(y))), 'A learned B\'s new listen address')
    b.handleEnvelopes(async () => 'OK')
    assert.equal((await a.sendEnvelopes(b.peerId, [envelope()]))[0]!.status, 'OK')
  } finally {
    await a.stop(); await b.stop()
  }
})

test('watch-list: a contact restarted on a new port is found through the DHT and reconnected', async () => {
  const hub = await makeNode()
  await hub.start()
  const boot = [hub.addresses()[0]!]
  const seedB = new Uint8Array(randomBytes(32))
  const a = await makeNode({ bootstrap: boot })
  let b = await makeNode({ seed: seedB, bootstrap: boot })
  await a.start(); await b.start()
  try {
    await until(() => a.isConnected(hub.peerId) && b.isConnected(hub.peerId))
    a.watch(b.peerId, b.addresses())
    await until(() => a.isConnected(b.peerId))
    const oldAddrs = b.addresses()
    await b.stop()
    await until(() => !a.isConnected(b.peerId))
    // B comes back on a new port; it does NOT watch A — A must find it (old address is dead)
    b = await makeNode({ seed: seedB, bootstrap: boot })
    await b.start()
    assert.notDeepEqual(b.addresses(), oldAddrs)
    await until(() => hub.isConnected(b.peerId), 20_000)
    await until(() => a.isConnected(b.peerId), 40_000, 100)
    const newPort = b.addresses()[0]!.split('/p2p/')[0]!
    // the watch-list learns the new address (from the lookup or from identify, whichever lands first)
    await until(() => a.watched().find(p => p.peerId === b.peerId)!.addrs.some(x => x.startsWith(newPort)), 20_000)
    assert.equal(a.watched().find(p => p.peerId === b.peerId)!.attempt, 0, 'backoff reset on success')
    assert.ok(a.connections().some(c => c.peerId === b.peerId && c.direction === 'outbound'))
  } finally {
    await a.stop(); await b.stop(); await hub.stop()
  }
})

test('stale, unwatched peers are pruned from the peer store', async () => {
  const a = await makeNode({ staleAfterMs: 1 })
  const b = await makeNode()
  await a.start(); await b.start()
  try {
    await a.connect(b.peerId, { addrs: b.addresses() })
    await a.disconnect(b.peerId)
    await until(() => !a.isConnected(b.peerId))
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.ok(await a.pruneStale() >= 1)
    // watched peers are never pruned
    a.watch(b.peerId, b.addresses())
    await until(() => a.isConnected(b.peerId))
    a.unwatch(b.peerId)
  } finally {
    await a.stop(); await b.stop()
  }
})

test('sending to a stale address falls back to a DHT lookup of the peer\'s current address', async () => {
  const hub = await makeNode()
  await hub.start()
  const boot = [hub.addresses()[0]!]
  const seedB = new Uint8Array(randomBytes(32))
  const a = await makeNode({ bootstrap: boot })
  let b = await makeNode({ seed: seedB, bootstrap: boot })
  await a.start(); await b.start()
  try {
    const stale = b.addresses()
    await b.stop()
    b = await makeNode({ seed: seedB, bootstrap: boot })
    let got = 0
    b.handleEnvelopes(async () => { got++; return 'OK' })
    await b.start()
    await until(() => hub.isConnected(b.peerId) && a.isConnected(hub.peerId), 20_000)
    // B's DHT self-query may have reached A meanwhile: drop that so the send must dial
    if (a.isConnected(b.peerId)) await a.disconnect(b.peerId)
    const learned = waitForEvent(a, 'peer:addresses', e => e.detail.peerId === b.peerId)
    const acks = await a.sendEnvelopes(b.peerId, [envelope()], { addrs: stale })
    assert.equal(acks[0]!.status, 'OK')
    assert.equal(got, 1)
    assert.ok((await learned).detail.addresses.length > 0, 'the looked-up address is reported for persisting')
  } finally {
    await a.stop(); await b.stop(); await hub.stop()
  }
})

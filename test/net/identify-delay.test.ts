// issue 3 (first message): identify on a new direct connection to an ordinary peer waits
// (ParleyNetworkInit.identifyDelayMs), so that the dial's purpose — a bundle fetch, a first message —
// does not compete with identify and what it sets off. Relays and bootstrap peers identify at once, and
// a DHT operation with an empty routing table runs the waiting identifies at once.
// Real libp2p nodes on 127.0.0.1. "Identify ran" is observed through `peer:addresses`, which only
// identify (or a DHT lookup, which these tests do not start before checking) emits.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { IDENTIFY_DELAY_MS } from '../../src/net/index.js'
import { envelope, makeNode, stopAll, waitForEvent, type TestNode } from './helpers.js'

/** Long enough that it never fires during a test: what runs identify is then the test's own trigger. */
const NEVER = 600_000

const nodes: Record<string, TestNode> = {}
after(async () => { await stopAll(nodes) })

async function started (name: string, over: Parameters<typeof makeNode>[0] = {}): Promise<TestNode> {
  const n = await makeNode(over)
  await n.start()
  nodes[name] = n
  return n
}

function addressEvents (n: TestNode): string[] {
  const seen: string[] = []
  n.addEventListener('peer:addresses', (e) => { seen.push(e.detail.peerId) })
  return seen
}

test('the default delay is short next to anything that needs identify (sub-second)', () => {
  assert.ok(IDENTIFY_DELAY_MS > 0 && IDENTIFY_DELAY_MS < 1000)
})

test('a bundle fetch and a DM exchange complete before identify; a DHT lookup runs the waiting identify at once', async () => {
  const a = await started('a1', { identifyDelayMs: NEVER })
  const b = await started('b1', { identifyDelayMs: NEVER })
  const seenA = addressEvents(a)
  const seenB = addressEvents(b)
  const bundle = new Uint8Array(randomBytes(1800))
  b.handleBundleRequests(async () => bundle)
  const got: string[] = []
  b.handleEnvelopes(async (from) => { got.push(from); return 'OK' })

  assert.deepEqual(await a.fetchBundle(b.peerId, { addrs: b.addresses() }), bundle)
  const acks = await a.sendEnvelopes(b.peerId, [envelope({ sender: a.peerId })])
  assert.equal(acks.length, 1)
  assert.equal(acks[0]!.status, 'OK')
  assert.deepEqual(got, [a.peerId])
  // neither side has identified the other: the connection carried only what the caller asked for
  assert.deepEqual(seenA, [])
  assert.deepEqual(seenB, [])

  // a DHT operation needs routing-table peers (kad-dht adds them from identify): it does not wait
  const identified = waitForEvent(a, 'peer:addresses', (e) => e.detail.peerId === b.peerId)
  await a.findRecord(b.peerId) // B has published nothing: null, but only after asking B
  const evt = await identified
  assert.ok(evt.detail.addresses.length > 0)
  assert.ok(evt.detail.addresses.every(x => x.startsWith('/ip4/127.0.0.1/')))
})

test('identifyDelayMs 0: identify runs as soon as the connection opens (libp2p behaviour)', async () => {
  const a = await started('a2', { identifyDelayMs: 0 })
  const b = await started('b2', { identifyDelayMs: NEVER })
  const identified = waitForEvent(a, 'peer:addresses', (e) => e.detail.peerId === b.peerId)
  await a.connect(b.peerId, { addrs: b.addresses() })
  await identified
})

test('the default delay: identify runs by itself shortly after a connection opens', async () => {
  const a = await started('a3')
  const b = await started('b3')
  const identifiedA = waitForEvent(a, 'peer:addresses', (e) => e.detail.peerId === b.peerId)
  const identifiedB = waitForEvent(b, 'peer:addresses', (e) => e.detail.peerId === a.peerId)
  await a.connect(b.peerId, { addrs: b.addresses() })
  await Promise.all([identifiedA, identifiedB])
})

test('a bootstrap peer is identified at once, whatever the delay', async () => {
  const b = await started('b4', { identifyDelayMs: NEVER })
  const boot = `${b.addresses()[0]!.replace(/\/p2p\/.*$/, '')}/p2p/${b.peerId}`
  const a = await makeNode({ identifyDelayMs: NEVER, bootstrap: [boot] })
  nodes.a4 = a
  const identified = waitForEvent(a, 'peer:addresses', (e) => e.detail.peerId === b.peerId)
  await a.start() // the reconnect watch dials the bootstrap peer
  await identified
})

test('stop() with identifies still waiting settles and leaves nothing running', async () => {
  const a = await started('a5', { identifyDelayMs: NEVER })
  const b = await started('b5', { identifyDelayMs: NEVER })
  await a.connect(b.peerId, { addrs: b.addresses() })
  await a.stop()
  await b.stop()
  assert.equal(a.isStarted(), false)
  assert.equal(b.isStarted(), false)
})

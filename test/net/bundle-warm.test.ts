// issue 3 (first message): a node that handed out its prekey bundle opens its DM stream to the requester
// at once — the requester's PreKey message comes next, and its receipt goes back over that stream — so
// the receipt does not wait for a stream negotiation. No bundle handed out, no stream.
// Real libp2p nodes on 127.0.0.1.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { BundleUnavailableError } from '../../src/net/index.js'
import { envelope, makeNode, stopAll, until, type TestNode } from './helpers.js'

const nodes: Record<string, TestNode> = {}
after(async () => { await stopAll(nodes) })

async function pair (tag: string): Promise<[TestNode, TestNode]> {
  const a = await makeNode()
  const b = await makeNode()
  nodes[`a${tag}`] = a
  nodes[`b${tag}`] = b
  await a.start()
  await b.start()
  a.handleEnvelopes(async () => 'OK')
  b.handleEnvelopes(async () => 'OK')
  return [a, b]
}

test('serving a bundle opens the DM stream back to the requester; the next envelope reuses it', async () => {
  const [a, b] = await pair('1')
  const bundle = new Uint8Array(randomBytes(1500))
  b.handleBundleRequests(async () => bundle)
  assert.equal(b.stats().dmStreamsOpened, 0)
  assert.deepEqual(await a.fetchBundle(b.peerId, { addrs: b.addresses() }), bundle)
  await until(() => b.stats().dmStreamsOpened === 1, 20_000)
  // B's receipt-to-be goes over that stream: no second one
  const acks = await b.sendEnvelopes(a.peerId, [envelope({ sender: b.peerId })])
  assert.equal(acks[0]?.status, 'OK')
  assert.equal(b.stats().dmStreamsOpened, 1)
})

test('no bundle handed out (UNAVAILABLE): no stream is opened', async () => {
  const [a, b] = await pair('2')
  b.handleBundleRequests(async () => null)
  await assert.rejects(a.fetchBundle(b.peerId, { addrs: b.addresses() }), BundleUnavailableError)
  // a stream B had started would be open after a few more round trips on the connection (pings: a DM
  // from A would itself make B open its stream back, dm.ts)
  for (let i = 0; i < 3; i++) await a.ping(b.peerId)
  assert.equal(b.stats().dmStreamsOpened, 0)
  // and the positive case on the same connection, for contrast
  b.handleBundleRequests(async () => new Uint8Array(randomBytes(100)))
  await a.fetchBundle(b.peerId)
  await until(() => b.stats().dmStreamsOpened === 1, 20_000)
})

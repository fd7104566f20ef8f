// Direct messages and prekey bundles between real libp2p nodes on loopback.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  DeliveryIncompleteError, InvalidPeerIdError, PeerUnreachableError, BundleUnavailableError,
  ed25519PublicKeyOfPeerId, peerIdFromSeed, type Envelope
} from '../../src/net/index.js'
import { OversizeFrameError, MalformedFrameError } from '../../src/wire/index.js'
import { identityFromSeed } from '../../src/crypto/identity.js'
import { makeNode, envelope, percentile, type TestNode } from './helpers.js'

let a: TestNode
let b: TestNode
const inboxA: Array<[string, Envelope]> = []
const inboxB: Array<[string, Envelope]> = []

before(async () => {
  a = await makeNode()
  b = await makeNode()
  a.handleEnvelopes(async (from, env) => { inboxA.push([from, env]); return 'OK' })
  b.handleEnvelopes(async (from, env) => {
    inboxB.push([from, env])
    const text = new TextDecoder().decode(env.body)
    if (text === 'dup') return 'DUPLICATE'
    if (text === 'reject') return { status: 'REJECTED', reason: 'no session' }
    if (text === 'throw') throw new Error('secret internal detail')
    return 'OK'
  })
  await a.start()
  await b.start()
})

after(async () => {
  await a?.stop()
  await b?.stop()
})

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

test('peerIdFromSeed / ed25519PublicKeyOfPeerId bind the PeerId to the identity seed', async () => {
  const seed = new Uint8Array(randomBytes(32))
  const pid = await peerIdFromSeed(seed)
  const id = await identityFromSeed(seed)
  assert.deepEqual(ed25519PublicKeyOfPeerId(pid), id.edPublicKey)
  assert.throws(() => ed25519PublicKeyOfPeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'), InvalidPeerIdError) // RSA (sha256) PeerId
  assert.throws(() => ed25519PublicKeyOfPeerId('not-a-peer-id'), InvalidPeerIdError)
})

test('envelopes both ways with acks; the handler status propagates; sender is the authenticated peer', async () => {
  const envs = [envelope({ body: bytes('hello'), sender: a.peerId }), envelope({ body: bytes('dup') }), envelope({ body: bytes('reject'), type: 'PREKEY' }), envelope({ body: bytes('throw') })]
  const acks = await a.sendEnvelopes(b.peerId, envs, { addrs: b.addresses() })
  assert.deepEqual(acks.map(x => x.status), ['OK', 'DUPLICATE', 'REJECTED', 'ERROR'])
  assert.deepEqual(acks.map(x => Buffer.from(x.id).toString('hex')), envs.map(e => Buffer.from(e.id).toString('hex')))
  assert.equal(acks[2]!.reason, 'no session')
  assert.equal(acks[3]!.reason, 'handler failed', 'local error text never reaches the peer')
  assert.equal(inboxB.length, 4)
  assert.ok(inboxB.every(([from]) => from === a.peerId))
  assert.equal(inboxB[2]![1].type, 'PREKEY')
  assert.deepEqual(inboxB[0]![1].body, bytes('hello'))

  // and back, over the same connection
  const back = await b.sendEnvelopes(a.peerId, [envelope({ body: bytes('hi A') })])
  assert.deepEqual(back.map(x => x.status), ['OK'])
  assert.equal(inboxA.at(-1)![0], b.peerId)
  assert.deepEqual(inboxA.at(-1)![1].body, bytes('hi A'))
})

test('a large batch (more than one stream, window-limited) is acked in order', async () => {
  const before = inboxB.length
  const envs = Array.from({ length: 150 }, () => envelope({ body: new Uint8Array(randomBytes(20_000)) }))
  const acks = await a.sendEnvelopes(b.peerId, envs)
  assert.equal(acks.length, 150)
  assert.ok(acks.every(x => x.status === 'OK'))
  assert.equal(inboxB.length - before, 150)
  assert.deepEqual(inboxB.slice(before).map(([, e]) => Buffer.from(e.id).toString('hex')), envs.map(e => Buffer.from(e.id).toString('hex')))
})

test('invalid envelopes are refused before any I/O', async () => {
  await assert.rejects(a.sendEnvelopes(b.peerId, [envelope({ body: new Uint8Array(128 * 1024 + 1) })]), OversizeFrameError)
  await assert.rejects(a.sendEnvelopes(b.peerId, [envelope({ id: new Uint8Array(15) })]), MalformedFrameError)
  await assert.rejects(a.sendEnvelopes('garbage', [envelope()]), InvalidPeerIdError)
})

test('a slow handler gets ERROR after the handler timeout, and the sender sees it', async () => {
  const c = await makeNode({ timeouts: { handlerMs: 300, dialMs: 5000, streamOpenMs: 5000, readMs: 5000, idleMs: 5000, dhtMs: 5000 } })
  c.handleEnvelopes(async () => await new Promise(resolve => setTimeout(() => { resolve('OK') }, 3000)))
  await c.start()
  try {
    const acks = await a.sendEnvelopes(c.peerId, [envelope()], { addrs: c.addresses() })
    assert.equal(acks[0]!.status, 'ERROR')
    assert.equal(acks[0]!.reason, 'timeout')
  } finally {
    await c.stop()
  }
})

test('prekey bundles are fetched over /parley/prekeys/1.0.0; none available is a typed error', async () => {
  const bundle = new Uint8Array(randomBytes(2500))
  let asked = ''
  b.handleBundleRequests(async (from) => { asked = from; return bundle })
  assert.deepEqual(await a.fetchBundle(b.peerId), bundle)
  assert.equal(asked, a.peerId)
  b.handleBundleRequests(async () => null)
  await assert.rejects(a.fetchBundle(b.peerId), BundleUnavailableError)
  b.handleBundleRequests(null)
  await assert.rejects(a.fetchBundle(b.peerId), BundleUnavailableError)
})

test('WebSockets: listen and dial; envelopes and bundles flow over a /ws connection', async () => {
  const w1 = await makeNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const w2 = await makeNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
  const got: string[] = []
  w2.handleEnvelopes(async (from) => { got.push(from); return 'OK' })
  w2.handleBundleRequests(async () => new Uint8Array([7]))
  await w1.start(); await w2.start()
  try {
    assert.ok(w2.addresses().every(x => x.includes('/ws/')))
    const acks = await w1.sendEnvelopes(w2.peerId, [envelope()], { addrs: w2.addresses() })
    assert.equal(acks[0]!.status, 'OK')
    assert.deepEqual(got, [w1.peerId])
    assert.deepEqual(await w1.fetchBundle(w2.peerId), new Uint8Array([7]))
    const conn = w1.connections().find(c => c.peerId === w2.peerId)!
    assert.match(conn.remoteAddr, /\/ws/)
    assert.equal(conn.relayed, false)
  } finally {
    await w1.stop(); await w2.stop()
  }
})

test('connections() reports the peer, direction and a direct (non-relayed) path', async () => {
  const ca = a.connections().find(c => c.peerId === b.peerId)
  const cb = b.connections().find(c => c.peerId === a.peerId)
  assert.ok(ca != null && cb != null)
  assert.equal(ca.relayed, false)
  assert.equal(ca.direction, 'outbound')
  assert.equal(cb.direction, 'inbound')
  assert.match(ca.remoteAddr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
  assert.ok(a.isConnected(b.peerId))
})

test('an impersonator (right PeerId claimed, wrong keys) is refused by the Noise handshake', async () => {
  const impostor = await makeNode()
  let reached = 0
  impostor.handleEnvelopes(async () => { reached++; return 'OK' })
  await impostor.start()
  const victim = await makeNode()
  await victim.start()
  try {
    // victim believes b lives at the impostor's address
    const fake = impostor.addresses().map(x => x.replace(impostor.peerId, b.peerId))
    const c = await makeNode()
    await c.start()
    try {
      await assert.rejects(c.sendEnvelopes(b.peerId, [envelope()], { addrs: fake }), PeerUnreachableError)
      await assert.rejects(c.fetchBundle(b.peerId, { addrs: fake }), PeerUnreachableError)
      assert.equal(reached, 0)
      assert.equal(c.isConnected(b.peerId), false)
    } finally {
      await c.stop()
    }
  } finally {
    await impostor.stop()
    await victim.stop()
  }
})

test('a dead peer yields PeerUnreachableError / DeliveryIncompleteError, never a hang', async () => {
  const gone = await makeNode()
  await gone.start()
  const addrs = gone.addresses()
  const id = gone.peerId
  await gone.stop()
  await assert.rejects(a.sendEnvelopes(id, [envelope()], { addrs }), (err: unknown) => err instanceof PeerUnreachableError || err instanceof DeliveryIncompleteError)
})

test('figures: dial + first stream, envelope RTT on loopback (printed, not asserted)', async () => {
  const x = await makeNode()
  const y = await makeNode()
  y.handleEnvelopes(async () => 'OK')
  await x.start(); await y.start()
  try {
    const t0 = performance.now()
    await x.sendEnvelopes(y.peerId, [envelope()], { addrs: y.addresses() })
    const cold = performance.now() - t0
    const rtts: number[] = []
    for (let i = 0; i < 200; i++) {
      const t = performance.now()
      await x.sendEnvelopes(y.peerId, [envelope()])
      rtts.push(performance.now() - t)
    }
    console.log(`# dial+first envelope (cold) ${cold.toFixed(1)} ms; envelope RTT (one persistent stream) p50 ${percentile(rtts, 0.5).toFixed(2)} ms p99 ${percentile(rtts, 0.99).toFixed(2)} ms`)
    assert.equal(rtts.length, 200)
  } finally {
    await x.stop(); await y.stop()
  }
})

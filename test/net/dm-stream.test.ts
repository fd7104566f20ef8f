// The long-lived per-peer DM stream: reuse across batches, pipelining with concurrent callers,
// idle close, and recovery when the peer restarts (the old stream dies under the sender).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { DeliveryIncompleteError, type Envelope } from '../../src/net/index.js'
import { makeNode, envelope, until, type TestNode } from './helpers.js'

const hexId = (e: { id: Uint8Array }): string => Buffer.from(e.id).toString('hex')
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function portOf (node: TestNode): number {
  const m = /\/tcp\/(\d+)/.exec(node.addresses()[0]!)
  return Number(m![1])
}

test('one stream is reused for many batches and closed when idle; the next batch opens a new one', async () => {
  const a = await makeNode({ timeouts: { dialMs: 5_000, streamOpenMs: 5_000, readMs: 5_000, handlerMs: 5_000, idleMs: 1_000, dhtMs: 5_000 } })
  const b = await makeNode()
  const got: string[] = []
  b.handleEnvelopes(async (_from, env) => { got.push(hexId(env)); return 'OK' })
  let violations = 0
  b.addEventListener('protocol:violation', () => { violations++ })
  await a.start(); await b.start()
  try {
    const sent: string[] = []
    for (let i = 0; i < 40; i++) {
      const envs = Array.from({ length: 1 + (i % 3) }, () => envelope())
      sent.push(...envs.map(hexId))
      const acks = await a.sendEnvelopes(b.peerId, envs, { addrs: b.addresses() })
      assert.deepEqual(acks.map(hexId), envs.map(hexId))
    }
    // more than the old 64-envelopes-per-stream chunk, on the same stream
    const big = Array.from({ length: 150 }, () => envelope({ body: new Uint8Array(randomBytes(10_000)) }))
    sent.push(...big.map(hexId))
    assert.equal((await a.sendEnvelopes(b.peerId, big)).length, 150)
    assert.deepEqual(got, sent)
    assert.equal(a.stats().dmStreamsOpened, 1, 'every batch used the same stream')
    // idle close happens at idleMs/2 on the sender, before the receiver's idle deadline
    await sleep(1_500)
    const acks = await a.sendEnvelopes(b.peerId, [envelope()])
    assert.equal(acks[0]!.status, 'OK')
    assert.equal(a.stats().dmStreamsOpened, 2, 'the idle stream was closed and a new one opened')
    assert.equal(violations, 0, 'the idle close is clean, not a reset the receiver counts as a violation')
    assert.ok(a.isConnected(b.peerId), 'closing the idle stream keeps the connection')
  } finally {
    await a.stop(); await b.stop()
  }
})

test('concurrent callers to one peer: each call keeps its order and its envelopes stay contiguous', async () => {
  const a = await makeNode()
  const b = await makeNode()
  const got: string[] = []
  b.handleEnvelopes(async (_from, env) => {
    got.push(hexId(env))
    if (env.body[0]! % 4 === 0) await sleep(2) // uneven handler latency
    return 'OK'
  })
  await a.start(); await b.start()
  try {
    await a.connect(b.peerId, { addrs: b.addresses() })
    const calls = Array.from({ length: 8 }, (_, k) => Array.from({ length: 5 + 3 * k }, () => envelope()))
    const results = await Promise.all(calls.map(async envs => await a.sendEnvelopes(b.peerId, envs)))
    for (let k = 0; k < calls.length; k++) {
      assert.deepEqual(results[k]!.map(hexId), calls[k]!.map(hexId), `acks of call ${k} match its envelopes in order`)
      assert.ok(results[k]!.every(x => x.status === 'OK'))
      const start = got.indexOf(hexId(calls[k]![0]!))
      assert.deepEqual(got.slice(start, start + calls[k]!.length), calls[k]!.map(hexId), `call ${k} arrived in order, contiguously`)
    }
    assert.equal(got.length, calls.reduce((n, c) => n + c.length, 0))
    assert.equal(a.stats().dmStreamsOpened, 1, 'all callers shared one pipelined stream')
  } finally {
    await a.stop(); await b.stop()
  }
})

test('the peer restarts while the stream is idle: the next send recovers transparently on a new stream', async () => {
  const seedB = new Uint8Array(randomBytes(32))
  const a = await makeNode()
  let b = await makeNode({ seed: seedB })
  const got: string[] = []
  b.handleEnvelopes(async (_from, env) => { got.push(hexId(env)); return 'OK' })
  await a.start(); await b.start()
  const port = portOf(b)
  try {
    const addrs = b.addresses()
    await a.sendEnvelopes(b.peerId, [envelope()], { addrs })
    await b.stop()
    b = await makeNode({ seed: seedB, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    b.handleEnvelopes(async (_from, env) => { got.push(hexId(env)); return 'OK' })
    await b.start()
    const envs = [envelope(), envelope(), envelope()]
    const acks = await a.sendEnvelopes(b.peerId, envs, { addrs })
    assert.deepEqual(acks.map(x => x.status), ['OK', 'OK', 'OK'])
    assert.deepEqual(got.slice(-3), envs.map(hexId))
    assert.equal(a.stats().dmStreamsOpened, 2)
  } finally {
    await a.stop(); await b.stop()
  }
})

test('the peer restarts mid-batch: the sender learns the acked prefix, re-sends the rest, order holds', async () => {
  const seedB = new Uint8Array(randomBytes(32))
  const a = await makeNode()
  const handled: string[] = []
  const slow = async (_from: string, env: Envelope): Promise<'OK' | 'DUPLICATE'> => {
    const id = hexId(env)
    if (handled.includes(id)) return 'DUPLICATE' // receivers de-duplicate by id
    await sleep(20)
    handled.push(id)
    return 'OK'
  }
  let b = await makeNode({ seed: seedB })
  b.handleEnvelopes(slow)
  await a.start(); await b.start()
  const port = portOf(b)
  const addrs = b.addresses()
  try {
    const envs = Array.from({ length: 40 }, () => envelope())
    const outcome = a.sendEnvelopes(b.peerId, envs, { addrs }).then(() => null, (e: unknown) => e)
    await until(() => handled.length >= 5, 20_000, 5)
    await b.stop()
    const err = await outcome
    assert.ok(err instanceof DeliveryIncompleteError, `expected DeliveryIncompleteError, got ${String(err)}`)
    const k = err.acks.length
    assert.ok(k >= 1 && k < envs.length)
    assert.deepEqual(err.acks.map(hexId), envs.slice(0, k).map(hexId), 'the acks are a prefix of the batch')
    b = await makeNode({ seed: seedB, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    b.handleEnvelopes(slow)
    await b.start()
    const rest = await a.sendEnvelopes(b.peerId, envs.slice(k), { addrs })
    assert.equal(rest.length, envs.length - k)
    assert.ok(rest.every(x => x.status === 'OK' || x.status === 'DUPLICATE'))
    assert.deepEqual(handled, envs.map(hexId), 'every envelope handled exactly once, in order')
  } finally {
    await a.stop(); await b.stop()
  }
})

test('a caller abort fails only that call; the shared stream keeps serving the others', async () => {
  const a = await makeNode()
  const b = await makeNode()
  let handled = 0
  b.handleEnvelopes(async () => { handled++; await sleep(5); return 'OK' })
  await a.start(); await b.start()
  try {
    await a.connect(b.peerId, { addrs: b.addresses() })
    const ac = new AbortController()
    const first = a.sendEnvelopes(b.peerId, Array.from({ length: 200 }, () => envelope()), { signal: ac.signal }).then(() => null, (e: unknown) => e)
    const second = a.sendEnvelopes(b.peerId, Array.from({ length: 3 }, () => envelope())).then(acks => acks, (e: unknown) => e)
    await until(() => handled >= 10, 20_000, 5)
    ac.abort()
    const err = await first
    assert.ok(err instanceof DeliveryIncompleteError, `expected DeliveryIncompleteError, got ${String(err)}`)
    assert.ok(err.acks.length >= 1 && err.acks.length < 200)
    const acks = await second
    assert.ok(Array.isArray(acks), `second call failed: ${String(acks)}`)
    assert.deepEqual(acks.map(x => x.status), ['OK', 'OK', 'OK'])
    assert.equal(a.stats().dmStreamsOpened, 1)
  } finally {
    await a.stop(); await b.stop()
  }
})

test('warm-up: an empty send opens the stream before the first envelope, and an arriving stream warms the way back', async () => {
  const a = await makeNode()
  const b = await makeNode()
  a.handleEnvelopes(async () => 'OK')
  b.handleEnvelopes(async () => 'OK')
  await a.start(); await b.start()
  try {
    assert.deepEqual(await a.sendEnvelopes(b.peerId, [], { addrs: b.addresses() }), [], 'an empty send resolves at once with no acks')
    await until(() => a.stats().dmStreamsOpened === 1, 10_000)
    // b saw a's DM stream arrive and opened its own towards a (for the receipts that will follow)
    await until(() => b.stats().dmStreamsOpened === 1, 10_000)
    // a second warm-up while the stream is open changes nothing
    await a.sendEnvelopes(b.peerId, [])
    const acks = await a.sendEnvelopes(b.peerId, [envelope()])
    assert.equal(acks[0]!.status, 'OK')
    assert.equal(a.stats().dmStreamsOpened, 1, 'the first envelope used the warmed stream')
    const back = await b.sendEnvelopes(a.peerId, [envelope()])
    assert.equal(back[0]!.status, 'OK')
    assert.equal(b.stats().dmStreamsOpened, 1, 'the reply used the stream warmed when a\'s stream arrived')
  } finally {
    await a.stop(); await b.stop()
  }
})

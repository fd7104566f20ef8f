// A raw libp2p peer (plain createLibp2p, no Parley code on its side except the generated encoder)
// misbehaves on /parley/dm/1.0.0 and /parley/prekeys/1.0.0: garbage, an oversized length prefix,
// a wrong `sender`. Each time its stream is reset, the node reports a violation and keeps serving.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { DM_PROTOCOL, PREKEYS_PROTOCOL } from '../../src/net/index.js'
import { encodeEnvelope } from '../../src/wire/index.js'
import { encodeLength } from '../../src/net/frames.js'
import { makeNode, envelope, waitForEvent, type TestNode } from './helpers.js'

let node: TestNode
let raw: Libp2p
let good: TestNode
let received = 0

before(async () => {
  node = await makeNode()
  node.handleEnvelopes(async () => { received++; return 'OK' })
  node.handleBundleRequests(async () => new Uint8Array([1, 2, 3]))
  await node.start()
  raw = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  await raw.start()
  good = await makeNode()
  await good.start()
})

after(async () => {
  await raw?.stop()
  await good?.stop()
  await node?.stop()
})

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

/** Opens a raw stream, sends `bytes`, and resolves with how the stream ended: 'reset' or 'clean'. */
async function misbehave (protocol: string, bytes: Uint8Array, closeWrite = false): Promise<{ ended: 'reset' | 'clean', got: number }> {
  const addr = multiaddr(node.addresses()[0]!)
  const stream: Stream = await raw.dialProtocol(addr, protocol, { signal: AbortSignal.timeout(10_000) })
  let got = 0
  const ended = new Promise<'reset' | 'clean'>((resolve) => {
    stream.addEventListener('message', (e) => { got += e.data.byteLength })
    stream.addEventListener('close', (e) => { resolve(e.error != null ? 'reset' : 'clean') }, { once: true })
  })
  stream.send(bytes)
  if (closeWrite) await stream.close().catch(() => {})
  const timeout = new Promise<'timeout'>((resolve) => { setTimeout(() => { resolve('timeout') }, 20_000).unref() })
  const r = await Promise.race([ended, timeout])
  assert.notEqual(r, 'timeout', 'the node never ended the stream')
  return { ended: r as 'reset' | 'clean', got }
}

async function stillServes (): Promise<void> {
  const before = received
  const acks = await good.sendEnvelopes(node.peerId, [envelope()], { addrs: node.addresses() })
  assert.equal(acks[0]!.status, 'OK')
  assert.equal(received, before + 1)
  assert.equal(node.isStarted(), true)
}

test('garbage bytes (not protobuf) on the DM protocol: stream reset, violation reported, node healthy', async () => {
  const violation = waitForEvent(node, 'protocol:violation', e => e.detail.peerId === raw.peerId.toString())
  // a valid length prefix followed by bytes that are not an Envelope (field 7, wire type 7 = invalid)
  const garbage = new Uint8Array(64).fill(0xff)
  const r = await misbehave(DM_PROTOCOL, concat(encodeLength(garbage.byteLength), garbage))
  assert.equal(r.ended, 'reset')
  assert.equal(r.got, 0, 'no ack for garbage')
  const v = await violation
  assert.equal(v.detail.protocol, DM_PROTOCOL)
  await stillServes()
})

test('an oversized length prefix is refused before the body is read', async () => {
  const violation = waitForEvent(node, 'protocol:violation', e => e.detail.peerId === raw.peerId.toString() && /exceeds cap/.test(e.detail.reason))
  // announces 100 MiB, sends only a few bytes: must be reset at once, not buffered
  const r = await misbehave(DM_PROTOCOL, concat(encodeLength(100 * 1024 * 1024), new Uint8Array(10)))
  assert.equal(r.ended, 'reset')
  await violation
  // a varint that never ends
  const r2 = await misbehave(DM_PROTOCOL, new Uint8Array(12).fill(0x80))
  assert.equal(r2.ended, 'reset')
  await stillServes()
})

test('a frame whose `sender` is not the connection peer is refused (no handler call)', async () => {
  const before = received
  const violation = waitForEvent(node, 'protocol:violation', e => /sender/.test(e.detail.reason))
  const forged = encodeEnvelope(envelope({ sender: good.peerId }))
  const r = await misbehave(DM_PROTOCOL, concat(encodeLength(forged.byteLength), forged))
  assert.equal(r.ended, 'reset')
  assert.equal(r.got, 0)
  await violation
  assert.equal(received, before, 'the handler never saw the forged envelope')
  await stillServes()
})

test('a truncated frame (EOF inside the body) is a violation, a valid frame from the raw peer is acked', async () => {
  const ok = encodeEnvelope(envelope({ sender: raw.peerId.toString() }))
  const r = await misbehave(DM_PROTOCOL, concat(encodeLength(ok.byteLength), ok.subarray(0, 10)), true)
  assert.equal(r.ended, 'reset')
  // the same raw peer, behaving: one frame, half-close → exactly one ack back, clean close
  const before = received
  const r2 = await misbehave(DM_PROTOCOL, concat(encodeLength(ok.byteLength), ok), true)
  assert.equal(r2.ended, 'clean')
  assert.ok(r2.got > 16)
  assert.equal(received, before + 1)
})

test('garbage on the prekeys protocol: stream reset, bundles still served', async () => {
  const r = await misbehave(PREKEYS_PROTOCOL, concat(encodeLength(5000), new Uint8Array(100)))
  assert.equal(r.ended, 'reset')
  assert.deepEqual(await good.fetchBundle(node.peerId, { addrs: node.addresses() }), new Uint8Array([1, 2, 3]))
})

test('every wait is bounded: a silent TCP listener times the dial out; a peer that never acks times the send out', async () => {
  const { createServer } = await import('node:net')
  const sockets: Array<import('node:net').Socket> = []
  const silent = createServer((s) => { sockets.push(s) }) // accepts, never speaks
  await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve) })
  const port = (silent.address() as import('node:net').AddressInfo).port
  const impatient = await makeNode({ timeouts: { dialMs: 800, streamOpenMs: 800, readMs: 800, handlerMs: 800, idleMs: 800, dhtMs: 800 } })
  await impatient.start()
  try {
    const { NetTimeoutError, DeliveryIncompleteError, PeerUnreachableError } = await import('../../src/net/index.js')
    const t0 = Date.now()
    await assert.rejects(impatient.sendEnvelopes(node.peerId, [envelope()], { addrs: [`/ip4/127.0.0.1/tcp/${port}`] }),
      (err: unknown) => err instanceof NetTimeoutError || err instanceof PeerUnreachableError)
    assert.ok(Date.now() - t0 < 15_000, 'the dial gave up on its own')
    // caller abort is honoured too
    await assert.rejects(impatient.sendEnvelopes(node.peerId, [envelope()], { addrs: [`/ip4/127.0.0.1/tcp/${port}`], signal: AbortSignal.abort() }), NetTimeoutError)

    // the raw peer accepts DM streams but never answers
    raw.handle(DM_PROTOCOL, () => { /* read nothing, ack nothing */ })
    const rawAddr = raw.getMultiaddrs()[0]!.toString()
    await assert.rejects(impatient.sendEnvelopes(raw.peerId.toString(), [envelope()], { addrs: [rawAddr] }), DeliveryIncompleteError)
  } finally {
    for (const s of sockets) s.destroy()
    silent.close()
    await impatient.stop()
  }
})

test('inbound DM streams per connection are capped (8): the 9th is refused, the node keeps serving', async () => {
  const addr = multiaddr(node.addresses()[0]!)
  const conn = await raw.dial(addr, { signal: AbortSignal.timeout(10_000) })
  const open: Stream[] = []
  try {
    for (let i = 0; i < 8; i++) open.push(await conn.newStream(DM_PROTOCOL, { signal: AbortSignal.timeout(10_000) }))
    // the 9th is reset by the listener (possibly only after negotiation completes)
    const ninth = await conn.newStream(DM_PROTOCOL, { signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => err)
    if (!(ninth instanceof Error)) {
      const s = ninth as Stream
      const ended = await new Promise<string>((resolve) => {
        if (s.status !== 'open') { resolve(s.status); return }
        s.addEventListener('close', (e) => { resolve(e.error != null ? 'reset' : 'clean') }, { once: true })
        setTimeout(() => { resolve('timeout') }, 15_000).unref()
      })
      assert.notEqual(ended, 'timeout', 'the over-limit stream was not refused')
      assert.notEqual(ended, 'clean')
    }
    // refused for the cap, not by the idle timeout: the 8 older streams are all still open
    assert.ok(open.every(s => s.status === 'open'), 'the first 8 streams are untouched')
    await stillServes()
  } finally {
    for (const s of open) s.abort(new Error('done'))
  }
})

// The network layer's fast paths (issue 3 latency work), against a real node on 127.0.0.1:
// frames that arrive together are taken from the buffer without waiting (and still checked: caps,
// over-long lengths, order, one ack each); frames that arrive a byte at a time take the waiting path;
// parsed PeerIds are cached without changing what is accepted or refused.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { DM_PROTOCOL } from '../../src/net/index.js'
import { decodeAck, encodeEnvelope } from '../../src/wire/index.js'
import { encodeLength } from '../../src/net/frames.js'
import { ed25519PublicKeyOfPeerId, parseEd25519PeerId } from '../../src/net/identity.js'
import { InvalidPeerIdError } from '../../src/net/errors.js'
import { makeNode, envelope, waitForEvent, type TestNode } from './helpers.js'

let node: TestNode
let raw: Libp2p
const seen: string[] = []

before(async () => {
  node = await makeNode()
  node.handleEnvelopes(async (_from, env) => { seen.push(Buffer.from(env.id).toString('hex')); return 'OK' })
  await node.start()
  raw = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  await raw.start()
})

after(async () => {
  await raw?.stop()
  await node?.stop()
})

function frame (body: Uint8Array): Uint8Array {
  const p = encodeLength(body.byteLength)
  const out = new Uint8Array(p.byteLength + body.byteLength)
  out.set(p, 0)
  out.set(body, p.byteLength)
  return out
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

/** Collects the raw peer's view of one stream: the bytes it got back and how the stream ended. */
async function exchange (chunks: Uint8Array[], opts: { pauseMs?: number } = {}): Promise<{ ended: 'reset' | 'clean', back: Uint8Array }> {
  const stream: Stream = await raw.dialProtocol(multiaddr(node.addresses()[0]!), DM_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const got: Uint8Array[] = []
  const ended = new Promise<'reset' | 'clean'>((resolve) => {
    stream.addEventListener('message', (e) => { got.push(e.data.subarray()) })
    stream.addEventListener('close', (e) => { resolve(e.error != null ? 'reset' : 'clean') }, { once: true })
  })
  for (const c of chunks) {
    if (stream.status !== 'open') break
    stream.send(c)
    if (opts.pauseMs != null) await new Promise(resolve => setTimeout(resolve, opts.pauseMs))
  }
  if (stream.status === 'open') await stream.close().catch(() => {})
  const timeout = new Promise<'timeout'>((resolve) => { setTimeout(() => { resolve('timeout') }, 20_000).unref() })
  const r = await Promise.race([ended, timeout])
  assert.notEqual(r, 'timeout', 'the node never ended the stream')
  return { ended: r as 'reset' | 'clean', back: concat(got) }
}

/** Splits length-prefixed acks. */
function acksOf (bytes: Uint8Array): Array<{ id: string, status: string }> {
  const out: Array<{ id: string, status: string }> = []
  let o = 0
  while (o < bytes.byteLength) {
    let len = 0
    let shift = 1
    for (;;) {
      const b = bytes[o++]!
      len += (b & 0x7f) * shift
      shift *= 128
      if ((b & 0x80) === 0) break
    }
    const a = decodeAck(bytes.subarray(o, o + len))
    out.push({ id: Buffer.from(a.id).toString('hex'), status: a.status })
    o += len
  }
  return out
}

test('many envelopes in one chunk: each handled once, in order, one ack each', async () => {
  const envs = Array.from({ length: 20 }, () => envelope({ sender: raw.peerId.toString() }))
  const ids = envs.map(e => Buffer.from(e.id).toString('hex'))
  const before = seen.length
  const r = await exchange([concat(envs.map(e => frame(encodeEnvelope(e))))])
  assert.equal(r.ended, 'clean')
  assert.deepEqual(seen.slice(before), ids)
  assert.deepEqual(acksOf(r.back), ids.map(id => ({ id, status: 'OK' })))
})

test('the same envelopes a byte at a time (the waiting path): same result', async () => {
  const envs = Array.from({ length: 3 }, () => envelope({ sender: raw.peerId.toString() }))
  const ids = envs.map(e => Buffer.from(e.id).toString('hex'))
  const bytes = concat(envs.map(e => frame(encodeEnvelope(e))))
  const chunks: Uint8Array[] = []
  // a byte at a time for the first frame's length and a little body, then bigger pieces
  for (let i = 0; i < 6; i++) chunks.push(bytes.subarray(i, i + 1))
  for (let i = 6; i < bytes.byteLength; i += 37) chunks.push(bytes.subarray(i, Math.min(bytes.byteLength, i + 37)))
  const before = seen.length
  const r = await exchange(chunks, { pauseMs: 2 })
  assert.equal(r.ended, 'clean')
  assert.deepEqual(seen.slice(before), ids)
  assert.deepEqual(acksOf(r.back).map(a => a.id), ids)
})

test('a valid frame followed in the same chunk by an oversize length: the first is acked, then a reset for the cap', async () => {
  const ok = envelope({ sender: raw.peerId.toString() })
  const violation = waitForEvent(node, 'protocol:violation', e => e.detail.peerId === raw.peerId.toString() && /exceeds cap/.test(e.detail.reason))
  const before = seen.length
  const r = await exchange([concat([frame(encodeEnvelope(ok)), encodeLength(64 * 1024 * 1024), new Uint8Array(16)])])
  assert.equal(r.ended, 'reset')
  await violation
  assert.deepEqual(seen.slice(before), [Buffer.from(ok.id).toString('hex')])
  assert.deepEqual(acksOf(r.back).map(a => a.status), ['OK'])
})

test('a buffered length varint that never ends is refused at once', async () => {
  const violation = waitForEvent(node, 'protocol:violation', e => e.detail.peerId === raw.peerId.toString() && /varint too long/.test(e.detail.reason))
  const ok = envelope({ sender: raw.peerId.toString() })
  const r = await exchange([concat([frame(encodeEnvelope(ok)), new Uint8Array(9).fill(0x80)])])
  assert.equal(r.ended, 'reset')
  await violation
})

test('parsed PeerIds are cached: repeated and interleaved look-ups agree; invalid ids are refused every time', () => {
  const id = node.peerId
  const a = parseEd25519PeerId(id)
  const b = parseEd25519PeerId(id)
  assert.equal(a.toString(), id)
  assert.ok(a.equals(b))
  const k1 = ed25519PublicKeyOfPeerId(id)
  const k2 = ed25519PublicKeyOfPeerId(id)
  assert.deepEqual(k1, k2)
  k1.fill(0) // the caller's copy: the cached key is not affected
  assert.notDeepEqual(ed25519PublicKeyOfPeerId(id), k1)
  for (let i = 0; i < 3; i++) {
    assert.throws(() => parseEd25519PeerId('not-a-peer-id'), InvalidPeerIdError)
    assert.throws(() => parseEd25519PeerId(''), InvalidPeerIdError)
    // an RSA/secp256k1-style or CID string is not an Ed25519 Parley identity
    assert.throws(() => parseEd25519PeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'), InvalidPeerIdError)
  }
  assert.ok(parseEd25519PeerId(raw.peerId.toString()).equals(raw.peerId))
})

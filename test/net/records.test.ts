// DHT peer records: the validator and selector on their own (forged, mismatched, oversize, old),
// then over a real 3-node DHT on loopback (A publishes, C finds it via B), with a raw kad-dht peer
// (no Parley validator) trying to plant a forged and a stale record.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, MessageType, type KadDHT } from '@libp2p/kad-dht'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidRecordError, peerIdFromSeed } from '../../src/net/index.js'
import { createRecordSelector, createRecordValidator, recordKey, signPeerRecord, verifyPeerRecord, recordSigningBytes, RecordSeqMemory } from '../../src/net/record.js'
import { decodePeerRecord, encodePeerRecord, LIMITS } from '../../src/wire/index.js'
import { makeNode, until, type TestNode } from './helpers.js'

const PREFIX = '/parley'

async function keyAndId (): Promise<{ seed: Uint8Array, key: PrivateKey, peerId: string }> {
  const seed = new Uint8Array(randomBytes(32))
  return { seed, key: await generateKeyPairFromSeed('Ed25519', seed), peerId: await peerIdFromSeed(seed) }
}

test('validator: accepts a genuine record, refuses forged / mismatched / tampered / oversize / future ones', async () => {
  const alice = await keyAndId()
  const mallory = await keyAndId()
  const validate = createRecordValidator(PREFIX)
  const key = recordKey(PREFIX, alice.peerId)
  const good = await signPeerRecord(alice.key, alice.peerId, { seq: Date.now(), payload: new Uint8Array([1, 2]), addresses: ['/ip4/127.0.0.1/tcp/1'] })
  await validate(key, good)
  const rec = await verifyPeerRecord(PREFIX, key, good)
  assert.deepEqual(rec.payload, new Uint8Array([1, 2]))

  // Mallory signs a record claiming to be Alice
  const forged = await signPeerRecord(mallory.key, alice.peerId, { seq: Date.now() + 1, payload: new Uint8Array([6, 6]), addresses: [] })
  await assert.rejects(validate(key, forged), InvalidRecordError)
  // Mallory's own genuine record stored under Alice's key
  const own = await signPeerRecord(mallory.key, mallory.peerId, { seq: Date.now(), payload: new Uint8Array([6]), addresses: [] })
  await assert.rejects(validate(key, own), InvalidRecordError)
  // tampered field (addresses changed after signing)
  const t = decodePeerRecord(good)
  await assert.rejects(validate(key, encodePeerRecord({ ...t, addresses: ['/ip4/6.6.6.6/tcp/1'] })), InvalidRecordError)
  // tampered signature
  const sig = t.signature.slice(); sig[0]! ^= 1
  await assert.rejects(validate(key, encodePeerRecord({ ...t, signature: sig })), InvalidRecordError)
  // oversize value / garbage
  await assert.rejects(validate(key, new Uint8Array(LIMITS.maxRecordBytes + 1)), InvalidRecordError)
  await assert.rejects(validate(key, new Uint8Array(randomBytes(200))), InvalidRecordError)
  // seq too far in the future
  const future = await signPeerRecord(alice.key, alice.peerId, { seq: Date.now() + 48 * 3600_000, payload: new Uint8Array([1]), addresses: [] })
  await assert.rejects(validate(key, future), InvalidRecordError)
  // wrong key prefix
  await assert.rejects(validate(recordKey('/other', alice.peerId), good), InvalidRecordError)
  // the signed bytes are domain-separated (format 2 records since issue 4; format 1 keeps its own tag)
  assert.equal(new TextDecoder().decode(recordSigningBytes(t).subarray(0, 21)), 'parley/peer-record/v2')
  assert.equal(new TextDecoder().decode(recordSigningBytes({ ...t, format: 1 }).subarray(0, 21)), 'parley/peer-record/v1')
})

test('an isolated node fails fast: publish has no DHT peers, lookups find nothing', async () => {
  const lone = await makeNode()
  await lone.start()
  try {
    const { PeerUnreachableError } = await import('../../src/net/index.js')
    await assert.rejects(lone.publishRecord(new Uint8Array([1])), PeerUnreachableError)
    assert.equal(await lone.findRecord(lone.peerId), null)
    assert.deepEqual(await lone.findPeer((await keyAndId()).peerId), [])
  } finally {
    await lone.stop()
  }
})

test('validator with memory: a replayed older record is refused once a newer one was seen', async () => {
  const alice = await keyAndId()
  const validate = createRecordValidator(PREFIX, new RecordSeqMemory())
  const key = recordKey(PREFIX, alice.peerId)
  const now = Date.now()
  const older = await signPeerRecord(alice.key, alice.peerId, { seq: now - 1000, payload: new Uint8Array([1]), addresses: [] })
  const newer = await signPeerRecord(alice.key, alice.peerId, { seq: now, payload: new Uint8Array([2]), addresses: [] })
  await validate(key, older)
  await validate(key, newer)
  await validate(key, newer) // the same record again is fine
  await assert.rejects(validate(key, older), InvalidRecordError)
})

test('selector: newest valid wins; invalid records never win', async () => {
  const alice = await keyAndId()
  const mallory = await keyAndId()
  const select = createRecordSelector(PREFIX)
  const key = recordKey(PREFIX, alice.peerId)
  const now = Date.now()
  const old = await signPeerRecord(alice.key, alice.peerId, { seq: now - 10_000, payload: new Uint8Array([1]), addresses: [] })
  const mid = await signPeerRecord(alice.key, alice.peerId, { seq: now - 5_000, payload: new Uint8Array([2]), addresses: [] })
  const neu = await signPeerRecord(alice.key, alice.peerId, { seq: now, payload: new Uint8Array([3]), addresses: [] })
  const forgedNewer = await signPeerRecord(mallory.key, alice.peerId, { seq: now + 1000, payload: new Uint8Array([6]), addresses: [] })
  assert.equal(await select(key, [old, neu, mid]), 1)
  assert.equal(await select(key, [neu, old]), 0)
  assert.equal(await select(key, [forgedNewer, old, mid]), 2)
  assert.equal(await select(key, [new Uint8Array(5), forgedNewer, neu]), 2)
})

let a: TestNode, b: TestNode, c: TestNode
let raw: Libp2p<{ dht: KadDHT }>
const seedA = new Uint8Array(randomBytes(32))

before(async () => {
  b = await makeNode()
  await b.start()
  a = await makeNode({ seed: seedA, bootstrap: [b.addresses()[0]!] })
  c = await makeNode({ bootstrap: [b.addresses()[0]!] })
  await a.start()
  await c.start()
  raw = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      // a DHT peer that accepts anything in our namespace: it will happily forward forgeries
      dht: kadDHT({ protocol: '/parley/kad/1.0.0', clientMode: false, validators: { parley: () => {} }, selectors: { parley: () => 0 }, peerInfoMapper: passthroughMapper })
    }
  }) as unknown as Libp2p<{ dht: KadDHT }>
  await raw.start()
  await raw.services.dht.setMode('server')
  await raw.dial(multiaddr(b.addresses()[0]!))
  await until(() => a.isConnected(b.peerId) && c.isConnected(b.peerId))
})

after(async () => {
  await raw?.stop()
  for (const n of [a, b, c]) await n?.stop()
})

test('3 nodes: a record published on A is found from C via B; findPeer finds A', async () => {
  assert.equal(c.isConnected(a.peerId), false)
  const payload = new Uint8Array(randomBytes(2000))
  const { seq } = await a.publishRecord(payload)
  const found = await c.findRecord(a.peerId)
  assert.ok(found != null)
  assert.deepEqual(found.payload, payload)
  assert.equal(found.seq, seq)
  assert.deepEqual(found.addresses, a.addresses())
  const addrs = await c.findPeer(a.peerId)
  assert.ok(addrs.some(x => a.addresses()[0]!.startsWith(x)), 'findPeer returns A\'s listen address')
  // unknown peer: null, not an error
  assert.equal(await c.findRecord(await peerIdFromSeed(new Uint8Array(randomBytes(32))), { signal: AbortSignal.timeout(8000) }), null)
})

test('a forged record put by a raw DHT peer is refused by B; a replayed old record loses to the newest', async () => {
  const keyA = await generateKeyPairFromSeed('Ed25519', seedA)
  const mallory = await keyAndId()
  const dhtKey = recordKey(PREFIX, a.peerId)
  const old = await signPeerRecord(keyA, a.peerId, { seq: Date.now() - 60_000, payload: new Uint8Array([0xde, 0xad]), addresses: [] })
  const { seq } = await a.publishRecord(new Uint8Array([0x0e, 0x11]))
  const forged = await signPeerRecord(mallory.key, a.peerId, { seq: Date.now() + 60_000, payload: new Uint8Array([6, 6, 6]), addresses: ['/ip4/127.0.0.1/tcp/9'] })

  // Which peers accepted a PUT_VALUE (answered with PEER_RESPONSE) from the raw peer?
  const acceptedBy = async (value: Uint8Array): Promise<string[]> => {
    const ok: string[] = []
    try {
      for await (const e of raw.services.dht.put(dhtKey, value, { signal: AbortSignal.timeout(8000) })) {
        if (e.name === 'PEER_RESPONSE' && e.messageType === MessageType.PUT_VALUE) ok.push(e.from.toString())
      }
    } catch {
      // a put that no peer accepted may end in an error; what matters is who accepted
    }
    return ok
  }
  // B (and A) refuse to store the forgery: their validator runs on PUT_VALUE
  const forgedOk = await acceptedBy(forged)
  assert.ok(!forgedOk.includes(b.peerId), 'B refused the forged record')
  assert.ok(!forgedOk.includes(a.peerId), 'A refused the forged record')
  // a genuine but older record (a replay) is refused too: B and A have already seen a newer seq
  const oldOk = await acceptedBy(old)
  assert.ok(!oldOk.includes(b.peerId), 'B refused the replayed older record')
  // control: the raw peer's PUT of the newest genuine record IS accepted by B (so the checks above can fail)
  const newest = await signPeerRecord(keyA, a.peerId, { seq: seq + 1, payload: new Uint8Array([0x0e, 0x11]), addresses: [] })
  assert.ok((await acceptedBy(newest)).includes(b.peerId), 'B accepted a valid newer record')

  const found = await c.findRecord(a.peerId)
  assert.ok(found != null)
  assert.equal(found.seq, seq + 1, 'newest valid record wins')
  assert.deepEqual(found.payload, new Uint8Array([0x0e, 0x11]))
})

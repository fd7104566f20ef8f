/**
 * Interoperability with libsignal-node (npm `libsignal` 6.0.0, Signal's v3 protocol in pure JS):
 * our classic mode must speak the real Signal protocol in both directions — sessions initiated from
 * either side, >= 1,000 messages each with seeded random interleaving, out-of-order delivery,
 * dropped messages and DH ratchet steps. libsignal-node uses its own random Curve25519 identity keys;
 * ours come from generateIdentity().
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { decryptMessage, deserializeSessionRecord, encryptMessage, initiateSession, serializeSessionRecord, type CiphertextMessage, type SessionRecord } from '../../src/crypto/session.js'
import { encodePublicKey } from '../../src/crypto/keys.js'
import { DuplicateMessageError } from '../../src/crypto/errors.js'
import { parsePreKeySignalMessage, parseSignalMessage } from '../../src/crypto/message.js'
import type { PreKeyBundle } from '../../src/crypto/prekeys.js'
import { makePeer, seededRandom, type TestPeer } from './session-fixtures.js'

interface NodeKeyPair { pubKey: Buffer, privKey: Buffer }
interface LibsignalNode {
  keyhelper: {
    generateIdentityKeyPair: () => NodeKeyPair
    generateRegistrationId: () => number
    generateSignedPreKey: (identity: NodeKeyPair, id: number) => { keyId: number, keyPair: NodeKeyPair, signature: Buffer }
    generatePreKey: (id: number) => { keyId: number, keyPair: NodeKeyPair }
  }
  ProtocolAddress: new (name: string, deviceId: number) => object
  SessionBuilder: new (store: NodeStore, addr: object) => { initOutgoing: (device: unknown) => Promise<void> }
  SessionCipher: new (store: NodeStore, addr: object) => {
    encrypt: (data: Buffer) => Promise<{ type: number, body: Buffer }>
    decryptPreKeyWhisperMessage: (data: Buffer) => Promise<Buffer>
    decryptWhisperMessage: (data: Buffer) => Promise<Buffer>
  }
}
const libsignal = createRequire(import.meta.url)('libsignal') as LibsignalNode

/** In-memory libsignal-node storage (the interface its SessionBuilder/SessionCipher call). */
class NodeStore {
  readonly sessions = new Map<string, unknown>()
  readonly preKeys = new Map<number, NodeKeyPair>()
  readonly signedPreKeys = new Map<number, NodeKeyPair>()
  constructor (readonly identity: NodeKeyPair, readonly registrationId: number) {}
  getOurIdentity (): NodeKeyPair { return this.identity }
  getOurRegistrationId (): number { return this.registrationId }
  isTrustedIdentity (): boolean { return true }
  async loadPreKey (id: number): Promise<NodeKeyPair | undefined> { return this.preKeys.get(id) }
  removePreKey (id: number): void { this.preKeys.delete(id) }
  async loadSignedPreKey (id: number): Promise<NodeKeyPair | undefined> { return this.signedPreKeys.get(id) }
  async loadSession (id: string): Promise<unknown> { return this.sessions.get(id) }
  async storeSession (id: string, record: unknown): Promise<void> { this.sessions.set(id, record) }
}

interface NodePeer {
  store: NodeStore
  bundle: PreKeyBundle
}

function makeNodePeer (): NodePeer {
  const identity = libsignal.keyhelper.generateIdentityKeyPair()
  const registrationId = libsignal.keyhelper.generateRegistrationId()
  const store = new NodeStore(identity, registrationId)
  const spk = libsignal.keyhelper.generateSignedPreKey(identity, 5)
  const opk = libsignal.keyhelper.generatePreKey(31)
  store.signedPreKeys.set(5, spk.keyPair)
  store.preKeys.set(31, opk.keyPair)
  return {
    store,
    bundle: {
      registrationId,
      deviceId: 1,
      identityKey: new Uint8Array(identity.pubKey),
      signedPreKeyId: 5,
      signedPreKey: new Uint8Array(spk.keyPair.pubKey),
      signedPreKeySignature: new Uint8Array(spk.signature),
      oneTimePreKeyId: 31,
      oneTimePreKey: new Uint8Array(opk.keyPair.pubKey)
    }
  }
}

/** Our side of the conversation, persisting the record through serialisation after every message. */
class OurSide {
  stored: Uint8Array | undefined
  constructor (readonly peer: TestPeer) {}
  get record (): SessionRecord | undefined { return this.stored === undefined ? undefined : deserializeSessionRecord(this.stored) }
  save (r: SessionRecord): void { this.stored = serializeSessionRecord(r) }
  async encrypt (text: string): Promise<CiphertextMessage> {
    const r = await encryptMessage(this.record!, Buffer.from(text))
    this.save(r.record)
    return r.message
  }
  async decrypt (m: CiphertextMessage): Promise<string> {
    const r = await decryptMessage({ identity: this.peer.identity, registrationId: this.peer.registrationId, record: this.record, message: m, preKeys: this.peer.lookup })
    if (r.consumedOneTimePreKeyId !== undefined) this.peer.oneTime.delete(r.consumedOneTimePreKeyId)
    this.save(r.record)
    return Buffer.from(r.plaintext).toString()
  }
}

interface Wire { from: 'ours' | 'node', seq: number, text: string, msg: CiphertextMessage }

/**
 * Runs `total` messages between the two sides: at each step a random side sends, or a random
 * in-flight message (not necessarily the oldest) is delivered, or (rarely) dropped.
 */
async function converse (ours: OurSide, node: { cipher: InstanceType<LibsignalNode['SessionCipher']> }, total: number, seed: number, firstFrom: 'ours' | 'node'): Promise<{ delivered: number, dropped: number, ratchetSteps: number, ratchetKeys: number }> {
  const rand = seededRandom(seed)
  const inFlight: Wire[] = []
  let sent = 0
  let delivered = 0
  let dropped = 0
  let ratchetSteps = 0
  let lastDirection: 'ours' | 'node' | undefined
  // distinct ratchet public keys on the wire = DH ratchet steps actually taken by both sides
  const ratchetKeys = new Set<string>()
  // the responder cannot send before it has received the first message
  let responderReady = false
  const send = async (from: 'ours' | 'node'): Promise<void> => {
    const text = `${from} #${sent} ${'x'.repeat(Math.floor(rand() * 40))}`
    let msg: CiphertextMessage
    if (from === 'ours') {
      msg = await ours.encrypt(text)
    } else {
      const out = await node.cipher.encrypt(Buffer.from(text))
      msg = { type: out.type === 3 ? 'prekey' : 'whisper', body: new Uint8Array(out.body) }
    }
    const inner = msg.type === 'prekey' ? parsePreKeySignalMessage(msg.body).message : msg.body
    ratchetKeys.add(Buffer.from(parseSignalMessage(inner).ratchetKey).toString('hex'))
    inFlight.push({ from, seq: sent++, text, msg })
  }
  const deliver = async (w: Wire): Promise<void> => {
    let got: string
    if (w.from === 'node') {
      got = await ours.decrypt(w.msg)
    } else {
      const body = Buffer.from(w.msg.body)
      got = (w.msg.type === 'prekey' ? await node.cipher.decryptPreKeyWhisperMessage(body) : await node.cipher.decryptWhisperMessage(body)).toString()
    }
    assert.equal(got, w.text)
    if (w.from === firstFrom) responderReady = true
    if (lastDirection !== undefined && lastDirection !== w.from) ratchetSteps++
    lastDirection = w.from
    delivered++
  }
  await send(firstFrom)
  const responder = firstFrom === 'ours' ? 'node' : 'ours'
  while (sent < total || inFlight.length > 0) {
    const x = rand()
    if (sent < total && x < 0.45) {
      const from = rand() < 0.5 ? firstFrom : responder
      if (from === responder && !responderReady) {
        // deliver something to the responder first
        const i = inFlight.findIndex(w => w.from === firstFrom)
        if (i >= 0) await deliver(inFlight.splice(i, 1)[0]!)
        else await send(firstFrom)
        continue
      }
      await send(from)
    } else if (inFlight.length > 0) {
      // out of order: pick among the oldest few in flight
      const i = Math.floor(rand() * Math.min(inFlight.length, 6))
      const w = inFlight.splice(i, 1)[0]!
      // drop ~4% of messages, but never the first (it sets up the session)
      if (w.seq !== 0 && rand() < 0.04) { dropped++; continue }
      await deliver(w)
    }
  }
  return { delivered, dropped, ratchetSteps, ratchetKeys: ratchetKeys.size }
}

describe('interop with libsignal-node (classic mode)', () => {
  let info: typeof console.info
  let warn: typeof console.warn
  before(() => {
    // libsignal-node logs every session open/close; keep the test output readable
    info = console.info; warn = console.warn
    console.info = () => {}; console.warn = () => {}
  })
  after(() => { console.info = info; console.warn = warn })

  it('libsignal-node initiates; 1,000+ messages both ways, reordered and with drops', async () => {
    const peer = await makePeer(4242)
    const ours = new OurSide(peer)
    const theirs = makeNodePeer()
    const addr = new libsignal.ProtocolAddress('parley', 1)
    const bundle = peer.bundle({ kyber: false })
    await new libsignal.SessionBuilder(theirs.store, addr).initOutgoing({
      registrationId: peer.registrationId,
      identityKey: Buffer.from(bundle.identityKey),
      signedPreKey: { keyId: bundle.signedPreKeyId, publicKey: Buffer.from(bundle.signedPreKey), signature: Buffer.from(bundle.signedPreKeySignature) },
      preKey: { keyId: bundle.oneTimePreKeyId!, publicKey: Buffer.from(bundle.oneTimePreKey!) }
    })
    const cipher = new libsignal.SessionCipher(theirs.store, addr)
    const stats = await converse(ours, { cipher }, 1100, 0xC0FFEE, 'node')
    assert.ok(stats.delivered >= 1000, `delivered ${stats.delivered}`)
    assert.ok(stats.dropped > 0 && stats.ratchetSteps > 100 && stats.ratchetKeys > 100, JSON.stringify(stats))
    console.log('# interop stats', JSON.stringify(stats))
    assert.equal(peer.oneTime.has(bundle.oneTimePreKeyId!), false, 'our one-time prekey was consumed')
    assert.deepEqual(ours.record!.current!.remoteIdentityKey, new Uint8Array(theirs.store.identity.pubKey))
  })

  it('Parley initiates; 1,000+ messages both ways, reordered and with drops', async () => {
    const peer = await makePeer(77)
    const ours = new OurSide(peer)
    const theirs = makeNodePeer()
    // verifies libsignal-node's XEdDSA signed-prekey signature (curve25519-js) on the way
    ours.save(await initiateSession({ identity: peer.identity, registrationId: peer.registrationId, bundle: theirs.bundle, mode: 'classic' }))
    const addr = new libsignal.ProtocolAddress('parley', 1)
    const cipher = new libsignal.SessionCipher(theirs.store, addr)
    const stats = await converse(ours, { cipher }, 1100, 0xBEEF, 'ours')
    assert.ok(stats.delivered >= 1000, `delivered ${stats.delivered}`)
    assert.ok(stats.dropped > 0 && stats.ratchetSteps > 100 && stats.ratchetKeys > 100, JSON.stringify(stats))
    console.log('# interop stats', JSON.stringify(stats))
    assert.equal(theirs.store.preKeys.has(31), false, 'libsignal-node consumed its one-time prekey')
    assert.deepEqual(ours.record!.current!.localIdentityKey, encodePublicKey(peer.identity.dhPublicKey))
  })

  it('both sides refuse a replay as a duplicate', async () => {
    const peer = await makePeer(5)
    const ours = new OurSide(peer)
    const theirs = makeNodePeer()
    ours.save(await initiateSession({ identity: peer.identity, registrationId: 5, bundle: theirs.bundle, mode: 'classic' }))
    const cipher = new libsignal.SessionCipher(theirs.store, new libsignal.ProtocolAddress('parley', 1))
    const first = await ours.encrypt('hi')
    assert.equal((await cipher.decryptPreKeyWhisperMessage(Buffer.from(first.body))).toString(), 'hi')
    const reply = await cipher.encrypt(Buffer.from('hello'))
    const m = { type: 'whisper' as const, body: new Uint8Array(reply.body) }
    assert.equal(await ours.decrypt(m), 'hello')
    await assert.rejects(ours.decrypt(m), DuplicateMessageError)
    const again = await ours.encrypt('again')
    assert.equal(again.type, 'whisper')
    assert.equal((await cipher.decryptWhisperMessage(Buffer.from(again.body))).toString(), 'again')
    const error = console.error
    console.error = () => {}
    try {
      await assert.rejects(cipher.decryptWhisperMessage(Buffer.from(again.body)))
    } finally { console.error = error }
  })
})

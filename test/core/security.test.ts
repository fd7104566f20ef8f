// Hostile and unusual peers: impersonation, garbage, identity-key changes, passphrase-protected homes.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createParleyNode, initIdentity, identityKeyOfPeer } from '../../src/core/node.js'
import { encodePlaintext } from '../../src/core/plaintext.js'
import { createParleyNetwork, type ParleyNetwork } from '../../src/net/index.js'
import { generateIdentity, identityFromSeed } from '../../src/crypto/identity.js'
import { decodePreKeyBundle } from '../../src/crypto/prekeys.js'
import { encryptMessage, initiateSession } from '../../src/crypto/session.js'
import { encodePreKeySignalMessage, parsePreKeySignalMessage } from '../../src/crypto/message.js'
import type { NodeEvent } from '../../src/core/api.js'
import { cleanup, connectPair, nextEvent, startNode, tempHome, testOptions, until } from './helpers.js'

after(cleanup)

const nets: ParleyNetwork[] = []
after(async () => { await Promise.allSettled(nets.map(async n => await n.stop())) })

async function rawPeer (seed: Uint8Array = new Uint8Array(randomBytes(32))): Promise<ParleyNetwork> {
  const n = await createParleyNetwork({ seed, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, allowLoopbackFlood: true, timeouts: { dialMs: 5_000, readMs: 8_000, handlerMs: 8_000 } })
  await n.start()
  nets.push(n)
  return n
}

/** A PreKey envelope to `target` made with `identity`'s keys, sent over `via` (whatever PeerId that is). */
async function craftPreKeyEnvelope (via: ParleyNetwork, target: { peerId: string, addrs: string[] }, identitySeed: Uint8Array, text: string, patchIdentityKey?: Uint8Array): Promise<{ id: Uint8Array, timestamp: number, type: 'PREKEY', body: Uint8Array }> {
  const identity = await identityFromSeed(identitySeed)
  const bundle = decodePreKeyBundle(await via.fetchBundle(target.peerId, { addrs: target.addrs }))
  const record = await initiateSession({ identity, registrationId: 7, bundle })
  const id = new Uint8Array(randomBytes(16))
  const timestamp = Date.now()
  const { message } = await encryptMessage(record, encodePlaintext({ id, timestamp, content: { text } }))
  let body = message.body
  if (patchIdentityKey != null) body = encodePreKeySignalMessage({ ...parsePreKeySignalMessage(body), identityKey: patchIdentityKey })
  return { id, timestamp, type: 'PREKEY', body }
}

describe('impersonation and garbage', () => {
  it('refuses a PreKey message whose identity key is not bound to the sender PeerId, and stays healthy', async () => {
    const a = await startNode('alice')
    const b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'hi', { wait: true, timeoutMs: 30_000 })
    const target = { peerId: b.peerId, addrs: (await b.id()).addresses }
    const mallorySeed = new Uint8Array(randomBytes(32))
    const mallory = await rawPeer(mallorySeed)
    const before = await b.internals.prekeys.counts()

    // 1. mallory's connection, someone else's identity (a genuine PreKey message made with victim keys)
    const victim = await generateIdentity()
    const env1 = await craftPreKeyEnvelope(mallory, target, victim.seed, 'I am the victim')
    const acks1 = await mallory.sendEnvelopes(b.peerId, [env1])
    assert.equal(acks1[0]!.status, 'REJECTED')
    assert.match(acks1[0]!.reason ?? '', /not bound/)

    // 2. mallory claims alice's identity key (public) in an otherwise well-formed PreKey message
    const env2 = await craftPreKeyEnvelope(mallory, target, victim.seed, 'I am alice', identityKeyOfPeer(a.peerId))
    const acks2 = await mallory.sendEnvelopes(b.peerId, [env2])
    assert.equal(acks2[0]!.status, 'REJECTED')

    // nothing was stored, no prekey consumed, alice's contact untouched
    const contacts = await b.listContacts()
    assert.deepEqual(contacts.map(c => c.peerId), [a.peerId])
    assert.equal(contacts[0]!.pendingKeyChange, null)
    assert.equal((await b.messages(mallory.peerId)).length, 0)
    const afterCounts = await b.internals.prekeys.counts()
    assert.equal(afterCounts.oneTime, before.oneTime)
    assert.equal(afterCounts.kyber, before.kyber)

    // control: the same peer with its OWN identity is accepted as a message request
    const env3 = await craftPreKeyEnvelope(mallory, target, mallorySeed, 'hello, I am mallory')
    const acks3 = await mallory.sendEnvelopes(b.peerId, [env3])
    assert.equal(acks3[0]!.status, 'OK')
    assert.equal((await b.messages(mallory.peerId))[0]!.text, 'hello, I am mallory')

    // b is still healthy
    const r = await a.send('bob', 'still there?', { wait: true, timeoutMs: 30_000 })
    assert.ok(r.status === 'delivered' || r.status === 'read')
  })

  it('rejects garbage envelopes without crashing', async () => {
    const b = await startNode('bob')
    const a = await startNode('alice')
    await connectPair(a, b)
    const junk = await rawPeer()
    const addrs = (await b.id()).addresses
    await junk.connect(b.peerId, { addrs })
    const mk = (type: 'PREKEY' | 'WHISPER', body: Uint8Array) => ({ id: new Uint8Array(randomBytes(16)), timestamp: Date.now(), type, body })
    const acks = await junk.sendEnvelopes(b.peerId, [
      mk('WHISPER', new Uint8Array(randomBytes(200))),
      mk('PREKEY', new Uint8Array(randomBytes(300))),
      mk('WHISPER', new Uint8Array([0x44, 1, 2, 3])),
      mk('PREKEY', new Uint8Array([0x44]))
    ])
    assert.deepEqual(acks.map(x => x.status), ['REJECTED', 'REJECTED', 'REJECTED', 'REJECTED'])
    assert.equal((await b.listContacts()).length, 1)
    const r = await a.send('bob', 'after the junk', { wait: true, timeoutMs: 30_000 })
    assert.ok(r.status === 'delivered' || r.status === 'read')
  })
})

describe('identity key changes', () => {
  it('refuses messages from a contact presenting another key, shows it loudly, and accepts it on request', async () => {
    const a = await startNode('alice')
    const b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'one', { wait: true, timeoutMs: 30_000 })
    // bob's stored key for alice is not the one alice presents (e.g. an older identity under this PeerId)
    const other = new Uint8Array(33)
    other[0] = 5
    other.set((await generateIdentity()).dhPublicKey, 1)
    await b.internals.store.updateContact(a.peerId, { identityKey: other })
    const changed = nextEvent(b, e => e.type === 'key-changed')
    const failed = nextEvent(a, e => e.type === 'status' && e.status === 'failed')
    const m = await a.send('bob', 'two')
    const ev = await changed as Extract<NodeEvent, { type: 'key-changed' }>
    assert.equal(ev.peerId, a.peerId)
    assert.equal(ev.identityKey, Buffer.from(identityKeyOfPeer(a.peerId)).toString('hex'))
    const failedEv = (await failed) as Extract<NodeEvent, { type: 'status' }>
    assert.equal(failedEv.id, m.id)
    // the reason travels with the event and stays on the message (api.ts MessageInfo.reason)
    assert.equal(failedEv.reason, 'rejected: identity key changed')
    const failedMsg = (await a.messages('bob')).find(x => x.id === m.id)
    assert.equal(failedMsg?.status, 'failed')
    assert.equal(failedMsg?.reason, 'rejected: identity key changed')
    assert.equal((await a.messages('bob')).find(x => x.text === 'one')?.reason, undefined)
    assert.equal((await b.messages('alice')).length, 1)
    const pending = (await b.listContacts())[0]!
    assert.equal(pending.pendingKeyChange?.identityKey, ev.identityKey)
    await assert.rejects(b.send('alice', 'hello?'), (err: Error & { code?: string }) => err.code === 'ERR_KEY_CHANGED')
    await assert.rejects(b.verifyContact('alice'), (err: Error & { code?: string }) => err.code === 'ERR_KEY_CHANGED')

    const accepted = await b.acceptKeyChange('alice')
    assert.equal(accepted.pendingKeyChange, null)
    assert.equal(accepted.verified, false)
    assert.equal(accepted.identityKey, ev.identityKey)
    const r = await a.send('bob', 'three', { wait: true, timeoutMs: 30_000 })
    assert.ok(r.status === 'delivered' || r.status === 'read')
    assert.deepEqual((await b.messages('alice')).map(x => x.text), ['one', 'three'])
  })
})

describe('homes', () => {
  it('a passphrase-protected home opens with the passphrase and refuses a wrong or missing one', async () => {
    const home = await tempHome()
    const info = await initIdentity({ home, name: 'secret', passphrase: 'correct horse' })
    assert.equal(info.encrypted, true)
    await assert.rejects(createParleyNode(testOptions(home, { passphrase: 'wrong horse' })), (err: Error & { code?: string }) => err.code === 'ERR_WRONG_PASSPHRASE')
    await assert.rejects(createParleyNode(testOptions(home)), (err: Error & { code?: string }) => err.code === 'ERR_STORE_PASSPHRASE_REQUIRED')
    const n = await createParleyNode(testOptions(home, { passphrase: 'correct horse' }))
    try {
      const id = await n.id()
      assert.equal(id.peerId, info.peerId)
      assert.equal(id.name, 'secret')
      assert.equal(id.identityKey, info.identityKey)
      assert.ok(n.internals.store.encrypted)
    } finally {
      await n.stop()
    }
    await assert.rejects(initIdentity({ home, passphrase: 'correct horse' }), (err: Error & { code?: string }) => err.code === 'ERR_IDENTITY_EXISTS')
  })

  it('refuses to overwrite an identity and reports a home without one', async () => {
    const home = await tempHome()
    await assert.rejects(createParleyNode(testOptions(home)), (err: Error & { code?: string }) => err.code === 'ERR_NO_IDENTITY')
    const first = await initIdentity({ home, name: 'x' })
    await assert.rejects(initIdentity({ home, name: 'y' }), (err: Error & { code?: string }) => err.code === 'ERR_IDENTITY_EXISTS')
    const n = await createParleyNode(testOptions(home, { name: 'renamed' }))
    try {
      assert.equal((await n.id()).peerId, first.peerId)
      assert.equal((await n.id()).name, 'renamed')
      const inv = (await n.invite()).invite
      assert.match(inv, /^parley:\/\/invite\?/)
      await assert.rejects(n.addContact(inv), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_INVITE')
      // a tampered fingerprint is refused before any network traffic
      const other = await startNode('other')
      const good = (await other.invite()).invite
      const bad = good.replace(/fp=([A-Za-z0-9_-])/, (_m, c: string) => `fp=${c === 'A' ? 'B' : 'A'}`)
      await assert.rejects(n.addContact(bad), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_INVITE')
      await assert.rejects(n.send('nobody', 'x'), (err: Error & { code?: string }) => err.code === 'ERR_UNKNOWN_CONTACT')
      await until(() => true)
    } finally {
      await n.stop()
    }
  })
})

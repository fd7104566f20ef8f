import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  decryptMessage, deserializeSessionRecord, encryptMessage, initiateSession, serializeSessionRecord,
  MAX_ARCHIVED_STATES, type SessionRecord, type CiphertextMessage
} from '../../src/crypto/session.js'
import {
  BadMacError, BadSignatureError, DuplicateMessageError, MalformedInputError, MissingPreKeyError, NoSessionError,
  UntrustedIdentityError
} from '../../src/crypto/errors.js'
import { parsePreKeySignalMessage } from '../../src/crypto/message.js'
import { makePeer, type TestPeer } from './session-fixtures.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

async function recv (peer: TestPeer, record: SessionRecord | undefined, message: CiphertextMessage): Promise<{ record: SessionRecord, text: string }> {
  const r = await decryptMessage({ identity: peer.identity, registrationId: peer.registrationId, record, message, preKeys: peer.lookup })
  if (r.consumedOneTimePreKeyId !== undefined) peer.oneTime.delete(r.consumedOneTimePreKeyId)
  if (r.consumedKyberPreKeyId !== undefined) peer.kyber.delete(r.consumedKyberPreKeyId)
  return { record: r.record, text: dec(r.plaintext) }
}

for (const mode of ['pqxdh', 'classic'] as const) {
  describe(`session (${mode})`, () => {
    it('sets up, converses both ways and round-trips the record through serialisation', async () => {
      const alice = await makePeer(11)
      const bob = await makePeer(22)
      let a = await initiateSession({ identity: alice.identity, registrationId: 11, bundle: bob.bundle(), mode })
      let b: SessionRecord | undefined
      const m1 = await encryptMessage(a, enc('hello 1')); a = m1.record
      const m2 = await encryptMessage(a, enc('hello 2')); a = m2.record
      assert.equal(m1.message.type, 'prekey')
      assert.equal(m1.message.body[0], mode === 'pqxdh' ? 0x44 : 0x33)
      // m2 arrives first: still a prekey message for the same session
      let r = await recv(bob, b, m2.message); b = r.record
      assert.equal(r.text, 'hello 2')
      assert.equal(bob.oneTime.size, 2, 'one-time prekey consumed')
      r = await recv(bob, b, m1.message); b = r.record
      assert.equal(r.text, 'hello 1')
      for (let i = 0; i < 20; i++) {
        const fromBob = i % 3 !== 0
        if (fromBob) {
          const m = await encryptMessage(deserializeSessionRecord(serializeSessionRecord(b)), enc(`b${i}`))
          assert.equal(m.message.type, 'whisper')
          b = m.record
          const rr = await recv(alice, a, m.message); a = deserializeSessionRecord(serializeSessionRecord(rr.record))
          assert.equal(rr.text, `b${i}`)
        } else {
          const m = await encryptMessage(a, enc(`a${i}`)); a = m.record
          if (i > 0) assert.equal(m.message.type, 'whisper', 'prekey phase ends after the first reply')
          const rr = await recv(bob, b, m.message); b = rr.record
          assert.equal(rr.text, `a${i}`)
        }
      }
      assert.deepEqual(deserializeSessionRecord(serializeSessionRecord(a)), a)
    })

    it('refuses replays of the prekey message, tampering and unknown prekeys', async () => {
      const alice = await makePeer(1)
      const bob = await makePeer(2)
      const a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), mode })
      const m1 = await encryptMessage(a, enc('x'))
      // flip the last MAC byte of the embedded SignalMessage (registrationId is not authenticated, as in libsignal)
      const inner = parsePreKeySignalMessage(m1.message.body).message
      const flipped = m1.message.body.slice(); flipped[inner.byteOffset - m1.message.body.byteOffset + inner.length - 1]! ^= 1
      await assert.rejects(recv(bob, undefined, { type: 'prekey', body: flipped }), BadMacError)
      assert.equal(bob.oneTime.size, 3, 'nothing consumed by a failed attempt')
      const r = await recv(bob, undefined, m1.message)
      await assert.rejects(recv(bob, r.record, m1.message), DuplicateMessageError)
      // without the session, the one-time prekey is gone: the replay cannot start a new session
      await assert.rejects(recv(bob, undefined, m1.message), MissingPreKeyError)
      await assert.rejects(decryptMessage({ identity: bob.identity, message: m1.message }), MissingPreKeyError)
    })

    it('refuses a prekey message from a different identity than the record holds', async () => {
      const alice = await makePeer(1)
      const mallory = await makePeer(3)
      const bob = await makePeer(2)
      const a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), mode })
      const b = (await recv(bob, undefined, (await encryptMessage(a, enc('hi'))).message)).record
      const m = await initiateSession({ identity: mallory.identity, registrationId: 3, bundle: bob.bundle(), mode })
      await assert.rejects(recv(bob, b, (await encryptMessage(m, enc('i am alice'))).message), UntrustedIdentityError)
      await assert.rejects(initiateSession({ identity: alice.identity, registrationId: 1, bundle: mallory.bundle(), mode, record: a }), UntrustedIdentityError)
    })

    it('keeps archived sessions: old messages still decrypt after the peer re-keys', async () => {
      const alice = await makePeer(1)
      const bob = await makePeer(2, { oneTimeCount: 5, lastResortKyber: true })
      let a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), mode })
      let b: SessionRecord | undefined
      const old = await encryptMessage(a, enc('old session')); a = old.record
      b = (await recv(bob, b, (await encryptMessage(a, enc('first'))).message)).record
      // Alice loses interest and starts over (e.g. a reinstall); the old message is still in flight
      a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), mode, record: a })
      const fresh = await encryptMessage(a, enc('new session'))
      let r = await recv(bob, b, fresh.message); b = r.record
      assert.equal(r.text, 'new session')
      assert.equal(b.previous.length, 1)
      r = await recv(bob, b, old.message)
      assert.equal(r.text, 'old session')
    })
  })
}

describe('session edge cases', () => {
  it('simultaneous initiation converges on one session', async () => {
    const alice = await makePeer(1)
    const bob = await makePeer(2)
    let a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle() })
    let b = await initiateSession({ identity: bob.identity, registrationId: 2, bundle: alice.bundle() })
    const ma = await encryptMessage(a, enc('from a')); a = ma.record
    const mb = await encryptMessage(b, enc('from b')); b = mb.record
    let r = await recv(bob, b, ma.message); b = r.record
    assert.equal(r.text, 'from a')
    r = await recv(alice, a, mb.message); a = r.record
    assert.equal(r.text, 'from b')
    // both now have each other's session as current; conversation continues in any order
    for (let i = 0; i < 6; i++) {
      const x = await encryptMessage(a, enc(`a${i}`)); a = x.record
      const y = await encryptMessage(b, enc(`b${i}`)); b = y.record
      r = await recv(bob, b, x.message); b = r.record; assert.equal(r.text, `a${i}`)
      r = await recv(alice, a, y.message); a = r.record; assert.equal(r.text, `b${i}`)
    }
    const x = await encryptMessage(a, enc('final')); a = x.record
    r = await recv(bob, b, x.message); b = r.record
    const y = await encryptMessage(b, enc('reply')); b = y.record
    r = await recv(alice, a, y.message); a = r.record
    assert.equal(r.text, 'reply')
    assert.deepEqual(a.current!.baseKey, b.current!.baseKey, 'both sides settled on the same session')
  })

  it('encrypt and decrypt never mutate their input record', async () => {
    const alice = await makePeer(1)
    const bob = await makePeer(2)
    const a0 = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle() })
    const before = serializeSessionRecord(a0)
    const m = await encryptMessage(a0, enc('x'))
    assert.deepEqual(serializeSessionRecord(a0), before)
    const r = await recv(bob, undefined, m.message)
    const b1 = serializeSessionRecord(r.record)
    const reply = await encryptMessage(r.record, enc('y'))
    assert.deepEqual(serializeSessionRecord(r.record), b1)
    await recv(alice, m.record, reply.message)
    assert.deepEqual(serializeSessionRecord(m.record), serializeSessionRecord(m.record))
  })

  it('verifies the bundle and requires a Kyber prekey for PQXDH', async () => {
    const alice = await makePeer(1)
    const bob = await makePeer(2)
    const bundle = bob.bundle()
    const bad = { ...bundle, signedPreKeySignature: bundle.signedPreKeySignature.slice() }
    bad.signedPreKeySignature[5]! ^= 1
    await assert.rejects(initiateSession({ identity: alice.identity, registrationId: 1, bundle: bad }), BadSignatureError)
    await assert.rejects(initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle({ kyber: false }) }), MissingPreKeyError)
    // without a one-time prekey X3DH still works (X3DH §3.3: OPK is optional)
    const a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle({ oneTime: false }) })
    const m = await encryptMessage(a, enc('no opk'))
    assert.equal(parsePreKeySignalMessage(m.message.body).preKeyId, undefined)
    assert.equal((await recv(bob, undefined, m.message)).text, 'no opk')
  })

  it('can refuse classic initiations and reports a missing Kyber prekey', async () => {
    const alice = await makePeer(1)
    const bob = await makePeer(2)
    const a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), mode: 'classic' })
    const m = await encryptMessage(a, enc('x'))
    await assert.rejects(decryptMessage({ identity: bob.identity, message: m.message, preKeys: bob.lookup, acceptClassic: false }), MalformedInputError)
    const p = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle() })
    const pm = await encryptMessage(p, enc('y'))
    bob.kyber.clear()
    await assert.rejects(recv(bob, undefined, pm.message), MissingPreKeyError)
  })

  it('consumes one-time Kyber prekeys but not last-resort ones', async () => {
    const alice = await makePeer(1)
    for (const lastResort of [false, true]) {
      const bob = await makePeer(2, { lastResortKyber: lastResort })
      const a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle() })
      const r = await decryptMessage({ identity: bob.identity, message: (await encryptMessage(a, enc('k'))).message, preKeys: bob.lookup })
      assert.equal(r.consumedKyberPreKeyId, lastResort ? undefined : 7)
      assert.equal(r.consumedOneTimePreKeyId, 100)
      assert.equal(r.newSession, true)
    }
  })

  it('has no session to encrypt with, and bounds the archive', async () => {
    await assert.rejects(encryptMessage({ previous: [] }, enc('x')), NoSessionError)
    const alice = await makePeer(1)
    const bob = await makePeer(2, { oneTimeCount: 0 })
    let a: SessionRecord | undefined
    for (let i = 0; i < MAX_ARCHIVED_STATES + 3; i++) {
      a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), mode: 'classic', ...(a ? { record: a } : {}) })
    }
    assert.equal(a!.previous.length, MAX_ARCHIVED_STATES)
    assert.ok(serializeSessionRecord(a!).length > 0)
  })

  it('honours an aborted signal', async () => {
    const alice = await makePeer(1)
    const bob = await makePeer(2)
    const ac = new AbortController(); ac.abort()
    await assert.rejects(initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), signal: ac.signal }), { name: 'AbortError' })
  })
})

/**
 * Property tests of the Double Ratchet and sessions (fast-check). Runs are kept small: the machine has
 * two cores and every case does real X25519/HKDF/AES work.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  MAX_SKIP, holdsMessageKey, kdfChainKey, ratchetDecrypt, ratchetEncrypt, type RatchetContext, type RatchetState
} from '../../src/crypto/ratchet.js'
import { parseSignalMessage, CLASSIC_VERSION, PQXDH_VERSION } from '../../src/crypto/message.js'
import { DuplicateMessageError, ParleyCryptoError, TooManySkippedError } from '../../src/crypto/errors.js'
import { decryptMessage, encryptMessage, initiateSession, serializeSessionRecord, type SessionRecord } from '../../src/crypto/session.js'
import { makePeer, ratchetPair } from './session-fixtures.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

interface Party { state: RatchetState, ctx: RatchetContext }
interface Sent { to: 'a' | 'b', text: string, message: Uint8Array }

/** Runs a script of rounds; in each round one side sends `count` messages and the other receives
 * those picked by `deliverNow`; everything held back is returned, still in flight. */
async function runScript (rounds: Array<{ fromA: boolean, count: number, deliverMask: number }>, version: 3 | 4): Promise<{ a: Party, b: Party, held: Sent[], delivered: Sent[] }> {
  const p = await ratchetPair(version)
  const a: Party = { state: p.a, ctx: p.ca }
  const b: Party = { state: p.b, ctx: p.cb }
  const held: Sent[] = []
  const delivered: Sent[] = []
  let bHasReceived = false
  let n = 0
  for (const round of rounds) {
    const fromA = round.fromA || !bHasReceived
    const [s, r] = fromA ? [a, b] : [b, a]
    const sent: Sent[] = []
    for (let i = 0; i < round.count; i++) {
      const text = `${fromA ? 'A' : 'B'}${n++}`
      const m = await ratchetEncrypt(s.state, enc(text), s.ctx)
      s.state = m.state
      sent.push({ to: fromA ? 'b' : 'a', text, message: m.message })
    }
    // deliver at least one message of each round so that DH steps happen
    for (const [i, m] of sent.entries()) {
      if (i === sent.length - 1 || ((round.deliverMask >> i) & 1) === 1) {
        const d = await ratchetDecrypt(r.state, m.message, r.ctx)
        r.state = d.state
        assert.equal(dec(d.plaintext), m.text)
        delivered.push(m)
        if (fromA) bHasReceived = true
      } else {
        held.push(m)
      }
    }
  }
  return { a, b, held, delivered }
}

const roundsArb = fc.array(fc.record({ fromA: fc.boolean(), count: fc.integer({ min: 1, max: 6 }), deliverMask: fc.nat({ max: 63 }) }), { minLength: 1, maxLength: 8 })

describe('ratchet properties', () => {
  it('any delivery order within MAX_SKIP decrypts, and every replay is a duplicate', async () => {
    await fc.assert(fc.asyncProperty(roundsArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }), fc.constantFrom(CLASSIC_VERSION, PQXDH_VERSION), async (rounds, order, version) => {
      const { a, b, held, delivered } = await runScript(rounds, version)
      // deliver the held-back messages in an arbitrary order
      const perm = held.map((m, i) => ({ m, k: order[i % order.length]! + i * 1e-9 })).sort((x, y) => x.k - y.k).map(x => x.m)
      for (const m of perm) {
        const r = m.to === 'a' ? a : b
        const d = await ratchetDecrypt(r.state, m.message, r.ctx)
        r.state = d.state
        assert.equal(dec(d.plaintext), m.text)
        delivered.push(m)
      }
      assert.equal(a.state.skipped.length + b.state.skipped.length, 0, 'no keys left once all arrived')
      // a replay of any message is refused as a duplicate
      for (const m of delivered) {
        const r = m.to === 'a' ? a : b
        await assert.rejects(ratchetDecrypt(r.state, m.message, r.ctx), DuplicateMessageError)
      }
    }), { numRuns: 25 })
  })

  it('a message more than MAX_SKIP ahead in its chain is refused', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 500 }), fc.constantFrom(CLASSIC_VERSION, PQXDH_VERSION), async (beyond, version) => {
      const { a, b, ca, cb } = await ratchetPair(version)
      // the sender's state is plain data: jump its chain index (as if MAX_SKIP + beyond messages were lost)
      const far: RatchetState = { ...a, sendingChain: { key: a.sendingChain!.key, index: MAX_SKIP + beyond } }
      const m = await ratchetEncrypt(far, enc('far'), ca)
      await assert.rejects(ratchetDecrypt(b, m.message, cb), TooManySkippedError)
    }), { numRuns: 10 })
  })

  it('any single flipped bit is refused and leaves the state usable', async () => {
    const { a, b, ca, cb } = await ratchetPair(PQXDH_VERSION)
    const m = await ratchetEncrypt(a, enc('attack at dawn'), ca)
    await fc.assert(fc.asyncProperty(fc.nat({ max: m.message.length * 8 - 1 }), async (bit) => {
      const bad = m.message.slice()
      bad[bit >> 3]! ^= 1 << (bit & 7)
      await assert.rejects(ratchetDecrypt(b, bad, cb), (err) => err instanceof ParleyCryptoError)
    }), { numRuns: 150 })
    assert.equal(dec((await ratchetDecrypt(b, m.message, cb)).plaintext), 'attack at dawn')
  })

  it('after the sender\'s used keys, the receiver state no longer holds any derived message key', async () => {
    await fc.assert(fc.asyncProperty(roundsArb, async (rounds) => {
      const p = await ratchetPair(PQXDH_VERSION)
      let a = p.a
      let b = p.b
      // record the message key seeds as the sender derives them, then check the receiver's state
      for (const r of rounds.slice(0, 4)) {
        const seeds: Array<{ rk: Uint8Array, index: number, seed: Uint8Array }> = []
        for (let i = 0; i < r.count; i++) {
          const chain = a.sendingChain!
          const { seed } = await kdfChainKey(chain.key)
          const m = await ratchetEncrypt(a, enc('x'), p.ca); a = m.state
          seeds.push({ rk: parseSignalMessage(m.message).ratchetKey, index: chain.index, seed })
          b = (await ratchetDecrypt(b, m.message, p.cb)).state
        }
        const blob = Buffer.from(serializeForSearch(b))
        for (const s of seeds) {
          assert.equal(holdsMessageKey(b, s.rk, s.index), false)
          assert.equal(blob.indexOf(Buffer.from(s.seed)), -1, 'a used message key is not in the state')
        }
        const reply = await ratchetEncrypt(b, enc('y'), p.cb); b = reply.state
        a = (await ratchetDecrypt(a, reply.message, p.ca)).state
      }
    }), { numRuns: 10 })
  })
})

/** Every byte array in a ratchet state, concatenated. */
function serializeForSearch (s: RatchetState): Uint8Array {
  const parts: Uint8Array[] = [s.rootKey, s.sendingRatchetKey.privateKey, s.sendingRatchetKey.publicKey]
  if (s.sendingChain) parts.push(s.sendingChain.key)
  if (s.receivingChain) parts.push(s.receivingChain.key)
  if (s.remoteRatchetKey) parts.push(s.remoteRatchetKey)
  for (const k of s.skipped) parts.push(k.ratchetKey, k.seed)
  return Buffer.concat(parts)
}

describe('session properties', () => {
  it('post-compromise security: a copied state stops decrypting after the next round trip', async () => {
    const alice = await makePeer(1)
    const bob = await makePeer(2, { oneTimeCount: 20, lastResortKyber: true })
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 4 }), async (warmup, after) => {
      let a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle() })
      const first = await encryptMessage(a, enc('hi')); a = first.record
      let b: SessionRecord = (await decryptMessage({ identity: bob.identity, message: first.message, preKeys: bob.lookup })).record
      const toBob = async (text: string): Promise<{ type: 'prekey' | 'whisper', body: Uint8Array }> => {
        const m = await encryptMessage(a, enc(text)); a = m.record
        b = (await decryptMessage({ identity: bob.identity, record: b, message: m.message })).record
        return m.message
      }
      const toAlice = async (text: string): Promise<void> => {
        const m = await encryptMessage(b, enc(text)); b = m.record
        a = (await decryptMessage({ identity: alice.identity, record: a, message: m.message })).record
      }
      for (let i = 0; i < warmup; i++) { await toAlice(`w${i}`); await toBob(`w${i}`) }
      // the attacker copies Bob's complete state, then follows every later message to Bob passively
      let attacker: SessionRecord = structuredClone(b)
      const follow = async (msg: { type: 'prekey' | 'whisper', body: Uint8Array }): Promise<boolean> => {
        try {
          attacker = (await decryptMessage({ identity: bob.identity, record: attacker, message: msg })).record
          return true
        } catch (err) {
          assert.ok(err instanceof ParleyCryptoError)
          return false
        }
      }
      // before healing the copy works (forward secrecy cannot protect against a full state copy)
      assert.equal(await follow(await toBob('still readable')), true)
      // DR §6.2 (recovery from compromise): Bob replies with the copied ratchet key; Alice's answer ratchets
      // against that key, which the attacker still knows ...
      await toAlice('reply on the compromised key')
      assert.equal(await follow(await toBob('readable: DH with the compromised key')), true)
      // ... but receiving it made Bob generate a fresh key pair; once Bob has sent with it and Alice
      // has answered (the round trip), nothing more is readable
      await toAlice('fresh key')
      for (let i = 0; i < after; i++) assert.equal(await follow(await toBob(`secret ${i}`)), false)
    }), { numRuns: 8 })
  })

  it('records never change under failed decryption (atomic persistence)', async () => {
    const alice = await makePeer(1)
    const bob = await makePeer(2)
    let a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle() })
    const m = await encryptMessage(a, enc('hi')); a = m.record
    const b = (await decryptMessage({ identity: bob.identity, message: m.message, preKeys: bob.lookup })).record
    const snapshot = serializeSessionRecord(b)
    const next = await encryptMessage(a, enc('x'))
    await fc.assert(fc.asyncProperty(fc.nat({ max: next.message.body.length * 8 - 1 }), async (bit) => {
      const body = next.message.body.slice()
      body[bit >> 3]! ^= 1 << (bit & 7)
      try {
        await decryptMessage({ identity: bob.identity, record: b, message: { type: next.message.type, body }, preKeys: bob.lookup })
      } catch (err) {
        assert.ok(err instanceof ParleyCryptoError, String(err))
      }
      assert.deepEqual(serializeSessionRecord(b), snapshot)
    }), { numRuns: 60 })
  })
})

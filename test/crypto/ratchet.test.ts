import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { x25519 } from '@noble/curves/ed25519.js'
import {
  MAX_PREVIOUS_RATCHET_KEYS, MAX_SKIP, MAX_STORED_SKIPPED_KEYS, deriveMessageKeys, holdsMessageKey, initInitiatorRatchet,
  kdfChainKey, kdfRootKey, ratchetDecrypt, ratchetEncrypt
} from '../../src/crypto/ratchet.js'
import { CLASSIC_VERSION, PQXDH_VERSION, parseSignalMessage } from '../../src/crypto/message.js'
import { BadMacError, DuplicateMessageError, MalformedInputError, NoSessionError, TooManySkippedError } from '../../src/crypto/errors.js'
import { primitives } from '../../src/crypto/primitives/index.js'
import { IK_B, ratchetPair } from './session-fixtures.js'

const libsignalCrypto = createRequire(import.meta.url)('libsignal').crypto as {
  deriveSecrets: (input: Buffer, salt: Buffer, info: Buffer, chunks?: number) => Buffer[]
  calculateMAC: (key: Buffer, data: Buffer) => Buffer
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('ratchet KDFs match libsignal v3', () => {
  it('KDF_RK, KDF_CK and the message keys agree with libsignal-node and with @noble/hashes', async () => {
    for (let i = 0; i < 5; i++) {
      const rk = primitives.randomBytes(32)
      const dh = primitives.randomBytes(32)
      const ours = await kdfRootKey(rk, dh)
      const ref = libsignalCrypto.deriveSecrets(Buffer.from(dh), Buffer.from(rk), Buffer.from('WhisperRatchet'), 2)
      assert.deepEqual(ours.rootKey, new Uint8Array(ref[0]!))
      assert.deepEqual(ours.chainKey, new Uint8Array(ref[1]!))
      assert.deepEqual(new Uint8Array([...ours.rootKey, ...ours.chainKey]), hkdf(sha256, dh, rk, enc('WhisperRatchet'), 64))

      const ck = primitives.randomBytes(32)
      const { seed, next } = await kdfChainKey(ck)
      assert.deepEqual(seed, new Uint8Array(libsignalCrypto.calculateMAC(Buffer.from(ck), Buffer.from([1]))))
      assert.deepEqual(next, hmac(sha256, ck, Uint8Array.of(2)))

      const mk = await deriveMessageKeys(seed)
      const refMk = libsignalCrypto.deriveSecrets(Buffer.from(seed), Buffer.alloc(32), Buffer.from('WhisperMessageKeys'))
      assert.deepEqual(mk.cipherKey, new Uint8Array(refMk[0]!))
      assert.deepEqual(mk.macKey, new Uint8Array(refMk[1]!))
      assert.deepEqual(mk.iv, new Uint8Array(refMk[2]!.subarray(0, 16)))
    }
  })

  it('initiator ratchet = KDF_RK(SK, DH(new ratchet key, SPK_B)) (DR §3.3)', async () => {
    const root = primitives.randomBytes(32)
    const spk = await primitives.x25519Generate()
    const ours = await primitives.x25519Generate()
    const st = await initInitiatorRatchet(root, spk.publicKey, ours)
    const ref = hkdf(sha256, x25519.getSharedSecret(ours.privateKey, spk.publicKey), root, enc('WhisperRatchet'), 64)
    assert.deepEqual(st.rootKey, ref.subarray(0, 32))
    assert.deepEqual(st.sendingChain!.key, ref.subarray(32))
    assert.equal(st.sendingChain!.index, 0)
  })
})

for (const version of [CLASSIC_VERSION, PQXDH_VERSION] as const) {
  describe(`double ratchet v${version}`, () => {
    it('the responder cannot send first; messages flow and DH steps happen', async () => {
      const p = await ratchetPair(version)
      let { a, b } = p
      const { ca, cb } = p
      await assert.rejects(ratchetEncrypt(b, enc('x'), cb), NoSessionError)
      const keys = new Set<string>()
      for (let i = 0; i < 6; i++) {
        const m = await ratchetEncrypt(a, enc(`a${i}`), ca); a = m.state
        const d = await ratchetDecrypt(b, m.message, cb); b = d.state
        assert.equal(new TextDecoder().decode(d.plaintext), `a${i}`)
        const r = await ratchetEncrypt(b, enc(`b${i}`), cb); b = r.state
        const dr = await ratchetDecrypt(a, r.message, ca); a = dr.state
        assert.equal(new TextDecoder().decode(dr.plaintext), `b${i}`)
        keys.add(Buffer.from(parseSignalMessage(m.message).ratchetKey).toString('hex'))
        keys.add(Buffer.from(parseSignalMessage(r.message).ratchetKey).toString('hex'))
      }
      assert.equal(keys.size, 12, 'every turn uses a fresh ratchet key')
      assert.equal(a.skipped.length, 0)
      assert.equal(b.skipped.length, 0)
    })

    it('skips exactly MAX_SKIP keys and refuses MAX_SKIP + 1', async () => {
      const p = await ratchetPair(version)
      let { a, b } = p
      const { ca, cb } = p
      const msgs: Uint8Array[] = []
      for (let i = 0; i < MAX_SKIP + 2; i++) {
        const m = await ratchetEncrypt(a, enc(`${i}`), ca); a = m.state
        msgs.push(m.message)
      }
      await assert.rejects(ratchetDecrypt(b, msgs[MAX_SKIP + 1]!, cb), TooManySkippedError)
      const d = await ratchetDecrypt(b, msgs[MAX_SKIP]!, cb)
      assert.equal(d.state.skipped.length, MAX_SKIP)
      b = d.state
      const d0 = await ratchetDecrypt(b, msgs[0]!, cb)
      assert.equal(d0.state.skipped.length, MAX_SKIP - 1)
      await assert.rejects(ratchetDecrypt(d0.state, msgs[0]!, cb), DuplicateMessageError)
      await assert.rejects(ratchetDecrypt(d0.state, msgs[MAX_SKIP]!, cb), DuplicateMessageError)
    })

    it('caps the stored skipped keys globally, evicting the oldest', async () => {
      const p = await ratchetPair(version)
      let { a, b } = p
      const { ca, cb } = p
      const firstChain: Uint8Array[] = []
      // chain 1: 1500 sent, only the last delivered (1499 skipped)
      for (let i = 0; i < 1500; i++) { const m = await ratchetEncrypt(a, enc('1'), ca); a = m.state; firstChain.push(m.message) }
      b = (await ratchetDecrypt(b, firstChain[1499]!, cb)).state
      const r = await ratchetEncrypt(b, enc('r'), cb); b = r.state
      a = (await ratchetDecrypt(a, r.message, ca)).state
      // chain 2: 1000 sent, only the last delivered -> 999 more skipped, total 2498 > cap
      let last: Uint8Array | undefined
      for (let i = 0; i < 1000; i++) { const m = await ratchetEncrypt(a, enc('2'), ca); a = m.state; last = m.message }
      b = (await ratchetDecrypt(b, last!, cb)).state
      assert.equal(b.skipped.length, MAX_STORED_SKIPPED_KEYS)
      // the oldest (chain 1, index 0..497) were evicted: now refused as duplicates, newer still work
      await assert.rejects(ratchetDecrypt(b, firstChain[0]!, cb), DuplicateMessageError)
      const ok = await ratchetDecrypt(b, firstChain[1400]!, cb)
      assert.equal(new TextDecoder().decode(ok.plaintext), '1')
    })

    it('refuses tampering, wrong identities and a wrong version without changing state', async () => {
      const p = await ratchetPair(version)
      const { b, ca, cb } = p
      let { a } = p
      const m = await ratchetEncrypt(a, enc('hello'), ca); a = m.state
      const bad = m.message.slice(); bad[bad.length - 1]! ^= 0x80
      await assert.rejects(ratchetDecrypt(b, bad, cb), BadMacError)
      // the MAC binds both identity keys (X3DH §3.3 AD = Encode(IK_A) || Encode(IK_B))
      await assert.rejects(ratchetDecrypt(b, m.message, { ...cb, remoteIdentityKey: IK_B }), BadMacError)
      await assert.rejects(ratchetDecrypt(b, m.message, { ...cb, version: version === 3 ? 4 : 3 }), MalformedInputError)
      const d = await ratchetDecrypt(b, m.message, cb)
      assert.equal(new TextDecoder().decode(d.plaintext), 'hello')
      const rk = parseSignalMessage(m.message).ratchetKey
      assert.equal(holdsMessageKey(d.state, rk, 0), false, 'a used key is gone')
      assert.equal(holdsMessageKey(d.state, rk, 1), true)
      const m2 = await ratchetEncrypt(a, enc('two'), ca)
      assert.equal(holdsMessageKey((await ratchetDecrypt(d.state, m2.message, cb)).state, rk, 1), false)
    })

    it('late messages from old chains decrypt after several DH steps; replays there are duplicates', async () => {
      const p = await ratchetPair(version)
      let { a, b } = p
      const { ca, cb } = p
      const late: Uint8Array[] = []
      for (let turn = 0; turn < MAX_PREVIOUS_RATCHET_KEYS - 2; turn++) {
        const held = await ratchetEncrypt(a, enc(`late ${turn}`), ca); a = held.state
        late.push(held.message)
        const m = await ratchetEncrypt(a, enc(`now ${turn}`), ca); a = m.state
        b = (await ratchetDecrypt(b, m.message, cb)).state
        const r = await ratchetEncrypt(b, enc('r'), cb); b = r.state
        a = (await ratchetDecrypt(a, r.message, ca)).state
      }
      for (const [i, msg] of late.entries()) {
        const d = await ratchetDecrypt(b, msg, cb); b = d.state
        assert.equal(new TextDecoder().decode(d.plaintext), `late ${i}`)
        await assert.rejects(ratchetDecrypt(b, msg, cb), DuplicateMessageError)
      }
      assert.equal(b.skipped.length, 0)
    })
  })
}

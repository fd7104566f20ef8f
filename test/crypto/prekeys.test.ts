// Prekeys, bundles and the ML-KEM wrapper: generation, signatures, encode/decode round trips,
// every flipped bit refused, and libsignal-client accepting a bundle signed by us.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as ls from '@signalapp/libsignal-client'
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js'
import { x25519 } from '@noble/curves/ed25519.js'
import {
  buildPreKeyBundle, decodePreKeyBundle, encodePreKeyBundle, generateKyberPreKey, generateOneTimePreKeys,
  generateSignedPreKey, verifyPreKeyBundle, MAX_BUNDLE_BYTES, type PreKeyBundle
} from '../../src/crypto/prekeys.js'
import {
  kemDecapsulate, kemEncapsulate, kemGenerate, KEM_ENCODED_PUBLIC_KEY_LENGTH, KEM_NAME, KEM_TYPE
} from '../../src/crypto/kem.js'
import { generateIdentity, type IdentityKeyPair } from '../../src/crypto/identity.js'
import { encodePublicKey, signWithIdentity, verifyWithMontgomeryKey } from '../../src/crypto/keys.js'
import { BadSignatureError, MalformedInputError } from '../../src/crypto/errors.js'

test('KEM: ML-KEM-1024 round trip, typed public key, agrees with @noble/post-quantum directly', () => {
  assert.equal(KEM_NAME, 'ML-KEM-1024')
  const kp = kemGenerate()
  assert.equal(kp.publicKey.length, KEM_ENCODED_PUBLIC_KEY_LENGTH)
  assert.equal(kp.publicKey[0], KEM_TYPE)
  const { ciphertext, sharedSecret } = kemEncapsulate(kp.publicKey)
  assert.equal(sharedSecret.length, 32)
  assert.deepEqual(kemDecapsulate(ciphertext, kp.secretKey), sharedSecret)
  assert.deepEqual(ml_kem1024.decapsulate(ciphertext, kp.secretKey), sharedSecret)
  const other = ml_kem1024.encapsulate(kp.publicKey.subarray(1))
  assert.deepEqual(kemDecapsulate(other.cipherText, kp.secretKey), other.sharedSecret)
  // implicit rejection (FIPS 203 §6.3): a tampered ciphertext yields a different secret, no throw
  const t = ciphertext.slice(); t[100]! ^= 1
  assert.notDeepEqual(kemDecapsulate(t, kp.secretKey), sharedSecret)
})

test('KEM: malformed keys and ciphertexts raise MalformedInputError', () => {
  const kp = kemGenerate()
  assert.throws(() => kemEncapsulate(kp.publicKey.subarray(1)), MalformedInputError)
  assert.throws(() => kemEncapsulate(new Uint8Array(KEM_ENCODED_PUBLIC_KEY_LENGTH + 1)), MalformedInputError)
  const wrongType = kp.publicKey.slice(); wrongType[0] = 0x08
  assert.throws(() => kemEncapsulate(wrongType), MalformedInputError)
  // FIPS 203 §7.2 modulus check: a coefficient of 0xfff (>= q) is refused
  const nonCanon = kp.publicKey.slice(); nonCanon[1] = 0xff; nonCanon[2] = 0xff
  assert.throws(() => kemEncapsulate(nonCanon), MalformedInputError)
  const { ciphertext } = kemEncapsulate(kp.publicKey)
  assert.throws(() => kemDecapsulate(ciphertext.subarray(1), kp.secretKey), MalformedInputError)
  assert.throws(() => kemDecapsulate(ciphertext, kp.secretKey.subarray(1)), MalformedInputError)
})

test('prekey records are plain data with valid signatures over the typed keys', async () => {
  const id = await generateIdentity()
  const spk = await generateSignedPreKey(id, 7, 1_700_000_000_000)
  assert.equal(spk.id, 7); assert.equal(spk.createdAt, 1_700_000_000_000)
  assert.deepEqual(spk.keyPair.publicKey, x25519.getPublicKey(spk.keyPair.privateKey))
  assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, encodePublicKey(spk.keyPair.publicKey), spk.signature), true)
  const otks = await generateOneTimePreKeys(100, 5)
  assert.deepEqual(otks.map(k => k.id), [100, 101, 102, 103, 104])
  assert.equal(new Set(otks.map(k => Buffer.from(k.keyPair.publicKey).toString('hex'))).size, 5)
  const kyber = await generateKyberPreKey(id, 9, { lastResort: true, now: 5 })
  assert.equal(kyber.lastResort, true); assert.equal(kyber.createdAt, 5)
  assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, kyber.keyPair.publicKey, kyber.signature), true)
  // plain serialisable data: survives structuredClone unchanged
  assert.deepEqual(structuredClone(kyber), kyber)
  await assert.rejects(generateSignedPreKey(id, -1), MalformedInputError)
  await assert.rejects(generateOneTimePreKeys(0xffffffff, 2), MalformedInputError)
  await assert.rejects(generateOneTimePreKeys(1, 10_001), MalformedInputError)
})

async function fullBundle (id: IdentityKeyPair): Promise<PreKeyBundle> {
  const spk = await generateSignedPreKey(id, 1)
  const [otk] = await generateOneTimePreKeys(2, 1)
  const kyber = await generateKyberPreKey(id, 3)
  return buildPreKeyBundle(id, { registrationId: 1234, deviceId: 1, signedPreKey: spk, oneTimePreKey: otk!, kyberPreKey: kyber })
}

test('bundle verifies and round-trips through its encoding (all optional combinations)', async () => {
  const id = await generateIdentity()
  const full = await fullBundle(id)
  await verifyPreKeyBundle(full)
  const variants: PreKeyBundle[] = [full]
  const { oneTimePreKey: _a, oneTimePreKeyId: _b, ...noOtk } = full
  const { kyberPreKey: _c, kyberPreKeyId: _d, kyberPreKeySignature: _e, ...noKyber } = full
  const { kyberPreKey: _f, kyberPreKeyId: _g, kyberPreKeySignature: _h, ...bare } = noOtk
  variants.push(noOtk, noKyber, bare)
  for (const v of variants) {
    await verifyPreKeyBundle(v)
    const enc = encodePreKeyBundle(v)
    assert.ok(enc.length <= MAX_BUNDLE_BYTES)
    assert.deepEqual(decodePreKeyBundle(enc), v)
  }
  await fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (r, d, k) => {
    const v = { ...full, registrationId: r, deviceId: d, kyberPreKeyId: k, signedPreKeyId: (r ^ k) >>> 0 }
    assert.deepEqual(decodePreKeyBundle(encodePreKeyBundle(v)), v)
  }))
})

test('bundle: a flipped bit in any key or signature field is refused with BadSignatureError', async () => {
  const id = await generateIdentity()
  const full = await fullBundle(id)
  const fields = ['identityKey', 'signedPreKey', 'signedPreKeySignature', 'kyberPreKey', 'kyberPreKeySignature'] as const
  for (const f of fields) {
    const orig = full[f]!
    // type bytes (byte 0 of typed keys) are structural: MalformedInputError
    const start = f.endsWith('Signature') ? 0 : 1
    const step = f === 'kyberPreKey' ? 7 : 1 // sample the 12.5k bits of the KEM key, all bits elsewhere
    for (let bit = start * 8; bit < orig.length * 8; bit += step) {
      const bad = orig.slice(); bad[bit >> 3]! ^= 1 << (bit & 7)
      await assert.rejects(verifyPreKeyBundle({ ...full, [f]: bad }), BadSignatureError, `${f} bit ${bit}`)
    }
    if (start === 1) {
      const bad = orig.slice(); bad[0]! ^= 1
      await assert.rejects(verifyPreKeyBundle({ ...full, [f]: bad }), MalformedInputError, `${f} type`)
    }
  }
  // a signature valid for another identity is refused
  const other = await generateIdentity()
  await assert.rejects(verifyPreKeyBundle({ ...full, identityKey: encodePublicKey(other.dhPublicKey) }), BadSignatureError)
  // swapping the two signatures is refused
  await assert.rejects(verifyPreKeyBundle({ ...full, signedPreKeySignature: full.kyberPreKeySignature!, kyberPreKeySignature: full.signedPreKeySignature }), BadSignatureError)
})

test('encoded bundle: every flipped bit is refused unless it lies in an unsigned id / one-time field', async () => {
  const id = await generateIdentity()
  const full = await fullBundle(id)
  const enc = encodePreKeyBundle(full)
  // unsigned by design (X3DH §3.2/§3.3: only SPK and PQSPK are signed): ids, registration/device ids, OPK
  const unsigned = (byte: number): boolean =>
    (byte >= 2 && byte < 10) || (byte >= 43 && byte < 47) || (byte >= 144 && byte < 181) || (byte >= 181 && byte < 185)
  let refused = 0
  for (let bit = 0; bit < enc.length * 8; bit += (bit >> 3) >= 185 && (bit >> 3) < 1754 ? 5 : 1) {
    const bad = enc.slice(); bad[bit >> 3]! ^= 1 << (bit & 7)
    let ok = false
    try {
      await verifyPreKeyBundle(decodePreKeyBundle(bad))
      ok = true
    } catch (e) {
      assert.ok(e instanceof BadSignatureError || e instanceof MalformedInputError, String(e))
      refused++
    }
    if (ok) assert.ok(unsigned(bit >> 3) && (bit >> 3) !== 148, `bit ${bit} (byte ${bit >> 3}) was accepted`)
  }
  assert.ok(refused > 3000, `refused ${refused}`)
})

test('decodePreKeyBundle: size cap, truncation, version, flags and trailing bytes are MalformedInputError', async () => {
  const id = await generateIdentity()
  const enc = encodePreKeyBundle(await fullBundle(id))
  assert.throws(() => decodePreKeyBundle(new Uint8Array(MAX_BUNDLE_BYTES + 1)), MalformedInputError)
  assert.throws(() => decodePreKeyBundle(enc.subarray(0, enc.length - 1)), MalformedInputError)
  assert.throws(() => decodePreKeyBundle(new Uint8Array([...enc, 0])), MalformedInputError)
  assert.throws(() => decodePreKeyBundle(new Uint8Array(0)), MalformedInputError)
  const v = enc.slice(); v[0] = 2
  assert.throws(() => decodePreKeyBundle(v), MalformedInputError)
  const f = enc.slice(); f[1] = 0x07
  assert.throws(() => decodePreKeyBundle(f), MalformedInputError)
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (b) => {
    try { decodePreKeyBundle(b) } catch (e) { assert.ok(e instanceof MalformedInputError) }
  }))
  // inconsistent optionals are refused by the encoder too
  const full = await fullBundle(id)
  assert.throws(() => encodePreKeyBundle({ ...full, kyberPreKeySignature: undefined }), MalformedInputError)
  assert.throws(() => encodePreKeyBundle({ ...full, oneTimePreKey: undefined }), MalformedInputError)
  assert.throws(() => encodePreKeyBundle({ ...full, registrationId: 2 ** 32 }), MalformedInputError)
})

// --- libsignal-client accepts a bundle whose identity key and signatures are ours ------------------
class MemSessions extends ls.SessionStore {
  m = new Map<string, ls.SessionRecord>()
  async saveSession (a: ls.ProtocolAddress, r: ls.SessionRecord): Promise<void> { this.m.set(a.toString(), r) }
  async getSession (a: ls.ProtocolAddress): Promise<ls.SessionRecord | null> { return this.m.get(a.toString()) ?? null }
  async getExistingSessions (as: ls.ProtocolAddress[]): Promise<ls.SessionRecord[]> { return as.map(a => this.m.get(a.toString())!).filter(Boolean) }
}
class MemIdentities extends ls.IdentityKeyStore {
  priv = ls.PrivateKey.generate()
  async getIdentityKey (): Promise<ls.PrivateKey> { return this.priv }
  async getLocalRegistrationId (): Promise<number> { return 42 }
  async saveIdentity (): Promise<ls.IdentityChange> { return ls.IdentityChange.NewOrUnchanged }
  async isTrustedIdentity (): Promise<boolean> { return true }
  async getIdentity (): Promise<ls.PublicKey | null> { return null }
}

test('interop: @signalapp/libsignal-client processes a bundle signed by our identity, refuses a bad one', async () => {
  const id = await generateIdentity()
  const spk = await generateSignedPreKey(id, 11)
  const theirKem = ls.KEMKeyPair.generate() // libsignal-client only takes its own KEM type (0x08)
  const kemSig = await signWithIdentity(id, theirKem.getPublicKey().serialize())
  const make = (spkSig: Uint8Array, kSig: Uint8Array): ls.PreKeyBundle => ls.PreKeyBundle.new(
    5, 1, null, null, 11, ls.PublicKey.deserialize(new Uint8Array(encodePublicKey(spk.keyPair.publicKey))),
    new Uint8Array(spkSig), ls.PublicKey.deserialize(new Uint8Array(encodePublicKey(id.dhPublicKey))),
    12, theirKem.getPublicKey(), new Uint8Array(kSig))
  const addr = ls.ProtocolAddress.new('bob', 1)
  const me = ls.ProtocolAddress.new('alice', 1)
  const sessions = new MemSessions()
  await ls.processPreKeyBundle(make(spk.signature, kemSig), addr, me, sessions, new MemIdentities())
  assert.ok(await sessions.getSession(addr))
  const badSpk = spk.signature.slice(); badSpk[3]! ^= 1
  await assert.rejects(ls.processPreKeyBundle(make(badSpk, kemSig), addr, me, new MemSessions(), new MemIdentities()))
  const badKem = kemSig.slice(); badKem[3]! ^= 1
  await assert.rejects(ls.processPreKeyBundle(make(spk.signature, badKem), addr, me, new MemSessions(), new MemIdentities()))
})

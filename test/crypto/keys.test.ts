// Key encodings and XEdDSA-compatible signatures: round trips, malformed input, and interop in both
// directions with libsignal-node (curve25519-js) and @signalapp/libsignal-client (Rust).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { PrivateKey, PublicKey } from '@signalapp/libsignal-client'
import { ed25519 } from '@noble/curves/ed25519.js'
import {
  DJB_TYPE, decodePublicKey, encodePublicKey, montgomeryToEdwards, signWithIdentity,
  verifyWithEncodedKey, verifyWithMontgomeryKey
} from '../../src/crypto/keys.js'
import { generateIdentity, identityFromSeed } from '../../src/crypto/identity.js'
import { MalformedInputError } from '../../src/crypto/errors.js'
import { hex, toHex, vectors } from '../helpers/bytes.js'

interface LibsignalCurve {
  generateKeyPair: () => { pubKey: Buffer, privKey: Buffer }
  calculateSignature: (priv: Buffer, msg: Buffer) => Buffer
  verifySignature: (pub: Buffer, msg: Buffer, sig: Buffer) => boolean
}
const require = createRequire(import.meta.url)
const lsCurve = require('libsignal/src/curve.js') as LibsignalCurve

const P = 2n ** 255n - 19n
const leBytes = (n: bigint): Uint8Array => { const o = new Uint8Array(32); for (let i = 0; i < 32; i++) { o[i] = Number(n & 0xffn); n >>= 8n } return o }

test('encodePublicKey / decodePublicKey round trip and refuse malformed input', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (u) => {
    const e = encodePublicKey(u)
    assert.equal(e.length, 33)
    assert.equal(e[0], DJB_TYPE)
    assert.deepEqual(decodePublicKey(e), u)
  }))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 70 }), (b) => {
    if (b.length === 33 && b[0] === DJB_TYPE) return
    assert.throws(() => decodePublicKey(b), MalformedInputError)
  }))
  assert.throws(() => encodePublicKey(new Uint8Array(31)), MalformedInputError)
  assert.throws(() => encodePublicKey(new Uint8Array(33)), MalformedInputError)
})

test('montgomeryToEdwards inverts the RFC 7748 §4.1 map on real keys and refuses non-canonical u', async () => {
  for (let i = 0; i < 20; i++) {
    const id = await generateIdentity()
    const sign = ((id.edPublicKey[31]! & 0x80) >> 7) as 0 | 1
    assert.deepEqual(montgomeryToEdwards(id.dhPublicKey, sign), id.edPublicKey)
  }
  assert.equal(montgomeryToEdwards(leBytes(P), 0), undefined) // u = p (non-canonical zero)
  assert.equal(montgomeryToEdwards(leBytes(P - 1n), 0), undefined) // u = -1 has no image
  const top = new Uint8Array(32); top[31] = 0x80
  assert.equal(montgomeryToEdwards(top, 0), undefined)
  assert.equal(montgomeryToEdwards(new Uint8Array(31), 0), undefined)
})

test('our signatures verify with our verifier; any flipped bit or wrong key is refused', async () => {
  const id = await generateIdentity()
  const other = await generateIdentity()
  const msg = new TextEncoder().encode('signed prekey bytes')
  const sig = await signWithIdentity(id, msg)
  assert.equal(sig.length, 64)
  assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, msg, sig), true)
  assert.equal(await verifyWithEncodedKey(encodePublicKey(id.dhPublicKey), msg, sig), true)
  assert.equal(await verifyWithMontgomeryKey(other.dhPublicKey, msg, sig), false)
  for (let bit = 0; bit < 512; bit++) {
    const bad = sig.slice(); bad[bit >> 3]! ^= 1 << (bit & 7)
    assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, msg, bad), false, `sig bit ${bit}`)
  }
  for (let bit = 0; bit < msg.length * 8; bit++) {
    const bad = msg.slice(); bad[bit >> 3]! ^= 1 << (bit & 7)
    assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, bad, sig), false, `msg bit ${bit}`)
  }
  for (let bit = 0; bit < 256; bit++) {
    const bad = id.dhPublicKey.slice(); bad[bit >> 3]! ^= 1 << (bit & 7)
    assert.equal(await verifyWithMontgomeryKey(bad, msg, sig), false, `key bit ${bit}`)
  }
})

test('property: random messages sign/verify; random mutations are refused', async () => {
  const id = await generateIdentity()
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.nat(), async (msg, pos) => {
    const sig = await signWithIdentity(id, msg)
    assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, msg, sig), true)
    const bad = sig.slice(); bad[pos % 64]! ^= 1 << (pos % 8)
    assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, msg, bad), false)
  }), { numRuns: 100 })
})

test('verifyWithMontgomeryKey never throws on malformed or hostile input', async () => {
  const id = await generateIdentity()
  const msg = hex('01020304')
  const sig = await signWithIdentity(id, msg)
  const cases: Array<[unknown, unknown, unknown]> = [
    [new Uint8Array(31), msg, sig], [new Uint8Array(33), msg, sig], [id.dhPublicKey, msg, sig.subarray(1)],
    [id.dhPublicKey, msg, new Uint8Array(65)], [null, msg, sig], [id.dhPublicKey, 'x', sig], [id.dhPublicKey, msg, undefined],
    [leBytes(P), msg, sig], [leBytes(P - 1n), msg, sig], [new Uint8Array(32), msg, sig], [new Uint8Array(32).fill(0xff), msg, sig]
  ]
  for (const [k, m, s] of cases) {
    assert.equal(await verifyWithMontgomeryKey(k as Uint8Array, m as Uint8Array, s as Uint8Array), false)
  }
  // s not reduced: s + L verifies under lax verifiers but is refused here (RFC 8032 §5.1.7).
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  let s = 0n
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]! & (i === 63 ? 0x7f : 0xff))
  const big = sig.slice(); big.set(leBytes(s + L), 32); big[63]! |= sig[63]! & 0x80
  assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, msg, big), false)
  // excess top bits in s are refused (XEdDSA §3)
  const high = sig.slice(); high[63]! |= 0x60
  assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, msg, high), false)
  // the encoded-key variant refuses wrong type bytes
  const enc = encodePublicKey(id.dhPublicKey); enc[0] = 0x06
  assert.equal(await verifyWithEncodedKey(enc, msg, sig), false)
})

test('interop: libsignal-node (curve25519-js) verifies ours, we verify its signatures', async () => {
  for (let i = 0; i < 25; i++) {
    const id = await generateIdentity()
    const msg = new Uint8Array(Buffer.from(`message ${i} `.repeat(i + 1)))
    const ours = await signWithIdentity(id, msg)
    assert.equal(lsCurve.verifySignature(Buffer.from(encodePublicKey(id.dhPublicKey)), Buffer.from(msg), Buffer.from(ours)), true)
    const bad = ours.slice(); bad[10]! ^= 4
    assert.equal(lsCurve.verifySignature(Buffer.from(encodePublicKey(id.dhPublicKey)), Buffer.from(msg), Buffer.from(bad)), false)

    const kp = lsCurve.generateKeyPair()
    const theirs = lsCurve.calculateSignature(kp.privKey, Buffer.from(msg))
    const theirU = decodePublicKey(new Uint8Array(kp.pubKey))
    assert.equal(await verifyWithMontgomeryKey(theirU, msg, new Uint8Array(theirs)), true)
    const badTheirs = new Uint8Array(theirs); badTheirs[40]! ^= 1
    assert.equal(await verifyWithMontgomeryKey(theirU, msg, badTheirs), false)
  }
})

test('interop: @signalapp/libsignal-client verifies ours, we verify its signatures (also with our scalar)', async () => {
  for (let i = 0; i < 25; i++) {
    const id = await generateIdentity()
    const msg = new Uint8Array(Buffer.from(`libsignal-client ${i}`))
    const ours = await signWithIdentity(id, msg)
    const pub = PublicKey.deserialize(new Uint8Array(encodePublicKey(id.dhPublicKey)))
    assert.equal(pub.verify(msg, new Uint8Array(ours)), true)
    const bad = ours.slice(); bad[63]! ^= 0x80 // wrong sign bit -> wrong Edwards key
    assert.equal(pub.verify(msg, new Uint8Array(bad)), false)

    const priv = PrivateKey.generate()
    const theirs = priv.sign(msg)
    const theirU = decodePublicKey(priv.getPublicKey().serialize())
    assert.equal(await verifyWithMontgomeryKey(theirU, msg, theirs), true)
    const badTheirs = theirs.slice(); badTheirs[5]! ^= 0x10
    assert.equal(await verifyWithMontgomeryKey(theirU, msg, badTheirs), false)

    // libsignal-client signing with OUR derived X25519 scalar: same key, its randomized XEdDSA.
    const mine = PrivateKey.deserialize(new Uint8Array(id.dhPrivateKey))
    assert.deepEqual(new Uint8Array(mine.getPublicKey().serialize()), encodePublicKey(id.dhPublicKey))
    assert.equal(await verifyWithMontgomeryKey(id.dhPublicKey, msg, mine.sign(msg)), true)
  }
})

test('signature is a plain RFC 8032 Ed25519 signature once the sign bit is cleared', async () => {
  // RFC 8032 §7.1 TEST 2 seed: our signature of 0x72 equals the RFC one plus the sign bit of A.
  const id = await identityFromSeed(hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'))
  const sig = await signWithIdentity(id, hex('72'))
  const clean = sig.slice(); clean[63]! &= 0x7f
  assert.equal(toHex(clean), '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00')
  assert.equal(sig[63]! & 0x80, id.edPublicKey[31]! & 0x80)
  assert.equal(ed25519.verify(clean, hex('72'), id.edPublicKey), true)
})

test('known-answer vectors: signatures made by libsignal-client and libsignal-node verify', async () => {
  const v = vectors<Array<{ source: string, publicKey: string, message: string, signature: string }>>('keys-xeddsa-libsignal.json')
  assert.ok(v.length >= 8)
  for (const c of v) {
    const u = decodePublicKey(hex(c.publicKey))
    assert.equal(await verifyWithMontgomeryKey(u, hex(c.message), hex(c.signature)), true, c.source)
    const bad = hex(c.signature); bad[0]! ^= 1
    assert.equal(await verifyWithMontgomeryKey(u, hex(c.message), bad), false, c.source)
  }
})

// Primitives: RFC known-answer vectors for both implementations (node:crypto and WebCrypto), plus
// random cross-checks against @noble/* (the audited reference).
import { test } from 'node:test'
import { createCipheriv } from 'node:crypto'
import assert from 'node:assert/strict'
import { x25519 as nobleX, ed25519 as nobleEd } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { nodePrimitives } from '../../src/crypto/primitives/node.js'
import { webPrimitives } from '../../src/crypto/primitives/web.js'
import { PrimitiveError, type CryptoPrimitives } from '../../src/crypto/primitives/types.js'
import { hex, toHex } from '../helpers/bytes.js'

const impls: CryptoPrimitives[] = [nodePrimitives, webPrimitives]

for (const p of impls) {
  test(`${p.name}: X25519 RFC 7748 §6.1 vector`, async () => {
    const a = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
    const b = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb')
    const aPub = await p.x25519PublicKey(a)
    assert.equal(toHex(aPub), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')
    const bPub = await p.x25519PublicKey(b)
    assert.equal(toHex(await p.x25519(a, bPub)), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742')
  })

  test(`${p.name}: X25519 refuses a low-order point and wrong lengths with PrimitiveError`, async () => {
    const kp = await p.x25519Generate()
    await assert.rejects(p.x25519(kp.privateKey, new Uint8Array(32)), PrimitiveError)
    await assert.rejects(p.x25519(kp.privateKey, new Uint8Array(31)), PrimitiveError)
  })

  test(`${p.name}: Ed25519 RFC 8032 §7.1 test 2`, async () => {
    const seed = hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb')
    const pub = await p.ed25519PublicKey(seed)
    assert.equal(toHex(pub), '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c')
    const sig = await p.ed25519Sign(seed, hex('72'))
    assert.equal(toHex(sig), '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00')
    assert.equal(await p.ed25519Verify(pub, hex('72'), sig), true)
    const bad = sig.slice(); bad[5]! ^= 1
    assert.equal(await p.ed25519Verify(pub, hex('72'), bad), false)
    assert.equal(await p.ed25519Verify(pub.subarray(1), hex('72'), sig), false)
  })

  test(`${p.name}: HKDF-SHA256 RFC 5869 A.1 and HMAC-SHA256 RFC 4231 case 2`, async () => {
    const okm = await p.hkdfSha256(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42)
    assert.equal(toHex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865')
    const mac = await p.hmacSha256(new TextEncoder().encode('Jefe'), new TextEncoder().encode('what do ya want for nothing?'))
    assert.equal(toHex(mac), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
  })

  test(`${p.name}: AES-CBC and AES-GCM round trip; tampering is refused`, async () => {
    const key = p.randomBytes(32); const iv = p.randomBytes(16); const nonce = p.randomBytes(12)
    for (const len of [0, 1, 15, 16, 17, 1000, 1024, 1025, 5000]) {
      const pt = p.randomBytes(len)
      const ct = await p.aesCbcEncrypt(key, iv, pt)
      assert.equal(ct.length, (Math.floor(len / 16) + 1) * 16)
      assert.deepEqual(await p.aesCbcDecrypt(key, iv, ct), pt)
      const sealed = await p.aesGcmEncrypt(key, nonce, pt, hex('aa'))
      assert.deepEqual(await p.aesGcmDecrypt(key, nonce, sealed, hex('aa')), pt)
      const t = sealed.slice(); t[t.length - 1]! ^= 0x80
      await assert.rejects(p.aesGcmDecrypt(key, nonce, t, hex('aa')), PrimitiveError)
      await assert.rejects(p.aesGcmDecrypt(key, nonce, sealed, hex('ab')), PrimitiveError)
    }
    await assert.rejects(p.aesCbcDecrypt(key, iv, p.randomBytes(15)), PrimitiveError)
    await assert.rejects(p.aesCbcDecrypt(key, iv, new Uint8Array(0)), PrimitiveError)
  })

  test(`${p.name}: AES-CBC refuses every malformed PKCS#7 padding and accepts every well-formed one`, async () => {
    const key = p.randomBytes(32); const iv = p.randomBytes(16)
    // raw CBC (no padding) of a chosen last block, so the decrypted padding is whatever we choose
    const rawCbc = (block: Uint8Array): Uint8Array => {
      const c = createCipheriv('aes-256-cbc', key, iv); c.setAutoPadding(false)
      return new Uint8Array(c.update(block))
    }
    for (let pad = 0; pad <= 17; pad++) {
      const block = p.randomBytes(32)
      if (pad <= 16) block.fill(pad, 32 - pad)
      block[31] = pad
      if (pad >= 1 && pad <= 16) {
        assert.deepEqual(await p.aesCbcDecrypt(key, iv, rawCbc(block)), block.subarray(0, 32 - pad), `pad ${pad}`)
        if (pad >= 2) {
          // one wrong byte anywhere inside the padding
          const wrong = block.slice(); wrong[32 - pad]! ^= 0x01
          await assert.rejects(p.aesCbcDecrypt(key, iv, rawCbc(wrong)), PrimitiveError, `pad ${pad}, first byte wrong`)
        }
      } else {
        await assert.rejects(p.aesCbcDecrypt(key, iv, rawCbc(block)), PrimitiveError, `pad byte ${pad}`)
      }
    }
  })
}

test('node:crypto and WebCrypto agree with @noble on random inputs', async () => {
  for (let i = 0; i < 50; i++) {
    const a = nodePrimitives.randomBytes(32); const b = nodePrimitives.randomBytes(32)
    const bPub = nobleX.getPublicKey(b)
    const expected = toHex(nobleX.getSharedSecret(a, bPub))
    assert.equal(toHex(await nodePrimitives.x25519(a, bPub)), expected)
    assert.equal(toHex(await webPrimitives.x25519(a, bPub)), expected)
    const msg = nodePrimitives.randomBytes(i * 7)
    const sig = await nodePrimitives.ed25519Sign(a, msg)
    assert.equal(toHex(sig), toHex(nobleEd.sign(msg, a)))
    assert.equal(toHex(await webPrimitives.ed25519Sign(a, msg)), toHex(sig))
    const ikm = nodePrimitives.randomBytes(32); const salt = nodePrimitives.randomBytes(i % 2 === 0 ? 0 : 32)
    const info = nodePrimitives.randomBytes(5)
    const ref = toHex(hkdf(sha256, ikm, salt, info, 80))
    assert.equal(toHex(await nodePrimitives.hkdfSha256(ikm, salt, info, 80)), ref)
    assert.equal(toHex(await webPrimitives.hkdfSha256(ikm, salt, info, 80)), ref)
    const key = nodePrimitives.randomBytes(32); const iv = nodePrimitives.randomBytes(16)
    assert.equal(toHex(await webPrimitives.aesCbcEncrypt(key, iv, msg)), toHex(await nodePrimitives.aesCbcEncrypt(key, iv, msg)))
  }
})

test('scrypt: node:crypto and @noble agree (RFC 7914 §12 vector 2)', async () => {
  const params = { N: 1024, r: 8, p: 16 }
  const enc = new TextEncoder()
  const expected = 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640'
  assert.equal(toHex(await nodePrimitives.scrypt(enc.encode('password'), enc.encode('NaCl'), params, 64)), expected)
  assert.equal(toHex(await webPrimitives.scrypt(enc.encode('password'), enc.encode('NaCl'), params, 64)), expected)
})

test('hmacSha256Many equals hmacSha256 per message, in both implementations', async () => {
  for (const p of impls) {
    if (p.hmacSha256Many == null) continue
    for (const keyLen of [0, 1, 32, 64, 65, 100]) {
      const key = nodePrimitives.randomBytes(keyLen)
      const msgs = [0, 1, 55, 56, 64, 1000, 1500].map(n => nodePrimitives.randomBytes(n))
      const many = await p.hmacSha256Many(key, msgs)
      for (let i = 0; i < msgs.length; i++) {
        assert.equal(toHex(many[i]!), toHex(await nodePrimitives.hmacSha256(key, msgs[i]!)))
        assert.equal(toHex(many[i]!), toHex(await webPrimitives.hmacSha256(key, msgs[i]!)))
      }
    }
  }
})

test('native ML-KEM-1024 (when present) matches @noble both ways, incl. implicit rejection', async () => {
  const { ml_kem1024: kem } = await import('@noble/post-quantum/ml-kem.js')
  for (const p of impls) {
    if (p.mlKem1024Encapsulate == null || p.mlKem1024Decapsulate == null) continue
    for (let i = 0; i < 5; i++) {
      const { publicKey, secretKey } = kem.keygen()
      const enc: { ciphertext: Uint8Array, sharedSecret: Uint8Array } | undefined = p.mlKem1024Encapsulate(publicKey)
      if (enc === undefined) continue // unavailable here: kem.ts falls back to @noble
      assert.equal(toHex(kem.decapsulate(enc.ciphertext, secretKey)), toHex(enc.sharedSecret))
      const ref = kem.encapsulate(publicKey)
      assert.equal(toHex(p.mlKem1024Decapsulate(ref.cipherText, secretKey) ?? new Uint8Array()), toHex(ref.sharedSecret))
      const bad = ref.cipherText.slice(); bad[7]! ^= 1
      const rejected = p.mlKem1024Decapsulate(bad, secretKey)
      if (rejected !== undefined) assert.equal(toHex(rejected), toHex(kem.decapsulate(bad, secretKey)))
    }
  }
})

// node.ts computes short HMACs and HKDFs on recycled @noble/hashes states (a scratch HMAC, a pool of
// SHA-256 instances, a shared digest buffer). Any state leaking from one call into the next would show
// up here: hundreds of calls of every input shape (block boundaries, long keys that are hashed first,
// inputs past the native cut-over), interleaved and issued concurrently, each checked against
// node:crypto's own HMAC/HKDF and @noble's, with the inputs checked to be left unchanged.
test('node: HMAC, HMAC of parts and HKDF on recycled noble states agree with node:crypto and @noble on every input shape', async () => {
  const { createHmac, hkdfSync } = await import('node:crypto')
  const { hmac } = await import('@noble/hashes/hmac.js')
  const P = nodePrimitives
  assert.ok(P.hmacSha256Parts !== undefined && P.hmacSha256Many !== undefined)
  const lens = [0, 1, 31, 32, 33, 55, 56, 63, 64, 65, 119, 120, 200, 1100]
  const pick = <T>(xs: readonly T[], i: number): T => xs[(i * 7919 + (i >> 3)) % xs.length]!
  const concat = (parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let o = 0
    for (const p of parts) { out.set(p, o); o += p.length }
    return out
  }
  const ref = (key: Uint8Array, data: Uint8Array): string => createHmac('sha256', key).update(data).digest('hex')
  // node:crypto's hkdfSync refuses info over 1024 bytes; Parley's HKDF does not
  assert.equal((await P.hkdfSha256(P.randomBytes(32), new Uint8Array(0), P.randomBytes(1100), 40)).length, 40)
  const checks: Array<Promise<void>> = []
  for (let i = 0; i < 400; i++) {
    const key = P.randomBytes(pick([0, 1, 31, 32, 33, 63, 64, 65, 100, 200], i))
    const parts = Array.from({ length: i % 5 }, (_, j) => P.randomBytes(pick(lens, i + j * 13)))
    const whole = concat(parts)
    const keyCopy = key.slice(); const wholeCopy = whole.slice()
    const want = ref(key, whole)
    assert.equal(toHex(hmac(sha256, key, whole)), want)
    checks.push((async () => {
      assert.equal(toHex(await P.hmacSha256Parts!(key, parts)), want)
      assert.equal(toHex(await P.hmacSha256(key, whole)), want)
      const many = await P.hmacSha256Many!(key, [whole, ...parts])
      assert.equal(toHex(many[0]!), want)
      for (let j = 0; j < parts.length; j++) assert.equal(toHex(many[j + 1]!), ref(key, parts[j]!))
      assert.deepEqual(key, keyCopy); assert.deepEqual(concat(parts), wholeCopy)
    })())
    const ikm = P.randomBytes(pick([0, 1, 32, 64, 65, 1100], i))
    const salt = i % 4 === 0 ? new Uint8Array(32) : P.randomBytes(pick([0, 13, 32, 64, 65, 100, 1100], i))
    const info = P.randomBytes(pick([0, 5, 18, 64, 65, 1100], i + 1))
    const length = pick([0, 1, 31, 32, 33, 42, 64, 80, 95, 96, 255, 1000], i)
    const saltCopy = salt.slice()
    const hkdfWant = toHex(hkdf(sha256, ikm, salt, info, length))
    if (length > 0 && info.length <= 1024) assert.equal(toHex(new Uint8Array(hkdfSync('sha256', ikm, salt, info, length))), hkdfWant)
    checks.push((async () => {
      assert.equal(toHex(await P.hkdfSha256(ikm, salt, info, length)), hkdfWant)
      assert.deepEqual(salt, saltCopy)
    })())
  }
  await Promise.all(checks)
})

test('hmacSha256Parts (where implemented) equals hmacSha256 of the concatenation; the empty salt is HashLen zeros (RFC 5869 §2.2)', async () => {
  for (const p of impls) {
    const ikm = p.randomBytes(32); const info = p.randomBytes(9)
    assert.equal(toHex(await p.hkdfSha256(ikm, new Uint8Array(0), info, 80)), toHex(await p.hkdfSha256(ikm, new Uint8Array(32), info, 80)))
    if (p.hmacSha256Parts === undefined) continue
    const key = p.randomBytes(32)
    const a = p.randomBytes(33); const b = p.randomBytes(33); const c = p.randomBytes(150)
    const whole = new Uint8Array([...a, ...b, ...c])
    assert.equal(toHex(await p.hmacSha256Parts(key, [a, b, c])), toHex(await p.hmacSha256(key, whole)))
    assert.equal(toHex(await p.hmacSha256Parts(key, [])), toHex(await p.hmacSha256(key, new Uint8Array(0))))
    // a part that is not bytes is refused, and the next HMAC is unaffected by the aborted one
    await assert.rejects(p.hmacSha256Parts(key, [a, 'text' as unknown as Uint8Array]), PrimitiveError)
    assert.equal(toHex(await p.hmacSha256Parts(key, [a, b, c])), toHex(await webPrimitives.hmacSha256(key, whole)))
  }
})

test('X25519 takes u-coordinates as RFC 7748 §5 says (top bit masked, non-canonical values accepted), like @noble', async () => {
  const topBit = nobleX.getPublicKey(nodePrimitives.randomBytes(32)); topBit[31]! |= 0x80
  const pPlus9 = new Uint8Array(32).fill(0xff); pPlus9[0] = 0xf6; pPlus9[31] = 0x7f // 2^255 - 19 + 9
  for (const u of [topBit, pPlus9]) {
    const a = nodePrimitives.randomBytes(32)
    const want = toHex(nobleX.getSharedSecret(a, u))
    for (const p of impls) assert.equal(toHex(await p.x25519(a, u)), want, p.name)
  }
})

test('hkdfSha256Split (where implemented) returns the HKDF output (RFC 5869) cut at the given lengths, equal to @noble and node:crypto', async () => {
  const { hkdfSync } = await import('node:crypto')
  const split = nodePrimitives.hkdfSha256Split
  assert.ok(split !== undefined, 'the node primitives implement it')
  const shapes: Array<readonly number[]> = [[32, 32, 16], [32], [1, 31], [80], [16, 16, 16, 16, 16, 16], [255 * 32]]
  for (const lengths of shapes) {
    for (const saltLen of [0, 32, 77]) {
      const ikm = nodePrimitives.randomBytes(32); const salt = nodePrimitives.randomBytes(saltLen); const info = nodePrimitives.randomBytes(19)
      const total = lengths.reduce((a, b) => a + b, 0)
      const parts = await split(ikm, salt, info, lengths)
      assert.deepEqual(parts.map(p => p.length), [...lengths])
      const joined = toHex(new Uint8Array(parts.flatMap(p => [...p])))
      assert.equal(joined, toHex(hkdf(sha256, ikm, salt, info, total)), `@noble, lengths ${lengths.join('/')}, salt ${saltLen}`)
      assert.equal(joined, toHex(new Uint8Array(hkdfSync('sha256', ikm, salt, info, total))), 'node:crypto')
      assert.equal(joined, toHex(await nodePrimitives.hkdfSha256(ikm, salt, info, total)), 'our hkdfSha256')
    }
  }
  // beyond RFC 5869's 255·HashLen, or a negative / fractional length: refused as HKDF refuses it
  await assert.rejects(split(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), [255 * 32, 1]))
  await assert.rejects(split(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), [-1]))
})

test('the synchronous per-message forms (CryptoPrimitives.sync) equal the async forms, in both implementations', async () => {
  for (const p of [nodePrimitives, webPrimitives] as CryptoPrimitives[]) {
    const s = p.sync
    assert.ok(s !== undefined, `${p.name} has synchronous HMAC/HKDF`)
    for (let i = 0; i < 20; i++) {
      const key = p.randomBytes(i % 5 === 0 ? 0 : 32)
      const msgs = [p.randomBytes(1), p.randomBytes(i * 13), p.randomBytes(64), p.randomBytes(200 + i)]
      assert.deepEqual(s.hmacSha256Many(key, msgs).map(toHex), (await Promise.all(msgs.map(async m => await p.hmacSha256(key, m)))).map(toHex), `${p.name} many`)
      const whole = new Uint8Array(msgs.flatMap(m => [...m]))
      assert.equal(toHex(s.hmacSha256Parts(key, msgs)), toHex(await p.hmacSha256(key, whole)), `${p.name} parts`)
      const ikm = p.randomBytes(32); const salt = p.randomBytes(i % 2 === 0 ? 0 : 32); const info = p.randomBytes(i)
      const pieces = s.hkdfSha256Split(ikm, salt, info, [32, 32, 16])
      assert.deepEqual(pieces.map(x => x.length), [32, 32, 16])
      assert.equal(toHex(new Uint8Array(pieces.flatMap(x => [...x]))), toHex(await p.hkdfSha256(ikm, salt, info, 80)), `${p.name} hkdf`)
      if (s.aesCbcEncrypt !== undefined && s.aesCbcDecrypt !== undefined) {
        const aesKey = p.randomBytes(32); const iv = p.randomBytes(16); const pt = p.randomBytes(i * 7)
        const ct = s.aesCbcEncrypt(aesKey, iv, pt)
        assert.equal(toHex(ct), toHex(await p.aesCbcEncrypt(aesKey, iv, pt)), `${p.name} cbc`)
        assert.equal(toHex(s.aesCbcDecrypt(aesKey, iv, ct)), toHex(pt))
      }
    }
    // errors are thrown (typed), not returned
    assert.throws(() => s.hkdfSha256Split(new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), [255 * 32, 1]), PrimitiveError)
    assert.throws(() => s.hmacSha256Parts(new Uint8Array(32), [new Uint8Array(1), 'x' as unknown as Uint8Array]), PrimitiveError)
    if (s.aesCbcDecrypt !== undefined) assert.throws(() => s.aesCbcDecrypt!(new Uint8Array(32), new Uint8Array(16), new Uint8Array(15)), PrimitiveError)
  }
  assert.ok(nodePrimitives.sync?.aesCbcEncrypt !== undefined && nodePrimitives.sync.aesCbcDecrypt !== undefined, 'node has synchronous AES-CBC')
})

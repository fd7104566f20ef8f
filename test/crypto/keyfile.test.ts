// Identity key files: plaintext and scrypt + AES-256-GCM containers, wrong passphrases, tampering,
// garbage and downgrade attempts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { scrypt } from '@noble/hashes/scrypt.js'
import { createDecipheriv } from 'node:crypto'
import { openIdentity, sealIdentity, keyFileIsEncrypted, MAX_KEYFILE_BYTES } from '../../src/crypto/keyfile.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { MalformedInputError, WrongPassphraseError } from '../../src/crypto/errors.js'

test('plaintext key file: versioned, round trips, corruption detected', async () => {
  const id = await generateIdentity()
  const file = await sealIdentity(id, null)
  assert.equal(file.length, 70)
  assert.deepEqual([...file.subarray(0, 6)], [0x50, 0x52, 0x4c, 0x4b, 1, 0])
  assert.equal(keyFileIsEncrypted(file), false)
  assert.deepEqual(await openIdentity(file, null), id)
  const bad = file.slice(); bad[10]! ^= 1 // seed changed: no longer matches the stored public key
  await assert.rejects(openIdentity(bad, null), MalformedInputError)
  const v2 = file.slice(); v2[4] = 2
  await assert.rejects(openIdentity(v2, null), MalformedInputError)
  // a plaintext file offered where a passphrase is expected is refused (downgrade)
  await assert.rejects(openIdentity(file, 'secret'), MalformedInputError)
})

test('encrypted key file: round trip, scrypt params stored, wrong passphrase and tampering refused', async () => {
  const id = await generateIdentity()
  const pass = 'correct horse battery staple ✓'
  const file = await sealIdentity(id, pass)
  assert.equal(keyFileIsEncrypted(file), true)
  assert.equal(file[6], 15) // log2 N
  assert.deepEqual([...file.subarray(7, 15)], [0, 0, 0, 8, 0, 0, 0, 1]) // r = 8, p = 1
  assert.deepEqual(await openIdentity(file, pass), id)
  // NFC normalisation: the decomposed form of the same passphrase opens it too
  assert.deepEqual(await openIdentity(file, pass.normalize('NFD')), id)
  await assert.rejects(openIdentity(file, 'wrong'), WrongPassphraseError)
  await assert.rejects(openIdentity(file, null), WrongPassphraseError)
  // two seals of the same identity differ (fresh salt and nonce)
  assert.notDeepEqual(await sealIdentity(id, pass), file)

  // independent re-derivation with @noble (scrypt + AES-GCM): the container is what the docs say
  const salt = file.subarray(15, 31); const nonce = file.subarray(31, 43)
  const key = scrypt(new TextEncoder().encode(pass.normalize('NFC')), salt, { N: 2 ** 15, r: 8, p: 1, dkLen: 32 })
  const d = createDecipheriv('aes-256-gcm', key, nonce)
  d.setAAD(file.subarray(0, 43)); d.setAuthTag(file.subarray(file.length - 16))
  const pt = new Uint8Array(Buffer.concat([d.update(file.subarray(43, file.length - 16)), d.final()]))
  assert.deepEqual(pt, new Uint8Array([...id.seed, ...id.edPublicKey]))
})

test('encrypted key file: any flipped bit (header, params, salt, nonce, ciphertext, tag) is refused', async () => {
  const id = await generateIdentity()
  const file = await sealIdentity(id, 'pw')
  // one flipped bit per byte, spread over the bit positions; each costs one scrypt
  for (let byte = 0; byte < file.length; byte += 6) {
    const bad = file.slice(); bad[byte]! ^= 1 << (byte % 8)
    await assert.rejects(openIdentity(bad, 'pw'), (e: unknown) => e instanceof WrongPassphraseError || e instanceof MalformedInputError, `byte ${byte}`)
  }
})

test('garbage, truncation, oversize and weak or absurd scrypt parameters are MalformedInputError', async () => {
  const id = await generateIdentity()
  const file = await sealIdentity(id, 'pw')
  await assert.rejects(openIdentity(file.subarray(0, file.length - 1), 'pw'), MalformedInputError)
  await assert.rejects(openIdentity(new Uint8Array(MAX_KEYFILE_BYTES + 1), 'pw'), MalformedInputError)
  await assert.rejects(openIdentity(new Uint8Array(0), null), MalformedInputError)
  const weak = file.slice(); weak[6] = 10
  await assert.rejects(openIdentity(weak, 'pw'), MalformedInputError)
  const huge = file.slice(); huge[6] = 40
  await assert.rejects(openIdentity(huge, 'pw'), MalformedInputError)
  const hugeP = file.slice(); hugeP[11] = 0x7f
  await assert.rejects(openIdentity(hugeP, 'pw'), MalformedInputError)
  await assert.rejects(sealIdentity(id, 'pw', { scrypt: { N: 2 ** 14, r: 8, p: 1 } }), MalformedInputError)
  await assert.rejects(sealIdentity(id, ''), MalformedInputError)
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (junk) => {
    await assert.rejects(openIdentity(junk, null), MalformedInputError)
  }), { numRuns: 200 })
  const ac = new AbortController(); ac.abort()
  await assert.rejects(sealIdentity(id, 'pw', { signal: ac.signal }))
})

test('stronger parameters are stored and honoured', async () => {
  const id = await generateIdentity()
  const file = await sealIdentity(id, new Uint8Array([1, 2, 3]), { scrypt: { N: 2 ** 16, r: 8, p: 1 } })
  assert.equal(file[6], 16)
  assert.deepEqual(await openIdentity(file, new Uint8Array([1, 2, 3])), id)
})

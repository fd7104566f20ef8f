// Safety numbers: byte-for-byte equal to @signalapp/libsignal-client's Fingerprint on random inputs,
// a committed known-answer vector, and the scannable comparison.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Fingerprint, PublicKey, PrivateKey, ScannableFingerprint } from '@signalapp/libsignal-client'
import fc from 'fast-check'
import {
  compareScannable, computeSafetyNumber, formatSafetyNumber, parseScannable, encodeScannable, MAX_SCANNABLE_BYTES
} from '../../src/crypto/fingerprint.js'
import { encodePublicKey } from '../../src/crypto/keys.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { MalformedInputError } from '../../src/crypto/errors.js'
import { hex, toHex, vectors } from '../helpers/bytes.js'

const u8 = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b)

interface Kat {
  iterations: number
  localIdentifier: string, localIdentityKey: string, remoteIdentifier: string, remoteIdentityKey: string
  displayable: string, scannableLocal: string, scannableRemote: string
}

test('known-answer vector (generated with libsignal-client 0.103.0, see test/vectors/README.md)', async () => {
  const kats = vectors<Kat[]>('fingerprint-libsignal.json')
  assert.ok(kats.length >= 2)
  for (const k of kats) {
    const input = {
      localIdentifier: hex(k.localIdentifier), localIdentityKey: hex(k.localIdentityKey),
      remoteIdentifier: hex(k.remoteIdentifier), remoteIdentityKey: hex(k.remoteIdentityKey), iterations: k.iterations
    }
    const a = await computeSafetyNumber(input)
    assert.equal(a.displayable, k.displayable)
    assert.equal(toHex(a.scannable), k.scannableLocal)
    const b = await computeSafetyNumber({
      localIdentifier: input.remoteIdentifier, localIdentityKey: input.remoteIdentityKey,
      remoteIdentifier: input.localIdentifier, remoteIdentityKey: input.localIdentityKey, iterations: k.iterations
    })
    assert.equal(b.displayable, k.displayable)
    assert.equal(toHex(b.scannable), k.scannableRemote)
    assert.deepEqual(compareScannable(a.scannable, b.scannable), { match: true })
  }
})

test('equals libsignal-client Fingerprint.new on 120 random inputs (displayable and scannable)', async () => {
  let n = 0
  await fc.assert(fc.asyncProperty(
    fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 80 }),
    fc.constantFrom(5200, 5200, 5200, 2, 3, 17, 1024),
    async (localId, remoteId, iterations) => {
      const lk = PrivateKey.generate().getPublicKey()
      const rk = PrivateKey.generate().getPublicKey()
      const ref = Fingerprint.new(iterations, 2, u8(localId), lk, u8(remoteId), rk)
      const ours = await computeSafetyNumber({
        localIdentifier: localId, localIdentityKey: lk.serialize(), remoteIdentifier: remoteId,
        remoteIdentityKey: rk.serialize().subarray(1), iterations
      })
      assert.equal(ours.displayable, ref.displayableFingerprint().toString())
      assert.match(ours.displayable, /^\d{60}$/)
      assert.deepEqual(ours.scannable, new Uint8Array(ref.scannableFingerprint().toBuffer()))
      n++
    }), { numRuns: 120 })
  assert.equal(n, 120)
})

test('Parley identities + PeerId identifiers: both sides agree, libsignal-client compare agrees with ours', async () => {
  const alice = await generateIdentity()
  const bob = await generateIdentity()
  const aliceId = new TextEncoder().encode('12D3KooWAlice')
  const bobId = new TextEncoder().encode('12D3KooWBob')
  const a = await computeSafetyNumber({ localIdentifier: aliceId, localIdentityKey: alice.dhPublicKey, remoteIdentifier: bobId, remoteIdentityKey: bob.dhPublicKey })
  const b = await computeSafetyNumber({ localIdentifier: bobId, localIdentityKey: bob.dhPublicKey, remoteIdentifier: aliceId, remoteIdentityKey: alice.dhPublicKey })
  assert.equal(a.displayable, b.displayable)
  assert.equal(formatSafetyNumber(a.displayable).split(' ').length, 12)
  assert.deepEqual(compareScannable(a.scannable, b.scannable), { match: true })
  assert.equal(ScannableFingerprint._fromBuffer(u8(a.scannable)).compare(ScannableFingerprint._fromBuffer(u8(b.scannable))), true)
  // comparing with ourselves is not a match (local/remote swapped roles)
  assert.deepEqual(compareScannable(a.scannable, a.scannable), { match: false, reason: 'mismatch' })

  // Mallory substitutes her key for Bob's: numbers differ, scan reports a mismatch
  const mallory = await generateIdentity()
  const m = await computeSafetyNumber({ localIdentifier: bobId, localIdentityKey: mallory.dhPublicKey, remoteIdentifier: aliceId, remoteIdentityKey: alice.dhPublicKey })
  assert.notEqual(m.displayable, a.displayable)
  assert.deepEqual(compareScannable(a.scannable, m.scannable), { match: false, reason: 'mismatch' })
  assert.equal(ScannableFingerprint._fromBuffer(u8(a.scannable)).compare(ScannableFingerprint._fromBuffer(u8(m.scannable))), false)
  // the 33-byte typed form gives the same result as the raw 32-byte key
  const typed = await computeSafetyNumber({ localIdentifier: aliceId, localIdentityKey: encodePublicKey(alice.dhPublicKey), remoteIdentifier: bobId, remoteIdentityKey: encodePublicKey(bob.dhPublicKey) })
  assert.deepEqual(typed, a)
  // libsignal-client with the same PeerId identifiers and our keys gives the same numbers
  const ref = Fingerprint.new(5200, 2, u8(aliceId), PublicKey.deserialize(u8(encodePublicKey(alice.dhPublicKey))), u8(bobId), PublicKey.deserialize(u8(encodePublicKey(bob.dhPublicKey))))
  assert.equal(ref.displayableFingerprint().toString(), a.displayable)
})

test('compareScannable: version mismatch is reported; malformed scanned bytes are MalformedInputError', async () => {
  const alice = await generateIdentity(); const bob = await generateIdentity()
  const a = await computeSafetyNumber({ localIdentifier: hex('01'), localIdentityKey: alice.dhPublicKey, remoteIdentifier: hex('02'), remoteIdentityKey: bob.dhPublicKey, iterations: 10 })
  const b = await computeSafetyNumber({ localIdentifier: hex('02'), localIdentityKey: bob.dhPublicKey, remoteIdentifier: hex('01'), remoteIdentityKey: alice.dhPublicKey, iterations: 10 })
  const p = parseScannable(b.scannable)
  const v1 = encodeScannable(1, p.local!, p.remote!)
  assert.deepEqual(compareScannable(a.scannable, v1), { match: false, reason: 'version' })
  // every single flipped bit in the content of the scanned bytes is a mismatch (or malformed framing)
  for (let bit = 0; bit < b.scannable.length * 8; bit++) {
    const bad = b.scannable.slice(); bad[bit >> 3]! ^= 1 << (bit & 7)
    let r
    try { r = compareScannable(a.scannable, bad) } catch (e) { assert.ok(e instanceof MalformedInputError, String(e)); continue }
    assert.equal(r.match, false, `bit ${bit}`)
  }
  for (const junk of [new Uint8Array(0), new Uint8Array(MAX_SCANNABLE_BYTES + 1), hex('08'), hex('0802120a'), hex('ff'), hex('0802'), hex('00')]) {
    assert.throws(() => compareScannable(a.scannable, junk), MalformedInputError, toHex(junk))
  }
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (junk) => {
    try { assert.equal(compareScannable(a.scannable, junk).match, false) } catch (e) { assert.ok(e instanceof MalformedInputError) }
  }))
  await assert.rejects(computeSafetyNumber({ localIdentifier: hex('01'), localIdentityKey: new Uint8Array(31), remoteIdentifier: hex('02'), remoteIdentityKey: bob.dhPublicKey }), MalformedInputError)
  await assert.rejects(computeSafetyNumber({ localIdentifier: new Uint8Array(1025), localIdentityKey: alice.dhPublicKey, remoteIdentifier: hex('02'), remoteIdentityKey: bob.dhPublicKey }), MalformedInputError)
  await assert.rejects(computeSafetyNumber({ localIdentifier: hex('01'), localIdentityKey: alice.dhPublicKey, remoteIdentifier: hex('02'), remoteIdentityKey: bob.dhPublicKey, iterations: 1 }), MalformedInputError)
  const ac = new AbortController(); ac.abort()
  await assert.rejects(computeSafetyNumber({ localIdentifier: hex('01'), localIdentityKey: alice.dhPublicKey, remoteIdentifier: hex('02'), remoteIdentityKey: bob.dhPublicKey }, { signal: ac.signal }))
})

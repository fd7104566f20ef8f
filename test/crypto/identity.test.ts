// Identity: one Ed25519 seed gives the libp2p key (PeerId) and the Signal identity (X25519) key;
// the binding is checked against @libp2p/crypto + @libp2p/peer-id.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { x25519, ed25519 } from '@noble/curves/ed25519.js'
import {
  assertIdentityBoundToPeerKey, generateIdentity, identityFromSeed, identityKeyForEd25519
} from '../../src/crypto/identity.js'
import { MalformedInputError, UntrustedIdentityError } from '../../src/crypto/errors.js'
import { hex, toHex } from '../helpers/bytes.js'

test('identityFromSeed: RFC 8032 §7.1 TEST 1 key, X25519 scalar and u agree with @noble', async () => {
  const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
  const id = await identityFromSeed(seed)
  assert.equal(toHex(id.edPublicKey), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
  assert.deepEqual(id.dhPrivateKey, ed25519.utils.toMontgomerySecret(seed))
  assert.deepEqual(id.dhPublicKey, x25519.getPublicKey(id.dhPrivateKey))
  assert.deepEqual(id.dhPublicKey, ed25519.utils.toMontgomery(id.edPublicKey))
  assert.deepEqual(await identityFromSeed(seed), id) // deterministic
})

test('property: for random seeds both derivations of the identity key agree', async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (seed) => {
    const id = await identityFromSeed(seed)
    assert.deepEqual(identityKeyForEd25519(id.edPublicKey), id.dhPublicKey)
    assert.deepEqual(x25519.getPublicKey(id.dhPrivateKey), id.dhPublicKey)
  }), { numRuns: 50 })
})

test('binding: the libp2p PeerId made from the same seed maps to dhPublicKey; others are refused', async () => {
  for (let i = 0; i < 5; i++) {
    const id = await generateIdentity()
    const libp2pKey = await generateKeyPairFromSeed('Ed25519', id.seed)
    const peerId = peerIdFromPrivateKey(libp2pKey)
    // round-trip through the PeerId string, as a remote peer sees it
    const seen = peerIdFromString(peerId.toString())
    assert.equal(seen.type, 'Ed25519')
    const edKey = seen.publicKey!.raw
    assert.deepEqual(edKey, id.edPublicKey)
    assert.deepEqual(identityKeyForEd25519(edKey), id.dhPublicKey)
    assert.doesNotThrow(() => assertIdentityBoundToPeerKey(edKey, id.dhPublicKey))

    // someone else's identity key presented under this PeerId is refused
    const mallory = await generateIdentity()
    assert.throws(() => assertIdentityBoundToPeerKey(edKey, mallory.dhPublicKey), UntrustedIdentityError)
    const malloryPeer = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', mallory.seed))
    assert.throws(() => assertIdentityBoundToPeerKey(malloryPeer.publicKey.raw, id.dhPublicKey), UntrustedIdentityError)
    // a one-bit change of the identity key is refused
    const flipped = id.dhPublicKey.slice(); flipped[7]! ^= 2
    assert.throws(() => assertIdentityBoundToPeerKey(edKey, flipped), UntrustedIdentityError)
    assert.throws(() => assertIdentityBoundToPeerKey(edKey, id.dhPublicKey.subarray(1)), UntrustedIdentityError)
  }
})

test('identityKeyForEd25519 refuses invalid, non-canonical and small-order points', () => {
  assert.throws(() => identityKeyForEd25519(new Uint8Array(31)), MalformedInputError)
  // identity point (y = 1): small order
  const ident = new Uint8Array(32); ident[0] = 1
  assert.throws(() => identityKeyForEd25519(ident), MalformedInputError)
  // y = p + 1 (non-canonical encoding of the identity)
  const nonCanon = hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')
  assert.throws(() => identityKeyForEd25519(nonCanon), MalformedInputError)
  // a y with no x on the curve: y = 2
  const noPoint = new Uint8Array(32); noPoint[0] = 2
  assert.throws(() => identityKeyForEd25519(noPoint), MalformedInputError)
  // a mixed-order point: valid key + a small-order point (order 2: (0, -1))
  const A = ed25519.Point.fromBytes(ed25519.getPublicKey(new Uint8Array(32).fill(7)))
  const T = ed25519.Point.fromAffine({ x: 0n, y: ed25519.Point.Fp.neg(1n) })
  assert.throws(() => identityKeyForEd25519(A.add(T).toBytes()), MalformedInputError)
  // and UntrustedIdentityError when used through the binding check
  assert.throws(() => assertIdentityBoundToPeerKey(ident, new Uint8Array(32)), UntrustedIdentityError)
})

test('identityFromSeed refuses a wrong-length seed', async () => {
  await assert.rejects(identityFromSeed(new Uint8Array(31)), MalformedInputError)
  await assert.rejects(identityFromSeed(new Uint8Array(33)), MalformedInputError)
})

/**
 * The long-term identity: ONE Ed25519 seed per user. Its Ed25519 public key is the user's libp2p
 * key (the PeerId is derived from it), and its Signal identity (DH) key is the same key in
 * Montgomery form, so the identity key is a function of the PeerId and cannot be swapped for
 * another user's identity key under one's own PeerId.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { primitives } from './primitives/index.js'
import { MalformedInputError, UntrustedIdentityError } from './errors.js'
import { constantTimeEqual } from './primitives/types.js'

export interface IdentityKeyPair {
  /** Ed25519 seed (32) — also the user's libp2p private key (PeerId). */
  seed: Uint8Array
  /** Ed25519 public key (32) — the libp2p public key. */
  edPublicKey: Uint8Array
  /** X25519 scalar (32) derived from the seed (RFC 8032 §5.1.5 hash+clamp). */
  dhPrivateKey: Uint8Array
  /** X25519 u (32) == birational map of edPublicKey (RFC 7748 §4.1). */
  dhPublicKey: Uint8Array
}

export const SEED_LENGTH = 32

export async function generateIdentity (): Promise<IdentityKeyPair> {
  return await identityFromSeed(primitives.randomBytes(SEED_LENGTH))
}

/** The X25519 scalar of an Ed25519 seed: the first half of SHA-512(seed), clamped. */
export async function dhPrivateKeyFromSeed (seed: Uint8Array): Promise<Uint8Array> {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_LENGTH) throw new MalformedInputError('identity seed must be 32 bytes')
  const h = await primitives.sha512(seed)
  const a = h.slice(0, 32)
  h.fill(0)
  // RFC 8032 §5.1.5 step 2 (== RFC 7748 §5 decodeScalar25519): clear 3 low bits, clear bit 255, set bit 254.
  a[0]! &= 248
  a[31]! &= 127
  a[31]! |= 64
  return a
}

export async function identityFromSeed (seed: Uint8Array): Promise<IdentityKeyPair> {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_LENGTH) throw new MalformedInputError('identity seed must be 32 bytes')
  const s = seed.slice()
  const edPublicKey = await primitives.ed25519PublicKey(s)
  const dhPrivateKey = await dhPrivateKeyFromSeed(s)
  const dhPublicKey = await primitives.x25519PublicKey(dhPrivateKey)
  // Both routes (scalar * base in Montgomery form, birational map of A) must agree: RFC 7748 §4.1.
  if (!constantTimeEqual(dhPublicKey, identityKeyForEd25519(edPublicKey))) {
    throw new MalformedInputError('identity derivation inconsistent')
  }
  return { seed: s, edPublicKey, dhPrivateKey, dhPublicKey }
}

/**
 * The X25519 identity key that MUST accompany a given Ed25519 (PeerId) key: binds identity to
 * PeerId. Refuses non-canonical encodings (RFC 8032 §5.1.3), small-order and mixed-order points.
 */
export function identityKeyForEd25519 (edPublicKey: Uint8Array): Uint8Array {
  if (!(edPublicKey instanceof Uint8Array) || edPublicKey.length !== 32) throw new MalformedInputError('Ed25519 public key must be 32 bytes')
  let point
  try {
    point = ed25519.Point.fromBytes(edPublicKey, false)
  } catch (err) {
    throw new MalformedInputError('Ed25519 public key is not a valid point', { cause: err })
  }
  // A key made from a seed is a multiple of the base point: refuse anything with a torsion part
  // (RFC 7748 §7 warns about small-order inputs; such a key would give a degenerate identity).
  if (point.isSmallOrder() || !point.isTorsionFree()) throw new MalformedInputError('Ed25519 public key has small-order component')
  // RFC 7748 §4.1: u = (1 + y) / (1 - y) mod p.
  return ed25519.utils.toMontgomery(edPublicKey)
}

/** Throws UntrustedIdentityError unless identityKeyU is exactly the Montgomery form of edPublicKey. */
export function assertIdentityBoundToPeerKey (edPublicKey: Uint8Array, identityKeyU: Uint8Array): void {
  let expected: Uint8Array
  try {
    expected = identityKeyForEd25519(edPublicKey)
  } catch (err) {
    throw new UntrustedIdentityError('peer key is not a usable Ed25519 key', { cause: err })
  }
  if (!(identityKeyU instanceof Uint8Array) || !constantTimeEqual(expected, identityKeyU)) {
    throw new UntrustedIdentityError('identity key is not bound to the peer key')
  }
}

/**
 * Signal key encodings and XEdDSA-compatible signatures over the Curve25519 identity key.
 *
 * Public keys on the wire are libsignal's "DJB" encoding: a 0x05 type byte followed by the 32-byte
 * X25519 u-coordinate (RFC 7748 §5). Signatures are 64-byte Ed25519 signatures (RFC 8032 §5.1.6)
 * whose last byte carries the Edwards public key's sign bit in bit 7, so that any verifier that
 * knows only the X25519 key can rebuild the Edwards key (XEdDSA §2.3 convert_mont / §5 u_to_y,
 * with libsignal's sign-bit convention).
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { primitives } from './primitives/index.js'
import { MalformedInputError } from './errors.js'
import type { IdentityKeyPair } from './identity.js'

/** libsignal's type byte for Curve25519 public keys. */
export const DJB_TYPE = 0x05
export const PUBLIC_KEY_LENGTH = 32
export const ENCODED_PUBLIC_KEY_LENGTH = 33
export const SIGNATURE_LENGTH = 64

const Fp = ed25519.Point.Fp
const P = Fp.ORDER

function isBytes (x: unknown): x is Uint8Array {
  return x instanceof Uint8Array
}

/** 32-byte X25519 u-coordinate -> 33-byte typed encoding (0x05 || u). */
export function encodePublicKey (u: Uint8Array): Uint8Array {
  if (!isBytes(u) || u.length !== PUBLIC_KEY_LENGTH) throw new MalformedInputError('X25519 public key must be 32 bytes')
  const out = new Uint8Array(ENCODED_PUBLIC_KEY_LENGTH)
  out[0] = DJB_TYPE
  out.set(u, 1)
  return out
}

/** 33-byte typed encoding -> 32-byte u. Only the 0x05 type with exactly 32 key bytes is accepted. */
export function decodePublicKey (encoded: Uint8Array): Uint8Array {
  if (!isBytes(encoded) || encoded.length !== ENCODED_PUBLIC_KEY_LENGTH) throw new MalformedInputError('encoded public key must be 33 bytes')
  if (encoded[0] !== DJB_TYPE) throw new MalformedInputError('unknown public key type')
  return encoded.slice(1)
}

function bytesToNumberLE (b: Uint8Array): bigint {
  let n = 0n
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!)
  return n
}

function numberToBytesLE (n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len)
  for (let i = 0; i < len; i++) { out[i] = Number(n & 0xffn); n >>= 8n }
  return out
}

/**
 * The Edwards public key (compressed, 32 bytes) for an X25519 u-coordinate and a sign bit, or
 * undefined when u is not canonical or has no Edwards image.
 */
export function montgomeryToEdwards (u: Uint8Array, signBit: 0 | 1): Uint8Array | undefined {
  if (!isBytes(u) || u.length !== PUBLIC_KEY_LENGTH) return undefined
  const n = bytesToNumberLE(u)
  // XEdDSA §3 (xeddsa_verify): "if u >= p: return false" — we also refuse the unused top bit.
  if (n >= P) return undefined
  const denom = Fp.add(n, Fp.ONE)
  // u = -1 has no Edwards image (u_to_y divides by u + 1; XEdDSA §2.1 inv(0) = 0 would give y = 0).
  if (Fp.is0(denom)) return undefined
  // XEdDSA §5: y = (u - 1) * inv(u + 1) mod p (the RFC 7748 §4.1 birational map).
  const y = Fp.mul(Fp.sub(n, Fp.ONE), Fp.inv(denom))
  const out = numberToBytesLE(y, 32)
  out[31]! |= signBit << 7
  return out
}

/**
 * Signs like libsignal's Curve25519 "calculate_signature"/curve25519-js sign: verifiable with the
 * X25519 public key. The identity comes from an Ed25519 seed, so a plain RFC 8032 §5.1.6 signature
 * is produced; its s < L < 2^253 leaves bit 7 of byte 63 free, which carries the sign bit of the
 * Edwards public key (libsignal's convention; XEdDSA proper would force it to 0).
 */
export async function signWithIdentity (identity: IdentityKeyPair, message: Uint8Array): Promise<Uint8Array> {
  if (!isBytes(message)) throw new MalformedInputError('message must be bytes')
  const sig = await primitives.ed25519Sign(identity.seed, message)
  if (sig.length !== SIGNATURE_LENGTH || (sig[63]! & 0x80) !== 0) throw new MalformedInputError('unexpected Ed25519 signature shape')
  sig[63]! |= identity.edPublicKey[31]! & 0x80
  return sig
}

/**
 * Verifies a libsignal-style (XEdDSA-family) signature against a 32-byte X25519 public key. Never
 * throws for bad input. Stricter than libsignal in one respect: s must be fully reduced (< L), as
 * RFC 8032 §5.1.7 requires; every honest signer (libsignal, curve25519-js, us) reduces s.
 */
export async function verifyWithMontgomeryKey (publicKeyU: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    if (!isBytes(publicKeyU) || !isBytes(message) || !isBytes(signature)) return false
    if (publicKeyU.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
    const signBit = ((signature[63]! & 0x80) >> 7) as 0 | 1
    const edPublicKey = montgomeryToEdwards(publicKeyU, signBit)
    if (edPublicKey === undefined) return false
    const sig = signature.slice()
    sig[63]! &= 0x7f
    // XEdDSA §3 (xeddsa_verify): "if ... s >= 2^|q| return false" — s keeps at most 253 bits.
    if ((sig[63]! & 0xe0) !== 0) return false
    return await primitives.ed25519Verify(edPublicKey, message, sig)
  } catch {
    return false
  }
}

/** Verifies with a 33-byte typed public key; false for anything malformed. */
export async function verifyWithEncodedKey (encodedPublicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (!isBytes(encodedPublicKey) || encodedPublicKey.length !== ENCODED_PUBLIC_KEY_LENGTH || encodedPublicKey[0] !== DJB_TYPE) return false
  return await verifyWithMontgomeryKey(encodedPublicKey.subarray(1), message, signature)
}

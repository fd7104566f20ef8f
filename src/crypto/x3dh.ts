/**
 * X3DH key agreement (Signal spec "The X3DH Key Agreement Protocol", rev. 1 — cited as X3DH §n) in
 * libsignal's v3 form: curve X25519, hash SHA-256, info "WhisperText", and
 *
 *   SK = HKDF-SHA256(ikm = F || DH1 || DH2 || DH3 [|| DH4], salt = 0^32, info, 64)
 *   F  = 32 bytes of 0xFF (X3DH §2.2), root key = SK[0..32], chain key = SK[32..64] (unused by the
 *        ratchet, as in libsignal: both sides start a fresh chain from the root key)
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  DH4 = DH(EK_A, OPK_B)
 *   AD  = Encode(IK_A) || Encode(IK_B)   (bound into every message MAC by the ratchet)
 *
 * PQXDH (pqxdh.ts) uses the same code with the KEM shared secret appended to the DH outputs.
 */
import { primitives, type KeyPair } from './primitives/index.js'
import { MalformedInputError } from './errors.js'

/** X3DH §2.1 "info" of libsignal v3 (classic mode). */
export const X3DH_INFO = 'WhisperText'
const F = new Uint8Array(32).fill(0xff)
const ZERO_SALT = new Uint8Array(32)

export interface SessionSecrets {
  rootKey: Uint8Array
  chainKey: Uint8Array
}

async function dh (privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> {
  try {
    return await primitives.x25519(privateKey, publicKey)
  } catch (err) {
    // RFC 7748 §6.1 / X3DH §4.x: an all-zero or unusable shared secret aborts the protocol
    throw new MalformedInputError('unusable public key in key agreement', { cause: err })
  }
}

/** The key material of X3DH §3.3 on the initiator's side: DH1 || DH2 || DH3 [|| DH4]. */
export async function initiatorKeyMaterial (p: {
  ourIdentityPrivateKey: Uint8Array
  ourBaseKey: KeyPair
  theirIdentityKey: Uint8Array
  theirSignedPreKey: Uint8Array
  theirOneTimePreKey?: Uint8Array
}): Promise<Uint8Array[]> {
  const parts = await Promise.all([
    dh(p.ourIdentityPrivateKey, p.theirSignedPreKey), // DH1 = DH(IK_A, SPK_B)
    dh(p.ourBaseKey.privateKey, p.theirIdentityKey), // DH2 = DH(EK_A, IK_B)
    dh(p.ourBaseKey.privateKey, p.theirSignedPreKey) // DH3 = DH(EK_A, SPK_B)
  ])
  if (p.theirOneTimePreKey !== undefined) parts.push(await dh(p.ourBaseKey.privateKey, p.theirOneTimePreKey)) // DH4
  return parts
}

/** X3DH §3.4: the responder repeats the DH calculations with its private keys. */
export async function responderKeyMaterial (p: {
  ourIdentityPrivateKey: Uint8Array
  ourSignedPreKey: KeyPair
  ourOneTimePreKey?: KeyPair
  theirIdentityKey: Uint8Array
  theirBaseKey: Uint8Array
}): Promise<Uint8Array[]> {
  const parts = await Promise.all([
    dh(p.ourSignedPreKey.privateKey, p.theirIdentityKey), // DH1
    dh(p.ourIdentityPrivateKey, p.theirBaseKey), // DH2
    dh(p.ourSignedPreKey.privateKey, p.theirBaseKey) // DH3
  ])
  if (p.ourOneTimePreKey !== undefined) parts.push(await dh(p.ourOneTimePreKey.privateKey, p.theirBaseKey)) // DH4
  return parts
}

/** X3DH §2.2 KDF: HKDF(F || KM, salt = zeros, info) -> root key || chain key. */
export async function deriveSessionSecrets (keyMaterial: Uint8Array[], info: string): Promise<SessionSecrets> {
  let len = F.length
  for (const k of keyMaterial) len += k.length
  const ikm = new Uint8Array(len)
  ikm.set(F, 0)
  let off = F.length
  for (const k of keyMaterial) { ikm.set(k, off); off += k.length }
  const okm = await primitives.hkdfSha256(ikm, ZERO_SALT, new TextEncoder().encode(info), 64)
  ikm.fill(0)
  return { rootKey: okm.slice(0, 32), chainKey: okm.slice(32, 64) }
}

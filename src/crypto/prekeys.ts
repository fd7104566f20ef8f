/**
 * Prekeys (X3DH §3.2, PQXDH §3.2) as plain-data records, the bundle a peer publishes, its
 * verification (X3DH §3.3, PQXDH §3.3) and its binary encoding.
 *
 * Signatures follow libsignal: the signed prekey signature is Sig(IK, Encode(SPK)) over the 33-byte
 * typed key, the Kyber prekey signature is Sig(IK, EncodeKEM(PQSPK)) over the typed KEM key.
 */
import { primitives } from './primitives/index.js'
import type { KeyPair } from './primitives/types.js'
import { BadSignatureError, MalformedInputError } from './errors.js'
import type { IdentityKeyPair } from './identity.js'
import {
  decodePublicKey, encodePublicKey, signWithIdentity, verifyWithMontgomeryKey,
  ENCODED_PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH
} from './keys.js'
import { decodeKemPublicKey, kemGenerate, KEM_ENCODED_PUBLIC_KEY_LENGTH, KEM_TYPE, type KemKeyPair } from './kem.js'

export interface SignedPreKeyRecord { id: number, keyPair: KeyPair, signature: Uint8Array, createdAt: number }
export interface OneTimePreKeyRecord { id: number, keyPair: KeyPair }
export interface KyberPreKeyRecord { id: number, keyPair: KemKeyPair, signature: Uint8Array, createdAt: number, lastResort: boolean }

export interface PreKeyBundle {
  registrationId: number
  deviceId: number
  /** 33 bytes (0x05 || u). */
  identityKey: Uint8Array
  signedPreKeyId: number
  /** 33 bytes. */
  signedPreKey: Uint8Array
  /** 64 bytes. */
  signedPreKeySignature: Uint8Array
  oneTimePreKeyId?: number
  /** 33 bytes. */
  oneTimePreKey?: Uint8Array
  kyberPreKeyId?: number
  /** KEM_TYPE || ML-KEM encapsulation key. */
  kyberPreKey?: Uint8Array
  kyberPreKeySignature?: Uint8Array
}

/** Largest number of one-time prekeys made in one call. */
export const MAX_ONE_TIME_PREKEYS_PER_BATCH = 10_000
/** Upper bound on an encoded bundle; anything larger is refused before parsing. */
export const MAX_BUNDLE_BYTES = 4096
/** Bundle wire-format version (first byte). */
export const BUNDLE_VERSION = 1

const FLAG_ONE_TIME = 0x01
const FLAG_KYBER = 0x02
const U32_MAX = 0xffffffff

function checkU32 (what: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > U32_MAX) throw new MalformedInputError(`${what} must be an integer in 0..2^32-1`)
  return n
}

function checkBytes (what: string, b: unknown, len: number): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== len) throw new MalformedInputError(`${what} must be ${len} bytes`)
  return b
}

export async function generateSignedPreKey (identity: IdentityKeyPair, id: number, now: number = Date.now()): Promise<SignedPreKeyRecord> {
  checkU32('signed prekey id', id)
  const keyPair = await primitives.x25519Generate()
  // X3DH §3.3: the signature is over Encode(SPK), the typed 33-byte form.
  const signature = await signWithIdentity(identity, encodePublicKey(keyPair.publicKey))
  return { id, keyPair, signature, createdAt: now }
}

export async function generateOneTimePreKeys (startId: number, count: number): Promise<OneTimePreKeyRecord[]> {
  checkU32('start id', startId)
  if (!Number.isInteger(count) || count < 0 || count > MAX_ONE_TIME_PREKEYS_PER_BATCH) throw new MalformedInputError('count out of range')
  if (count > 0) checkU32('last prekey id', startId + count - 1)
  const out: OneTimePreKeyRecord[] = []
  for (let i = 0; i < count; i++) out.push({ id: startId + i, keyPair: await primitives.x25519Generate() })
  return out
}

export async function generateKyberPreKey (identity: IdentityKeyPair, id: number, opts: { lastResort?: boolean, now?: number } = {}): Promise<KyberPreKeyRecord> {
  checkU32('kyber prekey id', id)
  const keyPair = kemGenerate()
  // PQXDH §3.3: Sig(IK, EncodeKEM(PQPK)) over the typed KEM key.
  const signature = await signWithIdentity(identity, keyPair.publicKey)
  return { id, keyPair, signature, createdAt: opts.now ?? Date.now(), lastResort: opts.lastResort ?? false }
}

/** Assembles the public bundle for the given records (what a peer publishes). */
export function buildPreKeyBundle (identity: IdentityKeyPair, opts: {
  registrationId: number
  deviceId: number
  signedPreKey: SignedPreKeyRecord
  oneTimePreKey?: OneTimePreKeyRecord
  kyberPreKey?: KyberPreKeyRecord
}): PreKeyBundle {
  const b: PreKeyBundle = {
    registrationId: opts.registrationId,
    deviceId: opts.deviceId,
    identityKey: encodePublicKey(identity.dhPublicKey),
    signedPreKeyId: opts.signedPreKey.id,
    signedPreKey: encodePublicKey(opts.signedPreKey.keyPair.publicKey),
    signedPreKeySignature: opts.signedPreKey.signature.slice()
  }
  if (opts.oneTimePreKey !== undefined) {
    b.oneTimePreKeyId = opts.oneTimePreKey.id
    b.oneTimePreKey = encodePublicKey(opts.oneTimePreKey.keyPair.publicKey)
  }
  if (opts.kyberPreKey !== undefined) {
    b.kyberPreKeyId = opts.kyberPreKey.id
    b.kyberPreKey = opts.kyberPreKey.keyPair.publicKey.slice()
    b.kyberPreKeySignature = opts.kyberPreKey.signature.slice()
  }
  return b
}

/** Structural checks shared by verify and encode: lengths, types, ids, all-or-nothing optionals. */
function checkShape (b: PreKeyBundle): void {
  if (typeof b !== 'object' || b === null) throw new MalformedInputError('bundle must be an object')
  checkU32('registrationId', b.registrationId)
  checkU32('deviceId', b.deviceId)
  checkU32('signedPreKeyId', b.signedPreKeyId)
  decodePublicKey(checkBytes('identityKey', b.identityKey, ENCODED_PUBLIC_KEY_LENGTH))
  decodePublicKey(checkBytes('signedPreKey', b.signedPreKey, ENCODED_PUBLIC_KEY_LENGTH))
  checkBytes('signedPreKeySignature', b.signedPreKeySignature, SIGNATURE_LENGTH)
  const otp = [b.oneTimePreKeyId, b.oneTimePreKey].filter(x => x !== undefined).length
  if (otp === 1) throw new MalformedInputError('one-time prekey id and key must come together')
  if (otp === 2) {
    checkU32('oneTimePreKeyId', b.oneTimePreKeyId)
    decodePublicKey(checkBytes('oneTimePreKey', b.oneTimePreKey, ENCODED_PUBLIC_KEY_LENGTH))
  }
  const ky = [b.kyberPreKeyId, b.kyberPreKey, b.kyberPreKeySignature].filter(x => x !== undefined).length
  if (ky !== 0 && ky !== 3) throw new MalformedInputError('kyber prekey id, key and signature must come together')
  if (ky === 3) {
    checkU32('kyberPreKeyId', b.kyberPreKeyId)
    const k = checkBytes('kyberPreKey', b.kyberPreKey, KEM_ENCODED_PUBLIC_KEY_LENGTH)
    if (k[0] !== KEM_TYPE) throw new MalformedInputError('unknown KEM key type')
    checkBytes('kyberPreKeySignature', b.kyberPreKeySignature, SIGNATURE_LENGTH)
  }
}

/** Checks lengths/types and both signatures (X3DH §3.3, PQXDH §3.3); BadSignatureError / MalformedInputError. */
export async function verifyPreKeyBundle (bundle: PreKeyBundle): Promise<void> {
  checkShape(bundle)
  const ik = bundle.identityKey.subarray(1)
  // X3DH §3.3: "Alice verifies the prekey signature and aborts the protocol if verification fails."
  if (!await verifyWithMontgomeryKey(ik, bundle.signedPreKey, bundle.signedPreKeySignature)) {
    throw new BadSignatureError('signed prekey signature does not verify')
  }
  if (bundle.kyberPreKey !== undefined && bundle.kyberPreKeySignature !== undefined) {
    // PQXDH §3.3: the PQ prekey signature is verified likewise before any encapsulation.
    if (!await verifyWithMontgomeryKey(ik, bundle.kyberPreKey, bundle.kyberPreKeySignature)) {
      throw new BadSignatureError('kyber prekey signature does not verify')
    }
    // Only after authenticity: FIPS 203 §7.2 encapsulation-key check.
    decodeKemPublicKey(bundle.kyberPreKey)
  }
}

function putU32 (out: Uint8Array, off: number, n: number): number {
  out[off] = (n >>> 24) & 0xff; out[off + 1] = (n >>> 16) & 0xff; out[off + 2] = (n >>> 8) & 0xff; out[off + 3] = n & 0xff
  return off + 4
}
function getU32 (b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + (b[off + 1]! << 16) + (b[off + 2]! << 8) + b[off + 3]!
}

const BASE_LEN = 2 + 4 + 4 + ENCODED_PUBLIC_KEY_LENGTH + 4 + ENCODED_PUBLIC_KEY_LENGTH + SIGNATURE_LENGTH
const OTP_LEN = 4 + ENCODED_PUBLIC_KEY_LENGTH
const KYBER_LEN = 4 + KEM_ENCODED_PUBLIC_KEY_LENGTH + SIGNATURE_LENGTH

/**
 * version(1)=1 | flags(1) | registrationId u32 BE | deviceId u32 BE | identityKey(33) |
 * signedPreKeyId u32 | signedPreKey(33) | signature(64) | [oneTimePreKeyId u32 | oneTimePreKey(33)]
 * | [kyberPreKeyId u32 | kyberPreKey(1569) | kyberSignature(64)].  Flags: 0x01 one-time, 0x02 kyber.
 */
export function encodePreKeyBundle (b: PreKeyBundle): Uint8Array {
  checkShape(b)
  const hasOtp = b.oneTimePreKey !== undefined
  const hasKyber = b.kyberPreKey !== undefined
  const out = new Uint8Array(BASE_LEN + (hasOtp ? OTP_LEN : 0) + (hasKyber ? KYBER_LEN : 0))
  out[0] = BUNDLE_VERSION
  out[1] = (hasOtp ? FLAG_ONE_TIME : 0) | (hasKyber ? FLAG_KYBER : 0)
  let off = putU32(out, 2, b.registrationId)
  off = putU32(out, off, b.deviceId)
  out.set(b.identityKey, off); off += ENCODED_PUBLIC_KEY_LENGTH
  off = putU32(out, off, b.signedPreKeyId)
  out.set(b.signedPreKey, off); off += ENCODED_PUBLIC_KEY_LENGTH
  out.set(b.signedPreKeySignature, off); off += SIGNATURE_LENGTH
  if (hasOtp) {
    off = putU32(out, off, b.oneTimePreKeyId!)
    out.set(b.oneTimePreKey!, off); off += ENCODED_PUBLIC_KEY_LENGTH
  }
  if (hasKyber) {
    off = putU32(out, off, b.kyberPreKeyId!)
    out.set(b.kyberPreKey!, off); off += KEM_ENCODED_PUBLIC_KEY_LENGTH
    out.set(b.kyberPreKeySignature!, off)
  }
  return out
}

/** Parses an encoded bundle (size-capped, exact length); does NOT verify signatures. */
export function decodePreKeyBundle (bytes: Uint8Array): PreKeyBundle {
  if (!(bytes instanceof Uint8Array)) throw new MalformedInputError('bundle must be bytes')
  if (bytes.length > MAX_BUNDLE_BYTES) throw new MalformedInputError('bundle too large')
  if (bytes.length < BASE_LEN) throw new MalformedInputError('bundle truncated')
  if (bytes[0] !== BUNDLE_VERSION) throw new MalformedInputError('unknown bundle version')
  const flags = bytes[1]!
  if ((flags & ~(FLAG_ONE_TIME | FLAG_KYBER)) !== 0) throw new MalformedInputError('unknown bundle flags')
  const hasOtp = (flags & FLAG_ONE_TIME) !== 0
  const hasKyber = (flags & FLAG_KYBER) !== 0
  if (bytes.length !== BASE_LEN + (hasOtp ? OTP_LEN : 0) + (hasKyber ? KYBER_LEN : 0)) throw new MalformedInputError('bundle length does not match its flags')
  let off = 2
  const take = (n: number): Uint8Array => { const s = bytes.slice(off, off + n); off += n; return s }
  const u32 = (): number => { const v = getU32(bytes, off); off += 4; return v }
  const b: PreKeyBundle = {
    registrationId: u32(),
    deviceId: u32(),
    identityKey: take(ENCODED_PUBLIC_KEY_LENGTH),
    signedPreKeyId: u32(),
    signedPreKey: take(ENCODED_PUBLIC_KEY_LENGTH),
    signedPreKeySignature: take(SIGNATURE_LENGTH)
  }
  if (hasOtp) {
    b.oneTimePreKeyId = u32()
    b.oneTimePreKey = take(ENCODED_PUBLIC_KEY_LENGTH)
  }
  if (hasKyber) {
    b.kyberPreKeyId = u32()
    b.kyberPreKey = take(KEM_ENCODED_PUBLIC_KEY_LENGTH)
    b.kyberPreKeySignature = take(SIGNATURE_LENGTH)
  }
  checkShape(b)
  return b
}


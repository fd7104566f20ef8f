/**
 * The post-quantum KEM of PQXDH (PQXDH §2.2 "pqkem"): ML-KEM-1024 (FIPS 203) from
 * @noble/post-quantum. Encoded public keys carry a 1-byte type prefix like libsignal's KEM keys;
 * 0x0A is libsignal's value for ML-KEM-1024 (its 0x08 "Kyber1024" is pre-standard round-3 Kyber,
 * which derives a different shared secret, so we do not reuse that byte).
 *
 * Why 1024 rather than 768: the PQXDH paper's example and Signal's deployment use the NIST level-5
 * parameter set; the prekey bundle is published once and fetched rarely, so the extra 384 bytes of
 * key and ciphertext and the ~1.4x slower operations (see docs/PROTOCOL.md Part 1) are not on a hot path.
 */
import { ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js'
import { MalformedInputError } from './errors.js'
import { primitives } from './primitives/index.js'

export const KEM_TYPE: number = 0x0a
export const KEM_NAME: string = 'ML-KEM-1024'

/** Raw sizes of ML-KEM-1024 (FIPS 203 §8 Table 3). */
export const KEM_PUBLIC_KEY_LENGTH = 1568
export const KEM_SECRET_KEY_LENGTH = 3168
export const KEM_CIPHERTEXT_LENGTH = 1568
export const KEM_SHARED_SECRET_LENGTH = 32
/** Length of an encoded (typed) public key: 1 + 1568. */
export const KEM_ENCODED_PUBLIC_KEY_LENGTH = 1 + KEM_PUBLIC_KEY_LENGTH

export interface KemKeyPair {
  /** Encoded public key, with the type byte: KEM_TYPE || ek (1569 bytes). */
  publicKey: Uint8Array
  /** Raw ML-KEM decapsulation key (3168 bytes). */
  secretKey: Uint8Array
}

const kem = ml_kem1024

export function kemGenerate (): KemKeyPair {
  const seed = primitives.randomBytes(64)
  const { publicKey, secretKey } = kem.keygen(seed)
  seed.fill(0)
  return { publicKey: encodeKemPublicKey(publicKey), secretKey }
}

export function encodeKemPublicKey (raw: Uint8Array): Uint8Array {
  if (!(raw instanceof Uint8Array) || raw.length !== KEM_PUBLIC_KEY_LENGTH) throw new MalformedInputError('KEM public key has wrong length')
  const out = new Uint8Array(KEM_ENCODED_PUBLIC_KEY_LENGTH)
  out[0] = KEM_TYPE
  out.set(raw, 1)
  return out
}

/** Typed -> raw public key; checks type, length and FIPS 203 §7.2 modulus check (encapsulation key check). */
export function decodeKemPublicKey (encoded: Uint8Array): Uint8Array {
  if (!(encoded instanceof Uint8Array) || encoded.length !== KEM_ENCODED_PUBLIC_KEY_LENGTH) throw new MalformedInputError('encoded KEM public key has wrong length')
  if (encoded[0] !== KEM_TYPE) throw new MalformedInputError('unknown KEM key type')
  const raw = encoded.slice(1)
  if (!isCanonicalEncapsulationKey(raw)) throw new MalformedInputError('KEM public key fails the FIPS 203 modulus check')
  return raw
}

/** FIPS 203 §7.2 input check 2: every 12-bit coefficient of the encoded vector is < q = 3329. */
function isCanonicalEncapsulationKey (ek: Uint8Array): boolean {
  const polyBytes = ek.length - 32
  for (let i = 0; i + 2 < polyBytes; i += 3) {
    const b0 = ek[i]!; const b1 = ek[i + 1]!; const b2 = ek[i + 2]!
    const c0 = b0 | ((b1 & 0x0f) << 8)
    const c1 = (b1 >> 4) | (b2 << 4)
    if (c0 >= 3329 || c1 >= 3329) return false
  }
  return true
}

export function kemEncapsulate (encodedPublicKey: Uint8Array): { ciphertext: Uint8Array, sharedSecret: Uint8Array } {
  const raw = decodeKemPublicKey(encodedPublicKey)
  // native ML-KEM-1024 when the primitives have it (OpenSSL on Node); else the portable code below
  const native = kem === ml_kem1024 ? primitives.mlKem1024Encapsulate?.(raw) : undefined
  if (native !== undefined) return native
  const msg = primitives.randomBytes(32)
  let res: { cipherText: Uint8Array, sharedSecret: Uint8Array }
  try {
    res = kem.encapsulate(raw, msg)
  } catch (err) {
    throw new MalformedInputError('KEM encapsulation refused the public key', { cause: err })
  } finally {
    msg.fill(0)
  }
  return { ciphertext: res.cipherText, sharedSecret: res.sharedSecret }
}

/**
 * Decapsulates. ML-KEM never signals a wrong ciphertext (FIPS 203 §6.3 implicit rejection returns
 * a pseudo-random secret), so only wrong lengths raise MalformedInputError.
 */
export function kemDecapsulate (ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== KEM_CIPHERTEXT_LENGTH) throw new MalformedInputError('KEM ciphertext has wrong length')
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== KEM_SECRET_KEY_LENGTH) throw new MalformedInputError('KEM secret key has wrong length')
  const native = kem === ml_kem1024 ? primitives.mlKem1024Decapsulate?.(ciphertext, secretKey) : undefined
  if (native !== undefined) return native
  try {
    return kem.decapsulate(ciphertext, secretKey)
  } catch (err) {
    throw new MalformedInputError('KEM decapsulation refused its input', { cause: err })
  }
}

/** Both parameter sets, for benchmarks and the 768-vs-1024 measurement only. */
export const KEM_VARIANTS = { 'ML-KEM-768': ml_kem768, 'ML-KEM-1024': ml_kem1024 } as const

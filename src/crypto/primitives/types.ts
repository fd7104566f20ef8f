/**
 * The primitive operations Parley's protocols are built from. Two implementations exist and are
 * swapped by the package.json "browser" field: `node.ts` (node:crypto) and `web.ts` (WebCrypto, with
 * @noble/* where WebCrypto has no equivalent). Everything else in src/crypto uses only this interface,
 * so the same protocol code runs in Node and in browsers.
 *
 * All keys are raw bytes: X25519 keys are 32-byte little-endian u-coordinates / scalars (RFC 7748 §5),
 * Ed25519 keys are 32-byte seeds / compressed points (RFC 8032 §5.1.5).
 */
export interface KeyPair {
  readonly publicKey: Uint8Array
  readonly privateKey: Uint8Array
}

export interface ScryptParams {
  /** CPU/memory cost, a power of two. @default 2 ** 15 */
  N: number
  /** block size. @default 8 */
  r: number
  /** parallelism. @default 1 */
  p: number
}

export interface CryptoPrimitives {
  readonly name: string
  randomBytes: (length: number) => Uint8Array

  /** New X25519 key pair (RFC 7748 §6.1). */
  x25519Generate: () => Promise<KeyPair>
  /** X25519 public key of a 32-byte private scalar. */
  x25519PublicKey: (privateKey: Uint8Array) => Promise<Uint8Array>
  /**
   * X25519 shared secret. Rejects (throws) when the result is all zeros, i.e. the peer sent a
   * low-order point (RFC 7748 §6.1 "check whether the result is the all-zero value").
   */
  x25519: (privateKey: Uint8Array, publicKey: Uint8Array) => Promise<Uint8Array>
  /**
   * Drops any cached key object derived from this X25519 private key (DR §6.5 deletion: a retired
   * ratchet key must not linger in a cache). Optional; implementations without a cache omit it or
   * make it a no-op. Purely a hint: using the key again afterwards still works (it is re-imported).
   */
  x25519Forget?: (privateKey: Uint8Array) => void

  /**
   * Optional native ML-KEM-1024 (FIPS 203): encapsulation to a raw 1568-byte encapsulation key, and
   * decapsulation with a raw 3168-byte decapsulation key. Return undefined when unavailable or when
   * the input is refused, and the caller (kem.ts) uses its portable implementation instead. Must be
   * output-identical to FIPS 203 (decapsulation is deterministic, incl. implicit rejection §6.3).
   */
  mlKem1024Encapsulate?: (publicKey: Uint8Array) => { ciphertext: Uint8Array, sharedSecret: Uint8Array } | undefined
  mlKem1024Decapsulate?: (ciphertext: Uint8Array, secretKey: Uint8Array) => Uint8Array | undefined

  /** Ed25519 public key of a 32-byte seed. */
  ed25519PublicKey: (seed: Uint8Array) => Promise<Uint8Array>
  ed25519Sign: (seed: Uint8Array, message: Uint8Array) => Promise<Uint8Array>
  /** Never throws for malformed keys or signatures: returns false. */
  ed25519Verify: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => Promise<boolean>

  sha256: (data: Uint8Array) => Promise<Uint8Array>
  sha512: (data: Uint8Array) => Promise<Uint8Array>
  hmacSha256: (key: Uint8Array, data: Uint8Array) => Promise<Uint8Array>
  /**
   * HMAC-SHA256 of several messages under one key (same results as hmacSha256 for each), so the key
   * schedule is done once. Optional; callers fall back to hmacSha256.
   */
  hmacSha256Many?: (key: Uint8Array, messages: readonly Uint8Array[]) => Promise<Uint8Array[]>
  /**
   * HMAC-SHA256 of the concatenation of `parts` (the same result as hmacSha256(key, concat(parts))),
   * without building the concatenation. Optional; callers fall back to hmacSha256.
   */
  hmacSha256Parts?: (key: Uint8Array, parts: readonly Uint8Array[]) => Promise<Uint8Array>
  /** HKDF-SHA256 (RFC 5869). An empty salt means HashLen zero bytes (§2.2). */
  hkdfSha256: (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number) => Promise<Uint8Array>
  /**
   * HKDF-SHA256 of the sum of `lengths` bytes, returned as consecutive pieces of those lengths (the
   * same bytes as hkdfSha256, split). Optional; callers fall back to hkdfSha256 and views.
   */
  hkdfSha256Split?: (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, lengths: readonly number[]) => Promise<Uint8Array[]>

  /**
   * Synchronous forms of the Double Ratchet's per-message primitives, for implementations that
   * compute them synchronously anyway: the ratchet then runs a message without awaiting a promise per
   * step. Same results as the async forms; errors are thrown instead of rejected. Optional, and so is
   * each AES form inside (WebCrypto's AES is async only); the ratchet awaits the async forms otherwise.
   */
  sync?: SyncPrimitives

  /** AES-256-CBC with PKCS#7 padding. decrypt throws on bad padding. */
  aesCbcEncrypt: (key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array) => Promise<Uint8Array>
  aesCbcDecrypt: (key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array) => Promise<Uint8Array>
  /** AES-256-GCM; output is ciphertext || 16-byte tag. decrypt throws when the tag does not verify. */
  aesGcmEncrypt: (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) => Promise<Uint8Array>
  aesGcmDecrypt: (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) => Promise<Uint8Array>

  /** scrypt (RFC 7914), the memory-hard KDF for passphrases. */
  scrypt: (passphrase: Uint8Array, salt: Uint8Array, params: ScryptParams, length: number) => Promise<Uint8Array>
}

/** See CryptoPrimitives.sync. */
export interface SyncPrimitives {
  hmacSha256Many: (key: Uint8Array, messages: readonly Uint8Array[]) => Uint8Array[]
  hmacSha256Parts: (key: Uint8Array, parts: readonly Uint8Array[]) => Uint8Array
  hkdfSha256Split: (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, lengths: readonly number[]) => Uint8Array[]
  aesCbcEncrypt?: (key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array) => Uint8Array
  aesCbcDecrypt?: (key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array) => Uint8Array
}

/** Thrown by primitives for unusable inputs (wrong key length, low-order point, bad padding, bad tag). */
export class PrimitiveError extends Error {
  override readonly name = 'PrimitiveError'
}

export function constantTimeEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

export function checkLength (what: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new PrimitiveError(`${what} must be ${length} bytes`)
  }
}

export function isAllZero (bytes: Uint8Array): boolean {
  let acc = 0
  for (const b of bytes) acc |= b
  return acc === 0
}

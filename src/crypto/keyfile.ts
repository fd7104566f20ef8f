/**
 * The identity at rest. A versioned container for the 32-byte identity seed:
 *
 *   header = "PRLK" | version u8 (=1) | mode u8
 *   mode 0 (plaintext): header | seed(32) | edPublicKey(32)                         (70 bytes)
 *   mode 1 (scrypt + AES-256-GCM):
 *     header | logN u8 | r u32be | p u32be | salt(16) | nonce(12) | GCM(seed | edPublicKey) (64+16)
 *     key = scrypt(UTF-8(NFC(passphrase)), salt, N = 2^logN, r, p, 32)   (RFC 7914 §2)
 *     AAD = every byte before the ciphertext (header, parameters, salt, nonce)
 *
 * The Ed25519 public key is stored next to the seed so corruption or a forged file is detected
 * after opening (it must equal the key derived from the seed).
 */
import { primitives } from './primitives/index.js'
import { constantTimeEqual, type ScryptParams } from './primitives/types.js'
import { MalformedInputError, WrongPassphraseError } from './errors.js'
import { concatBytes, utf8, wipe } from './bytes.js'
import { identityFromSeed, type IdentityKeyPair } from './identity.js'

const MAGIC = [0x50, 0x52, 0x4c, 0x4b] // "PRLK"
export const KEYFILE_VERSION = 1
const MODE_PLAIN = 0
const MODE_SCRYPT_AES_GCM = 1
const HEADER_LEN = 6
const PLAIN_LEN = HEADER_LEN + 64
const SALT_LEN = 16
const NONCE_LEN = 12
const PARAMS_LEN = 1 + 4 + 4
const ENC_AAD_LEN = HEADER_LEN + PARAMS_LEN + SALT_LEN + NONCE_LEN
const ENC_LEN = ENC_AAD_LEN + 64 + 16
/** Larger inputs are refused before parsing. */
export const MAX_KEYFILE_BYTES = 1024

/** Default and minimum scrypt cost (the brief: N = 2^15, r = 8, p = 1 or stronger). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 }
const MIN_LOG_N = 15
const MAX_LOG_N = 20
const MIN_R = 8
/** Upper bound on scrypt memory (128 * N * r * p bytes) accepted from a file: 1 GiB. */
const MAX_SCRYPT_MEMORY = 2 ** 30

export type Passphrase = string | Uint8Array | null

function passphraseBytes (p: string | Uint8Array): Uint8Array {
  const b = typeof p === 'string' ? utf8.encode(p.normalize('NFC')) : p.slice()
  if (b.length === 0) throw new MalformedInputError('empty passphrase: pass null for an unencrypted key file')
  return b
}

function checkParams (logN: number, r: number, p: number): void {
  // RFC 7914 §2: N a power of two > 1, r * p < 2^30; we also require at least the default cost.
  if (!Number.isInteger(logN) || logN < MIN_LOG_N || logN > MAX_LOG_N) throw new MalformedInputError('scrypt N out of range')
  if (!Number.isInteger(r) || r < MIN_R || !Number.isInteger(p) || p < 1 || r * p >= 2 ** 30) throw new MalformedInputError('scrypt r/p out of range')
  if (128 * 2 ** logN * r * p > MAX_SCRYPT_MEMORY) throw new MalformedInputError('scrypt parameters exceed the memory cap')
}

function header (mode: number): Uint8Array {
  return new Uint8Array([...MAGIC, KEYFILE_VERSION, mode])
}

function u32 (n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}
function readU32 (b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + (b[off + 1]! << 16) + (b[off + 2]! << 8) + b[off + 3]!
}

export interface SealOptions {
  /** scrypt cost; at least N = 2^15, r = 8. @default { N: 2 ** 15, r: 8, p: 1 } */
  scrypt?: ScryptParams
  signal?: AbortSignal
}

/** Serialises the identity; with a passphrase it is encrypted (scrypt + AES-256-GCM). */
export async function sealIdentity (identity: IdentityKeyPair, passphrase: Passphrase, opts: SealOptions = {}): Promise<Uint8Array> {
  const secret = concatBytes(identity.seed, identity.edPublicKey)
  try {
    if (identity.seed.length !== 32 || identity.edPublicKey.length !== 32) throw new MalformedInputError('identity has wrong key lengths')
    if (passphrase === null) return concatBytes(header(MODE_PLAIN), secret)
    const params = opts.scrypt ?? DEFAULT_SCRYPT
    const logN = Math.log2(params.N)
    checkParams(logN, params.r, params.p)
    const salt = primitives.randomBytes(SALT_LEN)
    const nonce = primitives.randomBytes(NONCE_LEN)
    const aad = concatBytes(header(MODE_SCRYPT_AES_GCM), new Uint8Array([logN]), u32(params.r), u32(params.p), salt, nonce)
    opts.signal?.throwIfAborted()
    const pw = passphraseBytes(passphrase)
    const key = await primitives.scrypt(pw, salt, params, 32)
    wipe(pw)
    try {
      return concatBytes(aad, await primitives.aesGcmEncrypt(key, nonce, secret, aad))
    } finally {
      wipe(key)
    }
  } finally {
    wipe(secret)
  }
}

/** Whether a key file needs a passphrase (without opening it). */
export function keyFileIsEncrypted (bytes: Uint8Array): boolean {
  return parseHeader(bytes) === MODE_SCRYPT_AES_GCM
}

function parseHeader (bytes: Uint8Array): number {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_KEYFILE_BYTES) throw new MalformedInputError('key file has a bad size')
  if (bytes.length < HEADER_LEN || MAGIC.some((m, i) => bytes[i] !== m)) throw new MalformedInputError('not a Parley key file')
  if (bytes[4] !== KEYFILE_VERSION) throw new MalformedInputError('unsupported key file version')
  const mode = bytes[5]!
  if (mode === MODE_PLAIN && bytes.length === PLAIN_LEN) return mode
  if (mode === MODE_SCRYPT_AES_GCM && bytes.length === ENC_LEN) return mode
  throw new MalformedInputError('unknown key file mode or wrong length')
}

/**
 * Opens a key file. WrongPassphraseError: wrong passphrase, missing passphrase, or an altered file;
 * MalformedInputError: not a key file, or a plaintext file where a passphrase was given (refused so
 * that an encrypted identity cannot silently be replaced by an attacker's unencrypted one).
 */
export async function openIdentity (bytes: Uint8Array, passphrase: Passphrase, opts: { signal?: AbortSignal } = {}): Promise<IdentityKeyPair> {
  const mode = parseHeader(bytes)
  let secret: Uint8Array
  if (mode === MODE_PLAIN) {
    if (passphrase !== null) throw new MalformedInputError('key file is not encrypted but a passphrase was given')
    secret = bytes.slice(HEADER_LEN, HEADER_LEN + 64)
  } else {
    if (passphrase === null) throw new WrongPassphraseError('key file is encrypted: a passphrase is required')
    const logN = bytes[HEADER_LEN]!
    const r = readU32(bytes, HEADER_LEN + 1)
    const p = readU32(bytes, HEADER_LEN + 5)
    checkParams(logN, r, p)
    const salt = bytes.slice(HEADER_LEN + PARAMS_LEN, HEADER_LEN + PARAMS_LEN + SALT_LEN)
    const nonce = bytes.slice(ENC_AAD_LEN - NONCE_LEN, ENC_AAD_LEN)
    const aad = bytes.slice(0, ENC_AAD_LEN)
    opts.signal?.throwIfAborted()
    const pw = passphraseBytes(passphrase)
    const key = await primitives.scrypt(pw, salt, { N: 2 ** logN, r, p }, 32)
    wipe(pw)
    try {
      // AES-GCM (NIST SP 800-38D §7.2): the tag covers header, parameters, salt and nonce as AAD.
      secret = await primitives.aesGcmDecrypt(key, nonce, bytes.subarray(ENC_AAD_LEN), aad)
    } catch (err) {
      throw new WrongPassphraseError('wrong passphrase or altered key file', { cause: err })
    } finally {
      wipe(key)
    }
  }
  try {
    const identity = await identityFromSeed(secret.subarray(0, 32))
    if (!constantTimeEqual(identity.edPublicKey, secret.subarray(32, 64))) throw new MalformedInputError('key file is corrupt: public key does not match the seed')
    return identity
  } finally {
    wipe(secret)
  }
}

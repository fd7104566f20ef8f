/**
 * Encryption at rest for secret columns.
 *
 * - A random 32-byte data key encrypts each secret value with AES-256-GCM; the stored form is
 *   `0x01 || nonce(12) || ciphertext || tag(16)`.
 * - The associated data binds the value to its place: "parley/store/v1\0<table>\0<column>\0<row key>",
 *   so a value copied into another row or column fails authentication (NIST SP 800-38D §5.2.1: AAD
 *   is authenticated, not encrypted).
 * - The data key is wrapped (AES-256-GCM) with a key derived from the passphrase by scrypt
 *   (RFC 7914); the salt, the cost parameters and the wrapped key live in the `meta` table.
 *
 * Value encryption is synchronous (node:crypto with the data key held as a KeyObject) so it can run
 * inside a synchronous write unit; this module is Node-only like the whole SQLite backend. Unwrapping
 * the data key uses the project's async `primitives` (scrypt, AES-GCM).
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { primitives, type ScryptParams } from '../../crypto/primitives/index.js'
import { WrongPassphraseError } from '../../crypto/errors.js'
import { StoreCorruptError, StoreInputError } from '../errors.js'

const VALUE_VERSION = 1
const NONCE_LEN = 12
const TAG_LEN = 16
const KEY_LEN = 32
const te = new TextEncoder()

/** scrypt cost used when the caller gives none: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 }

/**
 * Bounds on scrypt parameters, applied to what the caller asks for and to what a database file
 * claims (a crafted file must not make us allocate gigabytes: RFC 7914 §2 memory is 128·N·r bytes).
 */
export const SCRYPT_LIMITS = { minLogN: 10, maxLogN: 20, maxR: 32, maxP: 16 } as const

export function checkScryptParams (p: ScryptParams): ScryptParams {
  const logN = Math.log2(p.N)
  if (!Number.isInteger(logN) || logN < SCRYPT_LIMITS.minLogN || logN > SCRYPT_LIMITS.maxLogN ||
    !Number.isInteger(p.r) || p.r < 1 || p.r > SCRYPT_LIMITS.maxR ||
    !Number.isInteger(p.p) || p.p < 1 || p.p > SCRYPT_LIMITS.maxP) {
    throw new StoreInputError('scrypt parameters out of bounds')
  }
  return { N: p.N, r: p.r, p: p.p }
}

/** Encodes/decodes secret column values. */
export interface ValueCodec {
  readonly encrypted: boolean
  seal: (table: string, column: string, rowKey: string, plain: Uint8Array) => Uint8Array
  open: (table: string, column: string, rowKey: string, stored: Uint8Array) => Uint8Array
}

/** No passphrase: values are stored as given (the file's 0600 mode is the only protection). */
export const plainCodec: ValueCodec = {
  encrypted: false,
  seal: (_t, _c, _k, plain) => plain,
  open: (_t, _c, _k, stored) => stored
}

function aad (table: string, column: string, rowKey: string): Uint8Array {
  return te.encode(`parley/store/v1\0${table}\0${column}\0${rowKey}`)
}

export class AeadCodec implements ValueCodec {
  readonly encrypted = true
  readonly #key: KeyObject

  constructor (dataKey: Uint8Array) {
    if (dataKey.length !== KEY_LEN) throw new StoreInputError('data key must be 32 bytes')
    this.#key = createSecretKey(dataKey)
  }

  seal (table: string, column: string, rowKey: string, plain: Uint8Array): Uint8Array {
    // A fresh random 96-bit nonce per value; NIST SP 800-38D §8.3 allows 2^32 such invocations per key.
    const nonce = randomBytes(NONCE_LEN)
    const c = createCipheriv('aes-256-gcm', this.#key, nonce)
    c.setAAD(aad(table, column, rowKey))
    const body = c.update(plain)
    const fin = c.final()
    const tag = c.getAuthTag()
    const out = new Uint8Array(1 + NONCE_LEN + body.length + fin.length + TAG_LEN)
    out[0] = VALUE_VERSION
    out.set(nonce, 1)
    out.set(body, 1 + NONCE_LEN)
    out.set(fin, 1 + NONCE_LEN + body.length)
    out.set(tag, out.length - TAG_LEN)
    return out
  }

  open (table: string, column: string, rowKey: string, stored: Uint8Array): Uint8Array {
    if (stored.length < 1 + NONCE_LEN + TAG_LEN || stored[0] !== VALUE_VERSION) {
      throw new StoreCorruptError(`sealed value in ${table}.${column} is malformed`)
    }
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, stored.subarray(1, 1 + NONCE_LEN))
      d.setAAD(aad(table, column, rowKey))
      // GCM: the tag is checked in final() before we return any plaintext (SP 800-38D §7.2 step 8).
      d.setAuthTag(stored.subarray(stored.length - TAG_LEN))
      const a = d.update(stored.subarray(1 + NONCE_LEN, stored.length - TAG_LEN))
      const b = d.final()
      return new Uint8Array(b.length === 0 ? a : Buffer.concat([a, b]))
    } catch (err) {
      throw new StoreCorruptError(`sealed value in ${table}.${column} failed authentication (tampered, moved or wrong key)`, { cause: err })
    }
  }
}

/** What the `meta` table holds under 'keywrap' (JSON, small). */
export type KeyWrapRecord =
  | { v: 1, mode: 'none' }
  | { v: 1, mode: 'aes-256-gcm', kdf: 'scrypt', N: number, r: number, p: number, salt: string, nonce: string, wrapped: string }

/** Largest keywrap JSON we parse (a few hundred bytes in practice). */
export const MAX_KEYWRAP_JSON = 4096

export function parseKeyWrap (raw: string): KeyWrapRecord {
  if (raw.length > MAX_KEYWRAP_JSON) throw new StoreCorruptError('keywrap record too large')
  let j: unknown
  try { j = JSON.parse(raw) } catch (err) { throw new StoreCorruptError('keywrap record is not JSON', { cause: err }) }
  const o = j as Record<string, unknown>
  if (o == null || typeof o !== 'object' || o.v !== 1) throw new StoreCorruptError('unknown keywrap record version')
  if (o.mode === 'none') return { v: 1, mode: 'none' }
  const hexOk = (s: unknown, len: number): s is string => typeof s === 'string' && s.length === len * 2 && /^[0-9a-f]*$/.test(s)
  if (o.mode !== 'aes-256-gcm' || o.kdf !== 'scrypt' || typeof o.N !== 'number' || typeof o.r !== 'number' ||
    typeof o.p !== 'number' || !hexOk(o.salt, 32) || !hexOk(o.nonce, NONCE_LEN) || !hexOk(o.wrapped, KEY_LEN + TAG_LEN)) {
    throw new StoreCorruptError('malformed keywrap record')
  }
  try { checkScryptParams({ N: o.N, r: o.r, p: o.p }) } catch (err) {
    throw new StoreCorruptError('keywrap record has out-of-bounds scrypt parameters', { cause: err })
  }
  return { v: 1, mode: 'aes-256-gcm', kdf: 'scrypt', N: o.N, r: o.r, p: o.p, salt: o.salt, nonce: o.nonce, wrapped: o.wrapped }
}

function wrapAad (params: ScryptParams, salt: string): Uint8Array {
  return te.encode(`parley/store/v1\0keywrap\0scrypt\0${params.N}\0${params.r}\0${params.p}\0${salt}`)
}

function passphraseBytes (passphrase: string): Uint8Array {
  // NFC so the same passphrase typed on different systems derives the same key.
  return te.encode(passphrase.normalize('NFC'))
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

/** Wraps `dataKey` under a key derived from `passphrase` with fresh salt and nonce. */
export async function wrapDataKey (dataKey: Uint8Array, passphrase: string, params: ScryptParams): Promise<KeyWrapRecord> {
  const p = checkScryptParams(params)
  const salt = toHex(primitives.randomBytes(32))
  const kek = await primitives.scrypt(passphraseBytes(passphrase), fromHex(salt), p, KEY_LEN)
  const nonce = primitives.randomBytes(NONCE_LEN)
  try {
    const wrapped = await primitives.aesGcmEncrypt(kek, nonce, dataKey, wrapAad(p, salt))
    return { v: 1, mode: 'aes-256-gcm', kdf: 'scrypt', N: p.N, r: p.r, p: p.p, salt, nonce: toHex(nonce), wrapped: toHex(wrapped) }
  } finally {
    kek.fill(0)
  }
}

/** Unwraps the data key; a tag failure means a wrong passphrase (or an altered record). */
export async function unwrapDataKey (rec: Extract<KeyWrapRecord, { mode: 'aes-256-gcm' }>, passphrase: string): Promise<Uint8Array> {
  const p = { N: rec.N, r: rec.r, p: rec.p }
  const kek = await primitives.scrypt(passphraseBytes(passphrase), fromHex(rec.salt), p, KEY_LEN)
  try {
    return await primitives.aesGcmDecrypt(kek, fromHex(rec.nonce), fromHex(rec.wrapped), wrapAad(p, rec.salt))
  } catch (err) {
    throw new WrongPassphraseError('wrong passphrase for the store (or its key record was altered)', { cause: err })
  } finally {
    kek.fill(0)
  }
}

export function newDataKey (): Uint8Array {
  return primitives.randomBytes(KEY_LEN)
}

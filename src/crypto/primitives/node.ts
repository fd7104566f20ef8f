/**
 * CryptoPrimitives on node:crypto (OpenSSL): the fast path on Node. Swapped for ./web.ts in browsers
 * through the package.json "browser" field. This is the only file under src/crypto that may import
 * a Node built-in.
 */
import * as nc from 'node:crypto'
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js'
import { hmac as nobleHmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { checkLength, isAllZero, PrimitiveError, type CryptoPrimitives, type KeyPair, type ScryptParams } from './types.js'

// DER prefixes that wrap a raw 32-byte key into PKCS#8 / SPKI (RFC 8410 §7 and §4).
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex')
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex')
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex')

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

/**
 * Node 24's key checks (isKeyObject/isCryptoKey in lib/internal/crypto/keys.js) test a raw key by
 * throwing and catching a TypeError, which captures a stack trace: 2-4 exceptions per call that
 * takes a raw key, several times the cost of a small HMAC. Symmetric keys are therefore passed as
 * KeyObjects (createSecretKey takes the fast path) and asymmetric imports run without stack capture.
 */
function quiet<T> (f: () => T): T {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try { return f() } finally { Error.stackTraceLimit = limit }
}
const secret = (raw: Uint8Array): nc.KeyObject => nc.createSecretKey(raw)

/**
 * X25519 KeyObjects by key CONTENT, so a ratchet private key read back from a serialised session
 * record needs no re-import (createPrivateKey re-derives the public key: a scalar multiplication).
 * The map key is SHA-256(private key), never the key itself, and the map is bounded
 * (oldest evicted first). DR §6.5 (deletion): the ratchet calls x25519Forget when it retires a
 * ratchet key pair, so a retired key does not outlive its use in this cache.
 */
const PRIVATE_CACHE_MAX = 64
const privateCache = new Map<string, nc.KeyObject>()

function privateCacheId (raw: Uint8Array): string {
  return nc.hash('sha256', raw, 'base64')
}
function remember (id: string, key: nc.KeyObject): void {
  if (privateCache.size >= PRIVATE_CACHE_MAX) privateCache.delete(privateCache.keys().next().value!)
  privateCache.set(id, key)
}

function x25519Private (raw: Uint8Array): nc.KeyObject {
  checkLength('X25519 private key', raw, 32)
  const id = privateCacheId(raw)
  const cached = privateCache.get(id)
  if (cached !== undefined) return cached
  const der = Buffer.concat([X25519_PKCS8, raw])
  try {
    const key = quiet(() => nc.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
    remember(id, key)
    return key
  } finally {
    der.fill(0) // Buffer.concat memory is pooled: do not leave the private key in it
  }
}
/** Imported public keys by array identity (a ratchet step uses the peer's new key twice). */
const importedPublic = new WeakMap<Uint8Array, nc.KeyObject>()
function x25519Public (raw: Uint8Array): nc.KeyObject {
  const cached = importedPublic.get(raw)
  if (cached !== undefined) return cached
  checkLength('X25519 public key', raw, 32)
  const key = quiet(() => nc.createPublicKey({ key: Buffer.concat([X25519_SPKI, raw]), format: 'der', type: 'spki' }))
  importedPublic.set(raw, key)
  return key
}

// HMAC and HKDF on short inputs use @noble/hashes (audited, pure JS): for the 1–100-byte inputs of the
// ratchet's chain and message-key derivations a native call costs more than the hashing itself, and
// noble lets an HMAC key schedule (RFC 2104 §4 "precompute") be cloned for several messages. Longer
// inputs go to OpenSSL. We implement no hash function ourselves.
const JS_MAX = 1024
const ZERO_KEY = new Uint8Array(32)

/** HMAC-SHA256 (RFC 2104). */
function hmac (key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length > JS_MAX) return u8(nc.createHmac('sha256', secret(key.length === 0 ? ZERO_KEY : key)).update(data).digest())
  return nobleHmac(sha256, key, data)
}

/** HMAC-SHA256 of several messages under one key: one key schedule, cloned per message. */
function hmacMany (key: Uint8Array, messages: readonly Uint8Array[]): Uint8Array[] {
  if (messages.some(m => m.length > JS_MAX)) return messages.map(m => hmac(key, m))
  const base = nobleHmac.create(sha256, key)
  try {
    return messages.map(m => base.clone().update(m).digest())
  } finally {
    base.destroy()
  }
}

/** HKDF-SHA256 (RFC 5869 §2.2 extract, §2.3 expand); an empty salt means HashLen zeros (§2.2). */
function hkdf (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) throw new PrimitiveError('HKDF output length out of range')
  if (ikm.length > JS_MAX || info.length > JS_MAX) return new Uint8Array(nc.hkdfSync('sha256', secret(ikm.length === 0 ? ZERO_KEY : ikm), salt, info, length))
  return nobleHkdf(sha256, ikm, salt.length === 0 ? ZERO_KEY : salt, info, length)
}

function ed25519Private (seed: Uint8Array): nc.KeyObject {
  checkLength('Ed25519 seed', seed, 32)
  return quiet(() => nc.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' }))
}
function rawPublic (key: nc.KeyObject): Uint8Array {
  return u8(key.export({ format: 'der', type: 'spki' }).subarray(12))
}
/** Node >= 24.?: raw key export without DER (cheaper); falls back to DER parsing. */
function rawX25519 (key: nc.KeyObject, type: 'raw-private' | 'raw-public'): Uint8Array {
  try {
    return u8(key.export({ format: type } as unknown as nc.KeyExportOptions<'der'>))
  } catch {
    return type === 'raw-public' ? rawPublic(key) : u8(key.export({ format: 'der', type: 'pkcs8' }).subarray(16))
  }
}

// ML-KEM-1024 (FIPS 203) in OpenSSL >= 3.5, several times faster than the pure-JS fallback in
// kem.ts. DER wrappers of raw keys: SPKI (draft-ietf-lamps-kyber-certificates §4) and PKCS#8 with the
// expandedKey choice (3168-byte FIPS 203 decapsulation key). Unavailable or refused -> undefined,
// and kem.ts uses @noble/post-quantum exactly as before.
const MLKEM1024_SPKI = Buffer.from('30820632300b06096086480165030404030382062100', 'hex')
const MLKEM1024_PKCS8 = Buffer.from('30820c78020100300b060960864801650304040304820c6404820c60', 'hex')
let mlkemAvailable = typeof nc.encapsulate === 'function' && typeof nc.decapsulate === 'function'

function mlkemEncapsulate (publicKey: Uint8Array): { ciphertext: Uint8Array, sharedSecret: Uint8Array } | undefined {
  if (!mlkemAvailable || publicKey.length !== 1568) return undefined
  try {
    const key = quiet(() => nc.createPublicKey({ key: Buffer.concat([MLKEM1024_SPKI, publicKey]), format: 'der', type: 'spki' }))
    if (key.asymmetricKeyType !== 'ml-kem-1024') { mlkemAvailable = false; return undefined }
    const { sharedKey, ciphertext } = nc.encapsulate(key)
    return { ciphertext: u8(ciphertext), sharedSecret: u8(sharedKey) }
  } catch {
    return undefined
  }
}
function mlkemDecapsulate (ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array | undefined {
  if (!mlkemAvailable || ciphertext.length !== 1568 || secretKey.length !== 3168) return undefined
  const der = Buffer.concat([MLKEM1024_PKCS8, secretKey])
  try {
    const key = quiet(() => nc.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }))
    if (key.asymmetricKeyType !== 'ml-kem-1024') { mlkemAvailable = false; return undefined }
    return u8(nc.decapsulate(key, ciphertext))
  } catch {
    return undefined
  } finally {
    der.fill(0)
  }
}

export const nodePrimitives: CryptoPrimitives = {
  name: 'node:crypto',
  randomBytes: (length) => u8(nc.randomBytes(length)),

  async x25519Generate (): Promise<KeyPair> {
    const { privateKey, publicKey } = quiet(() => nc.generateKeyPairSync('x25519'))
    const raw = rawX25519(privateKey, 'raw-private')
    remember(privateCacheId(raw), privateKey)
    return { privateKey: raw, publicKey: rawX25519(publicKey, 'raw-public') }
  },
  x25519Forget (privateKey) {
    if (privateKey.length === 32) privateCache.delete(privateCacheId(privateKey))
  },
  async x25519PublicKey (privateKey) {
    return rawPublic(quiet(() => nc.createPublicKey(x25519Private(privateKey))))
  },
  async x25519 (privateKey, publicKey) {
    let out: Buffer
    try {
      out = nc.diffieHellman({ privateKey: x25519Private(privateKey), publicKey: x25519Public(publicKey) })
    } catch {
      throw new PrimitiveError('X25519 failed: unusable public key')
    }
    if (isAllZero(out)) throw new PrimitiveError('X25519 produced the all-zero value (low-order point)')
    return u8(out)
  },

  mlKem1024Encapsulate: mlkemEncapsulate,
  mlKem1024Decapsulate: mlkemDecapsulate,

  async ed25519PublicKey (seed) {
    return rawPublic(quiet(() => nc.createPublicKey(ed25519Private(seed))))
  },
  async ed25519Sign (seed, message) {
    return u8(nc.sign(null, message, ed25519Private(seed)))
  },
  async ed25519Verify (publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      const key = quiet(() => nc.createPublicKey({ key: Buffer.concat([ED25519_SPKI, publicKey]), format: 'der', type: 'spki' }))
      return nc.verify(null, message, key, signature)
    } catch {
      return false
    }
  },

  async sha256 (data) { return u8(nc.createHash('sha256').update(data).digest()) },
  async sha512 (data) { return u8(nc.createHash('sha512').update(data).digest()) },
  async hmacSha256 (key, data) { return hmac(key, data) },
  async hmacSha256Many (key, messages) { return hmacMany(key, messages) },
  async hkdfSha256 (ikm, salt, info, length) { return hkdf(ikm, salt, info, length) },

  async aesCbcEncrypt (key, iv, plaintext) {
    checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
    const c = nc.createCipheriv('aes-256-cbc', secret(key), iv)
    return u8(Buffer.concat([c.update(plaintext), c.final()]))
  },
  async aesCbcDecrypt (key, iv, ciphertext) {
    checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
    try {
      const d = nc.createDecipheriv('aes-256-cbc', secret(key), iv)
      return u8(Buffer.concat([d.update(ciphertext), d.final()]))
    } catch {
      throw new PrimitiveError('AES-CBC decryption failed (bad padding or length)')
    }
  },
  async aesGcmEncrypt (key, nonce, plaintext, aad) {
    checkLength('AES-256 key', key, 32); checkLength('GCM nonce', nonce, 12)
    const c = nc.createCipheriv('aes-256-gcm', secret(key), nonce)
    if (aad) c.setAAD(aad)
    return u8(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]))
  },
  async aesGcmDecrypt (key, nonce, sealed, aad) {
    checkLength('AES-256 key', key, 32); checkLength('GCM nonce', nonce, 12)
    if (sealed.length < 16) throw new PrimitiveError('AES-GCM input shorter than its tag')
    try {
      const d = nc.createDecipheriv('aes-256-gcm', secret(key), nonce)
      if (aad) d.setAAD(aad)
      d.setAuthTag(sealed.subarray(sealed.length - 16))
      return u8(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]))
    } catch {
      throw new PrimitiveError('AES-GCM tag did not verify')
    }
  },

  async scrypt (passphrase, salt, params: ScryptParams, length) {
    return await new Promise((resolve, reject) => {
      nc.scrypt(passphrase, salt, length, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 }, (err, key) => {
        if (err) reject(new PrimitiveError(`scrypt failed: ${err.message}`))
        else resolve(u8(key))
      })
    })
  }
}

/**
 * CryptoPrimitives on node:crypto (OpenSSL): the fast path on Node. Swapped for ./web.ts in browsers
 * through the package.json "browser" field. This is the only file under src/crypto that may import
 * a Node built-in.
 */
import * as nc from 'node:crypto'
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
 * KeyObjects of key pairs made by x25519Generate, so the DH that follows needs no re-import.
 * Keyed by array identity: callers must not modify key arrays in place after use (src/crypto never does).
 */
const generated = new WeakMap<Uint8Array, nc.KeyObject>()

function x25519Private (raw: Uint8Array): nc.KeyObject {
  const cached = generated.get(raw)
  if (cached !== undefined) return cached
  checkLength('X25519 private key', raw, 32)
  return quiet(() => nc.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: 'der', type: 'pkcs8' }))
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

export const nodePrimitives: CryptoPrimitives = {
  name: 'node:crypto',
  randomBytes: (length) => u8(nc.randomBytes(length)),

  async x25519Generate (): Promise<KeyPair> {
    const { privateKey, publicKey } = quiet(() => nc.generateKeyPairSync('x25519'))
    const raw = rawX25519(privateKey, 'raw-private')
    generated.set(raw, privateKey)
    return { privateKey: raw, publicKey: rawX25519(publicKey, 'raw-public') }
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
  async hmacSha256 (key, data) { return u8(nc.createHmac('sha256', secret(key)).update(data).digest()) },
  async hkdfSha256 (ikm, salt, info, length) {
    return new Uint8Array(nc.hkdfSync('sha256', secret(ikm), salt, info, length))
  },

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

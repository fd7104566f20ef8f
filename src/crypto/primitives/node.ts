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

function x25519Private (raw: Uint8Array): nc.KeyObject {
  checkLength('X25519 private key', raw, 32)
  return nc.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, raw]), format: 'der', type: 'pkcs8' })
}
function x25519Public (raw: Uint8Array): nc.KeyObject {
  checkLength('X25519 public key', raw, 32)
  return nc.createPublicKey({ key: Buffer.concat([X25519_SPKI, raw]), format: 'der', type: 'spki' })
}
function ed25519Private (seed: Uint8Array): nc.KeyObject {
  checkLength('Ed25519 seed', seed, 32)
  return nc.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8, seed]), format: 'der', type: 'pkcs8' })
}
function rawPublic (key: nc.KeyObject): Uint8Array {
  return u8(key.export({ format: 'der', type: 'spki' }).subarray(12))
}

export const nodePrimitives: CryptoPrimitives = {
  name: 'node:crypto',
  randomBytes: (length) => u8(nc.randomBytes(length)),

  async x25519Generate (): Promise<KeyPair> {
    const { privateKey, publicKey } = nc.generateKeyPairSync('x25519')
    return {
      privateKey: u8(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16)),
      publicKey: rawPublic(publicKey)
    }
  },
  async x25519PublicKey (privateKey) {
    return rawPublic(nc.createPublicKey(x25519Private(privateKey)))
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
    return rawPublic(nc.createPublicKey(ed25519Private(seed)))
  },
  async ed25519Sign (seed, message) {
    return u8(nc.sign(null, message, ed25519Private(seed)))
  },
  async ed25519Verify (publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      const key = nc.createPublicKey({ key: Buffer.concat([ED25519_SPKI, publicKey]), format: 'der', type: 'spki' })
      return nc.verify(null, message, key, signature)
    } catch {
      return false
    }
  },

  async sha256 (data) { return u8(nc.createHash('sha256').update(data).digest()) },
  async sha512 (data) { return u8(nc.createHash('sha512').update(data).digest()) },
  async hmacSha256 (key, data) { return u8(nc.createHmac('sha256', key).update(data).digest()) },
  async hkdfSha256 (ikm, salt, info, length) {
    return new Uint8Array(nc.hkdfSync('sha256', ikm, salt, info, length))
  },

  async aesCbcEncrypt (key, iv, plaintext) {
    checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
    const c = nc.createCipheriv('aes-256-cbc', key, iv)
    return u8(Buffer.concat([c.update(plaintext), c.final()]))
  },
  async aesCbcDecrypt (key, iv, ciphertext) {
    checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
    try {
      const d = nc.createDecipheriv('aes-256-cbc', key, iv)
      return u8(Buffer.concat([d.update(ciphertext), d.final()]))
    } catch {
      throw new PrimitiveError('AES-CBC decryption failed (bad padding or length)')
    }
  },
  async aesGcmEncrypt (key, nonce, plaintext, aad) {
    checkLength('AES-256 key', key, 32); checkLength('GCM nonce', nonce, 12)
    const c = nc.createCipheriv('aes-256-gcm', key, nonce)
    if (aad) c.setAAD(aad)
    return u8(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]))
  },
  async aesGcmDecrypt (key, nonce, sealed, aad) {
    checkLength('AES-256 key', key, 32); checkLength('GCM nonce', nonce, 12)
    if (sealed.length < 16) throw new PrimitiveError('AES-GCM input shorter than its tag')
    try {
      const d = nc.createDecipheriv('aes-256-gcm', key, nonce)
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

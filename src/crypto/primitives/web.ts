/**
 * CryptoPrimitives on WebCrypto (`globalThis.crypto.subtle`), for browsers; @noble/hashes provides
 * scrypt (no WebCrypto equivalent) and @noble/curves the X25519/Ed25519 public-key derivations.
 * Also runs on Node (which has WebCrypto), so its outputs are cross-checked there in tests.
 */
import { x25519 as nobleX25519, ed25519 as nobleEd25519 } from '@noble/curves/ed25519.js'
import { hkdf as nobleHkdf } from '@noble/hashes/hkdf.js'
import { hmac as nobleHmac } from '@noble/hashes/hmac.js'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { ml_kem1024 as nobleMlKem1024 } from '@noble/post-quantum/ml-kem.js'
import { checkLength, isAllZero, PrimitiveError, type CryptoPrimitives, type KeyPair, type SyncPrimitives } from './types.js'

const X25519_PKCS8 = hex('302e020100300506032b656e04220420')
const ED25519_PKCS8 = hex('302e020100300506032b657004220420')

function hex (s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16)
  return out
}
function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a, 0); out.set(b, a.length)
  return out
}
/** WebCrypto wants ArrayBuffer-backed views; copy anything else (e.g. a SharedArrayBuffer view). */
function buf (b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? b as Uint8Array<ArrayBuffer> : new Uint8Array(b)
}

/** HMAC-SHA256 of the concatenation of `parts` with @noble/hashes (an empty key is HashLen zeros). */
function nobleHmacParts (key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  try {
    const h = nobleHmac.create(nobleSha256, key)
    for (const p of parts) h.update(p)
    return h.digest()
  } catch (err) {
    throw new PrimitiveError('HMAC input must be bytes', { cause: err })
  }
}

/**
 * The ratchet's per-message HMAC/HKDF, synchronous (CryptoPrimitives.sync), with @noble/hashes:
 * WebCrypto's HMAC and HKDF are async only. AES has no synchronous form here (WebCrypto only).
 */
const webSync: SyncPrimitives = {
  hmacSha256Many: (key, messages) => messages.map(m => nobleHmacParts(key, [m])),
  hmacSha256Parts: nobleHmacParts,
  hkdfSha256Split (ikm, salt, info, lengths) {
    let length = 0
    for (const l of lengths) {
      if (!Number.isInteger(l) || l < 0) throw new PrimitiveError('HKDF output length out of range')
      length += l
    }
    if (length > 255 * 32) throw new PrimitiveError('HKDF output length out of range')
    let okm: Uint8Array
    try {
      okm = nobleHkdf(nobleSha256, ikm, salt, info, length)
    } catch (err) {
      throw new PrimitiveError('HKDF input must be bytes', { cause: err })
    }
    const out: Uint8Array[] = []
    for (let at = 0, i = 0; i < lengths.length; at += lengths[i]!, i++) out.push(okm.slice(at, at + lengths[i]!))
    okm.fill(0)
    return out
  }
}

const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle
  if (s == null) throw new PrimitiveError('WebCrypto (crypto.subtle) is not available in this environment')
  return s
}

export const webPrimitives: CryptoPrimitives = {
  name: 'webcrypto',
  randomBytes: (length) => globalThis.crypto.getRandomValues(new Uint8Array(length)),

  async x25519Generate (): Promise<KeyPair> {
    const privateKey = nobleX25519.utils.randomSecretKey()
    return { privateKey, publicKey: nobleX25519.getPublicKey(privateKey) }
  },
  async x25519PublicKey (privateKey) {
    checkLength('X25519 private key', privateKey, 32)
    return nobleX25519.getPublicKey(privateKey)
  },
  async x25519 (privateKey, publicKey) {
    checkLength('X25519 private key', privateKey, 32)
    checkLength('X25519 public key', publicKey, 32)
    let bits: ArrayBuffer
    try {
      const priv = await subtle().importKey('pkcs8', buf(concat(X25519_PKCS8, privateKey)), { name: 'X25519' }, false, ['deriveBits'])
      const pub = await subtle().importKey('raw', buf(publicKey), { name: 'X25519' }, false, [])
      bits = await subtle().deriveBits({ name: 'X25519', public: pub }, priv, 256)
    } catch {
      throw new PrimitiveError('X25519 failed: unusable public key')
    }
    const out = new Uint8Array(bits)
    if (isAllZero(out)) throw new PrimitiveError('X25519 produced the all-zero value (low-order point)')
    return out
  },

  /** No key cache here (keys are imported per call), so nothing to forget. */
  x25519Forget () {},

  // WebCrypto has no ML-KEM: the same @noble/post-quantum code kem.ts falls back to
  mlKem1024Encapsulate (publicKey) {
    if (publicKey.length !== 1568) return undefined
    try {
      const { cipherText, sharedSecret } = nobleMlKem1024.encapsulate(publicKey)
      return { ciphertext: cipherText, sharedSecret }
    } catch {
      return undefined
    }
  },
  mlKem1024Decapsulate (ciphertext, secretKey) {
    if (ciphertext.length !== 1568 || secretKey.length !== 3168) return undefined
    try {
      return nobleMlKem1024.decapsulate(ciphertext, secretKey)
    } catch {
      return undefined
    }
  },

  async ed25519PublicKey (seed) {
    checkLength('Ed25519 seed', seed, 32)
    return nobleEd25519.getPublicKey(seed)
  },
  async ed25519Sign (seed, message) {
    checkLength('Ed25519 seed', seed, 32)
    const key = await subtle().importKey('pkcs8', buf(concat(ED25519_PKCS8, seed)), { name: 'Ed25519' }, false, ['sign'])
    return new Uint8Array(await subtle().sign({ name: 'Ed25519' }, key, buf(message)))
  },
  async ed25519Verify (publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false
    try {
      const key = await subtle().importKey('raw', buf(publicKey), { name: 'Ed25519' }, false, ['verify'])
      return await subtle().verify({ name: 'Ed25519' }, key, buf(signature), buf(message))
    } catch {
      return false
    }
  },

  async sha256 (data) { return new Uint8Array(await subtle().digest('SHA-256', buf(data))) },
  async sha512 (data) { return new Uint8Array(await subtle().digest('SHA-512', buf(data))) },
  async hmacSha256 (key, data) {
    const k = await subtle().importKey('raw', buf(key.length === 0 ? new Uint8Array(32) : key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    return new Uint8Array(await subtle().sign('HMAC', k, buf(data)))
  },
  async hmacSha256Many (key, messages) {
    const k = await subtle().importKey('raw', buf(key.length === 0 ? new Uint8Array(32) : key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    const out: Uint8Array[] = []
    for (const m of messages) out.push(new Uint8Array(await subtle().sign('HMAC', k, buf(m))))
    return out
  },
  async hkdfSha256 (ikm, salt, info, length) {
    const k = await subtle().importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits'])
    const bits = await subtle().deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: buf(salt), info: buf(info) }, k, length * 8)
    return new Uint8Array(bits)
  },

  sync: webSync,

  async aesCbcEncrypt (key, iv, plaintext) {
    checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
    const k = await subtle().importKey('raw', buf(key), 'AES-CBC', false, ['encrypt'])
    return new Uint8Array(await subtle().encrypt({ name: 'AES-CBC', iv: buf(iv) }, k, buf(plaintext)))
  },
  async aesCbcDecrypt (key, iv, ciphertext) {
    checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
    try {
      const k = await subtle().importKey('raw', buf(key), 'AES-CBC', false, ['decrypt'])
      return new Uint8Array(await subtle().decrypt({ name: 'AES-CBC', iv: buf(iv) }, k, buf(ciphertext)))
    } catch {
      throw new PrimitiveError('AES-CBC decryption failed (bad padding or length)')
    }
  },
  async aesGcmEncrypt (key, nonce, plaintext, aad) {
    checkLength('AES-256 key', key, 32); checkLength('GCM nonce', nonce, 12)
    const k = await subtle().importKey('raw', buf(key), 'AES-GCM', false, ['encrypt'])
    const params: AesGcmParams = { name: 'AES-GCM', iv: buf(nonce) }
    if (aad) params.additionalData = buf(aad)
    return new Uint8Array(await subtle().encrypt(params, k, buf(plaintext)))
  },
  async aesGcmDecrypt (key, nonce, sealed, aad) {
    checkLength('AES-256 key', key, 32); checkLength('GCM nonce', nonce, 12)
    if (sealed.length < 16) throw new PrimitiveError('AES-GCM input shorter than its tag')
    try {
      const k = await subtle().importKey('raw', buf(key), 'AES-GCM', false, ['decrypt'])
      const params: AesGcmParams = { name: 'AES-GCM', iv: buf(nonce) }
      if (aad) params.additionalData = buf(aad)
      return new Uint8Array(await subtle().decrypt(params, k, buf(sealed)))
    } catch {
      throw new PrimitiveError('AES-GCM tag did not verify')
    }
  },

  async scrypt (passphrase, salt, params, length) {
    return await scryptAsync(passphrase, salt, { N: params.N, r: params.r, p: params.p, dkLen: length })
  }
}

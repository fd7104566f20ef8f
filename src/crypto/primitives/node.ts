/**
 * CryptoPrimitives on node:crypto (OpenSSL): the fast path on Node. Swapped for ./web.ts in browsers
 * through the package.json "browser" field. This is the only file under src/crypto that may import
 * a Node built-in.
 */
import * as nc from 'node:crypto'
import { hmac as nobleHmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { createHasher, type Hash } from '@noble/hashes/utils.js'
import { checkLength, isAllZero, PrimitiveError, type CryptoPrimitives, type KeyPair, type ScryptParams } from './types.js'

// DER prefixes that wrap a raw 32-byte key into PKCS#8 / SPKI (RFC 8410 §7 and §4); X25519 public
// keys are imported as JWK instead (x25519Public).
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex')
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

/**
 * Whether this Node imports raw X25519 keys (format 'raw-public' / 'raw-private'): ~15% cheaper than
 * JWK or DER. Cleared on the first refusal, so older versions fall back for good. A 32-byte key
 * that the raw import refuses is refused by the fallbacks too (RFC 7748 §5: any 32 bytes decode).
 */
let rawImport = true

function x25519Private (raw: Uint8Array): nc.KeyObject {
  checkLength('X25519 private key', raw, 32)
  const id = privateCacheId(raw)
  const cached = privateCache.get(id)
  if (cached !== undefined) return cached
  if (rawImport) {
    try {
      // Node >= 24.?: raw key import (no DER wrapper to build and wipe, no PKCS#8 parse)
      const key = quiet(() => nc.createPrivateKey({ key: raw, format: 'raw-private', asymmetricKeyType: 'x25519' } as unknown as nc.PrivateKeyInput))
      remember(id, key)
      return key
    } catch {
      rawImport = false // older Node: the DER path below from now on
    }
  }
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
  // Raw import where Node has it, else a JWK (RFC 8037 §2: OKP, crv X25519, x = base64url(u)), ~2x
  // cheaper than OpenSSL's SPKI decoder; all accept exactly the 32-byte u-coordinates (RFC 7748 §5).
  let key: nc.KeyObject | undefined
  if (rawImport) {
    try {
      key = quiet(() => nc.createPublicKey({ key: raw, format: 'raw-public', asymmetricKeyType: 'x25519' } as unknown as nc.PublicKeyInput))
    } catch {
      rawImport = false
    }
  }
  if (key === undefined) {
    const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
    key = quiet(() => nc.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' }))
  }
  importedPublic.set(raw, key)
  return key
}

// HMAC and HKDF on short inputs use @noble/hashes (audited, pure JS): for the 1–200-byte inputs of the
// ratchet's chain-key, message-key and MAC computations a native call costs more than the hashing
// itself. What costs in noble on such inputs is allocation: every new hash instance allocates an
// off-heap ArrayBuffer and a DataView (~1 µs each in V8, several per HMAC). So each key gets ONE noble
// HMAC instance (RFC 2104 §4: the padded-key blocks are hashed once per key), whose state is copied
// with noble's own _cloneInto into a preallocated scratch instance per use (the key's last use
// finishes the instance itself), and digests go to a preallocated buffer. HKDF is RFC 5869 §2.2/§2.3 over those HMACs (cross-checked against node:crypto
// hkdfSync and @noble/hashes/hkdf in test/crypto/primitives.test.ts). Inputs over 1 KiB (HMAC data,
// HKDF IKM) go to OpenSSL. We implement no hash function ourselves. Everything here is synchronous, so the shared scratch state is
// never used by two computations at once; it is wiped (noble's destroy) after every digest.
const JS_MAX = 1024
const ZERO_KEY = new Uint8Array(32)
type KeyedHmac = ReturnType<typeof nobleHmac.create>
type Sha256State = ReturnType<typeof sha256.create>

/**
 * A noble `Hash` (the public interface noble's HMAC accepts from a createHasher wrapper) around one
 * noble SHA-256 instance; all hashing is done by noble. It only changes how a one-block input is
 * handed over, sparing V8 work that costs more than the hashing itself:
 * - noble's HMAC constructor hashes its padded key, a fresh 64-byte array, and noble reads a whole
 *   input block through a new DataView over the input. V8 keeps typed arrays of <= 64 bytes on its
 *   heap and must first move such an array's memory off the heap to give it an ArrayBuffer (~1.5 µs,
 *   more than the keying's two compressions, plus GC work later). A one-block input is therefore
 *   copied into a preallocated block and passed as 63 + 1 bytes, which noble buffers and hashes
 *   through its own cached view (no allocation); the copy is wiped (it holds key ^ ipad / ^ opad).
 * (Digests keep noble's digestInto: going through digest() instead, to spare the DataView over the
 * output, allocated more and measured slower.)
 */
const BLOCK = new Uint8Array(new ArrayBuffer(64))
const BLOCK_HEAD = BLOCK.subarray(0, 63)
const BLOCK_TAIL = BLOCK.subarray(63)
class StagedSha256 implements Hash<StagedSha256> {
  readonly blockLen = 64
  readonly outputLen = 32
  readonly canXOF = false
  constructor (readonly inner: Sha256State) {}
  update (data: Uint8Array): this {
    if (data.length === 64) {
      BLOCK.set(data)
      try {
        this.inner.update(BLOCK_HEAD)
        this.inner.update(BLOCK_TAIL)
      } finally {
        BLOCK.fill(0)
      }
    } else {
      this.inner.update(data)
    }
    return this
  }
  digestInto (out: Uint8Array): void { this.inner.digestInto(out) }
  digest (): ReturnType<Sha256State['digest']> { return this.inner.digest() }
  destroy (): void { this.inner.destroy() }
  _cloneInto (to?: StagedSha256): StagedSha256 {
    if (to === undefined) return new StagedSha256(this.inner.clone())
    this.inner._cloneInto(to.inner)
    return to
  }
  clone (): StagedSha256 { return this._cloneInto() }
}

/**
 * noble's HMAC constructor takes two SHA-256 instances from `hash.create()`. This hasher (noble's own
 * createHasher wrapper) hands out recycled instances, reset to SHA-256's initial state by noble's
 * _cloneInto from a pristine instance; `release` returns them after the HMAC is destroyed (wiped).
 */
const pristineSha256: Sha256State = sha256.create()
const sha256Pool: StagedSha256[] = []
const SHA256_POOL_MAX = 16
const pooledSha256 = createHasher(() => {
  const h = sha256Pool.pop()
  if (h === undefined) return new StagedSha256(sha256.create())
  pristineSha256._cloneInto(h.inner)
  return h
})
function keyedHmac (key: Uint8Array): KeyedHmac {
  return nobleHmac.create(pooledSha256, key)
}
function release (k: KeyedHmac): void {
  k.destroy() // wipes both hash states (noble HashMD.destroy)
  if (sha256Pool.length < SHA256_POOL_MAX - 1) sha256Pool.push(k.iHash as unknown as StagedSha256, k.oHash as unknown as StagedSha256)
}

const scratch: KeyedHmac = nobleHmac.create(pooledSha256, ZERO_KEY)
/** HKDF-Extract with the all-zero salt (the ratchet's message keys; RFC 5869 §2.2 default salt). */
const zeroSaltHmac: KeyedHmac = nobleHmac.create(pooledSha256, ZERO_KEY)
const digestBuf = new Uint8Array(32)
const counterByte = new Uint8Array(1)

/**
 * HMAC of a || b || c under the key schedule `k`, into digestBuf. The keyed state is copied into a
 * scratch instance, unless `last`: then `k` itself is finished (and so wiped), sparing the copy on a
 * key's last (often only) use; the caller releases `k` as usual.
 */
function macInto (k: KeyedHmac, last: boolean, a: Uint8Array, b?: Uint8Array, c?: Uint8Array): void {
  const h = last ? k : k._cloneInto(scratch)
  try {
    h.update(a)
    if (b !== undefined) h.update(b)
    if (c !== undefined) h.update(c)
    h.digestInto(digestBuf) // also destroys (wipes) h
  } catch (err) {
    h.destroy() // e.g. a part that is not bytes: leave no keyed state behind
    throw new PrimitiveError('HMAC input must be bytes', { cause: err })
  }
}
/** macInto for any number of parts. */
function macParts (k: KeyedHmac, last: boolean, parts: readonly Uint8Array[]): void {
  if (parts.length <= 3 && parts.length > 0) return macInto(k, last, parts[0]!, parts[1], parts[2])
  const h = last ? k : k._cloneInto(scratch)
  try {
    for (const p of parts) h.update(p)
    h.digestInto(digestBuf)
  } catch (err) {
    h.destroy()
    throw new PrimitiveError('HMAC input must be bytes', { cause: err })
  }
}
function takeDigest (): Uint8Array {
  const out = digestBuf.slice()
  digestBuf.fill(0)
  return out
}

/** HMAC-SHA256 (RFC 2104) of the concatenation of `parts`. */
function hmacParts (key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const p of parts) total += p.length
  if (total > JS_MAX) {
    const h = nc.createHmac('sha256', secret(key.length === 0 ? ZERO_KEY : key))
    for (const p of parts) h.update(p)
    return u8(h.digest())
  }
  const k = keyedHmac(key)
  try {
    macParts(k, true, parts)
    return takeDigest()
  } finally {
    release(k)
  }
}

/** HMAC-SHA256 of several messages under one key: one key schedule, copied per message. */
function hmacMany (key: Uint8Array, messages: readonly Uint8Array[]): Uint8Array[] {
  const n = messages.length
  for (let i = 0; i < n; i++) if (messages[i]!.length > JS_MAX) return messages.map(m => hmacParts(key, [m]))
  const k = keyedHmac(key)
  try {
    const out: Uint8Array[] = []
    for (let i = 0; i < n; i++) { macInto(k, i === n - 1, messages[i]!); out.push(takeDigest()) }
    return out
  } finally {
    release(k)
  }
}

/** HKDF-SHA256 (RFC 5869 §2.2 extract, §2.3 expand); an empty salt means HashLen zeros (§2.2). */
function hkdf (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32) throw new PrimitiveError('HKDF output length out of range')
  // OpenSSL for a long IKM only: node:crypto's hkdfSync refuses info longer than 1024 bytes
  if (ikm.length > JS_MAX && info.length <= 1024) return new Uint8Array(nc.hkdfSync('sha256', secret(ikm), salt, info, length))
  const okm = new Uint8Array(length)
  hkdfInto(ikm, salt, info, [okm], length)
  return okm
}

/**
 * The same OKM as hkdf(ikm, salt, info, sum of lengths), returned as consecutive pieces. The ratchet's
 * 80-byte message-key block is three keys: pieces of at most 64 bytes stay on V8's heap, where one
 * 80-byte array would be a separate off-heap allocation (plus three views into it).
 */
function hkdfSplit (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, lengths: readonly number[]): Uint8Array[] {
  let length = 0
  for (const l of lengths) {
    if (!Number.isInteger(l) || l < 0) throw new PrimitiveError('HKDF output length out of range')
    length += l
  }
  if (length > 255 * 32) throw new PrimitiveError('HKDF output length out of range')
  // always the JS path (correct for any IKM length; the ratchet's IKM is a 32-byte seed)
  const outs: Uint8Array[] = []
  for (const l of lengths) outs.push(new Uint8Array(l))
  hkdfInto(ikm, salt, info, outs, length)
  return outs
}

/** RFC 5869 extract + expand of `length` bytes into the consecutive arrays `outs` (JS path). */
function hkdfInto (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, outs: readonly Uint8Array[], length: number): void {
  // §2.2: PRK = HMAC-Hash(salt, IKM)
  const extractor = salt.length === 0 || (salt.length === 32 && isAllZero(salt)) ? zeroSaltHmac : keyedHmac(salt)
  try {
    macInto(extractor, extractor !== zeroSaltHmac, ikm)
  } finally {
    if (extractor !== zeroSaltHmac) release(extractor)
  }
  const prk = keyedHmac(digestBuf)
  digestBuf.fill(0)
  let piece = 0 // index into outs
  let pieceAt = 0 // bytes of outs[piece] already written
  try {
    // §2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), T(0) empty; OKM = first L octets of T(1) | T(2) | …
    for (let i = 1, at = 0; at < length; i++, at += 32) {
      counterByte[0] = i
      const last = at + 32 >= length
      if (i === 1) macInto(prk, last, info, counterByte)
      else macInto(prk, last, digestBuf, info, counterByte)
      // copy T(i) (or what is still needed of it) across the output pieces
      for (let d = 0, need = Math.min(32, length - at); d < need;) {
        const dst = outs[piece]!
        const n = Math.min(need - d, dst.length - pieceAt)
        for (let j = 0; j < n; j++) dst[pieceAt + j] = digestBuf[d + j]!
        d += n; pieceAt += n
        if (pieceAt === dst.length) { piece++; pieceAt = 0 }
      }
    }
  } finally {
    digestBuf.fill(0)
    release(prk)
  }
}

// AES-256-CBC with PKCS#7 (RFC 5652 §6.3) on OpenSSL, padding done here so that each direction is
// one update() of whole blocks into one output buffer: no final() call and no final block to
// concatenate (OpenSSL's encrypt update emits every whole block; padding would only be added by
// final, which is not called; decryption runs with OpenSSL's padding off). Not calling final() leaves
// the cipher context, like the KeyObject holding the same key, to be freed (and cleansed, by
// OpenSSL's EVP_CIPHER_CTX_free) when V8 collects it. The IV goes through an off-heap array: a fresh
// 16-byte IV lives on V8's heap, and node:crypto would first move it off.
const CBC_IV = new Uint8Array(new ArrayBuffer(16))
/** Staging for padded plaintexts up to 1 KiB (the ratchet's typical message); wiped after use. */
const CBC_STAGE = new Uint8Array(new ArrayBuffer(JS_MAX + 16))

function cbcEncrypt (key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
  if (!(plaintext instanceof Uint8Array)) throw new PrimitiveError('AES-CBC plaintext must be bytes')
  const padLen = 16 - (plaintext.length % 16)
  const total = plaintext.length + padLen
  const padded = total <= CBC_STAGE.length ? CBC_STAGE.subarray(0, total) : new Uint8Array(total)
  padded.set(plaintext)
  padded.fill(padLen, plaintext.length)
  CBC_IV.set(iv)
  try {
    return u8(nc.createCipheriv('aes-256-cbc', secret(key), CBC_IV).update(padded))
  } finally {
    padded.fill(0)
    CBC_IV.fill(0)
  }
}

function cbcDecrypt (key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  checkLength('AES-256 key', key, 32); checkLength('CBC IV', iv, 16)
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new PrimitiveError('AES-CBC decryption failed (bad padding or length)')
  }
  CBC_IV.set(iv)
  let out: Buffer
  try {
    const d = nc.createDecipheriv('aes-256-cbc', secret(key), CBC_IV)
    d.setAutoPadding(false)
    out = d.update(ciphertext)
  } catch {
    throw new PrimitiveError('AES-CBC decryption failed (bad padding or length)')
  } finally {
    CBC_IV.fill(0)
  }
  // PKCS#7: the last byte p is 1..16 and the last p bytes all equal p. All 16 tail bytes are read
  // whatever p is (no early exit), so the check's timing does not depend on where the padding fails.
  const n = out.length
  const p = out[n - 1]!
  let bad = ((p - 1) >>> 0) >= 16 ? 1 : 0
  for (let i = 1; i <= 16; i++) {
    const inPad = ((i - p - 1) >> 31) & 0xff // 0xff for the last p bytes, else 0
    bad |= (out[n - i]! ^ p) & inPad
  }
  if (bad !== 0) {
    out.fill(0)
    throw new PrimitiveError('AES-CBC decryption failed (bad padding or length)')
  }
  return new Uint8Array(out.buffer, out.byteOffset, n - p)
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
  // The per-message primitives below are synchronous underneath: plain functions returning a settled
  // promise (errors as rejections, like the async forms) spare an async function frame per call.
  hmacSha256 (key, data) { try { return Promise.resolve(hmacParts(key, [data])) } catch (err) { return Promise.reject(err) } },
  hmacSha256Many (key, messages) { try { return Promise.resolve(hmacMany(key, messages)) } catch (err) { return Promise.reject(err) } },
  hmacSha256Parts (key, parts) { try { return Promise.resolve(hmacParts(key, parts)) } catch (err) { return Promise.reject(err) } },
  hkdfSha256 (ikm, salt, info, length) { try { return Promise.resolve(hkdf(ikm, salt, info, length)) } catch (err) { return Promise.reject(err) } },
  hkdfSha256Split (ikm, salt, info, lengths) { try { return Promise.resolve(hkdfSplit(ikm, salt, info, lengths)) } catch (err) { return Promise.reject(err) } },

  sync: {
    hmacSha256Many: hmacMany,
    hmacSha256Parts: hmacParts,
    hkdfSha256Split: hkdfSplit,
    aesCbcEncrypt: cbcEncrypt,
    aesCbcDecrypt: cbcDecrypt
  },
  aesCbcEncrypt (key, iv, plaintext) { try { return Promise.resolve(cbcEncrypt(key, iv, plaintext)) } catch (err) { return Promise.reject(err) } },
  aesCbcDecrypt (key, iv, ciphertext) { try { return Promise.resolve(cbcDecrypt(key, iv, ciphertext)) } catch (err) { return Promise.reject(err) } },
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

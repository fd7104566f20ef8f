/**
 * Safety numbers, byte-for-byte libsignal's numeric fingerprint (version 2 scannable scheme):
 *
 *   F(id, key) = H^iterations where H_1 = SHA-512(0x0000 || key || id || key),
 *                H_{i+1} = SHA-512(H_i || key), key = 33-byte typed identity key.
 *   displayable half  = for each 5-byte chunk c of F[0..30): (uint40_be(c) mod 100000) as 5 digits
 *   displayable       = the two 30-digit halves, the smaller string first (60 digits)
 *   scannable         = protobuf CombinedFingerprints { version = 2, local = { content = F_local[0..32) },
 *                       remote = { content = F_remote[0..32) } }
 *
 * Security properties: X3DH §4.1 (identity authentication by comparing fingerprints out of band).
 */
import { primitives } from './primitives/index.js'
import { constantTimeEqual } from './primitives/types.js'
import { MalformedInputError } from './errors.js'
import { concatBytes } from './bytes.js'
import { DJB_TYPE, encodePublicKey } from './keys.js'

export const FINGERPRINT_VERSION = 2
export const DEFAULT_ITERATIONS = 5200
/** libsignal refuses fewer than 2 iterations; we cap the top at 100k (libsignal: 1M) to bound the work. */
export const MIN_ITERATIONS = 2
export const MAX_ITERATIONS = 100_000
/** Cap on stable identifiers (a PeerId string is ~52 bytes). */
export const MAX_IDENTIFIER_BYTES = 1024
/** Cap on a scanned CombinedFingerprints message (ours is 74 bytes). */
export const MAX_SCANNABLE_BYTES = 512
const SCANNABLE_CONTENT_BYTES = 32

export interface SafetyNumberInput {
  /** Our stable identifier bytes (Parley: UTF-8 of our PeerId string). */
  localIdentifier: Uint8Array
  /** Our identity key: 32-byte X25519 u or its 33-byte typed encoding. */
  localIdentityKey: Uint8Array
  remoteIdentifier: Uint8Array
  remoteIdentityKey: Uint8Array
  /** @default 5200 */
  iterations?: number
}

export interface SafetyNumber {
  /** 60 decimal digits. */
  displayable: string
  /** CombinedFingerprints protobuf bytes (what a QR code carries). */
  scannable: Uint8Array
}

export interface ScannableComparison {
  match: boolean
  reason?: 'version' | 'mismatch'
}

function typedKey (key: Uint8Array): Uint8Array {
  if (!(key instanceof Uint8Array)) throw new MalformedInputError('identity key must be bytes')
  if (key.length === 32) return encodePublicKey(key)
  if (key.length === 33 && key[0] === DJB_TYPE) return key.slice()
  throw new MalformedInputError('identity key must be 32 bytes or 33 bytes with type 0x05')
}

function checkIdentifier (id: Uint8Array): void {
  if (!(id instanceof Uint8Array) || id.length > MAX_IDENTIFIER_BYTES) throw new MalformedInputError('identifier must be bytes, at most 1024')
}

/** The 64-byte iterated hash for one side. */
export async function fingerprintHash (identifier: Uint8Array, identityKey: Uint8Array, iterations: number = DEFAULT_ITERATIONS, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  checkIdentifier(identifier)
  const key = typedKey(identityKey)
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) throw new MalformedInputError('iterations out of range')
  // libsignal v2 numeric fingerprint: the 2-byte version field is zero, then key || id || key.
  let h = await primitives.sha512(concatBytes(new Uint8Array(2), key, identifier, key))
  const buf = new Uint8Array(64 + key.length)
  buf.set(key, 64)
  for (let i = 1; i < iterations; i++) {
    if ((i & 1023) === 0) opts.signal?.throwIfAborted()
    buf.set(h, 0)
    h = await primitives.sha512(buf)
  }
  return h
}

/** 30 digits from the first 30 bytes: six 5-byte big-endian chunks, each mod 100000. */
export function displayableHalf (hash: Uint8Array): string {
  if (!(hash instanceof Uint8Array) || hash.length < 30) throw new MalformedInputError('fingerprint hash too short')
  let out = ''
  for (let i = 0; i < 30; i += 5) {
    let v = 0
    for (let j = 0; j < 5; j++) v = v * 256 + hash[i + j]!
    out += String(v % 100000).padStart(5, '0')
  }
  return out
}

function encodeLogical (content: Uint8Array): Uint8Array {
  // LogicalFingerprint { bytes content = 1 }: tag 0x0a, length 32, content.
  return concatBytes(new Uint8Array([0x0a, content.length]), content)
}

/** CombinedFingerprints { uint32 version = 1; LogicalFingerprint local = 2; LogicalFingerprint remote = 3 }. */
export function encodeScannable (version: number, localContent: Uint8Array, remoteContent: Uint8Array): Uint8Array {
  if (!Number.isInteger(version) || version < 0 || version > 127) throw new MalformedInputError('version out of range')
  const l = encodeLogical(localContent)
  const r = encodeLogical(remoteContent)
  if (l.length > 127 || r.length > 127) throw new MalformedInputError('fingerprint content too long')
  return concatBytes(new Uint8Array([0x08, version, 0x12, l.length]), l, new Uint8Array([0x1a, r.length]), r)
}

export async function computeSafetyNumber (input: SafetyNumberInput, opts: { signal?: AbortSignal } = {}): Promise<SafetyNumber> {
  const iterations = input.iterations ?? DEFAULT_ITERATIONS
  const local = await fingerprintHash(input.localIdentifier, input.localIdentityKey, iterations, opts)
  const remote = await fingerprintHash(input.remoteIdentifier, input.remoteIdentityKey, iterations, opts)
  const ls = displayableHalf(local)
  const rs = displayableHalf(remote)
  // libsignal orders the halves by string comparison so both parties display the same 60 digits.
  const displayable = ls < rs ? ls + rs : rs + ls
  const scannable = encodeScannable(FINGERPRINT_VERSION, local.subarray(0, SCANNABLE_CONTENT_BYTES), remote.subarray(0, SCANNABLE_CONTENT_BYTES))
  return { displayable, scannable }
}

/** Formats 60 digits as twelve groups of five, for display. */
export function formatSafetyNumber (displayable: string): string {
  if (!/^\d{60}$/.test(displayable)) throw new MalformedInputError('safety number must be 60 digits')
  return displayable.match(/\d{5}/g)!.join(' ')
}

interface ParsedScannable { version: number, local?: Uint8Array, remote?: Uint8Array }

class Reader {
  off = 0
  constructor (readonly b: Uint8Array) {}
  done (): boolean { return this.off >= this.b.length }
  varint (): number {
    let v = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.off >= this.b.length) throw new MalformedInputError('truncated varint')
      const x = this.b[this.off++]!
      v += (x & 0x7f) * 2 ** shift
      if ((x & 0x80) === 0) return v
    }
    throw new MalformedInputError('varint too long')
  }
  bytes (): Uint8Array {
    const n = this.varint()
    if (n > this.b.length - this.off) throw new MalformedInputError('truncated field')
    const s = this.b.slice(this.off, this.off + n)
    this.off += n
    return s
  }
  skip (wireType: number): void {
    if (wireType === 0) this.varint()
    else if (wireType === 2) this.bytes()
    else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4
      if (n > this.b.length - this.off) throw new MalformedInputError('truncated field')
      this.off += n
    } else throw new MalformedInputError('unsupported protobuf wire type')
  }
}

function parseLogical (b: Uint8Array): Uint8Array | undefined {
  const r = new Reader(b)
  let content: Uint8Array | undefined
  while (!r.done()) {
    const tag = r.varint()
    if (tag === 0x0a) content = r.bytes()
    else r.skip(tag & 7)
  }
  return content
}

/** Parses CombinedFingerprints bytes (size-capped); MalformedInputError for anything unparsable. */
export function parseScannable (bytes: Uint8Array): ParsedScannable {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > MAX_SCANNABLE_BYTES) throw new MalformedInputError('scannable fingerprint has a bad size')
  const r = new Reader(bytes)
  const out: ParsedScannable = { version: 0 }
  while (!r.done()) {
    const tag = r.varint()
    if (tag === 0x08) out.version = r.varint()
    else if (tag === 0x12) out.local = parseLogical(r.bytes())
    else if (tag === 0x1a) out.remote = parseLogical(r.bytes())
    else if ((tag >>> 3) === 0) throw new MalformedInputError('field number 0')
    else r.skip(tag & 7)
  }
  return out
}

/**
 * Compares our scannable fingerprint with the one scanned from the peer's screen: it matches when
 * their "local" is our "remote" and vice versa (as libsignal's ScannableFingerprint.compare).
 * A different version is reported, not thrown; unparsable bytes throw MalformedInputError.
 */
export function compareScannable (ours: Uint8Array, theirs: Uint8Array): ScannableComparison {
  const a = parseScannable(ours)
  const b = parseScannable(theirs)
  if (a.version !== FINGERPRINT_VERSION) throw new MalformedInputError('our scannable fingerprint has an unsupported version')
  if (b.version !== a.version) return { match: false, reason: 'version' }
  if (a.local?.length !== SCANNABLE_CONTENT_BYTES || a.remote?.length !== SCANNABLE_CONTENT_BYTES) throw new MalformedInputError('our scannable fingerprint is incomplete')
  if (b.local?.length !== SCANNABLE_CONTENT_BYTES || b.remote?.length !== SCANNABLE_CONTENT_BYTES) throw new MalformedInputError('scanned fingerprint is incomplete')
  // Constant-time comparison of both halves (no early exit between them).
  const l = constantTimeEqual(a.local, b.remote)
  const r = constantTimeEqual(a.remote, b.local)
  const ok = l && r
  return ok ? { match: true } : { match: false, reason: 'mismatch' }
}

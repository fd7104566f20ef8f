/**
 * Signal wire messages: `SignalMessage` (a Double Ratchet message) and `PreKeySignalMessage` (the first
 * message of a session, carrying the X3DH/PQXDH initiation data), in libsignal's layout:
 *
 *   SignalMessage       = versionByte || protobuf(SignalMessage) || mac[8]
 *   PreKeySignalMessage = versionByte || protobuf(PreKeySignalMessage)
 *
 * versionByte = (messageVersion << 4) | currentVersion. Parley writes 0x33 in classic mode (libsignal v3)
 * and 0x44 in PQXDH mode (libsignal-client's v4 layout, Kyber fields 7 and 8). Decoders are hand-written,
 * size-capped and throw only MalformedInputError. See docs/PROTOCOL.md §"Message formats".
 */
import { MalformedInputError } from './errors.js'

/** libsignal v3: X3DH, "WhisperText" (libsignal-node, Signal before PQXDH). */
export const CLASSIC_VERSION = 3
/** libsignal-client v4 layout: PQXDH (adds the KEM ciphertext and Kyber prekey id). */
export const PQXDH_VERSION = 4
export type MessageVersion = typeof CLASSIC_VERSION | typeof PQXDH_VERSION

/** Length of the truncated HMAC-SHA256 tag that ends a SignalMessage (libsignal MAC_LENGTH). */
export const MAC_LENGTH = 8
/** Largest plaintext Parley encrypts into one message (1 MiB). */
export const MAX_PLAINTEXT_BYTES = 1024 * 1024
/** Largest SignalMessage accepted by the decoder: plaintext cap + one CBC block + header + MAC. */
export const MAX_SIGNAL_MESSAGE_BYTES = MAX_PLAINTEXT_BYTES + 16 + 128
/** Largest PreKeySignalMessage accepted: a SignalMessage + identities, ids and a KEM ciphertext. */
export const MAX_PREKEY_MESSAGE_BYTES = MAX_SIGNAL_MESSAGE_BYTES + 4096
/** Largest KEM ciphertext accepted (ML-KEM-1024's is 1568 bytes; 1 type byte allowed for). */
export const MAX_KEM_CIPHERTEXT_BYTES = 2048

/** Curve25519 public keys on the wire: 0x05 || u (libsignal DJB_TYPE). */
const DJB = 0x05

export function versionByte (version: MessageVersion): number {
  return (version << 4) | version
}

/** Parses a version byte; only the high nibble (the message version) matters (libsignal behaviour). */
export function parseVersionByte (byte: number | undefined): MessageVersion {
  if (byte === undefined) throw new MalformedInputError('empty message')
  const v = byte >> 4
  if (v !== CLASSIC_VERSION && v !== PQXDH_VERSION) throw new MalformedInputError('unsupported message version')
  return v
}

// ---------------------------------------------------------------------------------------------
// Minimal protobuf (proto2 wire format) writer/reader for the two message types.

class Writer {
  private readonly parts: number[] = []
  private readonly chunks: Array<{ at: number, bytes: Uint8Array }> = []
  private extra = 0

  varint (v: number): void {
    // uint32 only
    while (v > 0x7f) { this.parts.push((v & 0x7f) | 0x80); v = v >>> 7 }
    this.parts.push(v)
  }

  uint32Field (field: number, v: number): void {
    this.varint(field << 3)
    this.varint(v >>> 0)
  }

  bytesField (field: number, b: Uint8Array): void {
    this.varint((field << 3) | 2)
    this.varint(b.length)
    this.chunks.push({ at: this.parts.length, bytes: b })
    this.extra += b.length
  }

  /** The encoding, after an optional prefix byte and followed by `spare` zero bytes. */
  finish (prefix?: number, spare = 0): Uint8Array {
    const pre = prefix === undefined ? 0 : 1
    const out = new Uint8Array(pre + this.parts.length + this.extra + spare)
    if (prefix !== undefined) out[0] = prefix
    let o = pre
    let p = 0
    for (const c of this.chunks) {
      while (p < c.at) out[o++] = this.parts[p++]!
      out.set(c.bytes, o); o += c.bytes.length
    }
    while (p < this.parts.length) out[o++] = this.parts[p++]!
    return out
  }
}

type FieldValue = number | Uint8Array

/** Reads a protobuf message into field number -> last value (proto2 "last one wins"). */
function readFields (buf: Uint8Array, start: number, end: number): Map<number, FieldValue> {
  const out = new Map<number, FieldValue>()
  let pos = start
  const varint = (): number => {
    let result = 0
    let shift = 0
    for (;;) {
      if (pos >= end) throw new MalformedInputError('truncated varint')
      const b = buf[pos++]!
      if (shift === 28) {
        // 5th byte: only 4 more bits fit in a uint32; longer varints (uint64) are refused
        if (b > 0x0f) throw new MalformedInputError('varint out of uint32 range')
        return (result + b * 2 ** 28) >>> 0
      }
      result |= (b & 0x7f) << shift
      if ((b & 0x80) === 0) return result >>> 0
      shift += 7
    }
  }
  while (pos < end) {
    const tag = varint()
    const field = tag >>> 3
    const wire = tag & 7
    if (field === 0) throw new MalformedInputError('protobuf field 0')
    switch (wire) {
      case 0: out.set(field, varint()); break
      case 1: if (end - pos < 8) throw new MalformedInputError('truncated fixed64'); pos += 8; break
      case 2: {
        const len = varint()
        if (len > end - pos) throw new MalformedInputError('truncated length-delimited field')
        out.set(field, buf.subarray(pos, pos + len))
        pos += len
        break
      }
      case 5: if (end - pos < 4) throw new MalformedInputError('truncated fixed32'); pos += 4; break
      default: throw new MalformedInputError('unsupported protobuf wire type')
    }
  }
  return out
}

function num (fields: Map<number, FieldValue>, field: number, what: string): number | undefined {
  const v = fields.get(field)
  if (v === undefined) return undefined
  if (typeof v !== 'number') throw new MalformedInputError(`${what} has the wrong wire type`)
  return v
}
function bytes (fields: Map<number, FieldValue>, field: number, what: string): Uint8Array | undefined {
  const v = fields.get(field)
  if (v === undefined) return undefined
  if (typeof v === 'number') throw new MalformedInputError(`${what} has the wrong wire type`)
  return v
}

/** 33-byte 0x05-prefixed Curve25519 key -> 32-byte u-coordinate (view). */
function djbKey (b: Uint8Array | undefined, what: string): Uint8Array {
  if (b === undefined || b.length !== 33 || b[0] !== DJB) throw new MalformedInputError(`${what} is not a 33-byte Curve25519 key`)
  return b.subarray(1)
}

function djbEncode (u: Uint8Array): Uint8Array {
  const out = new Uint8Array(33)
  out[0] = DJB
  out.set(u, 1)
  return out
}

// ---------------------------------------------------------------------------------------------
// SignalMessage

/** The protobuf part of a SignalMessage (libsignal wire.proto: fields 1-4). */
export interface SignalMessageHeader {
  /** Sender's current ratchet public key, raw 32 bytes (0x05-prefixed on the wire). */
  ratchetKey: Uint8Array
  counter: number
  previousCounter: number
}

export interface ParsedSignalMessage extends SignalMessageHeader {
  version: MessageVersion
  ciphertext: Uint8Array
  /** The bytes the MAC covers after the identity keys: versionByte || protobuf. */
  macInput: Uint8Array
  mac: Uint8Array
  /** The whole serialised message. */
  serialized: Uint8Array
}

/**
 * Encodes versionByte || protobuf(SignalMessage) (without the MAC, which the caller appends), followed
 * by `spare` zero bytes: with spare = MAC_LENGTH the caller writes the MAC in place (one allocation).
 */
export function encodeSignalMessageBody (version: MessageVersion, header: SignalMessageHeader, ciphertext: Uint8Array, spare = 0): Uint8Array {
  // The hot path of every send: sized once and written in place (no Writer part lists, no 0x05-prefixed
  // copy of the ratchet key). Same bytes as the Writer would produce: fields 1-4 in order, proto2.
  if (header.ratchetKey.length !== 32) throw new MalformedInputError('ratchet key must be 32 bytes')
  const counter = header.counter >>> 0
  const previousCounter = header.previousCounter >>> 0
  const ctLen = ciphertext.length
  const size = 1 + 2 + 33 + 1 + varintSize(counter) + 1 + varintSize(previousCounter) + 1 + varintSize(ctLen) + ctLen
  const out = new Uint8Array(size + spare)
  out[0] = versionByte(version)
  out[1] = (1 << 3) | 2; out[2] = 33; out[3] = DJB
  out.set(header.ratchetKey, 4)
  let o = 36
  out[o++] = 2 << 3; o = putVarint(out, o, counter)
  out[o++] = 3 << 3; o = putVarint(out, o, previousCounter)
  out[o++] = (4 << 3) | 2; o = putVarint(out, o, ctLen)
  out.set(ciphertext, o)
  return out
}

function varintSize (v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5
}
function putVarint (out: Uint8Array, o: number, v: number): number {
  while (v > 0x7f) { out[o++] = (v & 0x7f) | 0x80; v = v >>> 7 }
  out[o++] = v
  return o
}

export function parseSignalMessage (serialized: Uint8Array): ParsedSignalMessage {
  if (!(serialized instanceof Uint8Array)) throw new MalformedInputError('message must be bytes')
  if (serialized.length > MAX_SIGNAL_MESSAGE_BYTES) throw new MalformedInputError('message too large')
  if (serialized.length < 1 + MAC_LENGTH) throw new MalformedInputError('message too short')
  const version = parseVersionByte(serialized[0])
  const end = serialized.length - MAC_LENGTH
  const f = readFields(serialized, 1, end)
  const ratchetKey = djbKey(bytes(f, 1, 'ratchetKey'), 'ratchetKey')
  const counter = num(f, 2, 'counter')
  const previousCounter = num(f, 3, 'previousCounter')
  const ciphertext = bytes(f, 4, 'ciphertext')
  // libsignal wire.proto: all four fields are required for a usable message
  if (counter === undefined || previousCounter === undefined || ciphertext === undefined) {
    throw new MalformedInputError('SignalMessage is missing a required field')
  }
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) throw new MalformedInputError('ciphertext is not whole AES blocks')
  return {
    version,
    ratchetKey,
    counter,
    previousCounter,
    ciphertext,
    macInput: serialized.subarray(0, end),
    mac: serialized.subarray(end),
    serialized
  }
}

// ---------------------------------------------------------------------------------------------
// PreKeySignalMessage

export interface PreKeySignalMessageFields {
  version: MessageVersion
  registrationId: number
  /** One-time prekey id, if one was used. */
  preKeyId?: number
  signedPreKeyId: number
  /** PQXDH only: Kyber (KEM) prekey id and the KEM ciphertext (libsignal-client fields 7 and 8). */
  kyberPreKeyId?: number
  kyberCiphertext?: Uint8Array
  /** Initiator's ephemeral (base) key, raw 32 bytes. */
  baseKey: Uint8Array
  /** Initiator's identity key, 33 bytes (0x05 || u). */
  identityKey: Uint8Array
  /** The embedded SignalMessage (whole, with its version byte and MAC). */
  message: Uint8Array
}

export function encodePreKeySignalMessage (m: PreKeySignalMessageFields): Uint8Array {
  const w = new Writer()
  if (m.preKeyId !== undefined) w.uint32Field(1, m.preKeyId)
  w.bytesField(2, djbEncode(m.baseKey))
  w.bytesField(3, m.identityKey)
  w.bytesField(4, m.message)
  w.uint32Field(5, m.registrationId)
  w.uint32Field(6, m.signedPreKeyId)
  if (m.kyberPreKeyId !== undefined) w.uint32Field(7, m.kyberPreKeyId)
  if (m.kyberCiphertext !== undefined) w.bytesField(8, m.kyberCiphertext)
  return w.finish(versionByte(m.version))
}

export function parsePreKeySignalMessage (serialized: Uint8Array): PreKeySignalMessageFields {
  if (!(serialized instanceof Uint8Array)) throw new MalformedInputError('message must be bytes')
  if (serialized.length > MAX_PREKEY_MESSAGE_BYTES) throw new MalformedInputError('message too large')
  if (serialized.length < 2) throw new MalformedInputError('message too short')
  const version = parseVersionByte(serialized[0])
  const f = readFields(serialized, 1, serialized.length)
  const registrationId = num(f, 5, 'registrationId')
  const preKeyId = num(f, 1, 'preKeyId')
  const signedPreKeyId = num(f, 6, 'signedPreKeyId')
  const kyberPreKeyId = num(f, 7, 'kyberPreKeyId')
  const kyberCiphertext = bytes(f, 8, 'kyberCiphertext')
  const baseKey = djbKey(bytes(f, 2, 'baseKey'), 'baseKey')
  const identityKey = bytes(f, 3, 'identityKey')
  djbKey(identityKey, 'identityKey')
  const message = bytes(f, 4, 'message')
  if (registrationId === undefined || signedPreKeyId === undefined || message === undefined || identityKey === undefined) {
    throw new MalformedInputError('PreKeySignalMessage is missing a required field')
  }
  if (version === PQXDH_VERSION) {
    // PQXDH §3.3: the initial message carries the KEM ciphertext and the PQ prekey's identifier
    if (kyberPreKeyId === undefined || kyberCiphertext === undefined) throw new MalformedInputError('PQXDH message lacks its KEM ciphertext')
    if (kyberCiphertext.length === 0 || kyberCiphertext.length > MAX_KEM_CIPHERTEXT_BYTES) throw new MalformedInputError('KEM ciphertext has a bad length')
  } else if (kyberPreKeyId !== undefined || kyberCiphertext !== undefined) {
    throw new MalformedInputError('v3 message carries KEM fields')
  }
  const out: PreKeySignalMessageFields = { version, registrationId, signedPreKeyId, baseKey, identityKey, message }
  if (preKeyId !== undefined) out.preKeyId = preKeyId
  if (kyberPreKeyId !== undefined) out.kyberPreKeyId = kyberPreKeyId
  if (kyberCiphertext !== undefined) out.kyberCiphertext = kyberCiphertext
  return out
}

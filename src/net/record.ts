/**
 * Signed peer records published in the DHT under `/<prefix>/record/<peerId>`: a prekey payload,
 * the peer's current addresses, (format 2, issue 4) its relays / mailboxes and (format 3) its mailbox
 * introduction tag, signed by the PeerId's own Ed25519 key. The validator and selector given to kad-dht
 * refuse anything not signed by the key the DHT key names, and pick the highest seq, whatever the format.
 *
 * Each format signs a different byte string under its own domain tag, so a record of one format cannot
 * be turned into a valid record of another by dropping (or adding) fields.
 */
import type { PrivateKey } from '@libp2p/interface'
import { decodePeerRecord, encodePeerRecord, LIMITS, type PeerRecord } from '../wire/index.js'
import { InvalidRecordError } from './errors.js'
import { parseEd25519PeerId } from './identity.js'

/** Domain separation tag: a record signature can never be confused with any other Parley signature. */
const DOMAIN = new TextEncoder().encode('parley/peer-record/v1\0')
/** Format 2 (with relays): its own tag, so formats never verify as each other. */
const DOMAIN_V2 = new TextEncoder().encode('parley/peer-record/v2\0')
/** Format 3 (relays and the introduction tag). */
const DOMAIN_V3 = new TextEncoder().encode('parley/peer-record/v3\0')
/** The record format this node publishes when it has an introduction tag to give (else format 2). */
export const RECORD_FORMAT = 3
/** A record dated further than this in the future is refused (keeps a clock error from pinning a record). */
export const MAX_FUTURE_SKEW_MS = 24 * 3600 * 1000

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

export function recordKeyString (prefix: string, peerId: string): string {
  return `${prefix}/record/${peerId}`
}

export function recordKey (prefix: string, peerId: string): Uint8Array {
  return enc.encode(recordKeyString(prefix, peerId))
}

/** The namespace kad-dht looks validators/selectors up by: the first path segment of the key. */
export function recordNamespace (prefix: string): string {
  const ns = prefix.split('/')[1]
  if (ns == null || ns.length === 0 || !prefix.startsWith('/') || prefix.split('/').length !== 2) {
    throw new InvalidRecordError('dhtPrefix must look like "/name"')
  }
  return ns
}

function u32 (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

function lp (b: Uint8Array): Uint8Array[] {
  return [u32(b.byteLength), b]
}

/**
 * The exact bytes that are signed.
 * Format 1: DOMAIN || lp(peerId) || u64(seq) || lp(payload) || u32(n) || lp(addr)*n.
 * Format 2: DOMAIN_V2 || lp(peerId) || u64(seq) || lp(payload) || u32(n) || lp(addr)*n || u32(m) || lp(relay)*m.
 * Format 3: DOMAIN_V3 || (format 2's fields after its domain tag) || lp(introTag).
 */
export function recordSigningBytes (r: Pick<PeerRecord, 'peerId' | 'seq' | 'payload' | 'addresses'> & Partial<Pick<PeerRecord, 'relays' | 'format' | 'introTag'>>): Uint8Array {
  const seq = new Uint8Array(8)
  new DataView(seq.buffer).setBigUint64(0, BigInt(r.seq))
  const withRelays = r.format === 2 || r.format === 3
  const domain = r.format === 3 ? DOMAIN_V3 : r.format === 2 ? DOMAIN_V2 : DOMAIN
  const parts: Uint8Array[] = [domain, ...lp(enc.encode(r.peerId)), seq, ...lp(r.payload), u32(r.addresses.length)]
  for (const a of r.addresses) parts.push(...lp(enc.encode(a)))
  if (withRelays) {
    const relays = r.relays ?? []
    parts.push(u32(relays.length))
    for (const a of relays) parts.push(...lp(enc.encode(a)))
  }
  if (r.format === 3) parts.push(...lp(r.introTag ?? new Uint8Array(0)))
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.byteLength }
  return out
}

/**
 * Builds and signs a record with the node's libp2p (Ed25519) private key; returns the encoded value.
 * Format: as given, else 3 when `introTag` is given, else 2.
 */
export async function signPeerRecord (key: PrivateKey, peerId: string, fields: { seq: number, payload: Uint8Array, addresses: string[], relays?: string[], introTag?: Uint8Array, format?: 1 | 2 | 3 }): Promise<Uint8Array> {
  const format = fields.format ?? (fields.introTag != null ? RECORD_FORMAT : 2)
  const relays = format !== 1 ? (fields.relays ?? []).slice(0, LIMITS.maxRecordRelays) : []
  const introTag = format === 3 ? (fields.introTag ?? new Uint8Array(0)) : new Uint8Array(0)
  const unsigned = { peerId, seq: fields.seq, payload: fields.payload, addresses: fields.addresses.slice(0, LIMITS.maxRecordAddresses), relays, introTag, format }
  const signature = await key.sign(recordSigningBytes(unsigned))
  return encodePeerRecord({ ...unsigned, signature })
}

/**
 * Decodes and fully checks a record value found under `key`. Throws InvalidRecordError on any
 * failure: oversize, malformed, key/peerId mismatch, non-Ed25519 PeerId, bad signature, future seq.
 */
export async function verifyPeerRecord (prefix: string, key: Uint8Array, value: Uint8Array, now: number = Date.now()): Promise<PeerRecord> {
  let keyStr: string
  try {
    keyStr = dec.decode(key)
  } catch (err) {
    throw new InvalidRecordError('record key is not UTF-8', { cause: err })
  }
  const head = `${prefix}/record/`
  if (!keyStr.startsWith(head)) throw new InvalidRecordError('record key has the wrong prefix')
  const keyPeer = keyStr.slice(head.length)
  let rec: PeerRecord
  try {
    // libp2p Kademlia DHT spec §Value storage and retrieval: a record is validated before it is stored or returned.
    rec = decodePeerRecord(value)
  } catch (err) {
    throw new InvalidRecordError('record value is malformed or oversize', { cause: err })
  }
  // The record must speak for the PeerId its key names, else anyone could overwrite anyone's record.
  if (rec.peerId !== keyPeer) throw new InvalidRecordError('record peerId does not match its key')
  let id
  try {
    id = parseEd25519PeerId(rec.peerId)
  } catch (err) {
    throw new InvalidRecordError('record peerId is not an Ed25519 PeerId', { cause: err })
  }
  // RFC 8032 §5.1.7: verify the signature with the public key embedded in the PeerId (identity multihash).
  const ok = await id.publicKey.verify(recordSigningBytes(rec), rec.signature)
  if (!ok) throw new InvalidRecordError('record signature does not verify')
  if (rec.seq > now + MAX_FUTURE_SKEW_MS) throw new InvalidRecordError('record seq is too far in the future')
  return rec
}

/**
 * The highest valid seq this node has seen per record key (bounded, oldest entries evicted). Plain data.
 * It lets the validator refuse a replayed older record, which kad-dht's PUT handler would otherwise
 * store over a newer one (it validates but does not select).
 */
export class RecordSeqMemory {
  private readonly seen = new Map<string, number>()
  constructor (private readonly cap = 10_000) {}

  get (key: string): number | undefined {
    return this.seen.get(key)
  }

  note (key: string, seq: number): void {
    const prev = this.seen.get(key)
    if (prev != null && prev >= seq) return
    this.seen.delete(key)
    this.seen.set(key, seq)
    if (this.seen.size > this.cap) {
      const oldest = this.seen.keys().next().value
      if (oldest != null) this.seen.delete(oldest)
    }
  }
}

/**
 * kad-dht ValidateFn for our namespace. With a memory, a record older than the newest one already
 * seen for the same key is refused (a replay), so a stale record cannot overwrite a fresh one here.
 */
export function createRecordValidator (prefix: string, memory?: RecordSeqMemory): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  return async (key, value) => {
    const rec = await verifyPeerRecord(prefix, key, value)
    if (memory == null) return
    const k = recordKeyString(prefix, rec.peerId)
    const prev = memory.get(k)
    // Newest valid wins (IPNS spec §Record Selection): never accept a lower seq than one already validated.
    if (prev != null && rec.seq < prev) throw new InvalidRecordError('record is older than one already seen')
    memory.note(k, rec.seq)
  }
}

/**
 * kad-dht SelectFn: index of the valid record with the highest seq (ties: the first). Invalid
 * records never win; if none is valid, index 0 is returned (kad-dht validates before using it).
 */
export function createRecordSelector (prefix: string): (key: Uint8Array, records: Uint8Array[]) => Promise<number> {
  return async (key, records) => {
    let best = -1
    let bestSeq = -1
    for (let i = 0; i < records.length; i++) {
      const value = records[i]
      if (value == null) continue
      try {
        const rec = await verifyPeerRecord(prefix, key, value)
        // Newest valid wins (same rule as IPNS spec §Record Selection: highest sequence number).
        if (rec.seq > bestSeq) { best = i; bestSeq = rec.seq }
      } catch {
        // invalid records are never selected
      }
    }
    return best === -1 ? 0 : best
  }
}

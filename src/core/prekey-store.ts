/**
 * Our own prekeys at rest and in use: the byte encodings of the plain-data prekey records that the
 * store keeps (opaque bytes there, encrypted at rest with a passphrase), and the PreKeyManager that
 * generates them, hands them out in bundles (a one-time prekey at most once), rotates the signed
 * prekey and replenishes the one-time ones.
 *
 * Record encodings (all integers big-endian; `version` = 1):
 *   signed   version | id u32 | createdAt u64 | public(32) | private(32) | signature(64)            141 B
 *   onetime  version | id u32 | issuedAt u64 (0 = never handed out) | public(32) | private(32)      77 B
 *   kyber    version | flags (1 = last resort) | id u32 | createdAt u64 | issuedAt u64 |
 *            public(1569) | secret(3168) | signature(64)                                           4823 B
 */
import { primitives } from '../crypto/primitives/index.js'
import { MalformedInputError } from '../crypto/errors.js'
import type { IdentityKeyPair } from '../crypto/identity.js'
import { signWithIdentity, encodePublicKey } from '../crypto/keys.js'
import { kemGenerate, KEM_ENCODED_PUBLIC_KEY_LENGTH, KEM_SECRET_KEY_LENGTH } from '../crypto/kem.js'
import {
  buildPreKeyBundle, type KyberPreKeyRecord, type OneTimePreKeyRecord, type PreKeyBundle, type SignedPreKeyRecord
} from '../crypto/prekeys.js'
import type { PreKeyLookup } from '../crypto/session.js'
import type { ParleyStore, WriteTx } from '../store/index.js'

const RECORD_VERSION = 1
const SIGNED_LEN = 1 + 4 + 8 + 32 + 32 + 64
const ONETIME_LEN = 1 + 4 + 8 + 32 + 32
const KYBER_LEN = 1 + 1 + 4 + 8 + 8 + KEM_ENCODED_PUBLIC_KEY_LENGTH + KEM_SECRET_KEY_LENGTH + 64

export interface StoredOneTime { record: OneTimePreKeyRecord, issuedAt: number | null }
export interface StoredKyber { record: KyberPreKeyRecord, issuedAt: number | null }

class W {
  o = 0
  readonly b: Uint8Array
  private readonly v: DataView
  constructor (len: number) { this.b = new Uint8Array(len); this.v = new DataView(this.b.buffer) }
  u8 (n: number): void { this.b[this.o++] = n }
  u32 (n: number): void { this.v.setUint32(this.o, n); this.o += 4 }
  u64 (n: number): void { this.v.setBigUint64(this.o, BigInt(n)); this.o += 8 }
  bytes (x: Uint8Array, len: number): void {
    if (x.length !== len) throw new MalformedInputError('prekey record field has a wrong length')
    this.b.set(x, this.o); this.o += len
  }
}

class R {
  o = 0
  private readonly v: DataView
  constructor (readonly b: Uint8Array, len: number, what: string) {
    if (!(b instanceof Uint8Array) || b.length !== len) throw new MalformedInputError(`${what} record has a wrong size`)
    if (b[0] !== RECORD_VERSION) throw new MalformedInputError(`${what} record has an unknown version`)
    this.o = 1
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  }
  u8 (): number { return this.b[this.o++]! }
  u32 (): number { const n = this.v.getUint32(this.o); this.o += 4; return n }
  u64 (): number {
    const n = this.v.getBigUint64(this.o); this.o += 8
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedInputError('prekey record time out of range')
    return Number(n)
  }
  bytes (len: number): Uint8Array { const x = this.b.slice(this.o, this.o + len); this.o += len; return x }
}

export function encodeSignedRecord (r: SignedPreKeyRecord): Uint8Array {
  const w = new W(SIGNED_LEN)
  w.u8(RECORD_VERSION); w.u32(r.id); w.u64(r.createdAt)
  w.bytes(r.keyPair.publicKey, 32); w.bytes(r.keyPair.privateKey, 32); w.bytes(r.signature, 64)
  return w.b
}

export function decodeSignedRecord (b: Uint8Array): SignedPreKeyRecord {
  const r = new R(b, SIGNED_LEN, 'signed prekey')
  const id = r.u32()
  const createdAt = r.u64()
  const publicKey = r.bytes(32)
  const privateKey = r.bytes(32)
  return { id, createdAt, keyPair: { publicKey, privateKey }, signature: r.bytes(64) }
}

export function encodeOneTimeRecord (s: StoredOneTime): Uint8Array {
  const w = new W(ONETIME_LEN)
  w.u8(RECORD_VERSION); w.u32(s.record.id); w.u64(s.issuedAt ?? 0)
  w.bytes(s.record.keyPair.publicKey, 32); w.bytes(s.record.keyPair.privateKey, 32)
  return w.b
}

export function decodeOneTimeRecord (b: Uint8Array): StoredOneTime {
  const r = new R(b, ONETIME_LEN, 'one-time prekey')
  const id = r.u32()
  const issued = r.u64()
  const publicKey = r.bytes(32)
  const privateKey = r.bytes(32)
  return { record: { id, keyPair: { publicKey, privateKey } }, issuedAt: issued === 0 ? null : issued }
}

export function encodeKyberRecord (s: StoredKyber): Uint8Array {
  const w = new W(KYBER_LEN)
  w.u8(RECORD_VERSION); w.u8(s.record.lastResort ? 1 : 0); w.u32(s.record.id); w.u64(s.record.createdAt); w.u64(s.issuedAt ?? 0)
  w.bytes(s.record.keyPair.publicKey, KEM_ENCODED_PUBLIC_KEY_LENGTH); w.bytes(s.record.keyPair.secretKey, KEM_SECRET_KEY_LENGTH)
  w.bytes(s.record.signature, 64)
  return w.b
}

export function decodeKyberRecord (b: Uint8Array): StoredKyber {
  const r = new R(b, KYBER_LEN, 'kyber prekey')
  const flags = r.u8()
  if ((flags & ~1) !== 0) throw new MalformedInputError('kyber prekey record has unknown flags')
  const id = r.u32()
  const createdAt = r.u64()
  const issued = r.u64()
  const publicKey = r.bytes(KEM_ENCODED_PUBLIC_KEY_LENGTH)
  const secretKey = r.bytes(KEM_SECRET_KEY_LENGTH)
  const signature = r.bytes(64)
  return { record: { id, createdAt, lastResort: (flags & 1) !== 0, keyPair: { publicKey, secretKey }, signature }, issuedAt: issued === 0 ? null : issued }
}

export interface PreKeyPolicy {
  /** One-time prekeys kept available. @default 100 */
  oneTimeTarget: number
  /** Replenish when fewer unissued one-time prekeys remain. @default 25 */
  oneTimeLowWater: number
  /** One-time Kyber prekeys kept available (besides the last-resort one). @default 10 */
  kyberTarget: number
  /** @default 3 */
  kyberLowWater: number
  /** Signed prekey lifetime before rotation. @default 7 days */
  signedRotateMs: number
  /** How long a replaced signed prekey still decrypts late session starts. @default 7 days */
  signedGraceMs: number
  /** Handed-out but never used one-time prekeys are deleted after this. @default 30 days */
  issuedExpiryMs: number
}

const DAY = 24 * 3600 * 1000
export const DEFAULT_PREKEY_POLICY: Readonly<PreKeyPolicy> = Object.freeze({
  oneTimeTarget: 100,
  oneTimeLowWater: 25,
  kyberTarget: 10,
  kyberLowWater: 3,
  signedRotateMs: 7 * DAY,
  signedGraceMs: 7 * DAY,
  issuedExpiryMs: 30 * DAY
})

/** libsignal registration ids are 14-bit, 1..16380; ours is a stable function of the identity key. */
export async function registrationIdFor (identity: IdentityKeyPair): Promise<number> {
  const h = await primitives.sha256(identity.edPublicKey)
  return ((((h[0]! << 8) | h[1]!) & 0x3fff) % 16380) + 1
}

/** Counts of our prekeys (for tests and status). */
export interface PreKeyCounts { signed: number, oneTime: number, oneTimeUnissued: number, kyber: number, kyberUnissued: number }

export class PreKeyManager {
  private chain: Promise<unknown> = Promise.resolve()
  /**
   * A bundle whose one-time prekeys are already marked issued in the store (durably, by `reserve()`,
   * off the request path): the next `issueBundle({ oneTime: true })` hands it out without a write.
   * In memory only: after a restart its prekeys stay marked issued unused and expire like any other.
   */
  private reserved: { bundle: PreKeyBundle, at: number } | null = null

  constructor (
    private readonly store: ParleyStore,
    private readonly identity: IdentityKeyPair,
    readonly registrationId: number,
    private readonly policy: PreKeyPolicy = DEFAULT_PREKEY_POLICY,
    private readonly now: () => number = Date.now
  ) {}

  /** Serialises prekey mutations (generation and issuing) so that no two runs interleave. */
  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return await run
  }

  private async newSigned (): Promise<SignedPreKeyRecord> {
    const keyPair = await primitives.x25519Generate()
    // X3DH §3.3: the signature covers Encode(SPK), the typed 33-byte key (not the id).
    const signature = await signWithIdentity(this.identity, encodePublicKey(keyPair.publicKey))
    return { id: 0, keyPair, signature, createdAt: this.now() }
  }

  private async newKyber (lastResort: boolean): Promise<KyberPreKeyRecord> {
    const keyPair = kemGenerate()
    // PQXDH §3.3: Sig(IK, EncodeKEM(PQPK)).
    const signature = await signWithIdentity(this.identity, keyPair.publicKey)
    return { id: 0, keyPair, signature, createdAt: this.now(), lastResort }
  }

  private putSigned (tx: WriteTx, r: SignedPreKeyRecord): void {
    const id = tx.nextPreKeyId('signed')
    tx.putPreKey('signed', id, encodeSignedRecord({ ...r, id }))
  }

  private putKyber (tx: WriteTx, r: KyberPreKeyRecord): void {
    const id = tx.nextPreKeyId('kyber')
    tx.putPreKey('kyber', id, encodeKyberRecord({ record: { ...r, id }, issuedAt: null }))
  }

  private putOneTime (tx: WriteTx, keyPair: OneTimePreKeyRecord['keyPair']): void {
    const id = tx.nextPreKeyId('onetime')
    tx.putPreKey('onetime', id, encodeOneTimeRecord({ record: { id, keyPair }, issuedAt: null }))
  }

  /** Everything a fresh identity needs: a signed prekey, one-time prekeys, a last-resort Kyber prekey and one-time Kyber prekeys. */
  async generateInitial (tx0?: { signal?: AbortSignal }): Promise<void> {
    await this.serial(async () => {
      const signed = await this.newSigned()
      const lastResort = await this.newKyber(true)
      const kybers: KyberPreKeyRecord[] = []
      for (let i = 0; i < this.policy.kyberTarget; i++) kybers.push(await this.newKyber(false))
      const ots: Array<OneTimePreKeyRecord['keyPair']> = []
      for (let i = 0; i < this.policy.oneTimeTarget; i++) ots.push(await primitives.x25519Generate())
      tx0?.signal?.throwIfAborted()
      await this.store.write((tx) => {
        this.putSigned(tx, signed)
        this.putKyber(tx, lastResort)
        for (const k of kybers) this.putKyber(tx, k)
        for (const k of ots) this.putOneTime(tx, k)
      }, tx0)
    })
  }

  private readSigned (tx: { listPreKeyIds: WriteTx['listPreKeyIds'], getPreKey: WriteTx['getPreKey'] }): SignedPreKeyRecord[] {
    const out: SignedPreKeyRecord[] = []
    for (const id of tx.listPreKeyIds('signed')) {
      const p = tx.getPreKey('signed', id)
      if (p != null) out.push(decodeSignedRecord(p.record))
    }
    // newest first
    return out.sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)
  }

  /**
   * Rotation and replenishment: a new signed prekey when the current one is older than
   * signedRotateMs (the previous one kept for signedGraceMs, X3DH §2.5 / Signal's practice), one-time
   * X25519 and Kyber prekeys topped up when the unissued ones fall below their low-water marks, a
   * last-resort Kyber prekey ensured, and expired handed-out one-time prekeys deleted.
   */
  async maintain (opts: { signal?: AbortSignal } = {}): Promise<{ rotated: boolean, addedOneTime: number, addedKyber: number }> {
    return await this.serial(async () => {
      const now = this.now()
      const state = await this.store.read((tx) => {
        const signed = this.readSigned(tx)
        let unissuedOt = 0
        const expiredOt: number[] = []
        for (const id of tx.listPreKeyIds('onetime')) {
          const p = tx.getPreKey('onetime', id)
          if (p == null) continue
          const s = decodeOneTimeRecord(p.record)
          if (s.issuedAt == null) unissuedOt++
          else if (now - s.issuedAt > this.policy.issuedExpiryMs) expiredOt.push(id)
        }
        let unissuedKy = 0
        let lastResort = false
        const expiredKy: number[] = []
        for (const id of tx.listPreKeyIds('kyber')) {
          const p = tx.getPreKey('kyber', id)
          if (p == null) continue
          const s = decodeKyberRecord(p.record)
          if (s.record.lastResort) lastResort = true
          else if (s.issuedAt == null) unissuedKy++
          else if (now - s.issuedAt > this.policy.issuedExpiryMs) expiredKy.push(id)
        }
        return { signed, unissuedOt, expiredOt, unissuedKy, lastResort, expiredKy }
      }, opts)
      const current = state.signed[0]
      const rotate = current == null || now - current.createdAt >= this.policy.signedRotateMs
      const newSigned = rotate ? await this.newSigned() : null
      const newLastResort = state.lastResort ? null : await this.newKyber(true)
      const addOt = state.unissuedOt < this.policy.oneTimeLowWater ? this.policy.oneTimeTarget - state.unissuedOt : 0
      const addKy = state.unissuedKy < this.policy.kyberLowWater ? this.policy.kyberTarget - state.unissuedKy : 0
      const ots: Array<OneTimePreKeyRecord['keyPair']> = []
      for (let i = 0; i < addOt; i++) ots.push(await primitives.x25519Generate())
      const kys: KyberPreKeyRecord[] = []
      for (let i = 0; i < addKy; i++) kys.push(await this.newKyber(false))
      // the newest signed prekey stays; its predecessor only while the newest is younger than the grace period
      const all = newSigned != null ? [newSigned, ...state.signed] : state.signed
      const newest = all[0]
      const keepPrevious = newest != null && now - newest.createdAt < this.policy.signedGraceMs
      const dropSigned = all.slice(keepPrevious ? 2 : 1).filter(s => s !== newSigned).map(s => s.id)
      const changed = newSigned != null || newLastResort != null || ots.length > 0 || kys.length > 0 ||
        state.expiredOt.length > 0 || state.expiredKy.length > 0 || dropSigned.length > 0
      if (changed) {
        await this.store.write((tx) => {
          if (newSigned != null) this.putSigned(tx, newSigned)
          for (const id of dropSigned) tx.removePreKey('signed', id)
          if (newLastResort != null) this.putKyber(tx, newLastResort)
          for (const k of kys) this.putKyber(tx, k)
          for (const k of ots) this.putOneTime(tx, k)
          for (const id of state.expiredOt) tx.removePreKey('onetime', id)
          for (const id of state.expiredKy) tx.removePreKey('kyber', id)
        }, opts)
      }
      return { rotated: newSigned != null, addedOneTime: ots.length, addedKyber: kys.length }
    })
  }

  /**
   * A bundle to hand out. With `oneTime`, an unissued one-time prekey and an unissued one-time Kyber
   * prekey are marked issued in the same write (never handed out twice); without one, the bundle has
   * no OTPK (X3DH §3.3 allows it) and the last-resort Kyber prekey (PQXDH §3.2).
   */
  async issueBundle (opts: { oneTime: boolean, signal?: AbortSignal }): Promise<PreKeyBundle> {
    return await this.serial(async () => {
      if (opts.oneTime) {
        const r = await this.takeReserved()
        if (r != null) return r
      }
      return await this.markIssued(opts)
    })
  }

  /**
   * Marks the next one-time prekeys issued now (a full unit: on disk before they can leave, X3DH
   * §3.3) and keeps their bundle for the next `issueBundle({ oneTime: true })`, so that a bundle
   * request costs no write of its own. No-op while a reservation is held.
   */
  async reserve (opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.serial(async () => {
      if (this.reserved != null) return
      const bundle = await this.markIssued({ oneTime: true, ...(opts.signal != null ? { signal: opts.signal } : {}) })
      // without any one-time prekey left there is nothing to win: the plain path builds the same bundle
      if (bundle.oneTimePreKeyId != null || bundle.kyberPreKeyId != null) this.reserved = { bundle, at: this.now() }
    })
  }

  /** The reserved bundle if it is still valid (its signed prekey is the newest; not near expiry). */
  private async takeReserved (): Promise<PreKeyBundle | null> {
    const r = this.reserved
    this.reserved = null
    if (r == null) return null
    // maintain() deletes handed-out prekeys after issuedExpiryMs: never offer one close to that
    if (this.now() - r.at > this.policy.issuedExpiryMs / 2) return null
    const newest = await this.store.read(tx => this.readSigned(tx)[0]?.id)
    if (newest !== r.bundle.signedPreKeyId) return null
    // the one-time Kyber prekey, if any, must still exist (a last-resort fallback is chosen fresh otherwise)
    if (r.bundle.kyberPreKeyId != null && await this.store.getPreKey('kyber', r.bundle.kyberPreKeyId) == null) return null
    if (r.bundle.oneTimePreKeyId != null && await this.store.getPreKey('onetime', r.bundle.oneTimePreKeyId) == null) return null
    return r.bundle
  }

  /** issueBundle's write path (caller holds `serial`). */
  private async markIssued (opts: { oneTime: boolean, signal?: AbortSignal }): Promise<PreKeyBundle> {
    const now = this.now()
    return await this.store.write((tx) => {
      const signed = this.readSigned(tx)[0]
      if (signed == null) throw new MalformedInputError('no signed prekey')
      let oneTime: OneTimePreKeyRecord | undefined
      let kyber: KyberPreKeyRecord | undefined
      let lastResort: KyberPreKeyRecord | undefined
      if (opts.oneTime) {
        for (const id of tx.listPreKeyIds('onetime')) {
          const p = tx.getPreKey('onetime', id)
          if (p == null) continue
          const s = decodeOneTimeRecord(p.record)
          if (s.issuedAt != null) continue
          tx.putPreKey('onetime', id, encodeOneTimeRecord({ record: s.record, issuedAt: now }))
          oneTime = s.record
          break
        }
      }
      for (const id of tx.listPreKeyIds('kyber')) {
        const p = tx.getPreKey('kyber', id)
        if (p == null) continue
        const s = decodeKyberRecord(p.record)
        if (s.record.lastResort) {
          if (lastResort == null || s.record.createdAt > lastResort.createdAt) lastResort = s.record
          continue
        }
        if (!opts.oneTime || kyber != null || s.issuedAt != null) continue
        tx.putPreKey('kyber', id, encodeKyberRecord({ record: s.record, issuedAt: now }))
        kyber = s.record
      }
      const ky = kyber ?? lastResort
      return buildPreKeyBundle(this.identity, {
        registrationId: this.registrationId,
        deviceId: 1,
        signedPreKey: signed,
        ...(oneTime != null ? { oneTimePreKey: oneTime } : {}),
        ...(ky != null ? { kyberPreKey: ky } : {})
      })
    }, opts.signal != null ? { signal: opts.signal } : {})
  }

  /** Read access for decryptMessage (X3DH §3.4: look up the prekeys a PreKey message names). */
  lookup (): PreKeyLookup {
    const get = async (kind: 'signed' | 'onetime' | 'kyber', id: number): Promise<Uint8Array | undefined> => (await this.store.getPreKey(kind, id))?.record
    return {
      signedPreKey: async (id) => { const b = await get('signed', id); return b != null ? decodeSignedRecord(b) : undefined },
      oneTimePreKey: async (id) => { const b = await get('onetime', id); return b != null ? decodeOneTimeRecord(b).record : undefined },
      kyberPreKey: async (id) => { const b = await get('kyber', id); return b != null ? decodeKyberRecord(b).record : undefined }
    }
  }

  async counts (): Promise<PreKeyCounts> {
    return await this.store.read((tx) => {
      const c: PreKeyCounts = { signed: tx.countPreKeys('signed'), oneTime: 0, oneTimeUnissued: 0, kyber: 0, kyberUnissued: 0 }
      for (const id of tx.listPreKeyIds('onetime')) {
        const p = tx.getPreKey('onetime', id)
        if (p == null) continue
        c.oneTime++
        if (decodeOneTimeRecord(p.record).issuedAt == null) c.oneTimeUnissued++
      }
      for (const id of tx.listPreKeyIds('kyber')) {
        const p = tx.getPreKey('kyber', id)
        if (p == null) continue
        c.kyber++
        const s = decodeKyberRecord(p.record)
        if (!s.record.lastResort && s.issuedAt == null) c.kyberUnissued++
      }
      return c
    })
  }
}

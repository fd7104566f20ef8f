/**
 * Sessions: X3DH/PQXDH set-up + the Double Ratchet + libsignal's message envelopes, over plain-data
 * session records that a store persists atomically with each message.
 *
 * A SessionRecord holds the current session state and up to MAX_ARCHIVED_STATES older ones (newest
 * first), like libsignal's record: messages for an archived state still decrypt, and a state that
 * decrypts a message becomes current again (this resolves simultaneous initiation: both sides end up
 * on the session that last carried a reply — see docs/PROTOCOL.md §"Sessions").
 *
 * Nothing here mutates its inputs: every call returns a new record, and on any error the caller keeps
 * the old one.
 */
import { primitives, type KeyPair } from './primitives/index.js'
import { bytesEqual } from './bytes.js'
import {
  DuplicateMessageError, MalformedInputError, MissingPreKeyError, NoSessionError, TooManySkippedError,
  UntrustedIdentityError
} from './errors.js'
import type { IdentityKeyPair } from './identity.js'
import { encodePublicKey } from './keys.js'
import { verifyPreKeyBundle, type KyberPreKeyRecord, type OneTimePreKeyRecord, type PreKeyBundle, type SignedPreKeyRecord } from './prekeys.js'
import {
  CLASSIC_VERSION, PQXDH_VERSION, MAX_KEM_CIPHERTEXT_BYTES, encodePreKeySignalMessage, parsePreKeySignalMessage,
  parseSignalMessage, type MessageVersion, type ParsedSignalMessage
} from './message.js'
import {
  MAX_PREVIOUS_RATCHET_KEYS, MAX_STORED_SKIPPED_KEYS, initInitiatorRatchet, initResponderRatchet, ratchetDecrypt,
  ratchetEncrypt, type RatchetContext, type RatchetState, type SkippedMessageKey
} from './ratchet.js'
import { X3DH_INFO, deriveSessionSecrets, initiatorKeyMaterial, responderKeyMaterial } from './x3dh.js'
import { pqxdhInitiatorSecrets, pqxdhResponderSecrets, type KemEncapsulateFn } from './pqxdh.js'

/** 'pqxdh' (default between Parley peers, version 4) or 'classic' (libsignal v3 X3DH). */
export type SessionMode = 'pqxdh' | 'classic'

/** Archived session states kept per record (libsignal keeps 40; ours carry skipped keys, so fewer). */
export const MAX_ARCHIVED_STATES = 10

/** What the initiator repeats in every message until the responder first replies (X3DH §3.3). */
export interface PendingPreKey {
  signedPreKeyId: number
  preKeyId?: number
  kyberPreKeyId?: number
  kyberCiphertext?: Uint8Array
}

/** One session (one X3DH/PQXDH run and its ratchet). Plain data. */
export interface SessionState {
  version: MessageVersion
  /** Our identity key, 33 bytes (0x05 || u). */
  localIdentityKey: Uint8Array
  /** Their identity key, 33 bytes. */
  remoteIdentityKey: Uint8Array
  localRegistrationId: number
  remoteRegistrationId: number
  /** The initiator's ephemeral (base) key EK_A, raw 32 bytes: identifies the session. */
  baseKey: Uint8Array
  /** True when we initiated (the base key is ours). */
  initiator: boolean
  ratchet: RatchetState
  /** Set on the initiator until the first reply arrives: messages go out as PreKeySignalMessages. */
  pendingPreKey?: PendingPreKey
}

/** All sessions with one remote device. Plain data; persist with serializeSessionRecord. */
export interface SessionRecord {
  current?: SessionState
  /** Archived states, newest first, at most MAX_ARCHIVED_STATES. */
  previous: SessionState[]
}

export type CiphertextType = 'prekey' | 'whisper'
export interface CiphertextMessage {
  /** 'prekey' = PreKeySignalMessage (libsignal type 3), 'whisper' = SignalMessage (type 1). */
  type: CiphertextType
  body: Uint8Array
}

/** Test hooks for known-answer vectors; production code leaves them unset. */
export interface RandomnessHooks {
  /** Generates X25519 key pairs (base key and ratchet keys). */
  generateKeyPair?: () => Promise<KeyPair>
  /** KEM encapsulation (PQXDH). */
  kemEncapsulate?: KemEncapsulateFn
}

export function emptySessionRecord (): SessionRecord {
  return { previous: [] }
}

function ctxOf (s: SessionState, hooks?: RandomnessHooks): RatchetContext {
  const ctx: RatchetContext = { version: s.version, localIdentityKey: s.localIdentityKey, remoteIdentityKey: s.remoteIdentityKey }
  if (hooks?.generateKeyPair !== undefined) ctx.generateKeyPair = hooks.generateKeyPair
  return ctx
}

function archive (record: SessionRecord | undefined, current: SessionState): SessionRecord {
  const previous = record === undefined ? [] : record.current === undefined ? record.previous : [record.current, ...record.previous]
  return { current, previous: previous.slice(0, MAX_ARCHIVED_STATES) }
}

// ---------------------------------------------------------------------------------------------
// Initiation (X3DH §3.3, PQXDH §3.3)

export interface InitiateSessionOptions {
  identity: IdentityKeyPair
  /** Our registration id (sent in PreKeySignalMessages; libsignal requires it). */
  registrationId: number
  /** The responder's bundle; verified here before use. */
  bundle: PreKeyBundle
  /** @default 'pqxdh' */
  mode?: SessionMode
  /** An existing record for this device: its current state is archived. */
  record?: SessionRecord
  signal?: AbortSignal
  random?: RandomnessHooks
}

/**
 * Starts a session from a prekey bundle. Verifies the bundle's signatures first (X3DH §3.3: abort
 * on failure). Refuses (UntrustedIdentityError) when `record` belongs to a different identity: the
 * caller decides about identity changes and then starts from an empty record.
 */
export async function initiateSession (opts: InitiateSessionOptions): Promise<SessionRecord> {
  opts.signal?.throwIfAborted()
  const { identity, bundle } = opts
  const mode = opts.mode ?? 'pqxdh'
  checkU32('registrationId', opts.registrationId)
  await verifyPreKeyBundle(bundle)
  const existing = opts.record?.current ?? opts.record?.previous[0]
  if (existing !== undefined && !bytesEqual(existing.remoteIdentityKey, bundle.identityKey)) {
    throw new UntrustedIdentityError('bundle identity differs from the session record\'s identity')
  }
  if (mode === 'pqxdh' && bundle.kyberPreKey === undefined) {
    // PQXDH §3.3: the initiator needs a signed PQ prekey; falling back silently would be a downgrade
    throw new MissingPreKeyError('bundle has no Kyber prekey (PQXDH needs one)')
  }
  const generate = opts.random?.generateKeyPair ?? (async () => await primitives.x25519Generate())
  const baseKey = await generate()
  const theirIdentity = bundle.identityKey.subarray(1)
  const theirSignedPreKey = bundle.signedPreKey.slice(1)
  const km = await initiatorKeyMaterial({
    ourIdentityPrivateKey: identity.dhPrivateKey,
    ourBaseKey: baseKey,
    theirIdentityKey: theirIdentity,
    theirSignedPreKey,
    ...(bundle.oneTimePreKey !== undefined ? { theirOneTimePreKey: bundle.oneTimePreKey.subarray(1) } : {})
  })
  const pending: PendingPreKey = { signedPreKeyId: bundle.signedPreKeyId }
  if (bundle.oneTimePreKeyId !== undefined) pending.preKeyId = bundle.oneTimePreKeyId
  let rootKey: Uint8Array
  if (mode === 'pqxdh') {
    const s = await pqxdhInitiatorSecrets(km, bundle.kyberPreKey!, opts.random?.kemEncapsulate)
    rootKey = s.rootKey
    pending.kyberPreKeyId = bundle.kyberPreKeyId!
    pending.kyberCiphertext = s.kemCiphertext
  } else {
    rootKey = (await deriveSessionSecrets(km, X3DH_INFO)).rootKey
  }
  for (const k of km) k.fill(0)
  // X3DH §3.3: the ephemeral private key is deleted after use; drop the primitives' cached copy too
  primitives.x25519Forget?.(baseKey.privateKey)
  // DR §3.3 RatchetInitAlice: a fresh ratchet key pair against SPK_B (libsignal does the same)
  const ratchet = await initInitiatorRatchet(rootKey, theirSignedPreKey, await generate())
  const state: SessionState = {
    version: mode === 'pqxdh' ? PQXDH_VERSION : CLASSIC_VERSION,
    localIdentityKey: encodePublicKey(identity.dhPublicKey),
    remoteIdentityKey: bundle.identityKey.slice(),
    localRegistrationId: opts.registrationId,
    remoteRegistrationId: bundle.registrationId,
    baseKey: baseKey.publicKey,
    initiator: true,
    ratchet,
    pendingPreKey: pending
  }
  return archive(opts.record, state)
}

// ---------------------------------------------------------------------------------------------
// Encryption

export interface EncryptResult {
  record: SessionRecord
  message: CiphertextMessage
}

/** Encrypts with the current session; a PreKeySignalMessage until the peer has replied. */
export async function encryptMessage (record: SessionRecord, plaintext: Uint8Array, opts: { random?: RandomnessHooks } = {}): Promise<EncryptResult> {
  const s = record.current
  if (s === undefined) throw new NoSessionError('no current session')
  const { state: ratchet, message } = await ratchetEncrypt(s.ratchet, plaintext, ctxOf(s, opts.random))
  const next: SessionRecord = { current: { ...s, ratchet }, previous: record.previous }
  if (s.pendingPreKey === undefined) return { record: next, message: { type: 'whisper', body: message } }
  const p = s.pendingPreKey
  const body = encodePreKeySignalMessage({
    version: s.version,
    registrationId: s.localRegistrationId,
    signedPreKeyId: p.signedPreKeyId,
    baseKey: s.baseKey,
    identityKey: s.localIdentityKey,
    message,
    ...(p.preKeyId !== undefined ? { preKeyId: p.preKeyId } : {}),
    ...(p.kyberPreKeyId !== undefined ? { kyberPreKeyId: p.kyberPreKeyId } : {}),
    ...(p.kyberCiphertext !== undefined ? { kyberCiphertext: p.kyberCiphertext } : {})
  })
  return { record: next, message: { type: 'prekey', body } }
}

// ---------------------------------------------------------------------------------------------
// Decryption

type MaybePromise<T> = T | Promise<T>

/** Read access to our own prekeys (the caller's store). Return undefined for unknown ids. */
export interface PreKeyLookup {
  signedPreKey: (id: number) => MaybePromise<SignedPreKeyRecord | undefined>
  oneTimePreKey: (id: number) => MaybePromise<OneTimePreKeyRecord | undefined>
  kyberPreKey: (id: number) => MaybePromise<KyberPreKeyRecord | undefined>
}

export interface DecryptOptions {
  identity: IdentityKeyPair
  /** Our registration id (stored in a new state; used if we ever re-send as initiator). @default 0 */
  registrationId?: number
  record?: SessionRecord
  message: CiphertextMessage
  /** Needed for 'prekey' messages that start a new session. */
  preKeys?: PreKeyLookup
  /** Accept classic (v3, non-post-quantum) session initiations. @default true */
  acceptClassic?: boolean
  signal?: AbortSignal
  random?: RandomnessHooks
}

export interface DecryptResult {
  record: SessionRecord
  plaintext: Uint8Array
  /** The sender's identity key (33 bytes): trusting it is the caller's decision. */
  remoteIdentityKey: Uint8Array
  /** Set when a new session consumed this one-time prekey: delete it in the same transaction. */
  consumedOneTimePreKeyId?: number
  /** Set when a new session used a one-time (non-last-resort) Kyber prekey: delete it likewise. */
  consumedKyberPreKeyId?: number
  /** True when this message started a new session. */
  newSession: boolean
}

/**
 * `s` with its new ratchet state, after it decrypted a message: a decrypted reply ends the prekey
 * phase (libsignal), so pendingPreKey is dropped. Built field by field (one object of one shape,
 * cheaper than rest/spread copies on every message); keep in step with SessionState.
 */
function afterReply (s: SessionState, ratchet: RatchetState): SessionState {
  return {
    version: s.version,
    localIdentityKey: s.localIdentityKey,
    remoteIdentityKey: s.remoteIdentityKey,
    localRegistrationId: s.localRegistrationId,
    remoteRegistrationId: s.remoteRegistrationId,
    baseKey: s.baseKey,
    initiator: s.initiator,
    ratchet
  }
}

/** Tries the current state, then archived ones; a state that succeeds becomes current. */
async function decryptWithRecord (record: SessionRecord, msg: ParsedSignalMessage, random?: RandomnessHooks, only?: (s: SessionState) => boolean): Promise<{ record: SessionRecord, plaintext: Uint8Array, state: SessionState }> {
  const states = record.current === undefined ? record.previous : [record.current, ...record.previous]
  const errors: unknown[] = []
  for (let i = 0; i < states.length; i++) {
    const s = states[i]!
    if (s.version !== msg.version || (only !== undefined && !only(s))) continue
    let res
    try {
      res = await ratchetDecrypt(s.ratchet, msg, ctxOf(s, random))
    } catch (err) {
      errors.push(err)
      continue
    }
    const updated = afterReply(s, res.state)
    // the common case, the current state decrypted: the archived list is unchanged (no copy)
    const others = i === 0 && record.current !== undefined && record.previous.length <= MAX_ARCHIVED_STATES ? record.previous : states.filter((_, j) => j !== i).slice(0, MAX_ARCHIVED_STATES)
    return { record: { current: updated, previous: others }, plaintext: res.plaintext, state: updated }
  }
  if (errors.length === 0) throw new NoSessionError('no session state matches this message')
  // report the most specific cause: a replay beats a size refusal beats a MAC failure
  throw errors.find(e => e instanceof DuplicateMessageError) ?? errors.find(e => e instanceof TooManySkippedError) ?? errors[0]
}

function checkU32 (what: string, n: unknown): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new MalformedInputError(`${what} must be a uint32`)
}

/**
 * Decrypts a 'whisper' or 'prekey' message. For a PreKeySignalMessage whose base key is new, runs the
 * responder side of X3DH/PQXDH (X3DH §3.4, PQXDH §3.4) and archives the previous current state.
 * Refuses a PreKeySignalMessage from an identity other than the record's (UntrustedIdentityError).
 */
export async function decryptMessage (opts: DecryptOptions): Promise<DecryptResult> {
  opts.signal?.throwIfAborted()
  const { message } = opts
  if (message === null || typeof message !== 'object' || !(message.body instanceof Uint8Array)) throw new MalformedInputError('message must be { type, body: Uint8Array }')
  const record = opts.record ?? emptySessionRecord()

  if (message.type === 'whisper') {
    const msg = parseSignalMessage(message.body)
    const r = await decryptWithRecord(record, msg, opts.random)
    return { record: r.record, plaintext: r.plaintext, remoteIdentityKey: r.state.remoteIdentityKey, newSession: false }
  }
  if (message.type !== 'prekey') throw new MalformedInputError('unknown message type')

  const pk = parsePreKeySignalMessage(message.body)
  const inner = parseSignalMessage(pk.message)
  if (inner.version !== pk.version) throw new MalformedInputError('inner message version differs from the envelope')
  const known = record.current ?? record.previous[0]
  if (known !== undefined && !bytesEqual(known.remoteIdentityKey, pk.identityKey)) {
    // Never silently replace a peer's identity: the caller must decide and start a fresh record.
    throw new UntrustedIdentityError('prekey message identity differs from the session record\'s identity')
  }

  // A repeated prekey message for a session we already have ("we haven't replied yet", libsignal)
  const sameBase = (s: SessionState): boolean => !s.initiator && bytesEqual(s.baseKey, pk.baseKey)
  if ((record.current !== undefined && sameBase(record.current)) || record.previous.some(sameBase)) {
    const r = await decryptWithRecord(record, inner, opts.random, sameBase)
    return { record: r.record, plaintext: r.plaintext, remoteIdentityKey: r.state.remoteIdentityKey, newSession: false }
  }

  if (pk.version === CLASSIC_VERSION && opts.acceptClassic === false) throw new MalformedInputError('classic (non-PQXDH) sessions are refused')
  const lookup = opts.preKeys
  if (lookup === undefined) throw new MissingPreKeyError('prekey store required to start a session')
  const signedPreKey = await lookup.signedPreKey(pk.signedPreKeyId)
  opts.signal?.throwIfAborted()
  if (signedPreKey === undefined) throw new MissingPreKeyError('unknown signed prekey')
  let oneTime: OneTimePreKeyRecord | undefined
  if (pk.preKeyId !== undefined) {
    oneTime = await lookup.oneTimePreKey(pk.preKeyId)
    opts.signal?.throwIfAborted()
    // X3DH §3.4: the one-time prekey is deleted after use, so a second use must fail
    if (oneTime === undefined) throw new MissingPreKeyError('unknown or already used one-time prekey')
  }
  const km = await responderKeyMaterial({
    ourIdentityPrivateKey: opts.identity.dhPrivateKey,
    ourSignedPreKey: signedPreKey.keyPair,
    theirIdentityKey: pk.identityKey.subarray(1),
    theirBaseKey: pk.baseKey,
    ...(oneTime !== undefined ? { ourOneTimePreKey: oneTime.keyPair } : {})
  })
  let rootKey: Uint8Array
  let kyber: KyberPreKeyRecord | undefined
  if (pk.version === PQXDH_VERSION) {
    kyber = await lookup.kyberPreKey(pk.kyberPreKeyId!)
    opts.signal?.throwIfAborted()
    if (kyber === undefined) throw new MissingPreKeyError('unknown or already used Kyber prekey')
    if (pk.kyberCiphertext!.length > MAX_KEM_CIPHERTEXT_BYTES) throw new MalformedInputError('KEM ciphertext too large')
    rootKey = (await pqxdhResponderSecrets(km, pk.kyberCiphertext!, kyber.keyPair.secretKey)).rootKey
  } else {
    rootKey = (await deriveSessionSecrets(km, X3DH_INFO)).rootKey
  }
  for (const k of km) k.fill(0)
  // DR §3.3 RatchetInitBob: our first ratchet key pair is the signed prekey
  const state: SessionState = {
    version: pk.version,
    localIdentityKey: encodePublicKey(opts.identity.dhPublicKey),
    remoteIdentityKey: pk.identityKey.slice(),
    localRegistrationId: opts.registrationId ?? 0,
    remoteRegistrationId: pk.registrationId,
    baseKey: pk.baseKey.slice(),
    initiator: false,
    ratchet: initResponderRatchet(rootKey, signedPreKey.keyPair)
  }
  // the first message must authenticate before anything is kept (X3DH §3.4: else delete SK and abort)
  const res = await ratchetDecrypt(state.ratchet, inner, ctxOf(state, opts.random))
  const out: DecryptResult = {
    record: archive(record, { ...state, ratchet: res.state }),
    plaintext: res.plaintext,
    remoteIdentityKey: state.remoteIdentityKey,
    newSession: true
  }
  if (oneTime !== undefined) out.consumedOneTimePreKeyId = oneTime.id
  if (kyber !== undefined && !kyber.lastResort) out.consumedKyberPreKeyId = kyber.id
  return out
}

/** The identity key (33 bytes) of the record's current (or newest) session, if any. */
export function remoteIdentityOf (record: SessionRecord): Uint8Array | undefined {
  return (record.current ?? record.previous[0])?.remoteIdentityKey
}

// ---------------------------------------------------------------------------------------------
// Serialisation: compact, versioned binary (docs/PROTOCOL.md §"Session record format")

/** First byte of a serialised record. */
export const SESSION_RECORD_FORMAT = 1
const MAX_STATE_BYTES = 512 + MAX_PREVIOUS_RATCHET_KEYS * 32 + MAX_STORED_SKIPPED_KEYS * 68 + MAX_KEM_CIPHERTEXT_BYTES
/** Largest serialised record accepted. */
export const MAX_SESSION_RECORD_BYTES = 3 + (MAX_ARCHIVED_STATES + 1) * MAX_STATE_BYTES

const F_INITIATOR = 1
const F_PENDING = 2
const F_SEND_CHAIN = 4
const F_REMOTE_KEY = 8
const F_RECV_CHAIN = 16
const P_PREKEY = 1
const P_KYBER = 2

function stateSize (s: SessionState): number {
  const r = s.ratchet
  let n = 1 + 1 + 4 + 4 + 33 + 33 + 32 + 32 + 64 + 4
  if (r.sendingChain !== undefined) n += 36
  if (r.remoteRatchetKey !== undefined) n += 32
  if (r.receivingChain !== undefined) n += 36
  n += 1 + r.previousRemoteRatchetKeys.length * 32
  n += 2 + r.skipped.length * 68
  const p = s.pendingPreKey
  if (p !== undefined) {
    n += 1 + 4
    if (p.preKeyId !== undefined) n += 4
    if (p.kyberPreKeyId !== undefined) n += 4 + 2 + p.kyberCiphertext!.length
  }
  return n
}

class Out {
  o = 0
  constructor (readonly b: Uint8Array) {}
  u8 (v: number): void { this.b[this.o++] = v }
  u16 (v: number): void { this.b[this.o++] = v >>> 8; this.b[this.o++] = v & 0xff }
  u32 (v: number): void { this.b[this.o++] = v >>> 24; this.b[this.o++] = (v >>> 16) & 0xff; this.b[this.o++] = (v >>> 8) & 0xff; this.b[this.o++] = v & 0xff }
  bytes (v: Uint8Array, len: number): void {
    if (v.length !== len) throw new MalformedInputError('session state field has a wrong length')
    this.b.set(v, this.o); this.o += len
  }
}

class In {
  o = 0
  constructor (readonly b: Uint8Array) {}
  need (n: number): void { if (this.o + n > this.b.length) throw new MalformedInputError('session record truncated') }
  u8 (): number { this.need(1); return this.b[this.o++]! }
  u16 (): number { this.need(2); const v = (this.b[this.o]! << 8) | this.b[this.o + 1]!; this.o += 2; return v }
  u32 (): number {
    this.need(4)
    const b = this.b; const o = this.o
    this.o += 4
    return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!
  }
  /**
   * A private copy of the next n bytes, so the caller's buffer stays theirs. Fields are 32-33 bytes:
   * V8 keeps typed arrays that small on its heap, which is cheaper to allocate and collect than one
   * off-heap copy of the whole record with views into it.
   */
  bytes (n: number): Uint8Array { this.need(n); const v = this.b.slice(this.o, this.o + n); this.o += n; return v }
}

function writeState (w: Out, s: SessionState): void {
  const r = s.ratchet
  let flags = 0
  if (s.initiator) flags |= F_INITIATOR
  if (s.pendingPreKey !== undefined) flags |= F_PENDING
  if (r.sendingChain !== undefined) flags |= F_SEND_CHAIN
  if (r.remoteRatchetKey !== undefined) flags |= F_REMOTE_KEY
  if (r.receivingChain !== undefined) flags |= F_RECV_CHAIN
  w.u8(s.version)
  w.u8(flags)
  w.u32(s.localRegistrationId)
  w.u32(s.remoteRegistrationId)
  w.bytes(s.localIdentityKey, 33)
  w.bytes(s.remoteIdentityKey, 33)
  w.bytes(s.baseKey, 32)
  w.bytes(r.rootKey, 32)
  w.bytes(r.sendingRatchetKey.privateKey, 32)
  w.bytes(r.sendingRatchetKey.publicKey, 32)
  w.u32(r.previousCounter)
  if (r.sendingChain !== undefined) { w.bytes(r.sendingChain.key, 32); w.u32(r.sendingChain.index) }
  if (r.remoteRatchetKey !== undefined) w.bytes(r.remoteRatchetKey, 32)
  if (r.receivingChain !== undefined) { w.bytes(r.receivingChain.key, 32); w.u32(r.receivingChain.index) }
  w.u8(r.previousRemoteRatchetKeys.length)
  for (const k of r.previousRemoteRatchetKeys) w.bytes(k, 32)
  w.u16(r.skipped.length)
  for (const k of r.skipped) { w.bytes(k.ratchetKey, 32); w.u32(k.index); w.bytes(k.seed, 32) }
  const p = s.pendingPreKey
  if (p !== undefined) {
    w.u8((p.preKeyId !== undefined ? P_PREKEY : 0) | (p.kyberPreKeyId !== undefined ? P_KYBER : 0))
    w.u32(p.signedPreKeyId)
    if (p.preKeyId !== undefined) w.u32(p.preKeyId)
    if (p.kyberPreKeyId !== undefined) {
      w.u32(p.kyberPreKeyId)
      w.u16(p.kyberCiphertext!.length)
      w.bytes(p.kyberCiphertext!, p.kyberCiphertext!.length)
    }
  }
}

function readState (r: In): SessionState {
  const version = r.u8()
  if (version !== CLASSIC_VERSION && version !== PQXDH_VERSION) throw new MalformedInputError('unknown session version')
  const flags = r.u8()
  if ((flags & ~31) !== 0) throw new MalformedInputError('unknown session flags')
  const localRegistrationId = r.u32()
  const remoteRegistrationId = r.u32()
  const localIdentityKey = r.bytes(33)
  const remoteIdentityKey = r.bytes(33)
  if (localIdentityKey[0] !== 0x05 || remoteIdentityKey[0] !== 0x05) throw new MalformedInputError('identity key type')
  const baseKey = r.bytes(32)
  const rootKey = r.bytes(32)
  const privateKey = r.bytes(32)
  const publicKey = r.bytes(32)
  const previousCounter = r.u32()
  const ratchet: {
    -readonly [K in keyof RatchetState]: RatchetState[K]
  } = { rootKey, sendingRatchetKey: { privateKey, publicKey }, previousCounter, skipped: [], previousRemoteRatchetKeys: [] }
  if ((flags & F_SEND_CHAIN) !== 0) ratchet.sendingChain = { key: r.bytes(32), index: r.u32() }
  if ((flags & F_REMOTE_KEY) !== 0) ratchet.remoteRatchetKey = r.bytes(32)
  if ((flags & F_RECV_CHAIN) !== 0) ratchet.receivingChain = { key: r.bytes(32), index: r.u32() }
  const nPrev = r.u8()
  if (nPrev > MAX_PREVIOUS_RATCHET_KEYS) throw new MalformedInputError('too many previous ratchet keys')
  const prev: Uint8Array[] = []
  for (let i = 0; i < nPrev; i++) prev.push(r.bytes(32))
  ratchet.previousRemoteRatchetKeys = prev
  const nSkipped = r.u16()
  if (nSkipped > MAX_STORED_SKIPPED_KEYS) throw new MalformedInputError('too many skipped keys')
  const skipped: SkippedMessageKey[] = []
  for (let i = 0; i < nSkipped; i++) skipped.push({ ratchetKey: r.bytes(32), index: r.u32(), seed: r.bytes(32) })
  ratchet.skipped = skipped
  const state: SessionState = {
    version,
    localIdentityKey,
    remoteIdentityKey,
    localRegistrationId,
    remoteRegistrationId,
    baseKey,
    initiator: (flags & F_INITIATOR) !== 0,
    ratchet
  }
  if ((flags & F_PENDING) !== 0) {
    const pf = r.u8()
    if ((pf & ~3) !== 0) throw new MalformedInputError('unknown pending-prekey flags')
    const p: PendingPreKey = { signedPreKeyId: r.u32() }
    if ((pf & P_PREKEY) !== 0) p.preKeyId = r.u32()
    if ((pf & P_KYBER) !== 0) {
      p.kyberPreKeyId = r.u32()
      const len = r.u16()
      if (len === 0 || len > MAX_KEM_CIPHERTEXT_BYTES) throw new MalformedInputError('bad KEM ciphertext length')
      p.kyberCiphertext = r.bytes(len)
    }
    if ((version === PQXDH_VERSION) !== (p.kyberPreKeyId !== undefined)) throw new MalformedInputError('pending prekey does not match the session version')
    state.pendingPreKey = p
  }
  return state
}

/**
 * Serialises a record: format byte (1) | flags (bit 0: has current) | count of archived states |
 * states (current first). Layout of a state: docs/PROTOCOL.md §"Session record format".
 */
export function serializeSessionRecord (record: SessionRecord): Uint8Array {
  if (record.previous.length > MAX_ARCHIVED_STATES) throw new MalformedInputError('too many archived states')
  let size = 3
  if (record.current !== undefined) size += stateSize(record.current)
  for (const s of record.previous) size += stateSize(s)
  const w = new Out(new Uint8Array(size))
  w.u8(SESSION_RECORD_FORMAT)
  w.u8(record.current !== undefined ? 1 : 0)
  w.u8(record.previous.length)
  if (record.current !== undefined) writeState(w, record.current)
  for (const s of record.previous) writeState(w, s)
  return w.b
}

/** Parses a serialised record; MalformedInputError for anything but a well-formed record. */
export function deserializeSessionRecord (bytes: Uint8Array): SessionRecord {
  if (!(bytes instanceof Uint8Array)) throw new MalformedInputError('session record must be bytes')
  if (bytes.length > MAX_SESSION_RECORD_BYTES) throw new MalformedInputError('session record too large')
  const r = new In(bytes)
  if (r.u8() !== SESSION_RECORD_FORMAT) throw new MalformedInputError('unknown session record format')
  const flags = r.u8()
  if (flags > 1) throw new MalformedInputError('unknown session record flags')
  const n = r.u8()
  if (n > MAX_ARCHIVED_STATES) throw new MalformedInputError('too many archived states')
  const record: SessionRecord = { previous: [] }
  if (flags === 1) record.current = readState(r)
  for (let i = 0; i < n; i++) record.previous.push(readState(r))
  if (r.o !== bytes.length) throw new MalformedInputError('trailing bytes after session record')
  return record
}

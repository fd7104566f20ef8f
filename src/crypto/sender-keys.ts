/**
 * Sender keys for group messages, after Signal's group design ("Sender Keys": each member owns a
 * symmetric hash ratchet plus a signing key per group, distributes both to every other member over
 * the pairwise Double Ratchet sessions, then encrypts each group message ONCE). Parley's layout and
 * constants are its own (docs/PROTOCOL.md Part 5 §2):
 *
 *   seed_i   = HMAC-SHA256(CK_i, 0x51)             message key seed of iteration i
 *   CK_i+1   = HMAC-SHA256(CK_i, 0x52)             chain step (distinct from DR's 0x01/0x02)
 *   key||iv  = HKDF-SHA256(seed_i, 0^32, "ParleySenderKeyMessage", 44) -> aes[32] || nonce[12]
 *   body     = AES-256-GCM(key, nonce, plaintext, aad = owner || header)
 *   message  = header || body || Ed25519-sign(chainSigningKey, "ParleySenderKeyMsg\0" || owner || header || body)
 *   header   = version[1]=0x01 || groupId[32] || chainId[4 BE] || iteration[4 BE]
 *
 * `owner` is the sender's 32-byte identity key: not sent, but bound into signature and AAD, so a member
 * who relays someone else's distribution as its own cannot get that person's messages attributed to it.
 * Receivers check the signature BEFORE deriving keys or decrypting. All state is plain data; every
 * function returns a new state and never mutates its input.
 */
import { primitives, type KeyPair } from './primitives/index.js'
import { concatBytes, fromBase64Url, toBase64Url, wipe } from './bytes.js'
import { BadMacError, BadSignatureError, DuplicateMessageError, MalformedInputError, ParleyCryptoError, TooManySkippedError } from './errors.js'

/** Wire version of SenderKeyMessage and SenderKeyDistribution. */
export const SENDER_KEY_VERSION = 0x01
/** Group ids are 32 bytes (the membership log's genesis hash). */
export const GROUP_ID_LENGTH = 32
/** Most message keys one chain may skip at once (Signal's sender keys use 2000 too). */
export const SENDER_KEY_MAX_SKIP = 2000
/** Cap on stored skipped message keys per chain; the oldest are evicted (DR §6.4 DoS note). */
export const SENDER_KEY_MAX_STORED_SKIPPED = 2000
/** Chains remembered per sender (the newest win), so in-flight messages of a rotated chain still decrypt. */
export const SENDER_KEY_MAX_CHAINS = 5
/** Largest plaintext of one group message (1 MiB, as pairwise messages). */
export const SENDER_KEY_MAX_PLAINTEXT = 1024 * 1024
const HEADER_LENGTH = 1 + GROUP_ID_LENGTH + 4 + 4
const TAG_LENGTH = 16
const SIG_LENGTH = 64
/** Largest SenderKeyMessage accepted by the parser. */
export const SENDER_KEY_MAX_MESSAGE = HEADER_LENGTH + SENDER_KEY_MAX_PLAINTEXT + TAG_LENGTH + SIG_LENGTH
/** Serialised distribution: version || groupId || chainId || iteration || chainKey || signingPublicKey. */
export const SENDER_KEY_DISTRIBUTION_LENGTH = 1 + GROUP_ID_LENGTH + 4 + 4 + 32 + 32
/** Caps on serialised state (JSON) accepted by the deserialisers. */
export const MAX_SERIALISED_SENDER_STATE = 4096
export const MAX_SERIALISED_RECORD = 1024 * 1024

const MESSAGE_KEY_SEED = Uint8Array.of(0x51)
const CHAIN_KEY_SEED = Uint8Array.of(0x52)
const INFO_MESSAGE = new TextEncoder().encode('ParleySenderKeyMessage')
const SIGN_DOMAIN = new TextEncoder().encode('ParleySenderKeyMsg\0')
const ZERO_SALT = new Uint8Array(32)
const MAX_ITERATION = 0xffffffff

/** No chain with the message's chain id is known for this sender (never distributed, or rotated away). */
export class UnknownSenderChainError extends ParleyCryptoError {
  override readonly name = 'UnknownSenderChainError'
  readonly code = 'ERR_UNKNOWN_SENDER_CHAIN'
}

/** A distribution for a known chain id carries a different signing key (a forgery or a bug). */
export class SenderChainConflictError extends ParleyCryptoError {
  override readonly name = 'SenderChainConflictError'
  readonly code = 'ERR_SENDER_CHAIN_CONFLICT'
}

/** Our own sending chain for one group. `signingKey.privateKey` is an Ed25519 seed. */
export interface SenderKeyState {
  readonly groupId: Uint8Array
  /** Our identity key (32 bytes), bound into every message. */
  readonly owner: Uint8Array
  readonly chainId: number
  /** Iteration of the NEXT message to send. */
  readonly iteration: number
  /** Chain key for `iteration`; earlier ones are gone (forward secrecy within the chain). */
  readonly chainKey: Uint8Array
  readonly signingKey: KeyPair
}

/** What a member sends to every other member over the pairwise sessions (Signal's SenderKeyDistributionMessage). */
export interface SenderKeyDistribution {
  readonly groupId: Uint8Array
  readonly chainId: number
  readonly iteration: number
  readonly chainKey: Uint8Array
  readonly signingPublicKey: Uint8Array
}

export interface SkippedSenderKey {
  readonly iteration: number
  readonly seed: Uint8Array
}

/** One remote chain as a receiver holds it. */
export interface ReceiverChain {
  readonly chainId: number
  /** Iteration of the next message key the chain key yields. */
  readonly iteration: number
  readonly chainKey: Uint8Array
  readonly signingPublicKey: Uint8Array
  /** Keys of skipped iterations, oldest first (bounded). */
  readonly skipped: readonly SkippedSenderKey[]
}

/** Everything a receiver holds about ONE sender in ONE group; newest chain first. */
export interface SenderKeyRecord {
  readonly groupId: Uint8Array
  /** The sender's identity key (32 bytes): whoever sent us the distribution over a pairwise session. */
  readonly sender: Uint8Array
  readonly chains: readonly ReceiverChain[]
}

export interface ParsedSenderKeyMessage {
  readonly version: number
  readonly groupId: Uint8Array
  readonly chainId: number
  readonly iteration: number
  /** AES-GCM ciphertext || tag. */
  readonly body: Uint8Array
  readonly signature: Uint8Array
  /** header || body: the bytes the signature covers (after the domain prefix). */
  readonly signed: Uint8Array
}

function isBytes (x: unknown, length?: number): x is Uint8Array {
  return x instanceof Uint8Array && (length === undefined || x.length === length)
}

function checkU32 (what: string, n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_ITERATION) throw new MalformedInputError(`${what} must be a uint32`)
}

function u32 (n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n, false)
  return out
}

function readU32 (b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, false)
}

function randomChainId (): number {
  // Signal draws a random 31-bit id; so do we (0 is allowed but unlikely).
  return readU32(primitives.randomBytes(4), 0) >>> 1
}

/** Chain step (Signal sender-key chain, constants 0x51/0x52 so no DR key is ever reused here). */
export async function senderChainStep (chainKey: Uint8Array): Promise<{ seed: Uint8Array, next: Uint8Array }> {
  const [seed, next] = await Promise.all([primitives.hmacSha256(chainKey, MESSAGE_KEY_SEED), primitives.hmacSha256(chainKey, CHAIN_KEY_SEED)])
  return { seed, next }
}

async function messageKeys (seed: Uint8Array): Promise<{ key: Uint8Array, nonce: Uint8Array }> {
  const okm = await primitives.hkdfSha256(seed, ZERO_SALT, INFO_MESSAGE, 44)
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) }
}

function header (groupId: Uint8Array, chainId: number, iteration: number): Uint8Array {
  return concatBytes(Uint8Array.of(SENDER_KEY_VERSION), groupId, u32(chainId), u32(iteration))
}

/** Creates a fresh sending chain (new chain id, random chain key, new signing key): also how a member rotates. */
export async function createSenderKey (groupId: Uint8Array, owner: Uint8Array, opts: { chainId?: number } = {}): Promise<SenderKeyState> {
  if (!isBytes(groupId, GROUP_ID_LENGTH)) throw new MalformedInputError('groupId must be 32 bytes')
  if (!isBytes(owner, 32)) throw new MalformedInputError('owner must be a 32-byte identity key')
  const chainId = opts.chainId ?? randomChainId()
  checkU32('chainId', chainId)
  const seed = primitives.randomBytes(32)
  const signingKey = { privateKey: seed, publicKey: await primitives.ed25519PublicKey(seed) }
  return { groupId: groupId.slice(), owner: owner.slice(), chainId, iteration: 0, chainKey: primitives.randomBytes(32), signingKey }
}

/** Rotation (after a member is removed): a brand-new chain unrelated to the old one. */
export async function rotateSenderKey (state: SenderKeyState): Promise<SenderKeyState> {
  let chainId = randomChainId()
  while (chainId === state.chainId) chainId = randomChainId()
  return await createSenderKey(state.groupId, state.owner, { chainId })
}

export function senderKeyDistribution (state: SenderKeyState): SenderKeyDistribution {
  return { groupId: state.groupId, chainId: state.chainId, iteration: state.iteration, chainKey: state.chainKey, signingPublicKey: state.signingKey.publicKey }
}

export function encodeSenderKeyDistribution (d: SenderKeyDistribution): Uint8Array {
  if (!isBytes(d.groupId, GROUP_ID_LENGTH) || !isBytes(d.chainKey, 32) || !isBytes(d.signingPublicKey, 32)) throw new MalformedInputError('bad distribution fields')
  checkU32('chainId', d.chainId)
  checkU32('iteration', d.iteration)
  return concatBytes(header(d.groupId, d.chainId, d.iteration), d.chainKey, d.signingPublicKey)
}

export function decodeSenderKeyDistribution (bytes: Uint8Array): SenderKeyDistribution {
  if (!isBytes(bytes) || bytes.length !== SENDER_KEY_DISTRIBUTION_LENGTH) throw new MalformedInputError('sender key distribution has the wrong length')
  if (bytes[0] !== SENDER_KEY_VERSION) throw new MalformedInputError('unsupported sender key version')
  let o = 1
  const groupId = bytes.slice(o, o += GROUP_ID_LENGTH)
  const chainId = readU32(bytes, o); o += 4
  const iteration = readU32(bytes, o); o += 4
  const chainKey = bytes.slice(o, o += 32)
  const signingPublicKey = bytes.slice(o, o + 32)
  return { groupId, chainId, iteration, chainKey, signingPublicKey }
}

/**
 * Adds a received distribution to the record for that sender (creating it). A chain id already known
 * with the same signing key leaves the record unchanged — a replayed distribution must never roll a
 * chain back to an earlier iteration (that would re-enable used keys). The newest SENDER_KEY_MAX_CHAINS
 * chains are kept.
 */
export function processSenderKeyDistribution (record: SenderKeyRecord | undefined, d: SenderKeyDistribution, sender: Uint8Array): SenderKeyRecord {
  if (!isBytes(sender, 32)) throw new MalformedInputError('sender must be a 32-byte identity key')
  if (record !== undefined && !bytesEq(record.sender, sender)) throw new MalformedInputError('record belongs to another sender')
  if (!isBytes(d.groupId, GROUP_ID_LENGTH) || !isBytes(d.chainKey, 32) || !isBytes(d.signingPublicKey, 32)) throw new MalformedInputError('bad distribution fields')
  checkU32('chainId', d.chainId)
  checkU32('iteration', d.iteration)
  if (record !== undefined && !bytesEq(record.groupId, d.groupId)) throw new MalformedInputError('distribution is for another group')
  const existing = record?.chains.find(c => c.chainId === d.chainId)
  if (existing !== undefined) {
    if (!bytesEq(existing.signingPublicKey, d.signingPublicKey)) throw new SenderChainConflictError('known chain id with a different signing key')
    return record!
  }
  const chain: ReceiverChain = { chainId: d.chainId, iteration: d.iteration, chainKey: d.chainKey.slice(), signingPublicKey: d.signingPublicKey.slice(), skipped: [] }
  const chains = [chain, ...(record?.chains ?? [])].slice(0, SENDER_KEY_MAX_CHAINS)
  return { groupId: d.groupId.slice(), sender: sender.slice(), chains }
}

function bytesEq (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** Encrypts one group message; O(1) in the group size. Returns the advanced state (the used key is gone). */
export async function senderKeyEncrypt (state: SenderKeyState, plaintext: Uint8Array): Promise<{ state: SenderKeyState, message: Uint8Array }> {
  if (!isBytes(plaintext)) throw new MalformedInputError('plaintext must be bytes')
  if (plaintext.length > SENDER_KEY_MAX_PLAINTEXT) throw new MalformedInputError('plaintext too large')
  if (state.iteration >= MAX_ITERATION) throw new TooManySkippedError('sender chain exhausted; rotate')
  const { seed, next } = await senderChainStep(state.chainKey)
  const { key, nonce } = await messageKeys(seed)
  const h = header(state.groupId, state.chainId, state.iteration)
  // Each key/nonce pair encrypts exactly one message: the chain never yields the same seed twice (NIST SP 800-38D §8).
  const body = await primitives.aesGcmEncrypt(key, nonce, plaintext, concatBytes(state.owner, h))
  wipe(seed, key)
  const signed = concatBytes(h, body)
  const signature = await primitives.ed25519Sign(state.signingKey.privateKey, concatBytes(SIGN_DOMAIN, state.owner, signed))
  return { state: { ...state, iteration: state.iteration + 1, chainKey: next }, message: concatBytes(signed, signature) }
}

export function parseSenderKeyMessage (bytes: Uint8Array): ParsedSenderKeyMessage {
  if (!isBytes(bytes)) throw new MalformedInputError('message must be bytes')
  if (bytes.length > SENDER_KEY_MAX_MESSAGE) throw new MalformedInputError('sender key message too large')
  if (bytes.length < HEADER_LENGTH + TAG_LENGTH + SIG_LENGTH) throw new MalformedInputError('sender key message too short')
  if (bytes[0] !== SENDER_KEY_VERSION) throw new MalformedInputError('unsupported sender key version')
  const signedEnd = bytes.length - SIG_LENGTH
  return {
    version: bytes[0],
    groupId: bytes.slice(1, 1 + GROUP_ID_LENGTH),
    chainId: readU32(bytes, 1 + GROUP_ID_LENGTH),
    iteration: readU32(bytes, 1 + GROUP_ID_LENGTH + 4),
    body: bytes.slice(HEADER_LENGTH, signedEnd),
    signature: bytes.slice(signedEnd),
    signed: bytes.slice(0, signedEnd)
  }
}

export interface SenderKeyDecryptResult {
  record: SenderKeyRecord
  plaintext: Uint8Array
  chainId: number
  iteration: number
}

/**
 * Decrypts a SenderKeyMessage with the record held for its sender. Order of checks: parse (size cap),
 * group id, chain known, signature (before any key derivation or decryption, as Signal does), then
 * duplicate / skip bounds, then the AEAD tag.
 */
export async function senderKeyDecrypt (record: SenderKeyRecord, message: Uint8Array): Promise<SenderKeyDecryptResult> {
  const m = parseSenderKeyMessage(message)
  if (!bytesEq(m.groupId, record.groupId)) throw new UnknownSenderChainError('message is for another group')
  const idx = record.chains.findIndex(c => c.chainId === m.chainId)
  const chain = record.chains[idx]
  if (chain === undefined) throw new UnknownSenderChainError('no sender key for this chain id')
  if (!await primitives.ed25519Verify(chain.signingPublicKey, concatBytes(SIGN_DOMAIN, record.sender, m.signed), m.signature)) {
    throw new BadSignatureError('sender key message signature does not verify')
  }
  let seed: Uint8Array
  let next: ReceiverChain
  if (m.iteration < chain.iteration) {
    // DR §3.5 TrySkippedMessageKeys: an old iteration decrypts only with a stored skipped key.
    const at = chain.skipped.findIndex(s => s.iteration === m.iteration)
    if (at < 0) throw new DuplicateMessageError('message key already used or evicted')
    seed = chain.skipped[at]!.seed
    next = { ...chain, skipped: chain.skipped.filter((_, i) => i !== at) }
  } else {
    // DR §3.5 SkipMessageKeys with MAX_SKIP: refuse to derive more than the bound.
    if (m.iteration - chain.iteration > SENDER_KEY_MAX_SKIP) throw new TooManySkippedError('too many skipped sender key messages')
    const skipped = chain.skipped.slice()
    let ck = chain.chainKey
    for (let i = chain.iteration; i < m.iteration; i++) {
      const s = await senderChainStep(ck)
      skipped.push({ iteration: i, seed: s.seed })
      ck = s.next
    }
    const s = await senderChainStep(ck)
    seed = s.seed
    next = { ...chain, iteration: m.iteration + 1, chainKey: s.next, skipped: skipped.slice(Math.max(0, skipped.length - SENDER_KEY_MAX_STORED_SKIPPED)) }
  }
  const { key, nonce } = await messageKeys(seed)
  let plaintext: Uint8Array
  try {
    plaintext = await primitives.aesGcmDecrypt(key, nonce, m.body, concatBytes(record.sender, m.signed.subarray(0, HEADER_LENGTH)))
  } catch (err) {
    // The state is NOT advanced on failure: a forged message cannot burn keys.
    throw new BadMacError('sender key message failed authentication', { cause: err })
  } finally {
    wipe(key)
  }
  const chains = record.chains.slice()
  chains[idx] = next
  return { record: { ...record, chains }, plaintext, chainId: m.chainId, iteration: m.iteration }
}

/** Whether the record can still decrypt (chainId, iteration) — for tests and diagnostics. */
export function holdsSenderKey (record: SenderKeyRecord, chainId: number, iteration: number): boolean {
  const c = record.chains.find(x => x.chainId === chainId)
  if (c === undefined) return false
  return iteration >= c.iteration || c.skipped.some(s => s.iteration === iteration)
}

// ---------------------------------------------------------------------------------------------
// Serialisation: JSON with base64url bytes, size-capped and fully validated on the way in.

const b = toBase64Url
function ub (x: unknown, length?: number): Uint8Array {
  if (typeof x !== 'string') throw new MalformedInputError('expected base64url string')
  let out: Uint8Array
  try { out = fromBase64Url(x) } catch (err) { throw new MalformedInputError('bad base64url', { cause: err }) }
  if (length !== undefined && out.length !== length) throw new MalformedInputError('field has the wrong length')
  return out
}
function parseJson (bytes: Uint8Array, cap: number): Record<string, unknown> {
  if (!isBytes(bytes) || bytes.length > cap) throw new MalformedInputError('serialised state missing or too large')
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch (err) { throw new MalformedInputError('serialised state is not JSON', { cause: err }) }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new MalformedInputError('serialised state is not an object')
  return v as Record<string, unknown>
}
const enc = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))

export function serializeSenderKeyState (s: SenderKeyState): Uint8Array {
  return enc({ v: 1, groupId: b(s.groupId), owner: b(s.owner), chainId: s.chainId, iteration: s.iteration, chainKey: b(s.chainKey), signingPublicKey: b(s.signingKey.publicKey), signingPrivateKey: b(s.signingKey.privateKey) })
}

export function deserializeSenderKeyState (bytes: Uint8Array): SenderKeyState {
  const o = parseJson(bytes, MAX_SERIALISED_SENDER_STATE)
  if (o.v !== 1) throw new MalformedInputError('unsupported sender key state version')
  checkU32('chainId', o.chainId)
  checkU32('iteration', o.iteration)
  return {
    groupId: ub(o.groupId, GROUP_ID_LENGTH),
    owner: ub(o.owner, 32),
    chainId: o.chainId,
    iteration: o.iteration,
    chainKey: ub(o.chainKey, 32),
    signingKey: { publicKey: ub(o.signingPublicKey, 32), privateKey: ub(o.signingPrivateKey, 32) }
  }
}

export function serializeSenderKeyRecord (r: SenderKeyRecord): Uint8Array {
  return enc({
    v: 1,
    groupId: b(r.groupId),
    sender: b(r.sender),
    chains: r.chains.map(c => ({ chainId: c.chainId, iteration: c.iteration, chainKey: b(c.chainKey), signingPublicKey: b(c.signingPublicKey), skipped: c.skipped.map(s => [s.iteration, b(s.seed)]) }))
  })
}

export function deserializeSenderKeyRecord (bytes: Uint8Array): SenderKeyRecord {
  const o = parseJson(bytes, MAX_SERIALISED_RECORD)
  if (o.v !== 1) throw new MalformedInputError('unsupported sender key record version')
  if (!Array.isArray(o.chains) || o.chains.length > SENDER_KEY_MAX_CHAINS) throw new MalformedInputError('bad chains')
  const chains = o.chains.map((c: unknown): ReceiverChain => {
    if (typeof c !== 'object' || c === null) throw new MalformedInputError('bad chain')
    const x = c as Record<string, unknown>
    checkU32('chainId', x.chainId)
    checkU32('iteration', x.iteration)
    if (!Array.isArray(x.skipped) || x.skipped.length > SENDER_KEY_MAX_STORED_SKIPPED) throw new MalformedInputError('bad skipped keys')
    const skipped = x.skipped.map((s: unknown): SkippedSenderKey => {
      if (!Array.isArray(s) || s.length !== 2) throw new MalformedInputError('bad skipped key')
      checkU32('iteration', s[0])
      return { iteration: s[0], seed: ub(s[1], 32) }
    })
    return { chainId: x.chainId, iteration: x.iteration, chainKey: ub(x.chainKey, 32), signingPublicKey: ub(x.signingPublicKey, 32), skipped }
  })
  return { groupId: ub(o.groupId, GROUP_ID_LENGTH), sender: ub(o.sender, 32), chains }
}

/**
 * The Double Ratchet (Signal spec "The Double Ratchet Algorithm", rev. 1 — cited as DR §n) with
 * libsignal's v3 key schedule and message format:
 *
 *   KDF_RK(rk, dh)  = HKDF-SHA256(ikm = dh, salt = rk, info = "WhisperRatchet", 64) -> rk' || ck
 *   KDF_CK(ck)      = HMAC-SHA256(ck, 0x02) -> ck',  message key seed = HMAC-SHA256(ck, 0x01)
 *   message keys    = HKDF-SHA256(seed, salt = 0^32, "WhisperMessageKeys", 80) -> aes[32] || mac[32] || iv[16]
 *   ENCRYPT         = AES-256-CBC/PKCS#7; tag = HMAC-SHA256(mac, IK_sender || IK_receiver || versionByte || protobuf)[0..8]
 *
 * State is plain data (Uint8Array + numbers + arrays); every function returns a NEW state and never
 * mutates its input (byte arrays inside a state are treated as immutable and shared between versions).
 */
import { primitives, constantTimeEqual, type KeyPair } from './primitives/index.js'
import { bytesEqual } from './bytes.js'
import { BadMacError, DuplicateMessageError, MalformedInputError, NoSessionError, TooManySkippedError } from './errors.js'
import {
  CLASSIC_VERSION, MAC_LENGTH, MAX_PLAINTEXT_BYTES, encodeSignalMessageBody, parseSignalMessage,
  type MessageVersion, type ParsedSignalMessage
} from './message.js'

/** DR §3.5 MAX_SKIP: most message keys one chain may skip (libsignal: 2000). */
export const MAX_SKIP = 2000
/** Global cap on stored skipped message keys per session state; the oldest are evicted (DR §6.4). */
export const MAX_STORED_SKIPPED_KEYS = 2000
/** Remote ratchet keys remembered after a DH step, so a replay on an old chain is a duplicate. */
export const MAX_PREVIOUS_RATCHET_KEYS = 16

const INFO_RATCHET = new TextEncoder().encode('WhisperRatchet')
const INFO_MESSAGE_KEYS = new TextEncoder().encode('WhisperMessageKeys')
const ZERO_SALT = new Uint8Array(32)
const BYTE_1 = Uint8Array.of(0x01)
const BYTE_2 = Uint8Array.of(0x02)
const CK_INPUTS = [BYTE_1, BYTE_2] as const
/** "WhisperMessageKeys" output: AES-256 key, HMAC-SHA256 key, CBC IV. */
const MESSAGE_KEY_LENGTHS = [32, 32, 16] as const

/** A symmetric-key ratchet (DR §2.2): the chain key and the index of the next message key. */
export interface ChainState {
  readonly key: Uint8Array
  readonly index: number
}

/** A message key kept for a message that has not arrived yet (DR §2.6). */
export interface SkippedMessageKey {
  /** Remote ratchet public key (raw 32 bytes) of the chain the key belongs to. */
  readonly ratchetKey: Uint8Array
  readonly index: number
  /** The 32-byte message key seed (HMAC(ck, 0x01)); expanded with "WhisperMessageKeys" when used. */
  readonly seed: Uint8Array
}

/** Double Ratchet state (DR §3.2 variables: DHs, DHr, RK, CKs, CKr, Ns, Nr, PN, MKSKIPPED). */
export interface RatchetState {
  readonly rootKey: Uint8Array
  /** DHs: our current ratchet key pair (raw X25519). */
  readonly sendingRatchetKey: KeyPair
  /** CKs/Ns; undefined for the responder until the first DH step. */
  readonly sendingChain?: ChainState
  /** PN: number of messages in our previous sending chain. */
  readonly previousCounter: number
  /** DHr: the remote party's current ratchet public key (raw 32 bytes). */
  readonly remoteRatchetKey?: Uint8Array
  /** CKr/Nr. */
  readonly receivingChain?: ChainState
  /** MKSKIPPED, oldest first. */
  readonly skipped: readonly SkippedMessageKey[]
  /** Remote ratchet keys we have ratcheted past, newest last (bounded). */
  readonly previousRemoteRatchetKeys: readonly Uint8Array[]
}

/** Context of one session that the ratchet binds messages to. */
export interface RatchetContext {
  version: MessageVersion
  /** Our identity key, 33 bytes (0x05 || u). */
  localIdentityKey: Uint8Array
  /** Their identity key, 33 bytes. */
  remoteIdentityKey: Uint8Array
  /** Key-pair generator for DH ratchet steps (injectable for known-answer tests). */
  generateKeyPair?: () => Promise<KeyPair>
}

export interface MessageKeys {
  cipherKey: Uint8Array
  macKey: Uint8Array
  iv: Uint8Array
}

/** KDF_RK (DR §5.2, libsignal "WhisperRatchet"). */
export async function kdfRootKey (rootKey: Uint8Array, dhOut: Uint8Array): Promise<{ rootKey: Uint8Array, chainKey: Uint8Array }> {
  const okm = await primitives.hkdfSha256(dhOut, rootKey, INFO_RATCHET, 64)
  // copies, not views: 32-byte arrays stay on V8's heap (cheaper to collect), and okm can be wiped
  const out = { rootKey: okm.slice(0, 32), chainKey: okm.slice(32, 64) }
  okm.fill(0)
  return out
}

/** KDF_CK (DR §5.2, libsignal: message key seed = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02)). */
export async function kdfChainKey (chainKey: Uint8Array): Promise<{ seed: Uint8Array, next: Uint8Array }> {
  const [seed, next] = await chainStep(chainKey)
  return { seed: seed!, next: next! }
}

/**
 * KDF_CK as [seed, next chain key]. The per-message helpers below are plain functions handing back
 * the primitive's own promise: no extra async frame per step on the hot path.
 */
function chainStep (chainKey: Uint8Array): Promise<readonly Uint8Array[]> {
  if (primitives.hmacSha256Many !== undefined) return primitives.hmacSha256Many(chainKey, CK_INPUTS)
  return Promise.all([primitives.hmacSha256(chainKey, BYTE_1), primitives.hmacSha256(chainKey, BYTE_2)])
}

/** Expands a message key seed into AES key, MAC key and IV (libsignal "WhisperMessageKeys"). */
export async function deriveMessageKeys (seed: Uint8Array): Promise<MessageKeys> {
  const [cipherKey, macKey, iv] = await messageKeyPieces(seed)
  return { cipherKey: cipherKey!, macKey: macKey!, iv: iv! }
}

/** "WhisperMessageKeys" as [AES key, MAC key, IV]. */
function messageKeyPieces (seed: Uint8Array): Promise<readonly Uint8Array[]> {
  if (primitives.hkdfSha256Split !== undefined) return primitives.hkdfSha256Split(seed, ZERO_SALT, INFO_MESSAGE_KEYS, MESSAGE_KEY_LENGTHS)
  return primitives.hkdfSha256(seed, ZERO_SALT, INFO_MESSAGE_KEYS, 80)
    .then(okm => [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 80)])
}

async function defaultKeyPair (): Promise<KeyPair> { return await primitives.x25519Generate() }

/**
 * RatchetInitAlice (DR §3.3): the initiator knows the responder's ratchet key (the signed prekey)
 * and derives its first sending chain at once.
 */
export async function initInitiatorRatchet (rootKey: Uint8Array, remoteRatchetKey: Uint8Array, ourRatchetKey: KeyPair): Promise<RatchetState> {
  const dh = await primitives.x25519(ourRatchetKey.privateKey, remoteRatchetKey)
  const k = await kdfRootKey(rootKey, dh)
  return {
    rootKey: k.rootKey,
    sendingRatchetKey: ourRatchetKey,
    sendingChain: { key: k.chainKey, index: 0 },
    previousCounter: 0,
    remoteRatchetKey,
    skipped: [],
    previousRemoteRatchetKeys: []
  }
}

/** RatchetInitBob (DR §3.3): the responder's first ratchet key pair is its signed prekey. */
export function initResponderRatchet (rootKey: Uint8Array, ourRatchetKey: KeyPair): RatchetState {
  return { rootKey, sendingRatchetKey: ourRatchetKey, previousCounter: 0, skipped: [], previousRemoteRatchetKeys: [] }
}

/** libsignal SignalMessage MAC: HMAC-SHA256(macKey, IK_sender || IK_receiver || body), full 32 bytes. */
function messageMac (macKey: Uint8Array, sender: Uint8Array, receiver: Uint8Array, body: Uint8Array): Promise<Uint8Array> {
  if (primitives.hmacSha256Parts !== undefined) return primitives.hmacSha256Parts(macKey, [sender, receiver, body])
  const data = new Uint8Array(sender.length + receiver.length + body.length)
  data.set(sender, 0)
  data.set(receiver, sender.length)
  data.set(body, sender.length + receiver.length)
  return primitives.hmacSha256(macKey, data)
}

export interface RatchetEncryptResult {
  state: RatchetState
  /** The whole serialised SignalMessage: versionByte || protobuf || mac[8]. */
  message: Uint8Array
}

/** RatchetEncrypt (DR §3.4). */
export async function ratchetEncrypt (state: RatchetState, plaintext: Uint8Array, ctx: RatchetContext): Promise<RatchetEncryptResult> {
  const chain = state.sendingChain
  if (chain === undefined) throw new NoSessionError('session cannot send before it has received a message')
  if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new MalformedInputError('plaintext too large')
  const sync = primitives.sync
  // DR §3.4: CKs, mk = KDF_CK(CKs)
  const [seed, next] = sync !== undefined ? sync.hmacSha256Many(chain.key, CK_INPUTS) : await chainStep(chain.key)
  const [cipherKey, macKey, iv] = sync !== undefined
    ? sync.hkdfSha256Split(seed!, ZERO_SALT, INFO_MESSAGE_KEYS, MESSAGE_KEY_LENGTHS)
    : await messageKeyPieces(seed!)
  seed!.fill(0) // DR §3.4 / §6.5: message keys are used once, then deleted
  let message: Uint8Array
  try {
    const ciphertext = sync?.aesCbcEncrypt !== undefined
      ? sync.aesCbcEncrypt(cipherKey!, iv!, plaintext)
      : await primitives.aesCbcEncrypt(cipherKey!, iv!, plaintext)
    message = encodeSignalMessageBody(ctx.version, {
      ratchetKey: state.sendingRatchetKey.publicKey,
      counter: chain.index,
      previousCounter: state.previousCounter
    }, ciphertext, MAC_LENGTH)
    const bodyLength = message.length - MAC_LENGTH
    const body = message.subarray(0, bodyLength)
    // libsignal SignalMessage MAC: HMAC-SHA256(macKey, IK_sender || IK_receiver || body) truncated to 8 bytes
    const mac = sync !== undefined
      ? sync.hmacSha256Parts(macKey!, [ctx.localIdentityKey, ctx.remoteIdentityKey, body])
      : await messageMac(macKey!, ctx.localIdentityKey, ctx.remoteIdentityKey, body)
    for (let i = 0; i < MAC_LENGTH; i++) message[bodyLength + i] = mac[i]!
  } finally {
    cipherKey!.fill(0); macKey!.fill(0); iv!.fill(0)
  }
  return { state: { ...state, sendingChain: { key: next!, index: chain.index + 1 } }, message }
}

/**
 * Checks the MAC, then decrypts. BadMacError on any failure (nothing about the cause leaks). Runs
 * without a promise when the primitives have every step in synchronous form (the usual case on Node).
 */
function openMessage (seed: Uint8Array, msg: ParsedSignalMessage, ctx: RatchetContext): Uint8Array | Promise<Uint8Array> {
  const sync = primitives.sync
  if (sync?.aesCbcDecrypt === undefined) return openMessageAsync(seed, msg, ctx)
  const [cipherKey, macKey, iv] = sync.hkdfSha256Split(seed, ZERO_SALT, INFO_MESSAGE_KEYS, MESSAGE_KEY_LENGTHS)
  try {
    const mac = sync.hmacSha256Parts(macKey!, [ctx.remoteIdentityKey, ctx.localIdentityKey, msg.macInput])
    // MAC before decryption, compared in constant time (encrypt-then-MAC)
    if (!constantTimeEqual(mac.subarray(0, MAC_LENGTH), msg.mac)) throw new BadMacError('message authentication failed')
    try {
      return sync.aesCbcDecrypt(cipherKey!, iv!, msg.ciphertext)
    } catch (err) {
      throw new BadMacError('message decryption failed', { cause: err })
    }
  } finally {
    // the expanded keys are this call's own (the seed may be a stored skipped key: left to the caller)
    cipherKey!.fill(0); macKey!.fill(0); iv!.fill(0)
  }
}

async function openMessageAsync (seed: Uint8Array, msg: ParsedSignalMessage, ctx: RatchetContext): Promise<Uint8Array> {
  const sync = primitives.sync
  const [cipherKey, macKey, iv] = sync !== undefined
    ? sync.hkdfSha256Split(seed, ZERO_SALT, INFO_MESSAGE_KEYS, MESSAGE_KEY_LENGTHS)
    : await messageKeyPieces(seed)
  try {
    const mac = sync !== undefined
      ? sync.hmacSha256Parts(macKey!, [ctx.remoteIdentityKey, ctx.localIdentityKey, msg.macInput])
      : await messageMac(macKey!, ctx.remoteIdentityKey, ctx.localIdentityKey, msg.macInput)
    // MAC before decryption, compared in constant time (encrypt-then-MAC)
    if (!constantTimeEqual(mac.subarray(0, MAC_LENGTH), msg.mac)) throw new BadMacError('message authentication failed')
    try {
      return await primitives.aesCbcDecrypt(cipherKey!, iv!, msg.ciphertext)
    } catch (err) {
      throw new BadMacError('message decryption failed', { cause: err })
    }
  } finally {
    cipherKey!.fill(0); macKey!.fill(0); iv!.fill(0)
  }
}

/**
 * Derives message keys from `chain` up to (not including) index `until`, storing them as skipped
 * (DR §3.5 SkipMessageKeys). Returns the advanced chain and the new skipped keys.
 */
async function skipKeys (chain: ChainState, ratchetKey: Uint8Array, until: number, out: SkippedMessageKey[]): Promise<ChainState> {
  // DR §3.5: refuse to skip more than MAX_SKIP keys in one chain
  if (until - chain.index > MAX_SKIP) throw new TooManySkippedError(`message would skip more than ${MAX_SKIP} keys`)
  let key = chain.key
  let index = chain.index
  while (index < until) {
    const [seed, next] = primitives.sync !== undefined ? primitives.sync.hmacSha256Many(key, CK_INPUTS) : await chainStep(key)
    out.push({ ratchetKey, index, seed: seed! })
    key = next!
    index++
  }
  return { key, index }
}

function capSkipped (list: SkippedMessageKey[]): SkippedMessageKey[] {
  // DR §6.4 (deletion of skipped message keys): keep at most MAX_STORED_SKIPPED_KEYS, evicting the oldest
  return list.length > MAX_STORED_SKIPPED_KEYS ? list.slice(list.length - MAX_STORED_SKIPPED_KEYS) : list
}

export interface RatchetDecryptResult {
  state: RatchetState
  plaintext: Uint8Array
}

/**
 * RatchetDecrypt (DR §3.5). `message` is a serialised or parsed SignalMessage. Throws
 * DuplicateMessageError, BadMacError, TooManySkippedError or MalformedInputError; the input state is
 * never modified, so on error the caller simply keeps it.
 */
export async function ratchetDecrypt (state: RatchetState, message: Uint8Array | ParsedSignalMessage, ctx: RatchetContext): Promise<RatchetDecryptResult> {
  const msg = message instanceof Uint8Array ? parseSignalMessage(message) : message
  if (msg.version !== ctx.version) throw new MalformedInputError('message version does not match the session')

  // DR §3.5 TrySkippedMessageKeys
  const skippedAt = state.skipped.findIndex(s => s.index === msg.counter && bytesEqual(s.ratchetKey, msg.ratchetKey))
  if (skippedAt >= 0) {
    const opened = openMessage(state.skipped[skippedAt]!.seed, msg, ctx)
    const plaintext = opened instanceof Uint8Array ? opened : await opened
    // DR §2.6: a skipped key is deleted once used
    const skipped = state.skipped.slice()
    skipped.splice(skippedAt, 1)
    return { state: { ...state, skipped }, plaintext }
  }

  const newSkipped: SkippedMessageKey[] = []
  let next: RatchetState = state
  let chain: ChainState

  if (state.remoteRatchetKey !== undefined && state.receivingChain !== undefined && bytesEqual(msg.ratchetKey, state.remoteRatchetKey)) {
    chain = state.receivingChain
    // the key for this counter was used (or skipped and since deleted/evicted): a duplicate
    if (msg.counter < chain.index) throw new DuplicateMessageError('message key already used')
  } else {
    if (state.previousRemoteRatchetKeys.some(k => bytesEqual(k, msg.ratchetKey))) {
      // an old chain whose remaining keys were stored as skipped: this key was used or deleted
      throw new DuplicateMessageError('message key already used')
    }
    // DR §3.5 DHRatchet: first store the rest of the current receiving chain as skipped keys.
    // Parley v4 follows the spec (PN = number of messages in the previous chain). In v3, PN is
    // libsignal-node's: the index of the last message (0xFFFFFFFF = -1 = none), so keys up to and
    // including PN are kept.
    if (state.receivingChain !== undefined && state.remoteRatchetKey !== undefined) {
      const pn = msg.previousCounter === 0xffffffff ? -1 : msg.previousCounter
      const until = ctx.version === CLASSIC_VERSION ? pn + 1 : pn
      if (until > state.receivingChain.index) await skipKeys(state.receivingChain, state.remoteRatchetKey, until, newSkipped)
    }
    const previousRemoteRatchetKeys = state.remoteRatchetKey === undefined
      ? state.previousRemoteRatchetKeys
      : [...state.previousRemoteRatchetKeys, state.remoteRatchetKey].slice(-MAX_PREVIOUS_RATCHET_KEYS)
    // DR §3.5: RK, CKr = KDF_RK(RK, DH(DHs, DHr)); DHs = GENERATE_DH(); RK, CKs = KDF_RK(RK, DH(DHs, DHr))
    let dhRecv: Uint8Array
    try {
      dhRecv = await primitives.x25519(state.sendingRatchetKey.privateKey, msg.ratchetKey)
    } catch (err) {
      throw new MalformedInputError('unusable ratchet key', { cause: err })
    }
    const recv = await kdfRootKey(state.rootKey, dhRecv)
    const ourNewKey = await (ctx.generateKeyPair ?? defaultKeyPair)()
    const dhSend = await primitives.x25519(ourNewKey.privateKey, msg.ratchetKey)
    const send = await kdfRootKey(recv.rootKey, dhSend)
    next = {
      rootKey: send.rootKey,
      sendingRatchetKey: ourNewKey,
      sendingChain: { key: send.chainKey, index: 0 },
      // DR §3.5: PN = Ns. Classic (v3) sends libsignal-node's value instead: the index of the last
      // message of that chain (Ns - 1, or 0 when none), which its receivers fill up to inclusively.
      previousCounter: ctx.version === CLASSIC_VERSION ? Math.max((state.sendingChain?.index ?? 0) - 1, 0) : (state.sendingChain?.index ?? 0),
      remoteRatchetKey: msg.ratchetKey.slice(),
      receivingChain: { key: recv.chainKey, index: 0 },
      skipped: state.skipped,
      previousRemoteRatchetKeys
    }
    chain = next.receivingChain!
  }

  // DR §3.5: SkipMessageKeys(state, header.n); CKr, mk = KDF_CK(CKr); Nr += 1
  const remoteKey = next.remoteRatchetKey!
  if (msg.counter !== chain.index) chain = await skipKeys(chain, remoteKey, msg.counter, newSkipped)
  const [seed, nextChainKey] = primitives.sync !== undefined ? primitives.sync.hmacSha256Many(chain.key, CK_INPUTS) : await chainStep(chain.key)
  let plaintext: Uint8Array
  try {
    const opened = openMessage(seed!, msg, ctx)
    plaintext = opened instanceof Uint8Array ? opened : await opened
  } finally {
    seed!.fill(0) // used once (DR §6.5)
  }
  // DR §6.5 (deletion): after a successful DH step our previous ratchet private key is retired; drop
  // any cached copy the primitives hold (the caller's older state objects are theirs to erase)
  if (next !== state) primitives.x25519Forget?.(state.sendingRatchetKey.privateKey)
  const skipped = newSkipped.length === 0 ? next.skipped : capSkipped([...next.skipped, ...newSkipped])
  return {
    state: { ...next, receivingChain: { key: nextChainKey!, index: chain.index + 1 }, skipped },
    plaintext
  }
}

/** True when `state` can still derive or holds the key for (ratchetKey, index) — used by tests. */
export function holdsMessageKey (state: RatchetState, ratchetKey: Uint8Array, index: number): boolean {
  if (state.skipped.some(s => s.index === index && bytesEqual(s.ratchetKey, ratchetKey))) return true
  return state.remoteRatchetKey !== undefined && state.receivingChain !== undefined &&
    bytesEqual(state.remoteRatchetKey, ratchetKey) && index >= state.receivingChain.index
}

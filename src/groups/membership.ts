/**
 * The signed, hash-linked membership log of a group (docs/parts/groups.md §3). Pure: no network, no
 * store. Entries are `SignedMembershipEntry { body, signature }` protobufs (gen/membership.ts); the
 * signature covers the body bytes exactly as received, and an entry's id is
 * SHA-256("ParleyGroupEntry\0" || body). The group id is the id of the CREATE entry.
 *
 * Rules (checked by `applyEntry`, every one of them):
 * - every non-CREATE entry names the group id, the current head as `prev`, height = head height + 1,
 *   and a timestamp not below the head's (and not more than MAX_CLOCK_SKEW_MS in the future);
 * - the signature verifies under the author's identity key (XEdDSA-family, `verifyWithMontgomeryKey`);
 * - the author is a current member;
 * - ADD / REMOVE: author is an admin (the creator is always an admin); only the creator may remove an
 *   admin; nobody removes the creator (the creator may LEAVE);
 * - PROMOTE / DEMOTE: creator only; never the creator itself;
 * - LEAVE: any member, for itself only.
 * REMOVE and LEAVE advance the epoch (sender keys and the group secret rotate).
 *
 * Forks: `appendToLog` accepts a competing entry for the CURRENT head's parent (depth 1) and picks one
 * deterministically (see `forkWinner`), so members that see the two in different orders converge;
 * competing entries further back are refused with ForkError.
 */
import * as pb from './gen/membership.js'
import { primitives } from '../crypto/primitives/index.js'
import { concatBytes, toHex, fromHex } from '../crypto/bytes.js'
import { signWithIdentity, verifyWithMontgomeryKey } from '../crypto/keys.js'
import { identityKeyForEd25519, type IdentityKeyPair } from '../crypto/identity.js'
import {
  BrokenChainError, EntrySignatureError, ForkError, InvalidOperationError, MalformedEntryError, NotAuthorizedError, UnknownParentError
} from './errors.js'

export const MEMBERSHIP_VERSION = 1
/** Most members a group may have. */
export const MAX_GROUP_MEMBERS = 1000
/** Largest encoded SignedMembershipEntry accepted (a CREATE with MAX_GROUP_MEMBERS keys fits). */
export const MAX_ENTRY_BYTES = 64 * 1024
/** Longest group name, in UTF-8 bytes. */
export const MAX_GROUP_NAME_BYTES = 256
/** Entries more than this far in the future (by the verifier's clock) are refused. */
export const MAX_CLOCK_SKEW_MS = 10 * 60 * 1000
/** Longest log replay() accepts. */
export const MAX_LOG_ENTRIES = 100_000

const DOMAIN = new TextEncoder().encode('ParleyGroupEntry\0')

/** A member is named by the hex of its 32-byte Ed25519 identity public key (the key its PeerId is made from). */
export type MemberId = string
export type MembershipOp = 'create' | 'add' | 'remove' | 'promote' | 'demote' | 'leave'

const OP_TO_PB: Record<MembershipOp, pb.MembershipEntryBody.Op> = {
  create: pb.MembershipEntryBody.Op.CREATE,
  add: pb.MembershipEntryBody.Op.ADD,
  remove: pb.MembershipEntryBody.Op.REMOVE,
  promote: pb.MembershipEntryBody.Op.PROMOTE,
  demote: pb.MembershipEntryBody.Op.DEMOTE,
  leave: pb.MembershipEntryBody.Op.LEAVE
}
const PB_TO_OP = new Map<string, MembershipOp>(Object.entries(OP_TO_PB).map(([k, v]) => [v, k as MembershipOp]))

/** A decoded entry (signature not yet checked). Plain data. */
export interface MembershipEntry {
  /** hex SHA-256(DOMAIN || body). */
  readonly id: string
  /** hex group id; for CREATE, equal to `id`. */
  readonly groupId: string
  /** hex id of the previous entry; undefined for CREATE. */
  readonly prev?: string
  readonly height: number
  readonly author: MemberId
  readonly timestamp: number
  readonly op: MembershipOp
  /** CREATE: initial members besides the author; otherwise the single target (empty for LEAVE). */
  readonly targets: readonly MemberId[]
  readonly name: string
  /** The wire bytes (SignedMembershipEntry), kept verbatim. */
  readonly bytes: Uint8Array
}

/** The state of a group after a (verified) log. Plain serialisable data; arrays are sorted. */
export interface GroupState {
  readonly groupId: string
  readonly name: string
  readonly creator: MemberId
  readonly members: readonly MemberId[]
  readonly admins: readonly MemberId[]
  /** Id of the last applied entry. */
  readonly head: string
  readonly height: number
  /** Advances on every REMOVE and LEAVE. */
  readonly epoch: number
  readonly lastTimestamp: number
}

export interface VerifyOptions {
  /** The verifier's clock (ms), for the future-timestamp check. @default Date.now() */
  now?: number
}

function memberIdOf (key: Uint8Array): MemberId {
  if (key.length !== 32) throw new MalformedEntryError('member keys are 32 bytes')
  try {
    identityKeyForEd25519(key)
  } catch (err) {
    throw new MalformedEntryError('member key is not a usable Ed25519 key', { cause: err })
  }
  return toHex(key)
}

function keyOf (id: MemberId): Uint8Array {
  let k: Uint8Array
  try { k = fromHex(id) } catch (err) { throw new MalformedEntryError('member id is not hex', { cause: err }) }
  if (k.length !== 32) throw new MalformedEntryError('member id must name a 32-byte key')
  return k
}

/** Parses an entry (size cap first) and checks its structure; does NOT verify the signature. */
export async function decodeEntry (bytes: Uint8Array): Promise<MembershipEntry> {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_ENTRY_BYTES) throw new MalformedEntryError('entry missing or too large')
  let signed: pb.SignedMembershipEntry
  let body: pb.MembershipEntryBody
  try {
    signed = pb.SignedMembershipEntry.decode(bytes)
    body = pb.MembershipEntryBody.decode(signed.body, { limits: { members: MAX_GROUP_MEMBERS } })
  } catch (err) {
    throw new MalformedEntryError('entry does not parse', { cause: err })
  }
  // One encoding per entry: the outer wrapper must be canonical, so an entry's bytes cannot be varied.
  const canonical = pb.SignedMembershipEntry.encode({ body: signed.body, signature: signed.signature })
  if (canonical.length !== bytes.length || !canonical.every((x, i) => x === bytes[i])) throw new MalformedEntryError('entry wrapper is not canonically encoded')
  if (body.version !== MEMBERSHIP_VERSION) throw new MalformedEntryError('unsupported membership entry version')
  if (body.members.length > MAX_GROUP_MEMBERS - 1) throw new MalformedEntryError('too many members')
  if (signed.signature.length !== 64) throw new MalformedEntryError('signature must be 64 bytes')
  const op = PB_TO_OP.get(body.op)
  if (op === undefined) throw new MalformedEntryError('unknown operation')
  const id = toHex(await primitives.sha256(concatBytes(DOMAIN, signed.body)))
  const author = memberIdOf(body.author)
  const targets = body.members.map(memberIdOf)
  const timestamp = Number(body.timestamp)
  if (!Number.isSafeInteger(timestamp)) throw new MalformedEntryError('timestamp out of range')
  const nameBytes = new TextEncoder().encode(body.name).length
  if (op === 'create') {
    if (body.groupId.length !== 0 || body.prev.length !== 0 || body.height !== 0) throw new MalformedEntryError('CREATE has no group id, prev or height')
    if (body.nonce.length !== 16) throw new MalformedEntryError('CREATE needs a 16-byte nonce')
    if (nameBytes === 0 || nameBytes > MAX_GROUP_NAME_BYTES) throw new MalformedEntryError('group name empty or too long')
    if (new Set(targets).size !== targets.length || targets.includes(author)) throw new MalformedEntryError('duplicate initial member')
    return { id, groupId: id, height: 0, author, timestamp, op, targets, name: body.name, bytes: bytes.slice() }
  }
  if (body.groupId.length !== 32 || body.prev.length !== 32 || body.height < 1) throw new MalformedEntryError('entry lacks group id, prev or height')
  if (body.name !== '' || body.nonce.length !== 0) throw new MalformedEntryError('name/nonce only in CREATE')
  const wantTargets = op === 'leave' ? 0 : 1
  if (targets.length !== wantTargets) throw new MalformedEntryError(`${op} takes ${wantTargets} target(s)`)
  return { id, groupId: toHex(body.groupId), prev: toHex(body.prev), height: body.height, author, timestamp, op, targets, name: '', bytes: bytes.slice() }
}

async function verifySignature (entry: MembershipEntry): Promise<void> {
  const signed = pb.SignedMembershipEntry.decode(entry.bytes)
  // Authorship: XEdDSA-family signature by the author's identity key (Signal "XEdDSA" §2.3 / our keys.ts).
  const ok = await verifyWithMontgomeryKey(identityKeyForEd25519(keyOf(entry.author)), concatBytes(DOMAIN, signed.body), signed.signature)
  if (!ok) throw new EntrySignatureError('membership entry signature does not verify')
}

const sorted = (xs: Iterable<MemberId>): MemberId[] => [...new Set(xs)].sort()
const isAdmin = (s: GroupState, m: MemberId): boolean => m === s.creator || s.admins.includes(m)

/** Checks permissions and returns the state after `entry`, assuming chain and signature were checked. */
function transition (s: GroupState, e: MembershipEntry): GroupState {
  if (!s.members.includes(e.author)) throw new NotAuthorizedError('author is not a member')
  const base = { ...s, head: e.id, height: e.height, lastTimestamp: e.timestamp }
  const t = e.targets[0]
  switch (e.op) {
    case 'add':
      if (!isAdmin(s, e.author)) throw new NotAuthorizedError('only admins may add members')
      if (s.members.includes(t!)) throw new InvalidOperationError('already a member')
      if (s.members.length >= MAX_GROUP_MEMBERS) throw new InvalidOperationError('group is full')
      // The creator's powers follow its identity: a creator added back is an admin again.
      return { ...base, members: sorted([...s.members, t!]), admins: t === s.creator ? sorted([...s.admins, t]) : s.admins }
    case 'remove':
      if (!isAdmin(s, e.author)) throw new NotAuthorizedError('only admins may remove members')
      if (!s.members.includes(t!)) throw new InvalidOperationError('not a member')
      if (t === s.creator) throw new NotAuthorizedError('nobody removes the creator')
      if (t === e.author) throw new InvalidOperationError('use LEAVE to leave')
      if (s.admins.includes(t!) && e.author !== s.creator) throw new NotAuthorizedError('only the creator may remove an admin')
      return { ...base, members: s.members.filter(m => m !== t), admins: s.admins.filter(m => m !== t), epoch: s.epoch + 1 }
    case 'promote':
      if (e.author !== s.creator) throw new NotAuthorizedError('only the creator may promote')
      if (!s.members.includes(t!) || t === s.creator || s.admins.includes(t!)) throw new InvalidOperationError('target must be a non-admin member')
      return { ...base, admins: sorted([...s.admins, t!]) }
    case 'demote':
      if (e.author !== s.creator) throw new NotAuthorizedError('only the creator may demote')
      if (!s.admins.includes(t!) || t === s.creator) throw new InvalidOperationError('target is not a demotable admin')
      return { ...base, admins: s.admins.filter(m => m !== t) }
    case 'leave':
      return { ...base, members: s.members.filter(m => m !== e.author), admins: s.admins.filter(m => m !== e.author), epoch: s.epoch + 1 }
    case 'create':
      throw new BrokenChainError('CREATE only starts a log')
  }
}

/**
 * Verifies `entry` against `state` (undefined: the entry must be a CREATE) and returns the new state.
 * Never mutates `state`. Throws a ParleyGroupError subclass on any violation.
 */
export async function applyEntry (state: GroupState | undefined, entry: Uint8Array | MembershipEntry, opts: VerifyOptions = {}): Promise<GroupState> {
  // Always from the signed bytes: fields of a passed-in object are never trusted on their own.
  const e = await decodeEntry(entry instanceof Uint8Array ? entry : entry.bytes)
  const now = opts.now ?? Date.now()
  if (e.timestamp > now + MAX_CLOCK_SKEW_MS) throw new BrokenChainError('entry timestamp is in the future')
  if (state === undefined) {
    if (e.op !== 'create') throw new BrokenChainError('a log starts with CREATE')
    await verifySignature(e)
    return {
      groupId: e.id,
      name: e.name,
      creator: e.author,
      members: sorted([e.author, ...e.targets]),
      admins: [e.author],
      head: e.id,
      height: 0,
      epoch: 0,
      lastTimestamp: e.timestamp
    }
  }
  if (e.op === 'create') throw new BrokenChainError('CREATE only starts a log')
  if (e.groupId !== state.groupId) throw new BrokenChainError('entry is for another group')
  if (e.prev !== state.head || e.height !== state.height + 1) throw new BrokenChainError('entry does not extend the head')
  if (e.timestamp < state.lastTimestamp) throw new BrokenChainError('timestamp goes backwards')
  await verifySignature(e)
  return transition(state, e)
}

/** Builds the state from a whole log (CREATE first). */
export async function replay (log: readonly Uint8Array[], opts: VerifyOptions = {}): Promise<GroupState> {
  if (log.length === 0 || log.length > MAX_LOG_ENTRIES) throw new MalformedEntryError('log empty or too long')
  let s: GroupState | undefined
  for (const bytes of log) s = await applyEntry(s, bytes, opts)
  return s!
}

function encodeSigned (body: Uint8Array, signature: Uint8Array): Uint8Array {
  return pb.SignedMembershipEntry.encode({ body: new Uint8Array(body), signature: new Uint8Array(signature) })
}

export interface CreateGroupOptions {
  name: string
  /** Initial members besides the creator (Ed25519 public keys or member ids). */
  members: ReadonlyArray<Uint8Array | MemberId>
  now?: number
}

/** Creates a group: returns the signed CREATE entry and the resulting state. */
export async function createGroup (identity: IdentityKeyPair, opts: CreateGroupOptions): Promise<{ entry: Uint8Array, state: GroupState }> {
  const members = opts.members.map(m => typeof m === 'string' ? keyOf(m) : m)
  const body = pb.MembershipEntryBody.encode({
    version: MEMBERSHIP_VERSION,
    author: new Uint8Array(identity.edPublicKey),
    timestamp: BigInt(opts.now ?? Date.now()),
    op: pb.MembershipEntryBody.Op.CREATE,
    members: members.map(m => new Uint8Array(m)),
    name: opts.name,
    nonce: new Uint8Array(primitives.randomBytes(16))
  })
  const entry = encodeSigned(body, await signWithIdentity(identity, concatBytes(DOMAIN, body)))
  return { entry, state: await applyEntry(undefined, entry, { now: opts.now }) }
}

export interface ChangeOptions {
  op: Exclude<MembershipOp, 'create'>
  /** The member affected (not for LEAVE). */
  target?: Uint8Array | MemberId
  now?: number
}

/** Authors a change on top of `state`'s head; throws (typed) if the change would be refused. */
export async function signChange (identity: IdentityKeyPair, state: GroupState, opts: ChangeOptions): Promise<{ entry: Uint8Array, state: GroupState }> {
  const target = opts.target === undefined ? undefined : typeof opts.target === 'string' ? keyOf(opts.target) : opts.target
  const now = opts.now ?? Date.now()
  const body = pb.MembershipEntryBody.encode({
    version: MEMBERSHIP_VERSION,
    groupId: new Uint8Array(fromHex(state.groupId)),
    prev: new Uint8Array(fromHex(state.head)),
    height: state.height + 1,
    author: new Uint8Array(identity.edPublicKey),
    timestamp: BigInt(Math.max(now, state.lastTimestamp)),
    op: OP_TO_PB[opts.op],
    members: target === undefined ? [] : [new Uint8Array(target)]
  })
  const entry = encodeSigned(body, await signWithIdentity(identity, concatBytes(DOMAIN, body)))
  return { entry, state: await applyEntry(state, entry, { now }) }
}

// ---------------------------------------------------------------------------------------------
// The log with deterministic depth-1 fork choice.

/** A verified log: the canonical entries, the state after them, and the state before the head. */
export interface MembershipLog {
  readonly entries: readonly Uint8Array[]
  readonly ids: readonly string[]
  readonly state: GroupState
  /** State before the head entry (undefined while the log holds only CREATE). */
  readonly beforeHead?: GroupState
}

export interface AppendResult {
  log: MembershipLog
  /** 'appended', 'duplicate' (already in the log), or 'replaced-head' (won a depth-1 fork). */
  outcome: 'appended' | 'duplicate' | 'replaced-head'
  /** The entry that lost a fork and left the log (its author should re-submit on the new head). */
  displaced?: Uint8Array
}

const RANK = (s: GroupState, m: MemberId): number => m === s.creator ? 2 : s.admins.includes(m) ? 1 : 0

/**
 * Deterministic choice between two valid entries on the same parent state `s` (every member computes
 * the same answer): (1) an entry that removes or demotes the other's author wins — a member being
 * removed cannot escape by racing; (2) the author with the higher rank (creator > admin > member);
 * (3) the lower entry id. Returns true when `a` wins.
 */
export function forkWinner (s: GroupState, a: MembershipEntry, b: MembershipEntry): boolean {
  const hits = (x: MembershipEntry, y: MembershipEntry): boolean => (x.op === 'remove' || x.op === 'demote') && x.targets[0] === y.author
  const ab = hits(a, b)
  const ba = hits(b, a)
  if (ab !== ba) return ab
  const ra = RANK(s, a.author)
  const rb = RANK(s, b.author)
  if (ra !== rb) return ra > rb
  return a.id < b.id
}

/** Starts a log from its CREATE entry. */
export async function startLog (create: Uint8Array, opts: VerifyOptions = {}): Promise<MembershipLog> {
  const e = await decodeEntry(create)
  const state = await applyEntry(undefined, e, opts)
  return { entries: [e.bytes], ids: [e.id], state }
}

/**
 * Adds a received entry to the log. Extends the head, or — when it competes with the head for the same
 * parent — replaces the head if it wins `forkWinner` (else ForkError). Entries competing further back
 * are refused (ForkError); entries whose parent is unknown raise UnknownParentError (fetch it first).
 */
export async function appendToLog (log: MembershipLog, bytes: Uint8Array, opts: VerifyOptions = {}): Promise<AppendResult> {
  const e = await decodeEntry(bytes)
  if (log.ids.includes(e.id)) return { log, outcome: 'duplicate' }
  if (e.op === 'create' || e.groupId !== log.state.groupId) throw new BrokenChainError('entry is for another group or log')
  if (e.prev === log.state.head) {
    const state = await applyEntry(log.state, e, opts)
    return { log: { entries: [...log.entries, e.bytes], ids: [...log.ids, e.id], state, beforeHead: log.state }, outcome: 'appended' }
  }
  const at = log.ids.indexOf(e.prev!)
  if (at < 0) throw new UnknownParentError('parent entry not in the log', e.prev!)
  const headId = log.ids[log.ids.length - 1]!
  if (at !== log.ids.length - 2 || log.beforeHead === undefined) throw new ForkError('entry forks the log behind the head', e.id, log.ids[at + 1]!)
  // Depth-1 fork: both candidates must be valid on the same parent state; then the deterministic rule.
  const state = await applyEntry(log.beforeHead, e, opts)
  const head = await decodeEntry(log.entries[log.entries.length - 1]!)
  if (!forkWinner(log.beforeHead, e, head)) throw new ForkError('entry lost the fork choice against the head', e.id, headId)
  return {
    log: { entries: [...log.entries.slice(0, -1), e.bytes], ids: [...log.ids.slice(0, -1), e.id], state, beforeHead: log.beforeHead },
    outcome: 'replaced-head',
    displaced: head.bytes
  }
}

// ---------------------------------------------------------------------------------------------
// Group secret and wire topic.

const TOPIC_SALT = new TextEncoder().encode('ParleyGroupTopic')
export const GROUP_SECRET_LENGTH = 32

/** A fresh random group secret: made at CREATE and again by the author of every REMOVE/LEAVE. */
export function newGroupSecret (): Uint8Array {
  return primitives.randomBytes(GROUP_SECRET_LENGTH)
}

/**
 * The gossipsub topic of a group in an epoch: "/parley/g/1/" + hex(HKDF-SHA256(secret, salt =
 * "ParleyGroupTopic", info = "topic" || u32be(epoch), 16)). HKDF (RFC 5869 §3.1) makes the topic
 * unlinkable to the group id, its members and other epochs for anyone without the secret.
 */
export async function deriveTopic (groupSecret: Uint8Array, epoch: number): Promise<string> {
  if (!(groupSecret instanceof Uint8Array) || groupSecret.length !== GROUP_SECRET_LENGTH) throw new MalformedEntryError('group secret must be 32 bytes')
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) throw new MalformedEntryError('epoch must be a uint32')
  const info = new Uint8Array(9)
  info.set(new TextEncoder().encode('topic'), 0)
  new DataView(info.buffer).setUint32(5, epoch, false)
  return '/parley/g/1/' + toHex(await primitives.hkdfSha256(groupSecret, TOPIC_SALT, info, 16))
}

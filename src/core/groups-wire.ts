/**
 * Codecs of the group wire formats (src/core/groups.proto, docs/PROTOCOL.md Part 5 §6-§9) with their
 * caps: every decoder checks the size first, limits repeated fields, and validates lengths, so peer
 * input never reaches the group logic unchecked. Generated codecs live in gen/groups.ts.
 */
import * as pb from './gen/groups.js'
import { MalformedFrameError, OversizeFrameError } from '../wire/index.js'
import { MAX_DEPS, MAX_GROUP_MEMBERS, MAX_ENTRY_BYTES, GROUP_SECRET_LENGTH } from '../groups/index.js'
import { SENDER_KEY_DISTRIBUTION_LENGTH } from '../crypto/sender-keys.js'
import { MAX_GROUP_CONTROL_BYTES } from './plaintext.js'

export const GROUP_WIRE_VERSION = 1
/** Largest GroupWire published (a 64 KiB text + body framing + sender-key overhead). */
export const MAX_GROUP_WIRE_BYTES = 96 * 1024
/** Largest text of one group message (UTF-8 bytes). */
export const MAX_GROUP_TEXT_BYTES = 64 * 1024
/** Most log entries an invitation may carry in one control message (it must also fit MAX_GROUP_CONTROL_BYTES). */
export const MAX_INVITE_LOG = 400
/** Most addresses per member carried in control messages. */
export const MAX_MEMBER_ADDRS = 8
/** Most seq ranges in one repair request / summary. */
export const MAX_RANGES = MAX_GROUP_MEMBERS
/** Most messages in one repair response. */
export const MAX_REPAIR_MESSAGES = 256

export interface GroupWireMsg { sender: Uint8Array, message: Uint8Array }
export interface GroupBodyMsg {
  seq: number
  lamport: number
  deps: Array<{ id: Uint8Array, sender: Uint8Array, seq: number }>
  timestamp: number
  text: string
}

function num (v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedFrameError(`${what} out of range`)
  return Number(v)
}

function parse<T> (what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof MalformedFrameError || err instanceof OversizeFrameError) throw err
    throw new MalformedFrameError(`${what} is not a valid protobuf message`, { cause: err })
  }
}

export function encodeGroupWire (w: GroupWireMsg): Uint8Array {
  const out = pb.GroupWire.encode({ version: GROUP_WIRE_VERSION, sender: w.sender as Uint8Array<ArrayBuffer>, message: w.message as Uint8Array<ArrayBuffer> })
  if (out.byteLength > MAX_GROUP_WIRE_BYTES) throw new OversizeFrameError('group message too large')
  return out
}

export function decodeGroupWire (buf: Uint8Array): GroupWireMsg {
  if (buf.byteLength > MAX_GROUP_WIRE_BYTES) throw new OversizeFrameError('group message too large')
  const m = parse('group message', () => pb.GroupWire.decode(buf))
  if (m.version !== GROUP_WIRE_VERSION) throw new MalformedFrameError('unsupported group message version')
  if (m.sender.byteLength !== 32) throw new MalformedFrameError('group message sender must be 32 bytes')
  return { sender: new Uint8Array(m.sender), message: new Uint8Array(m.message) }
}

export function encodeGroupBody (b: GroupBodyMsg): Uint8Array {
  return pb.GroupBody.encode({
    seq: BigInt(b.seq),
    lamport: BigInt(b.lamport),
    deps: b.deps.map(d => ({ id: d.id as Uint8Array<ArrayBuffer>, sender: d.sender as Uint8Array<ArrayBuffer>, seq: BigInt(d.seq) })),
    timestamp: BigInt(b.timestamp),
    text: b.text
  })
}

export function decodeGroupBody (buf: Uint8Array): GroupBodyMsg {
  if (buf.byteLength > MAX_GROUP_WIRE_BYTES) throw new OversizeFrameError('group body too large')
  const m = parse('group body', () => pb.GroupBody.decode(buf, { limits: { deps: MAX_DEPS } }))
  for (const d of m.deps) {
    if (d.id.byteLength !== 32 || d.sender.byteLength !== 32) throw new MalformedFrameError('dep id and sender must be 32 bytes')
  }
  if (new TextEncoder().encode(m.text).byteLength > MAX_GROUP_TEXT_BYTES) throw new OversizeFrameError('group text too long')
  return {
    seq: num(m.seq, 'seq'),
    lamport: num(m.lamport, 'lamport'),
    deps: m.deps.map(d => ({ id: new Uint8Array(d.id), sender: new Uint8Array(d.sender), seq: num(d.seq, 'dep seq') })),
    timestamp: num(m.timestamp, 'timestamp'),
    text: m.text
  }
}

export type GroupControl = pb.GroupControl

/** The generated types with plain Uint8Array fields (what our code produces). */
type Loose<T> = T extends Uint8Array ? Uint8Array : T extends bigint | number | string | boolean ? T : T extends Array<infer U> ? Array<Loose<U>> : T extends object ? { [K in keyof T]: Loose<T[K]> } : T
export type GroupControlParts = Loose<Omit<pb.GroupControl, 'version'>>

export function encodeGroupControl (c: GroupControlParts): Uint8Array {
  const out = pb.GroupControl.encode({ ...c, version: GROUP_WIRE_VERSION } as unknown as pb.GroupControl)
  if (out.byteLength > MAX_GROUP_CONTROL_BYTES) throw new OversizeFrameError('group control message too large')
  return out
}

const LIMITS = {
  invite: { log: MAX_INVITE_LOG, addrs: MAX_GROUP_MEMBERS, addrs$: { addrs: MAX_MEMBER_ADDRS } },
  entry: { addrs: 1, addrs$: { addrs: MAX_MEMBER_ADDRS } },
  repairRequest: { ranges: MAX_RANGES },
  repairResponse: { messages: MAX_REPAIR_MESSAGES },
  summary: { delivered: MAX_RANGES }
}

export function decodeGroupControl (buf: Uint8Array): pb.GroupControl {
  if (buf.byteLength > MAX_GROUP_CONTROL_BYTES) throw new OversizeFrameError('group control message too large')
  const m = parse('group control', () => pb.GroupControl.decode(buf, { limits: LIMITS as never }))
  if (m.version !== GROUP_WIRE_VERSION) throw new MalformedFrameError('unsupported group control version')
  if (m.groupId.byteLength !== 32) throw new MalformedFrameError('group id must be 32 bytes')
  const parts = [m.invite, m.entry, m.secret, m.distribution, m.repairRequest, m.repairResponse, m.summary].filter(x => x != null)
  if (parts.length !== 1) throw new MalformedFrameError('a group control message carries exactly one part')
  const okSecret = (s: Uint8Array | undefined): boolean => s == null || s.byteLength === GROUP_SECRET_LENGTH
  if (m.invite != null && (!okSecret(m.invite.secret) || m.invite.log.some(e => e.byteLength > MAX_ENTRY_BYTES))) throw new MalformedFrameError('bad invitation')
  if (m.entry != null && (!okSecret(m.entry.secret) || m.entry.entry.byteLength > MAX_ENTRY_BYTES)) throw new MalformedFrameError('bad entry message')
  if (m.secret != null && !okSecret(m.secret.secret)) throw new MalformedFrameError('bad secret message')
  if (m.distribution != null && m.distribution.distribution.byteLength !== SENDER_KEY_DISTRIBUTION_LENGTH) throw new MalformedFrameError('bad distribution')
  for (const a of [...(m.invite?.addrs ?? []), ...(m.entry?.addrs ?? [])]) {
    if (a.member.byteLength !== 32 || a.addrs.some(x => x.length > 512)) throw new MalformedFrameError('bad member addresses')
  }
  for (const r of [...(m.repairRequest?.ranges ?? []), ...(m.summary?.delivered ?? [])]) {
    if (r.sender.byteLength !== 32 || r.to > BigInt(Number.MAX_SAFE_INTEGER) || r.from > r.to + 1n) throw new MalformedFrameError('bad seq range')
  }
  if (m.repairResponse?.messages.some(x => x.byteLength > MAX_GROUP_WIRE_BYTES) === true) throw new MalformedFrameError('bad repair response')
  return m
}

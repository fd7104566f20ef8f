/**
 * Routing tags and ownership proofs (docs/PROTOCOL.md Part 4 §Tags, §Auth).
 *
 * A recipient holds one 32-byte mailbox secret. For each (label, epoch) — label is typically the
 * contact's PeerId, epoch a rotation counter — it derives an Ed25519 owner key by HKDF and gives the
 * contact only the tag = SHA-256("parley/mailbox/tag/v1" || ownerPublicKey). Tags of different
 * contacts or epochs are unlinkable without the secret (HKDF outputs are independent, RFC 5869 §1).
 * To fetch or acknowledge, the recipient signs an auth transcript per tag with the owner key; the
 * mailbox checks SHA-256(prefix || key) == tag and the signature.
 */
import { primitives } from '../crypto/primitives/index.js'
import { concatBytes } from '../crypto/bytes.js'
import { MailboxMalformedError } from './errors.js'

export const TAG_BYTES = 32
export const OWNER_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64
export const SECRET_BYTES = 32

const te = new TextEncoder()
const TAG_PREFIX = te.encode('parley/mailbox/tag/v1')
const OWNER_INFO = 'parley/mailbox/owner/v1'
const AUTH_PREFIX = te.encode('parley/mailbox/auth/v1\0')

/** Which operation an auth transcript authorises (one byte in the transcript). */
export const AuthOp = { fetch: 1, ack: 2 } as const
export type AuthOp = typeof AuthOp[keyof typeof AuthOp]

/** The recipient's per-(label, epoch) key. Plain data; `ownerSeed` is secret. */
export interface MailboxKey {
  tag: Uint8Array
  ownerPublicKey: Uint8Array
  ownerSeed: Uint8Array
}

/** A fresh random mailbox secret (keep it with the identity; never send it). */
export function newMailboxSecret (): Uint8Array {
  return primitives.randomBytes(SECRET_BYTES)
}

/** tag = SHA-256("parley/mailbox/tag/v1" || ownerPublicKey). */
export async function tagOfOwnerKey (ownerPublicKey: Uint8Array): Promise<Uint8Array> {
  if (ownerPublicKey.length !== OWNER_KEY_BYTES) throw new MailboxMalformedError('owner key must be 32 bytes')
  return await primitives.sha256(concatBytes(TAG_PREFIX, ownerPublicKey))
}

/**
 * Derives the owner key and tag for (label, epoch):
 * seed = HKDF-SHA256(ikm = secret, salt = empty, info = "parley/mailbox/owner/v1" || 0x00 || u32be(epoch) || utf8(label), 32).
 */
export async function deriveMailboxKey (secret: Uint8Array, label: string, epoch: number): Promise<MailboxKey> {
  if (secret.length !== SECRET_BYTES) throw new MailboxMalformedError('mailbox secret must be 32 bytes')
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) throw new MailboxMalformedError('epoch must be a u32')
  const info = concatBytes(te.encode(OWNER_INFO), Uint8Array.of(0), u32be(epoch), te.encode(label))
  const ownerSeed = await primitives.hkdfSha256(secret, new Uint8Array(0), info, 32)
  const ownerPublicKey = await primitives.ed25519PublicKey(ownerSeed)
  return { tag: await tagOfOwnerKey(ownerPublicKey), ownerPublicKey, ownerSeed }
}

/** The epoch number of `nowMs` for rotation period `periodMs` (e.g. 7 days). */
export function epochOf (nowMs: number, periodMs: number): number {
  return Math.floor(nowMs / periodMs)
}

/**
 * The signed transcript: "parley/mailbox/auth/v1\0" || op || u64be(timestamp) || lp(mailboxPeerId)
 * || lp(requesterPeerId) || ownerPublicKey. Binding both PeerIds stops a proof from being replayed
 * to another mailbox or by another connection; the timestamp bounds its lifetime.
 */
export function authTranscript (op: AuthOp, timestamp: bigint, mailboxPeerId: string, requesterPeerId: string, ownerPublicKey: Uint8Array): Uint8Array {
  const ts = new Uint8Array(8)
  new DataView(ts.buffer).setBigUint64(0, timestamp)
  const m = te.encode(mailboxPeerId)
  const r = te.encode(requesterPeerId)
  return concatBytes(AUTH_PREFIX, Uint8Array.of(op), ts, u32be(m.length), m, u32be(r.length), r, ownerPublicKey)
}

export async function signAuth (key: MailboxKey, op: AuthOp, timestamp: bigint, mailboxPeerId: string, requesterPeerId: string): Promise<{ ownerKey: Uint8Array, signature: Uint8Array }> {
  const signature = await primitives.ed25519Sign(key.ownerSeed, authTranscript(op, timestamp, mailboxPeerId, requesterPeerId, key.ownerPublicKey))
  return { ownerKey: key.ownerPublicKey, signature }
}

function u32be (n: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}


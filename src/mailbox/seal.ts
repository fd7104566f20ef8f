/**
 * Sealed mailbox items (docs/PROTOCOL.md Part 4 §7.2): what a sender deposits is its Parley envelope
 * together with its own PeerId, encrypted to the recipient's X25519 identity key with a fresh
 * ephemeral key, so the mailbox learns neither the plaintext nor the sender (the envelope of a first,
 * PreKey message carries the sender's identity key in clear, and a fetched item has no authenticated
 * connection that would name its sender).
 *
 *   sealed = 0x01 || E (32) || AES-256-GCM(k, nonce = 0^12, aad = 0x01 || E || R, lp16(sender) || envelope)
 *   k      = HKDF-SHA256(IKM = X25519(e, R), salt = E || R, info = "parley/mailbox/seal/v1", 32)
 *
 * where e/E is the ephemeral key pair and R the recipient's X25519 identity public key. The key is
 * used once (fresh E per item), so the fixed nonce never repeats under one key (RFC 5116 §3). The
 * sender named inside is NOT authenticated by this layer: the receiver binds it by decrypting the
 * envelope with that sender's Double Ratchet session (or PreKey identity check) — a forged sender
 * name yields a MAC failure, never a message shown under the wrong name.
 */
import { primitives } from '../crypto/primitives/index.js'
import { concatBytes } from '../crypto/bytes.js'
import { MailboxMalformedError } from './errors.js'

export const SEAL_VERSION = 1
const INFO = 'parley/mailbox/seal/v1'
const NONCE = new Uint8Array(12)
const te = new TextEncoder()
const td = new TextDecoder('utf-8', { fatal: true })
/** Longest sender PeerId string accepted inside a sealed item. */
const MAX_SENDER_CHARS = 128

export interface OpenedItem {
  /** The PeerId the item claims as its sender (unauthenticated until its envelope decrypts). */
  sender: string
  /** The encoded Parley Envelope. */
  envelope: Uint8Array
}

async function itemKey (shared: Uint8Array, eph: Uint8Array, recipient: Uint8Array): Promise<Uint8Array> {
  return await primitives.hkdfSha256(shared, concatBytes(eph, recipient), te.encode(INFO), 32)
}

/** Seals `envelope` from `sender` to the recipient's 32-byte X25519 identity public key. */
export async function sealItem (recipientDhPublic: Uint8Array, sender: string, envelope: Uint8Array): Promise<Uint8Array> {
  if (recipientDhPublic.length !== 32) throw new MailboxMalformedError('recipient key must be 32 bytes')
  const s = te.encode(sender)
  if (s.length === 0 || s.length > MAX_SENDER_CHARS) throw new MailboxMalformedError('sender PeerId out of range')
  const eph = await primitives.x25519Generate()
  try {
    const shared = await primitives.x25519(eph.privateKey, recipientDhPublic)
    const key = await itemKey(shared, eph.publicKey, recipientDhPublic)
    const inner = concatBytes(Uint8Array.of(s.length >> 8, s.length & 0xff), s, envelope)
    const head = concatBytes(Uint8Array.of(SEAL_VERSION), eph.publicKey)
    const ct = await primitives.aesGcmEncrypt(key, NONCE, inner, concatBytes(head, recipientDhPublic))
    return concatBytes(head, ct)
  } finally {
    primitives.x25519Forget?.(eph.privateKey)
  }
}

/** Opens an item sealed to us; throws MailboxMalformedError for anything that does not open. */
export async function openItem (dhPrivate: Uint8Array, dhPublic: Uint8Array, sealed: Uint8Array): Promise<OpenedItem> {
  if (sealed.length < 1 + 32 + 16 + 2 || sealed[0] !== SEAL_VERSION) throw new MailboxMalformedError('not a sealed mailbox item')
  const eph = sealed.subarray(1, 33)
  let inner: Uint8Array
  try {
    const shared = await primitives.x25519(dhPrivate, eph)
    const key = await itemKey(shared, eph, dhPublic)
    inner = await primitives.aesGcmDecrypt(key, NONCE, sealed.subarray(33), concatBytes(sealed.subarray(0, 33), dhPublic))
  } catch (err) {
    throw new MailboxMalformedError('sealed mailbox item does not open', { cause: err })
  }
  const n = (inner[0]! << 8) | inner[1]!
  if (n === 0 || n > MAX_SENDER_CHARS || inner.length < 2 + n + 1) throw new MailboxMalformedError('malformed sealed mailbox item')
  let sender: string
  try {
    sender = td.decode(inner.subarray(2, 2 + n))
  } catch (err) {
    throw new MailboxMalformedError('malformed sender in a sealed mailbox item', { cause: err })
  }
  return { sender, envelope: inner.subarray(2 + n) }
}

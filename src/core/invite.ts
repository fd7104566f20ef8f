/**
 * Invites: `parley://invite?…` links that let one person add another as a contact (printed as a QR code
 * in the terminal). An invite carries the inviter's PeerId, the addresses it can be dialled at, a short
 * fingerprint of its identity key and, optionally, its display name.
 *
 *   parley://invite?v=1&peer=<PeerId>&fp=<base64url(SHA-256(0x05 || identityKey))[0..16]>&name=<name>&addr=<multiaddr>…&relay=<multiaddr>…
 *
 * `relay` (issue 4, optional, repeatable, at most MAX_RELAYS): the inviter's relays, which are also its
 * mailboxes, each a multiaddr ending in /p2p/<relayPeerId>. Invites without it stay valid (`v` is
 * unchanged: older parsers ignore the parameter); an invalid `relay` value refuses the invite.
 *
 * The identity key itself is not in the link: it is a function of the PeerId (src/crypto/identity.ts),
 * and `fp` lets the adding side check that the PeerId in the link is the one the inviter meant (a
 * mistyped or tampered link is refused before any network traffic).
 */
import { primitives } from '../crypto/primitives/index.js'
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js'
import { ParleyError } from './api.js'
import { MAX_RELAYS, relayPeerIdOf } from './relays.js'

export const INVITE_VERSION = 1
/** Largest invite accepted (a link with 16 addresses is well under this). */
export const MAX_INVITE_CHARS = 4096
const MAX_ADDRS = 16
const FP_BYTES = 16

export interface Invite {
  peerId: string
  /** 16-byte fingerprint of the encoded identity key. */
  fingerprint: Uint8Array
  name?: string
  addresses: string[]
  /** The inviter's relays / mailboxes (issue 4); [] in invites that carry none. */
  relays: string[]
  /**
   * issue 4 (offline delivery): the inviter's 32-byte introduction routing tag (`mbox=` parameter,
   * base64url): where a new contact deposits while it has no session route yet (PROTOCOL.md Part 4 §7).
   */
  mailboxTag?: Uint8Array
}

export class InvalidInviteError extends ParleyError {
  override readonly name = 'InvalidInviteError'
  constructor (message: string) { super('ERR_INVALID_INVITE', message) }
}

export async function identityFingerprint (encodedIdentityKey: Uint8Array): Promise<Uint8Array> {
  return (await primitives.sha256(encodedIdentityKey)).slice(0, FP_BYTES)
}

export function formatInvite (invite: Omit<Invite, 'relays'> & { relays?: readonly string[] }): string {
  const q = new URLSearchParams()
  q.set('v', String(INVITE_VERSION))
  q.set('peer', invite.peerId)
  q.set('fp', toBase64Url(invite.fingerprint))
  if (invite.name != null && invite.name !== '') q.set('name', invite.name)
  for (const a of invite.addresses.slice(0, MAX_ADDRS)) q.append('addr', a)
  for (const r of (invite.relays ?? []).slice(0, MAX_RELAYS)) q.append('relay', r)
  if (invite.mailboxTag != null) q.set('mbox', toBase64Url(invite.mailboxTag)) // issue 4
  return `parley://invite?${q.toString()}`
}

export function parseInvite (text: string): Invite {
  const s = text.trim()
  if (s.length > MAX_INVITE_CHARS) throw new InvalidInviteError('invite is too long')
  const prefix = 'parley://invite?'
  if (!s.startsWith(prefix)) throw new InvalidInviteError('not a Parley invite (expected parley://invite?…)')
  const q = new URLSearchParams(s.slice(prefix.length))
  if (q.get('v') !== String(INVITE_VERSION)) throw new InvalidInviteError(`unsupported invite version ${q.get('v') ?? '(none)'}`)
  const peerId = q.get('peer') ?? ''
  if (!/^[1-9A-HJ-NP-Za-km-z]{40,128}$/.test(peerId) && !/^[a-z2-7]{50,128}$/.test(peerId)) throw new InvalidInviteError('invite has no valid PeerId')
  const fpText = q.get('fp') ?? ''
  if (!/^[A-Za-z0-9_-]+$/.test(fpText)) throw new InvalidInviteError('invite has no fingerprint')
  const fingerprint = fromBase64Url(fpText)
  if (fingerprint.length !== FP_BYTES) throw new InvalidInviteError('invite fingerprint has the wrong length')
  const addresses = q.getAll('addr')
  if (addresses.length > MAX_ADDRS) throw new InvalidInviteError('invite has too many addresses')
  for (const a of addresses) if (!a.startsWith('/') || a.length > 512) throw new InvalidInviteError('invite has a malformed address')
  const name = q.get('name') ?? undefined
  if (name != null && name.length > 64) throw new InvalidInviteError('invite name is too long')
  const relays = [...new Set(q.getAll('relay'))]
  if (relays.length > MAX_RELAYS) throw new InvalidInviteError('invite has too many relays')
  for (const r of relays) if (relayPeerIdOf(r) == null) throw new InvalidInviteError('invite has a malformed relay address (expected a multiaddr ending in /p2p/<relayPeerId>)')
  // issue 4: optional introduction routing tag
  const mbox = q.get('mbox')
  let mailboxTag: Uint8Array | undefined
  if (mbox != null) {
    try {
      mailboxTag = fromBase64Url(mbox)
    } catch {
      throw new InvalidInviteError('invite has a malformed mailbox tag')
    }
    if (mailboxTag.length !== 32) throw new InvalidInviteError('invite has a malformed mailbox tag')
  }
  return { peerId, fingerprint, name, addresses, relays, ...(mailboxTag != null ? { mailboxTag } : {}) }
}

/**
 * Mailbox wire limits and the checked encode/decode of its frames (docs/PROTOCOL.md Part 4 §Frames).
 * Protobuf has no size limits of its own: every cap is applied here, and repeated fields are bounded
 * during decoding (protons `limits`) so a hostile frame cannot make us allocate more than its size.
 */
import { MailboxRequest, MailboxResponse, Status, type Item, type Auth } from './gen/mailbox.js'
import { OWNER_KEY_BYTES, SIGNATURE_BYTES, TAG_BYTES } from './keys.js'

export { MailboxRequest, MailboxResponse, Status }
export type { Item, Auth }

export const MAILBOX_PROTOCOL = '/parley/mailbox/1.0.0'

export const MAILBOX_LIMITS = {
  /** Largest sealed item (a Parley envelope frame is <= 256 KiB). */
  maxSealedBytes: 256 * 1024,
  clientIdBytes: 16,
  /** Tags named in one fetch/ack. */
  maxTags: 64,
  /** Server ids in one ack. */
  maxAckIds: 1024,
  /** Items in one fetch page. */
  maxPageItems: 256,
  /** Sealed bytes in one fetch page (a single larger item is still returned alone). */
  maxPageBytes: 1024 * 1024
} as const

/** Request frame cap: one maximal deposit plus headroom for the fields around it. */
export const MAX_REQUEST_BYTES = MAILBOX_LIMITS.maxSealedBytes + 16 * 1024
/** Response frame cap: a full page plus per-item overhead. */
export const MAX_RESPONSE_BYTES = MAILBOX_LIMITS.maxPageBytes + MAILBOX_LIMITS.maxSealedBytes + 64 * 1024

const requestLimits = {
  fetch: { auth: { proofs: MAILBOX_LIMITS.maxTags } },
  ack: { auth: { proofs: MAILBOX_LIMITS.maxTags }, ids: MAILBOX_LIMITS.maxAckIds }
}

/** Decodes a request frame; throws on undecodable bytes or over-long repeated fields. */
export function decodeRequest (frame: Uint8Array): MailboxRequest {
  return MailboxRequest.decode(frame, { limits: requestLimits })
}

export function decodeResponse (frame: Uint8Array): MailboxResponse {
  return MailboxResponse.decode(frame, { limits: { items: MAILBOX_LIMITS.maxPageItems } })
}

export function encodeRequest (r: MailboxRequest): Uint8Array {
  return MailboxRequest.encode(r)
}

export function encodeResponse (r: Partial<MailboxResponse> & { status: Status }): Uint8Array {
  return MailboxResponse.encode({ serverId: 0n, duplicate: false, retryAfterMs: 0, items: [], more: false, deleted: 0, ...r })
}

/** Why a deposit's fields are unacceptable, or null if they are fine. */
export function depositProblem (tag: Uint8Array, clientId: Uint8Array, sealed: Uint8Array): string | null {
  if (tag.length !== TAG_BYTES) return `tag must be ${TAG_BYTES} bytes`
  if (clientId.length !== MAILBOX_LIMITS.clientIdBytes) return `client id must be ${MAILBOX_LIMITS.clientIdBytes} bytes`
  if (sealed.length === 0) return 'sealed bytes are empty'
  if (sealed.length > MAILBOX_LIMITS.maxSealedBytes) return `sealed bytes exceed ${MAILBOX_LIMITS.maxSealedBytes}`
  return null
}

/** Why an auth block's shape is unacceptable, or null (signatures are checked separately). */
export function authProblem (auth: Auth | undefined): string | null {
  if (auth == null) return 'missing auth'
  if (auth.proofs.length === 0) return 'no tags named'
  if (auth.proofs.length > MAILBOX_LIMITS.maxTags) return 'too many tags'
  for (const p of auth.proofs) {
    if (p.ownerKey.length !== OWNER_KEY_BYTES || p.signature.length !== SIGNATURE_BYTES) return 'malformed tag proof'
  }
  return null
}

/**
 * Mailbox wire limits and the checked encode/decode of its frames (docs/PROTOCOL.md Part 4 §Frames).
 * Protobuf has no size limits of its own: every cap is applied here, and repeated fields are bounded
 * during decoding (protons `limits`) so a hostile frame cannot make us allocate more than its size.
 */
import { MailboxRequest, MailboxResponse, Status, type Item, type Auth, type DepositRequest, type DepositResult } from './gen/mailbox.js'
import { OWNER_KEY_BYTES, SIGNATURE_BYTES, TAG_BYTES } from './keys.js'

export { MailboxRequest, MailboxResponse, Status }
export type { Item, Auth, DepositRequest, DepositResult }

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
  maxPageBytes: 1024 * 1024,
  /** Deposits in one batch request. */
  maxBatchItems: 256,
  /** Sealed bytes in one batch request (a single larger item goes alone, as a plain deposit). */
  maxBatchBytes: 1024 * 1024
} as const

/** Per-item framing overhead allowed in a batch (tag, client id, tags and lengths). */
const BATCH_ITEM_OVERHEAD = 64
/**
 * Request frame cap: the larger of one maximal deposit and one maximal batch, plus headroom for the
 * fields around them.
 */
export const MAX_REQUEST_BYTES = Math.max(MAILBOX_LIMITS.maxSealedBytes, MAILBOX_LIMITS.maxBatchBytes + MAILBOX_LIMITS.maxBatchItems * BATCH_ITEM_OVERHEAD) + 16 * 1024
/** Response frame cap: a full page plus per-item overhead. */
export const MAX_RESPONSE_BYTES = MAILBOX_LIMITS.maxPageBytes + MAILBOX_LIMITS.maxSealedBytes + 64 * 1024

const requestLimits = {
  fetch: { auth: { proofs: MAILBOX_LIMITS.maxTags } },
  batch: { items: MAILBOX_LIMITS.maxBatchItems },
  ack: { auth: { proofs: MAILBOX_LIMITS.maxTags }, ids: MAILBOX_LIMITS.maxAckIds }
}

/** Decodes a request frame; throws on undecodable bytes or over-long repeated fields. */
export function decodeRequest (frame: Uint8Array): MailboxRequest {
  return MailboxRequest.decode(frame, { limits: requestLimits })
}

export function decodeResponse (frame: Uint8Array): MailboxResponse {
  return MailboxResponse.decode(frame, { limits: { items: MAILBOX_LIMITS.maxPageItems, results: MAILBOX_LIMITS.maxBatchItems } })
}

export function encodeRequest (r: MailboxRequest): Uint8Array {
  return MailboxRequest.encode(r)
}

export function encodeResponse (r: Partial<MailboxResponse> & { status: Status }): Uint8Array {
  return MailboxResponse.encode({ serverId: 0n, duplicate: false, retryAfterMs: 0, items: [], more: false, deleted: 0, results: [], ...r })
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

/** Why a batch is unacceptable as a whole (count, total size), or null. Items are checked one by one. */
export function batchProblem (items: ReadonlyArray<{ sealed: Uint8Array }>): string | null {
  if (items.length === 0) return 'empty batch'
  if (items.length > MAILBOX_LIMITS.maxBatchItems) return `more than ${MAILBOX_LIMITS.maxBatchItems} items in a batch`
  let bytes = 0
  for (const i of items) bytes += i.sealed.length
  if (bytes > MAILBOX_LIMITS.maxBatchBytes) return `batch exceeds ${MAILBOX_LIMITS.maxBatchBytes} sealed bytes`
  return null
}

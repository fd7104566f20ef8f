/**
 * Typed errors of the mailbox (store-and-forward) service and client. Each refusal the protocol can
 * express has its own class, so the outbox can tell "mailbox full" (keep the message queued, tell the
 * user) from "rate limited" (retry after `retryAfterMs`) without matching strings.
 */
export abstract class MailboxError extends Error {
  abstract readonly code: string
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The recipient's quota (bytes or count) or the mailbox's total capacity is exhausted. */
export class MailboxFullError extends MailboxError {
  override readonly name = 'MailboxFullError'
  readonly code = 'ERR_MAILBOX_FULL'
  constructor (message = 'mailbox full', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** This sender deposited too fast; retry after `retryAfterMs`. */
export class MailboxRateLimitedError extends MailboxError {
  override readonly name = 'MailboxRateLimitedError'
  readonly code = 'ERR_MAILBOX_RATE_LIMITED'
  constructor (readonly retryAfterMs: number, message = 'mailbox rate limit exceeded', options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The request broke a rule (lengths, counts) — locally before sending, or as judged by the mailbox. */
export class MailboxMalformedError extends MailboxError {
  override readonly name = 'MailboxMalformedError'
  readonly code = 'ERR_MAILBOX_MALFORMED'
}

/** The mailbox refused the ownership proof (wrong key, bad signature, stale timestamp). */
export class MailboxRefusedError extends MailboxError {
  override readonly name = 'MailboxRefusedError'
  readonly code = 'ERR_MAILBOX_REFUSED'
}

/** The mailbox answered ERROR (its storage failed); retry later. */
export class MailboxServerError extends MailboxError {
  override readonly name = 'MailboxServerError'
  readonly code = 'ERR_MAILBOX_SERVER'
}

/** The peer broke the mailbox protocol (undecodable/oversize frame, early end of stream). */
export class MailboxProtocolError extends MailboxError {
  override readonly name = 'MailboxProtocolError'
  readonly code = 'ERR_MAILBOX_PROTOCOL'
}

/** A dial, stream open, read or write did not finish in time (or the caller aborted). */
export class MailboxTimeoutError extends MailboxError {
  override readonly name = 'MailboxTimeoutError'
  readonly code = 'ERR_MAILBOX_TIMEOUT'
}

/** The mailbox could not be reached (dial or stream open failed). */
export class MailboxUnreachableError extends MailboxError {
  override readonly name = 'MailboxUnreachableError'
  readonly code = 'ERR_MAILBOX_UNREACHABLE'
}

/** The mailbox database could not be opened, migrated or written. */
export class MailboxStorageError extends MailboxError {
  override readonly name = 'MailboxStorageError'
  readonly code = 'ERR_MAILBOX_STORAGE'
}

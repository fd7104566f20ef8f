/**
 * Typed errors of the group core (membership log, causal ordering). One class per failure, with
 * `name` and `code`, so callers can tell a forged entry from a fork from a missing parent without
 * matching strings. Messages never contain key material.
 */
export abstract class ParleyGroupError extends Error {
  abstract readonly code: string
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** A membership entry could not be parsed or breaks a structural rule (size, field lengths, version). */
export class MalformedEntryError extends ParleyGroupError {
  override readonly name = 'MalformedEntryError'
  readonly code = 'ERR_MALFORMED_ENTRY'
}

/** The entry's signature does not verify under its author's identity key. */
export class EntrySignatureError extends ParleyGroupError {
  override readonly name = 'EntrySignatureError'
  readonly code = 'ERR_ENTRY_SIGNATURE'
}

/** The author is not allowed to perform this operation (not a member, not an admin, not the creator). */
export class NotAuthorizedError extends ParleyGroupError {
  override readonly name = 'NotAuthorizedError'
  readonly code = 'ERR_NOT_AUTHORIZED'
}

/** The operation makes no sense in the current state (add an existing member, remove a non-member, …). */
export class InvalidOperationError extends ParleyGroupError {
  override readonly name = 'InvalidOperationError'
  readonly code = 'ERR_INVALID_OPERATION'
}

/** The entry does not extend the current head (wrong group, prev, height, or timestamp going backwards). */
export class BrokenChainError extends ParleyGroupError {
  override readonly name = 'BrokenChainError'
  readonly code = 'ERR_BROKEN_CHAIN'
}

/** A second entry on an already-extended parent that lost (or could not enter) the fork choice. */
export class ForkError extends ParleyGroupError {
  override readonly name = 'ForkError'
  readonly code = 'ERR_FORK'
  constructor (message: string, readonly entryId: string, readonly conflictingId: string) {
    super(message)
  }
}

/** The entry's parent is not in the log yet: fetch `prev` first. */
export class UnknownParentError extends ParleyGroupError {
  override readonly name = 'UnknownParentError'
  readonly code = 'ERR_UNKNOWN_PARENT'
  constructor (message: string, readonly prev: string) {
    super(message)
  }
}

/** A group message's causal metadata contradicts what we already know (lamport not above its deps, reused seq). */
export class CausalViolationError extends ParleyGroupError {
  override readonly name = 'CausalViolationError'
  readonly code = 'ERR_CAUSAL_VIOLATION'
}

/** The causal buffer holds too many undeliverable messages. */
export class CausalBufferFullError extends ParleyGroupError {
  override readonly name = 'CausalBufferFullError'
  readonly code = 'ERR_CAUSAL_BUFFER_FULL'
}

/**
 * Typed errors of the cryptographic core. Each failure has its own class (and `name`/`code`) so a
 * caller can tell a duplicate from a tampered message from an untrusted identity without matching
 * strings. Messages never contain key material.
 */
export abstract class ParleyCryptoError extends Error {
  abstract readonly code: string
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** A message whose key was already used (or deleted): a replay or a duplicate delivery. */
export class DuplicateMessageError extends ParleyCryptoError {
  override readonly name = 'DuplicateMessageError'
  readonly code = 'ERR_DUPLICATE_MESSAGE'
}

/** The MAC/tag did not verify: the message was tampered with or is not for this session. */
export class BadMacError extends ParleyCryptoError {
  override readonly name = 'BadMacError'
  readonly code = 'ERR_BAD_MAC'
}

/** Accepting the message would skip more than MAX_SKIP keys or exceed the stored-skipped-keys cap. */
export class TooManySkippedError extends ParleyCryptoError {
  override readonly name = 'TooManySkippedError'
  readonly code = 'ERR_TOO_MANY_SKIPPED'
}

/** The peer's identity key differs from the trusted one (or is not bound to its PeerId). */
export class UntrustedIdentityError extends ParleyCryptoError {
  override readonly name = 'UntrustedIdentityError'
  readonly code = 'ERR_UNTRUSTED_IDENTITY'
}

/** A signature (signed prekey, Kyber prekey, record) did not verify. */
export class BadSignatureError extends ParleyCryptoError {
  override readonly name = 'BadSignatureError'
  readonly code = 'ERR_BAD_SIGNATURE'
}

/** Input could not be parsed: wrong length, wrong version, bad encoding, oversized. */
export class MalformedInputError extends ParleyCryptoError {
  override readonly name = 'MalformedInputError'
  readonly code = 'ERR_MALFORMED_INPUT'
}

/** A prekey the message refers to is not (or no longer) available. */
export class MissingPreKeyError extends ParleyCryptoError {
  override readonly name = 'MissingPreKeyError'
  readonly code = 'ERR_MISSING_PREKEY'
}

/** No session exists for the peer (or the session cannot decrypt this message). */
export class NoSessionError extends ParleyCryptoError {
  override readonly name = 'NoSessionError'
  readonly code = 'ERR_NO_SESSION'
}

/** Wrong passphrase for an encrypted key file, or the file was altered. */
export class WrongPassphraseError extends ParleyCryptoError {
  override readonly name = 'WrongPassphraseError'
  readonly code = 'ERR_WRONG_PASSPHRASE'
}

/**
 * Typed errors of the storage layer. Every failure the store reports is a `StoreError` subclass with
 * its own `name` and stable `code`, so callers can tell "disk full" from "busy" from "corrupt" without
 * matching strings. Messages never contain keys, passphrases or message bodies.
 *
 * A wrong passphrase is reported with the crypto core's `WrongPassphraseError` (src/crypto/errors.ts),
 * the one class the whole project uses for that failure.
 */
export class StoreError extends Error {
  override readonly name: string = 'StoreError'
  readonly code: string
  constructor (message: string, options?: { cause?: unknown, code?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined)
    this.code = options?.code ?? 'ERR_STORE'
  }
}

/** The database (or the disk, or the configured size cap) is full: SQLITE_FULL. Nothing was written. */
export class StoreFullError extends StoreError {
  override readonly name = 'StoreFullError'
  constructor (message = 'database or disk is full', options?: { cause?: unknown }) {
    super(message, { ...options, code: 'ERR_STORE_FULL' })
  }
}

/** Another connection held the write lock longer than the busy timeout: SQLITE_BUSY / SQLITE_LOCKED. */
export class StoreBusyError extends StoreError {
  override readonly name = 'StoreBusyError'
  constructor (message = 'database is busy', options?: { cause?: unknown }) {
    super(message, { ...options, code: 'ERR_STORE_BUSY' })
  }
}

/** The file is not a Parley database, is damaged, or a sealed value failed authentication. */
export class StoreCorruptError extends StoreError {
  override readonly name = 'StoreCorruptError'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: 'ERR_STORE_CORRUPT' })
  }
}

/** An I/O error from the operating system (SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_READONLY, ...). */
export class StoreIoError extends StoreError {
  override readonly name = 'StoreIoError'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: 'ERR_STORE_IO' })
  }
}

/** The database was written by a newer Parley (its schema version is higher than this code knows). */
export class StoreSchemaTooNewError extends StoreError {
  override readonly name = 'StoreSchemaTooNewError'
  constructor (readonly found: number, readonly supported: number) {
    super(`database schema version ${found} is newer than this Parley supports (${supported}); upgrade Parley`, { code: 'ERR_STORE_SCHEMA_TOO_NEW' })
  }
}

/** The store is encrypted at rest and was opened without a passphrase. */
export class StorePassphraseRequiredError extends StoreError {
  override readonly name = 'StorePassphraseRequiredError'
  constructor () {
    super('the store is encrypted: a passphrase is required to open it', { code: 'ERR_STORE_PASSPHRASE_REQUIRED' })
  }
}

/**
 * A passphrase was given for a store that is not encrypted. Refused rather than ignored, so a user
 * never believes unprotected data is protected; use `changePassphrase` to encrypt it.
 */
export class StoreNotEncryptedError extends StoreError {
  override readonly name = 'StoreNotEncryptedError'
  constructor () {
    super('the store is not encrypted at rest; set a passphrase with changePassphrase()', { code: 'ERR_STORE_NOT_ENCRYPTED' })
  }
}

/** The store was used after close(). */
export class StoreClosedError extends StoreError {
  override readonly name = 'StoreClosedError'
  constructor () {
    super('the store is closed', { code: 'ERR_STORE_CLOSED' })
  }
}

/** A value or argument was refused before touching the database (too large, wrong type, bad id). */
export class StoreInputError extends StoreError {
  override readonly name = 'StoreInputError'
  constructor (message: string) {
    super(message, { code: 'ERR_STORE_INPUT' })
  }
}

/** A contact with that name (compared case-insensitively) already exists. */
export class ContactNameTakenError extends StoreError {
  override readonly name = 'ContactNameTakenError'
  constructor (readonly contactName: string) {
    super('a contact with that name already exists', { code: 'ERR_CONTACT_NAME_TAKEN' })
  }
}

/** A write unit was misused: nested write(), or a callback that returned a Promise (async work inside a transaction). */
export class StoreUsageError extends StoreError {
  override readonly name = 'StoreUsageError'
  constructor (message: string) {
    super(message, { code: 'ERR_STORE_USAGE' })
  }
}

/** SQLite primary result codes (https://sqlite.org/rescode.html) that we map to typed errors. */
const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6
const SQLITE_READONLY = 8
const SQLITE_IOERR = 10
const SQLITE_CORRUPT = 11
const SQLITE_FULL = 13
const SQLITE_CANTOPEN = 14
const SQLITE_NOTADB = 26

/** Turns whatever node:sqlite threw into a StoreError subclass (StoreErrors pass through unchanged). */
export function toStoreError (err: unknown, what: string): Error {
  if (err instanceof StoreError) return err
  const e = err as { code?: unknown, errcode?: unknown, errstr?: unknown, message?: unknown }
  if (e == null || e.code !== 'ERR_SQLITE_ERROR' || typeof e.errcode !== 'number') {
    // Not an SQLite failure (a programming error, a crypto error): keep it as it is.
    return err instanceof Error ? err : new StoreError(`${what}: ${String(err)}`)
  }
  const primary = e.errcode & 0xff
  const detail = typeof e.errstr === 'string' ? e.errstr : 'sqlite error'
  const msg = `${what}: ${detail}`
  switch (primary) {
    case SQLITE_FULL: return new StoreFullError(msg, { cause: err })
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return new StoreBusyError(msg, { cause: err })
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return new StoreCorruptError(msg, { cause: err })
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN: return new StoreIoError(msg, { cause: err })
    default: return new StoreError(msg, { cause: err, code: 'ERR_STORE' })
  }
}

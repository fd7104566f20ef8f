/**
 * Opening (and creating) the SQLite store: home directory 0700, database file 0600, WAL,
 * synchronous=FULL, foreign keys, busy timeout, migrations, then unlocking the data key.
 */
import { chmodSync, closeSync, constants as fsc, existsSync, fstatSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import type { ScryptParams } from '../../crypto/primitives/index.js'
import {
  StoreCorruptError, StoreError, StoreInputError, StoreIoError, StoreNotEncryptedError, StorePassphraseRequiredError, toStoreError
} from '../errors.js'
import {
  AeadCodec, checkScryptParams, DEFAULT_SCRYPT, newDataKey, parseKeyWrap, plainCodec, unwrapDataKey, wrapDataKey,
  type KeyWrapRecord, type ValueCodec
} from './crypt.js'
import { MIGRATIONS, runMigrations, type Migration } from './schema.js'
import { SqliteStore } from './store.js'

export const DB_FILE = 'parley.db'

export interface OpenStoreOptions {
  /** The node's home directory; created with mode 0700 (tightened to 0700 if it exists). */
  home: string
  /** Encrypts secret columns at rest. null/undefined/'' = no encryption (values stored plain). */
  passphrase?: string | null
  signal?: AbortSignal
  /** scrypt cost for new key wraps (creating the store, changing the passphrase). @default N=2^15, r=8, p=1 */
  scrypt?: ScryptParams
  /** How long a write waits for another connection's lock. @default 5000 */
  busyTimeoutMs?: number
  /**
   * Hard cap on the database size in bytes (PRAGMA max_page_count); writes beyond it fail with
   * StoreFullError and change nothing. @default unlimited
   */
  maxSizeBytes?: number
  /** Clock for timestamps the store sets itself. @default Date.now */
  now?: () => number
  /** Schema migrations. @default MIGRATIONS (tests add versions to exercise upgrades) */
  migrations?: readonly Migration[]
  /**
   * WAL checkpoints off the hot path (issue 3): a PASSIVE checkpoint once no unit ran for this long,
   * SQLite's automatic checkpoint (inside a committing unit, every 1000 WAL pages) stays as the cap for long busy periods
   * (sqlite/checkpointer.ts). 0 = SQLite's automatic checkpoint every 1000 pages only. @default 25
   */
  checkpointIdleMs?: number
}

/** Quiet time after the last unit before the WAL is checkpointed (sqlite/checkpointer.ts). */
export const DEFAULT_CHECKPOINT_IDLE_MS = 25

const FILE_MODE = 0o600
const DIR_MODE = 0o700

function ensureDir (home: string): void {
  try {
    mkdirSync(home, { recursive: true, mode: DIR_MODE })
    const st = statSync(home)
    if (!st.isDirectory()) throw new StoreIoError('the store home is not a directory')
    // The home holds keys: owner only.
    if ((st.mode & 0o777) !== DIR_MODE) chmodSync(home, DIR_MODE)
  } catch (err) {
    if (err instanceof StoreError) throw err
    throw new StoreIoError(`cannot create the store home: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
  }
}

/** Creates the database file 0600 before SQLite does (SQLite gives -wal/-shm the main file's mode). */
function ensureDbFile (path: string): void {
  let fd: number
  try {
    // O_NOFOLLOW: never follow a symlink planted in the home to some other file.
    fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, FILE_MODE)
  } catch (err) {
    throw new StoreIoError(`cannot open the database file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new StoreIoError('the database path is not a regular file')
    if ((st.mode & 0o777) !== FILE_MODE) fchmodSync(fd, FILE_MODE)
  } finally {
    closeSync(fd)
  }
}

/** Tightens the database and its -wal / -shm / -journal companions to 0600. */
export function fixFileModes (path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const p = path + suffix
    try {
      if (existsSync(p) && (statSync(p).mode & 0o777) !== FILE_MODE) chmodSync(p, FILE_MODE)
    } catch {
      // A companion file may vanish between the check and the chmod (checkpoint); nothing to fix then.
    }
  }
}

function configure (db: DatabaseSync, busyTimeoutMs: number, maxSizeBytes: number | undefined): void {
  const mode = (db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string }).journal_mode
  if (mode !== 'wal') throw new StoreIoError(`cannot enable WAL (journal_mode is ${mode})`)
  db.exec(`
    PRAGMA synchronous = FULL;
    PRAGMA foreign_keys = ON;
    PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)};
    PRAGMA secure_delete = ON;
    PRAGMA temp_store = MEMORY;
    PRAGMA trusted_schema = OFF;
  `)
  if (maxSizeBytes !== undefined) {
    const pageSize = (db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size
    const pages = Math.max(1, Math.floor(maxSizeBytes / pageSize))
    db.exec(`PRAGMA max_page_count = ${pages}`)
  }
}

function readKeyWrap (db: DatabaseSync): KeyWrapRecord | null {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'keywrap'").get() as { value: string } | undefined
  return row === undefined ? null : parseKeyWrap(row.value)
}

/** Stores `rec` unless a record exists already (another opener won); returns the record in force. */
function insertKeyWrapOnce (db: DatabaseSync, rec: KeyWrapRecord): KeyWrapRecord {
  db.exec('BEGIN IMMEDIATE')
  try {
    const existing = readKeyWrap(db)
    if (existing === null) db.prepare("INSERT INTO meta (key, value) VALUES ('keywrap', ?)").run(JSON.stringify(rec))
    db.exec('COMMIT')
    return existing ?? rec
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK')
    throw err
  }
}

/**
 * Opens (creating if needed) the store in `home`. Throws WrongPassphraseError (src/crypto/errors.ts),
 * StorePassphraseRequiredError, StoreNotEncryptedError, StoreSchemaTooNewError, StoreCorruptError,
 * StoreIoError.
 */
export async function openStore (opts: OpenStoreOptions): Promise<SqliteStore> {
  opts.signal?.throwIfAborted()
  if (typeof opts.home !== 'string' || opts.home === '') throw new StoreInputError('home must be a directory path')
  const home = resolve(opts.home)
  const passphrase = opts.passphrase == null || opts.passphrase === '' ? null : opts.passphrase
  const scrypt = checkScryptParams(opts.scrypt ?? DEFAULT_SCRYPT)
  const now = opts.now ?? Date.now
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new StoreInputError('busyTimeoutMs must be a non-negative integer')
  if (opts.checkpointIdleMs !== undefined && (!Number.isSafeInteger(opts.checkpointIdleMs) || opts.checkpointIdleMs < 0)) {
    throw new StoreInputError('checkpointIdleMs must be a non-negative integer')
  }
  if (opts.maxSizeBytes !== undefined && (!Number.isSafeInteger(opts.maxSizeBytes) || opts.maxSizeBytes < 4096)) {
    throw new StoreInputError('maxSizeBytes must be an integer of at least 4096')
  }

  ensureDir(home)
  const path = join(home, DB_FILE)
  ensureDbFile(path)

  let db: DatabaseSync
  try {
    db = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: busyTimeoutMs })
  } catch (err) {
    throw toStoreError(err, 'opening the database')
  }
  let ok = false
  try {
    try {
      configure(db, busyTimeoutMs, opts.maxSizeBytes)
    } catch (err) {
      throw toStoreError(err, 'configuring the database')
    }
    const { to } = runMigrations(db, opts.migrations ?? MIGRATIONS, now)
    fixFileModes(path)
    opts.signal?.throwIfAborted()

    let wrap: KeyWrapRecord | null
    try { wrap = readKeyWrap(db) } catch (err) { throw toStoreError(err, 'reading the key record') }

    let codec: ValueCodec
    if (wrap === null) {
      // A new store: its encryption mode is fixed by the first open (changePassphrase changes it later).
      let rec: KeyWrapRecord = { v: 1, mode: 'none' }
      let dataKey: Uint8Array | null = null
      if (passphrase !== null) {
        dataKey = newDataKey()
        rec = await wrapDataKey(dataKey, passphrase, scrypt)
        opts.signal?.throwIfAborted()
      }
      try { wrap = insertKeyWrapOnce(db, rec) } catch (err) { throw toStoreError(err, 'writing the key record') }
      if (wrap !== rec) {
        dataKey?.fill(0)
        dataKey = null
      }
      if (dataKey !== null) {
        codec = new AeadCodec(dataKey)
        dataKey.fill(0)
      } else {
        codec = await unlock(wrap, passphrase)
      }
    } else {
      codec = await unlock(wrap, passphrase)
    }
    opts.signal?.throwIfAborted()
    fixFileModes(path)
    const checkpointIdleMs = opts.checkpointIdleMs ?? DEFAULT_CHECKPOINT_IDLE_MS
    const store = new SqliteStore({ db, path, codec, keyWrap: wrap, schemaVersion: to, now, scrypt, checkpointIdleMs })
    ok = true
    return store
  } finally {
    if (!ok) {
      try { db.close() } catch { /* already failing */ }
    }
  }
}

async function unlock (wrap: KeyWrapRecord, passphrase: string | null): Promise<ValueCodec> {
  if (wrap.mode === 'none') {
    // Refuse rather than ignore: the user must not believe a plain store is protected.
    if (passphrase !== null) throw new StoreNotEncryptedError()
    return plainCodec
  }
  if (passphrase === null) throw new StorePassphraseRequiredError()
  const key = await unwrapDataKey(wrap, passphrase)
  if (key.length !== 32) throw new StoreCorruptError('unwrapped data key has the wrong length')
  try {
    return new AeadCodec(key)
  } finally {
    key.fill(0)
  }
}

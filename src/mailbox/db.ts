/**
 * The mailbox's own SQLite database (<home>/mailbox.db): home 0700, file 0600, WAL,
 * synchronous=FULL, versioned migrations. Stores only opaque sealed bytes addressed by routing tags.
 * Synchronous (node:sqlite); one MailboxDb per file per process.
 */
import { chmodSync, closeSync, constants as fsc, existsSync, fchmodSync, fstatSync, mkdirSync, openSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DatabaseSync, type SQLInputValue } from 'node:sqlite'
import { MailboxStorageError } from './errors.js'

export const MAILBOX_DB_FILE = 'mailbox.db'
/** PRAGMA application_id of mailbox databases: "PRLM" (https://sqlite.org/fileformat.html §1.3.12). */
export const MAILBOX_APPLICATION_ID = 0x50524c4d
const DIR_MODE = 0o700
const FILE_MODE = 0o600

export interface MailboxLimits {
  /** Per-recipient (per tag) quota in stored sealed bytes. @default 16 MiB */
  maxBytesPerTag: number
  /** Per-recipient (per tag) quota in items. @default 2000 */
  maxItemsPerTag: number
  /** Whole-mailbox cap in stored sealed bytes. @default 1 GiB */
  maxTotalBytes: number
  /** How long an unacknowledged item is kept. @default 30 days */
  retentionMs: number
}

export const DEFAULT_MAILBOX_LIMITS: MailboxLimits = {
  maxBytesPerTag: 16 * 1024 * 1024,
  maxItemsPerTag: 2000,
  maxTotalBytes: 1024 * 1024 * 1024,
  retentionMs: 30 * 24 * 60 * 60 * 1000
}

export interface StoredItem {
  id: number
  tag: Uint8Array
  sealed: Uint8Array
  depositedAt: number
}

export type DepositResult =
  | { kind: 'stored', id: number }
  | { kind: 'duplicate', id: number }
  | { kind: 'full', reason: string }

interface Migration { version: number, up: (db: DatabaseSync) => void }

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up: (db) => {
      db.exec(`
        PRAGMA application_id = ${MAILBOX_APPLICATION_ID};
        CREATE TABLE mail (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          tag BLOB NOT NULL CHECK (length(tag) = 32),
          client_id BLOB NOT NULL CHECK (length(client_id) = 16),
          sealed BLOB NOT NULL,
          size INTEGER NOT NULL,
          deposited_at INTEGER NOT NULL,
          UNIQUE (tag, client_id)
        ) STRICT;
        CREATE INDEX mail_tag ON mail (tag, id, size);
        CREATE INDEX mail_age ON mail (deposited_at);
        CREATE TABLE acked (
          tag BLOB NOT NULL,
          client_id BLOB NOT NULL,
          server_id INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          PRIMARY KEY (tag, client_id)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX acked_exp ON acked (expires_at);
      `)
    }
  }
]

function secureFile (path: string): void {
  let fd: number | undefined
  try {
    fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, FILE_MODE)
    const st = fstatSync(fd)
    if (!st.isFile()) throw new MailboxStorageError('mailbox database path is not a regular file')
    if ((st.mode & 0o777) !== FILE_MODE) fchmodSync(fd, FILE_MODE)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export interface OpenMailboxDbOptions {
  /** Directory holding mailbox.db; created 0700. */
  home: string
  limits?: Partial<MailboxLimits>
  /** PRAGMA synchronous: FULL survives power loss per commit; NORMAL is faster. @default 'FULL' */
  synchronous?: 'FULL' | 'NORMAL'
}

export class MailboxDb {
  readonly limits: MailboxLimits
  readonly path: string
  private readonly db: DatabaseSync
  private totalBytes = 0
  private totalItems = 0
  private readonly fetchStmts = new Map<number, ReturnType<DatabaseSync['prepare']>>()
  private readonly q

  private constructor (db: DatabaseSync, path: string, limits: MailboxLimits) {
    this.db = db
    this.path = path
    this.limits = limits
    this.q = {
      tagUsage: db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM mail WHERE tag = ?'),
      findLive: db.prepare('SELECT id FROM mail WHERE tag = ? AND client_id = ?'),
      findAcked: db.prepare('SELECT server_id FROM acked WHERE tag = ? AND client_id = ? AND expires_at > ?'),
      insert: db.prepare('INSERT INTO mail (tag, client_id, sealed, size, deposited_at) VALUES (?, ?, ?, ?, ?)'),
      expiredOfTag: db.prepare('DELETE FROM mail WHERE tag = ? AND deposited_at <= ? RETURNING size'),
      expiredAll: db.prepare('DELETE FROM mail WHERE deposited_at <= ? RETURNING size'),
      ackedExpired: db.prepare('DELETE FROM acked WHERE expires_at <= ?'),
      getForAck: db.prepare('SELECT tag, client_id, size, deposited_at FROM mail WHERE id = ?'),
      del: db.prepare('DELETE FROM mail WHERE id = ?'),
      tombstone: db.prepare('INSERT OR REPLACE INTO acked (tag, client_id, server_id, expires_at) VALUES (?, ?, ?, ?)'),
      totals: db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM mail')
    }
    const t = this.q.totals.get() as { n: number, b: number }
    this.totalItems = t.n
    this.totalBytes = t.b
  }

  /** Opens (creating and migrating) <home>/mailbox.db. */
  static open (opts: OpenMailboxDbOptions): MailboxDb {
    const limits = { ...DEFAULT_MAILBOX_LIMITS, ...opts.limits }
    const home = resolve(opts.home)
    const path = join(home, MAILBOX_DB_FILE)
    let db: DatabaseSync | undefined
    try {
      mkdirSync(home, { recursive: true, mode: DIR_MODE })
      if ((statSync(home).mode & 0o777) !== DIR_MODE) chmodSync(home, DIR_MODE)
      secureFile(path)
      db = new DatabaseSync(path)
      const mode = (db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string }).journal_mode
      if (mode.toLowerCase() !== 'wal') throw new MailboxStorageError(`could not enable WAL (got ${mode})`)
      db.exec(`PRAGMA synchronous = ${opts.synchronous ?? 'FULL'}; PRAGMA busy_timeout = 5000; PRAGMA secure_delete = ON; PRAGMA trusted_schema = OFF;`)
      migrate(db)
      for (const suffix of ['-wal', '-shm']) {
        const p = path + suffix
        if (existsSync(p) && (statSync(p).mode & 0o777) !== FILE_MODE) chmodSync(p, FILE_MODE)
      }
      return new MailboxDb(db, path, limits)
    } catch (err) {
      try { db?.close() } catch { /* already failing */ }
      if (err instanceof MailboxStorageError) throw err
      throw new MailboxStorageError('could not open the mailbox database', { cause: err })
    }
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }

  /** Items and sealed bytes currently stored (expired-but-unswept items included). */
  stats (): { items: number, bytes: number } {
    return { items: this.totalItems, bytes: this.totalBytes }
  }

  /**
   * Stores one item unless (tag, clientId) is already stored or was acknowledged within the retention
   * period (idempotent deposit), or a quota would be exceeded.
   */
  deposit (tag: Uint8Array, clientId: Uint8Array, sealed: Uint8Array, now: number): DepositResult {
    return this.tx(() => {
      const cutoff = now - this.limits.retentionMs
      this.dropSizes(this.q.expiredOfTag.all(tag, cutoff))
      const live = this.q.findLive.get(tag, clientId) as { id: number } | undefined
      if (live != null) return { kind: 'duplicate', id: live.id }
      const acked = this.q.findAcked.get(tag, clientId, now) as { server_id: number } | undefined
      if (acked != null) return { kind: 'duplicate', id: acked.server_id }
      const u = this.q.tagUsage.get(tag) as { n: number, b: number }
      if (u.n + 1 > this.limits.maxItemsPerTag) return { kind: 'full', reason: 'mailbox full: recipient item quota reached' }
      if (u.b + sealed.length > this.limits.maxBytesPerTag) return { kind: 'full', reason: 'mailbox full: recipient byte quota reached' }
      if (this.totalBytes + sealed.length > this.limits.maxTotalBytes) return { kind: 'full', reason: 'mailbox full: total capacity reached' }
      const r = this.q.insert.run(tag, clientId, sealed, sealed.length, now)
      this.totalItems++
      this.totalBytes += sealed.length
      return { kind: 'stored', id: Number(r.lastInsertRowid) }
    })
  }

  /**
   * Stores many items in ONE transaction (one fsync), in order, each as `deposit` would. After a
   * FULL for a tag, later items of the same tag are refused too, so the stored items of a tag are
   * always a prefix of what the sender sent in this batch (order kept).
   */
  depositMany (items: ReadonlyArray<{ tag: Uint8Array, clientId: Uint8Array, sealed: Uint8Array }>, now: number): DepositResult[] {
    return this.tx(() => {
      const cutoff = now - this.limits.retentionMs
      const purged = new Set<string>()
      const full = new Map<string, string>()
      const out: DepositResult[] = []
      for (const { tag, clientId, sealed } of items) {
        const key = hexOf(tag)
        if (!purged.has(key)) {
          this.dropSizes(this.q.expiredOfTag.all(tag, cutoff))
          purged.add(key)
        }
        const live = this.q.findLive.get(tag, clientId) as { id: number } | undefined
        if (live != null) { out.push({ kind: 'duplicate', id: live.id }); continue }
        const acked = this.q.findAcked.get(tag, clientId, now) as { server_id: number } | undefined
        if (acked != null) { out.push({ kind: 'duplicate', id: acked.server_id }); continue }
        const refused = full.get(key)
        if (refused != null) { out.push({ kind: 'full', reason: refused }); continue }
        const u = this.q.tagUsage.get(tag) as { n: number, b: number }
        let reason: string | null = null
        if (u.n + 1 > this.limits.maxItemsPerTag) reason = 'mailbox full: recipient item quota reached'
        else if (u.b + sealed.length > this.limits.maxBytesPerTag) reason = 'mailbox full: recipient byte quota reached'
        else if (this.totalBytes + sealed.length > this.limits.maxTotalBytes) reason = 'mailbox full: total capacity reached'
        if (reason != null) {
          full.set(key, reason)
          out.push({ kind: 'full', reason })
          continue
        }
        const r = this.q.insert.run(tag, clientId, sealed, sealed.length, now)
        this.totalItems++
        this.totalBytes += sealed.length
        out.push({ kind: 'stored', id: Number(r.lastInsertRowid) })
      }
      return out
    })
  }

  /**
   * Items of `tags` with id > `after`, in id (= deposit) order, excluding expired ones; at most
   * `limit` items and about `maxBytes` of sealed bytes (always at least one item if any exists).
   */
  fetch (tags: Uint8Array[], after: number, limit: number, maxBytes: number, now: number): { items: StoredItem[], more: boolean } {
    if (tags.length === 0) return { items: [], more: false }
    let stmt = this.fetchStmts.get(tags.length)
    if (stmt == null) {
      const marks = tags.map(() => '?').join(', ')
      stmt = this.db.prepare(`SELECT id, tag, sealed, deposited_at FROM mail WHERE tag IN (${marks}) AND id > ? AND deposited_at > ? ORDER BY id LIMIT ?`)
      this.fetchStmts.set(tags.length, stmt)
    }
    const params: SQLInputValue[] = [...tags, after, now - this.limits.retentionMs, limit + 1]
    const rows = stmt.all(...params) as Array<{ id: number, tag: Uint8Array, sealed: Uint8Array, deposited_at: number }>
    const items: StoredItem[] = []
    let bytes = 0
    for (const r of rows) {
      if (items.length === limit) break
      if (items.length > 0 && bytes + r.sealed.length > maxBytes) break
      items.push({ id: r.id, tag: new Uint8Array(r.tag), sealed: new Uint8Array(r.sealed), depositedAt: r.deposited_at })
      bytes += r.sealed.length
    }
    return { items, more: rows.length > items.length }
  }

  /**
   * Deletes the items among `ids` whose tag is in `tags`; remembers their (tag, clientId) until the
   * end of their retention so a re-sent deposit is answered "duplicate". Returns how many were deleted.
   */
  ack (tags: Uint8Array[], ids: number[], now: number): number {
    const allowed = new Set(tags.map(hexOf))
    return this.tx(() => {
      let deleted = 0
      for (const id of ids) {
        const row = this.q.getForAck.get(id) as { tag: Uint8Array, client_id: Uint8Array, size: number, deposited_at: number } | undefined
        if (row == null || !allowed.has(hexOf(row.tag))) continue
        this.q.del.run(id)
        this.q.tombstone.run(row.tag, row.client_id, id, Math.max(now, row.deposited_at + this.limits.retentionMs))
        this.totalItems--
        this.totalBytes -= row.size
        deleted++
      }
      return deleted
    })
  }

  /** Deletes expired items and expired acknowledgement tombstones. Returns the items purged. */
  sweep (now: number): number {
    return this.tx(() => {
      const n = this.dropSizes(this.q.expiredAll.all(now - this.limits.retentionMs))
      this.q.ackedExpired.run(now)
      return n
    })
  }

  private dropSizes (rows: unknown[]): number {
    for (const r of rows as Array<{ size: number }>) {
      this.totalItems--
      this.totalBytes -= r.size
    }
    return rows.length
  }

  private tx<T> (fn: () => T): T {
    const before = { items: this.totalItems, bytes: this.totalBytes }
    try {
      this.db.exec('BEGIN IMMEDIATE')
      const out = fn()
      this.db.exec('COMMIT')
      return out
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK')
      this.totalItems = before.items
      this.totalBytes = before.bytes
      throw new MailboxStorageError('mailbox database operation failed', { cause: err })
    }
  }
}

function migrate (db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    const tables = (db.prepare("SELECT COUNT(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n
    const appId = (db.prepare('PRAGMA application_id').get() as { application_id: number }).application_id
    const hasVersion = db.prepare("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'").get() !== undefined
    // A non-empty file must be a mailbox database (application_id, https://sqlite.org/pragma.html#pragma_application_id).
    if (tables > 0 && (appId !== MAILBOX_APPLICATION_ID || !hasVersion)) throw new MailboxStorageError('the file is not a Parley mailbox database')
    if (!hasVersion) db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT')
    const from = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_version').get() as { v: number }).v
    const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version
    if (from > latest) throw new MailboxStorageError(`mailbox database schema ${from} is newer than this software (${latest})`)
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue
      m.up(db)
      db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(m.version, Date.now())
    }
    db.exec('COMMIT')
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK')
    throw err
  }
}

function hexOf (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

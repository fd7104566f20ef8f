/**
 * Versioned schema migrations. `schema_version` holds one row per applied migration; each migration
 * runs in its own BEGIN IMMEDIATE transaction together with its schema_version row, so a crash
 * mid-migration leaves the previous version intact. A database whose version is higher than the
 * newest migration here is refused (StoreSchemaTooNewError) and left untouched.
 */
import type { DatabaseSync } from 'node:sqlite'
import { StoreCorruptError, StoreSchemaTooNewError, toStoreError } from '../errors.js'
import { migrateGroups } from './groups.js'

export interface Migration {
  version: number
  name: string
  /** Runs inside the migration's transaction. Must be synchronous. */
  up: (db: DatabaseSync) => void
}

/** PRAGMA application_id of Parley databases: "PRLY" (https://sqlite.org/fileformat.html §1.3.12). */
export const PARLEY_APPLICATION_ID = 0x50524c59

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    up: (db) => {
      db.exec(`
        PRAGMA application_id = ${PARLEY_APPLICATION_ID};
        CREATE TABLE meta (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;
        CREATE TABLE identity (
          id INTEGER PRIMARY KEY CHECK (id = 1),
          sealed BLOB NOT NULL,
          profile_name TEXT NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE prekeys (
          kind TEXT NOT NULL CHECK (kind IN ('signed', 'onetime', 'kyber')),
          id INTEGER NOT NULL CHECK (id BETWEEN 1 AND 16777215),
          record BLOB NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (kind, id)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE prekey_counters (
          kind TEXT PRIMARY KEY CHECK (kind IN ('signed', 'onetime', 'kyber')),
          last_id INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE sessions (
          peer_id TEXT PRIMARY KEY,
          record BLOB NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE contacts (
          peer_id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          identity_key BLOB NOT NULL,
          verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
          pending_key BLOB,
          pending_seen_at INTEGER,
          addresses TEXT NOT NULL DEFAULT '[]',
          last_seen INTEGER,
          created_at INTEGER NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX contacts_name ON contacts (name COLLATE NOCASE);
        CREATE TABLE messages (
          id TEXT PRIMARY KEY,
          peer_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
          body BLOB NOT NULL,
          sent_at INTEGER NOT NULL,
          received_at INTEGER,
          status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'delivered', 'read', 'stored', 'failed')),
          read_at INTEGER,
          UNIQUE (peer_id, seq)
        ) STRICT;
        CREATE INDEX messages_unread ON messages (peer_id) WHERE direction = 'in' AND read_at IS NULL;
        CREATE TABLE outbox (
          message_id TEXT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
          peer_id TEXT NOT NULL,
          envelope BLOB NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER NOT NULL,
          last_error TEXT,
          created_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX outbox_due ON outbox (next_attempt_at);
        CREATE INDEX outbox_peer ON outbox (peer_id, created_at);
        CREATE TABLE receipts (
          message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
          kind TEXT NOT NULL CHECK (kind IN ('delivered', 'read')),
          at INTEGER NOT NULL,
          PRIMARY KEY (message_id, kind)
        ) STRICT, WITHOUT ROWID;
      `)
    }
  },
  {
    version: 2,
    name: 'receipt outbox',
    up: (db) => {
      // Sealed receipt envelopes waiting for the peer's Ack. They belong to no message row (a receipt
      // is not shown), so they live beside the message outbox instead of in it.
      db.exec(`
        CREATE TABLE receipt_outbox (
          id TEXT PRIMARY KEY,
          peer_id TEXT NOT NULL,
          envelope BLOB NOT NULL,
          created_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX receipt_outbox_peer ON receipt_outbox (peer_id, created_at);
      `)
    }
  },
  {
    version: 3,
    name: 'contact relays',
    up: (db) => {
      // The contact's relays / mailboxes (JSON array of multiaddrs ending in /p2p/<relay>), issue 4.
      db.exec("ALTER TABLE contacts ADD COLUMN relays TEXT NOT NULL DEFAULT '[]'")
    }
  },
  {
    version: 4,
    name: 'conversation sequence numbers and mailbox routes',
    up: (db) => {
      // issue 4 (offline delivery): per-conversation sender sequence numbers (gap detection, PROTOCOL.md
      // Part 3 §6) and the mailbox route the peer gave us (sealed at rest like other secret columns).
      db.exec(`
        CREATE TABLE conversations (
          peer_id TEXT PRIMARY KEY,
          send_seq INTEGER NOT NULL DEFAULT 0 CHECK (send_seq >= 0),
          recv_seq INTEGER NOT NULL DEFAULT 0 CHECK (recv_seq >= 0),
          skips INTEGER NOT NULL DEFAULT 0 CHECK (skips >= 0),
          route BLOB NOT NULL,
          updated_at INTEGER NOT NULL
        ) STRICT;
      `)
    }
  },
  {
    // issue 5: groups, membership logs, sender keys, group messages, the group control outbox
    // (src/store/sqlite/groups.ts). Version 5 because issue 4 took versions 3 and 4.
    version: 5,
    name: 'groups',
    up: migrateGroups
  }
]

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

function hasTable (db: DatabaseSync, name: string): boolean {
  return db.prepare("SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined
}

/** Version of the schema in `db`: 0 for an empty database. */
export function schemaVersion (db: DatabaseSync): number {
  if (!hasTable(db, 'schema_version')) return 0
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null } | undefined
  return row?.v ?? 0
}

/**
 * Brings `db` up to the newest of `migrations` (sorted by version). Returns the versions before and
 * after. Throws StoreSchemaTooNewError for a newer database and StoreCorruptError for a database
 * that is not Parley's.
 */
export function runMigrations (db: DatabaseSync, migrations: readonly Migration[], now: () => number): { from: number, to: number } {
  const sorted = [...migrations].sort((a, b) => a.version - b.version)
  const latest = sorted.length > 0 ? sorted[sorted.length - 1]!.version : 0
  let from: number
  try {
    db.exec('BEGIN IMMEDIATE')
    try {
      const tables = (db.prepare("SELECT COUNT(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n
      const appId = (db.prepare('PRAGMA application_id').get() as { application_id: number }).application_id
      // A non-empty file must be ours (application_id, https://sqlite.org/pragma.html#pragma_application_id).
      if (tables > 0 && (appId !== PARLEY_APPLICATION_ID || !hasTable(db, 'schema_version'))) {
        throw new StoreCorruptError('the database file is not a Parley store')
      }
      if (!hasTable(db, 'schema_version')) {
        db.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT')
      }
      from = schemaVersion(db)
      db.exec('COMMIT')
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK')
      throw err
    }
  } catch (err) {
    throw toStoreError(err, 'reading the schema version')
  }
  if (from > latest) throw new StoreSchemaTooNewError(from, latest)

  for (const m of sorted) {
    if (m.version <= from) continue
    try {
      db.exec('BEGIN IMMEDIATE')
      try {
        // Re-checked under the write lock: another process may have migrated meanwhile.
        if (schemaVersion(db) < m.version) {
          m.up(db)
          db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, now())
        }
        db.exec('COMMIT')
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK')
        throw err
      }
    } catch (err) {
      throw toStoreError(err, `migration ${m.version} (${m.name})`)
    }
  }
  return { from, to: Math.max(from, latest) }
}

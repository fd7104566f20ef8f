// Opening the store: migrations from empty, idempotent re-open, refusing newer or foreign databases,
// file and directory permissions (incl. -wal/-shm).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import {
  DB_FILE, LATEST_SCHEMA_VERSION, MIGRATIONS, openStore, StoreCorruptError, StoreInputError, StoreSchemaTooNewError,
  StoreClosedError, type Migration
} from '../../src/store/index.js'
import { tempHome, utf8 } from './helpers.js'

const mode = (p: string): number => statSync(p).mode & 0o777

test('migrates an empty home to the latest schema; re-open is idempotent', async (t) => {
  const { home, cleanup } = tempHome('migrate')
  t.after(cleanup)
  const s1 = await openStore({ home })
  assert.equal(s1.schemaVersion, LATEST_SCHEMA_VERSION)
  assert.equal(s1.encrypted, false)
  await s1.putSession('peerA', utf8('state-1'))
  await s1.close()
  await s1.close() // idempotent

  const s2 = await openStore({ home })
  assert.equal(s2.schemaVersion, LATEST_SCHEMA_VERSION)
  assert.deepEqual(await s2.getSession('peerA'), utf8('state-1'))
  await s2.close()

  const db = new DatabaseSync(join(home, DB_FILE))
  const rows = db.prepare('SELECT version FROM schema_version ORDER BY version').all() as Array<{ version: number }>
  assert.deepEqual(rows.map(r => r.version), MIGRATIONS.map(m => m.version), 'each migration recorded exactly once')
  assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal')
  db.close()
})

test('a later migration applies on re-open, in its own transaction; a failing one leaves the old version', async (t) => {
  const { home, cleanup } = tempHome('upgrade')
  t.after(cleanup)
  const s1 = await openStore({ home })
  await s1.close()

  const failing: Migration = { version: LATEST_SCHEMA_VERSION + 1, name: 'broken', up: (db) => { db.exec('CREATE TABLE extra (x INTEGER) STRICT'); db.exec('THIS IS NOT SQL') } }
  await assert.rejects(openStore({ home, migrations: [...MIGRATIONS, failing] }), (err: Error) => err.name === 'StoreError')
  const probe = new DatabaseSync(join(home, DB_FILE))
  assert.equal(probe.prepare("SELECT name FROM sqlite_schema WHERE name = 'extra'").get(), undefined, 'rolled back')
  probe.close()

  const good: Migration = { version: LATEST_SCHEMA_VERSION + 1, name: 'extra table', up: (db) => db.exec('CREATE TABLE extra (x INTEGER) STRICT') }
  const s2 = await openStore({ home, migrations: [...MIGRATIONS, good] })
  assert.equal(s2.schemaVersion, LATEST_SCHEMA_VERSION + 1)
  await s2.close()
  // Now the code without that migration meets a newer database: refused, untouched.
  await assert.rejects(openStore({ home }), (err: unknown) => {
    assert.ok(err instanceof StoreSchemaTooNewError)
    assert.equal(err.code, 'ERR_STORE_SCHEMA_TOO_NEW')
    assert.equal(err.found, LATEST_SCHEMA_VERSION + 1)
    return true
  })
})

test('refuses a file that is not a Parley database', async (t) => {
  const { home, cleanup } = tempHome('foreign')
  t.after(cleanup)
  mkdirSync(home, { recursive: true, mode: 0o700 })
  writeFileSync(join(home, DB_FILE), 'this is not sqlite at all, just some text that is long enough '.repeat(20), { mode: 0o600 })
  await assert.rejects(openStore({ home }), StoreCorruptError)

  const { home: home2, cleanup: c2 } = tempHome('foreign2')
  t.after(c2)
  mkdirSync(home2, { recursive: true, mode: 0o700 })
  const other = new DatabaseSync(join(home2, DB_FILE))
  other.exec('CREATE TABLE someone_elses (x)')
  other.close()
  await assert.rejects(openStore({ home: home2 }), StoreCorruptError)
})

test('home is 0700 and parley.db, -wal, -shm are 0600 (also tightened when they exist loosely)', async (t) => {
  const { home, cleanup } = tempHome('perms')
  t.after(cleanup)
  const s = await openStore({ home })
  await s.putSession('p', utf8('x'))
  const db = join(home, DB_FILE)
  assert.equal(mode(home), 0o700)
  assert.equal(mode(db), 0o600)
  assert.ok(existsSync(db + '-wal'), 'WAL file exists while open')
  assert.equal(mode(db + '-wal'), 0o600)
  assert.equal(mode(db + '-shm'), 0o600)
  await s.close()

  chmodSync(home, 0o755)
  chmodSync(db, 0o644)
  const s2 = await openStore({ home })
  assert.equal(mode(home), 0o700)
  assert.equal(mode(db), 0o600)
  assert.equal(mode(db + '-wal'), 0o600)
  await s2.close()
})

test('input checks and use after close are typed errors', async (t) => {
  const { home, cleanup } = tempHome('misuse')
  t.after(cleanup)
  await assert.rejects(openStore({ home: '' }), StoreInputError)
  await assert.rejects(openStore({ home, scrypt: { N: 2 ** 30, r: 8, p: 1 } }), StoreInputError)
  const ac = new AbortController()
  ac.abort()
  await assert.rejects(openStore({ home, signal: ac.signal }), { name: 'AbortError' })
  const s = await openStore({ home })
  await assert.rejects(s.putSession('', utf8('x')), StoreInputError)
  await assert.rejects(s.putSession('p', new Uint8Array(5 * 1024 * 1024)), StoreInputError)
  await assert.rejects(s.getSession('p', { signal: ac.signal }), { name: 'AbortError' })
  await s.close()
  await assert.rejects(s.getSession('p'), StoreClosedError)
})

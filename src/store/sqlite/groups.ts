/**
 * SQLite tables of group chats (schema migration 4) and their unit-of-work methods (`tx.groups`).
 * Secret columns go through the store's ValueCodec (AES-256-GCM bound to table/column/row when a
 * passphrase is set); the published ciphertexts (`wire`) are end-to-end ciphertext already.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite'
import { StoreCorruptError, StoreInputError, StoreUsageError } from '../errors.js'
import type { ValueCodec } from './crypt.js'
import type { GroupMessageStatus, GroupOutboxEntry, GroupTx, NewGroupMessage, StoredGroup, StoredGroupMessage } from '../groups.js'

/** Caps on what the group tables accept (and therefore ever decode). */
export const GROUP_STORE_LIMITS = {
  idChars: 128,
  nameChars: 256,
  secretBytes: 4 * 1024,
  ownKeyBytes: 8 * 1024,
  causalBytes: 8 * 1024 * 1024,
  addrsChars: 4 * 1024 * 1024,
  entryBytes: 64 * 1024,
  recordBytes: 1024 * 1024,
  bodyBytes: 1024 * 1024,
  wireBytes: 256 * 1024,
  envelopeBytes: 2 * 1024 * 1024
} as const

export function migrateGroups (db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE groups (
      group_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      active INTEGER NOT NULL CHECK (active IN (0, 1)),
      epoch INTEGER NOT NULL,
      secret BLOB NOT NULL,
      own_key BLOB NOT NULL,
      causal BLOB NOT NULL,
      addrs TEXT NOT NULL DEFAULT '{}',
      created_at INTEGER NOT NULL,
      joined_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE group_log (
      group_id TEXT NOT NULL,
      height INTEGER NOT NULL,
      entry BLOB NOT NULL,
      PRIMARY KEY (group_id, height)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE group_sender_keys (
      group_id TEXT NOT NULL,
      member TEXT NOT NULL,
      record BLOB NOT NULL,
      PRIMARY KEY (group_id, member)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE group_messages (
      group_id TEXT NOT NULL,
      id TEXT NOT NULL,
      sender TEXT NOT NULL,
      sender_seq INTEGER NOT NULL,
      lamport INTEGER NOT NULL,
      body BLOB NOT NULL,
      sent_at INTEGER NOT NULL,
      received_at INTEGER,
      status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'delivered')),
      read_at INTEGER,
      wire BLOB,
      PRIMARY KEY (group_id, id),
      UNIQUE (group_id, sender, sender_seq)
    ) STRICT;
    CREATE INDEX group_messages_order ON group_messages (group_id, lamport, sender, sender_seq);
    CREATE TABLE group_outbox (
      id TEXT PRIMARY KEY,
      peer_id TEXT NOT NULL,
      envelope BLOB NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX group_outbox_peer ON group_outbox (peer_id, created_at);
  `)
}

/** Secret columns of the group tables, for re-encoding when the passphrase changes. */
export const GROUP_SECRET_COLUMNS: ReadonlyArray<{ table: string, column: string, key: string, rowKey: (r: Record<string, SQLInputValue>) => string }> = [
  { table: 'groups', column: 'secret', key: 'group_id', rowKey: r => String(r.k) },
  { table: 'groups', column: 'own_key', key: 'group_id', rowKey: r => String(r.k) },
  { table: 'groups', column: 'causal', key: 'group_id', rowKey: r => String(r.k) },
  { table: 'group_sender_keys', column: 'record', key: "group_id || '/' || member", rowKey: r => String(r.k) },
  { table: 'group_messages', column: 'body', key: "group_id || '/' || id", rowKey: r => String(r.k) },
  { table: 'group_outbox', column: 'envelope', key: 'id', rowKey: r => String(r.k) }
]

export interface GroupTxHost {
  codec: () => ValueCodec
  now: () => number
  inWrite: () => boolean
  stmt: (sql: string) => StatementSync
}

type Row = Record<string, SQLInputValue>

function id (what: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > GROUP_STORE_LIMITS.idChars) throw new StoreInputError(`${what} must be a non-empty string of at most ${GROUP_STORE_LIMITS.idChars} characters`)
  return v
}
function blob (what: string, v: unknown, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new StoreInputError(`${what} must be a Uint8Array`)
  if (v.length > max) throw new StoreInputError(`${what} is larger than ${max} bytes`)
  return v
}
function int (what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new StoreInputError(`${what} must be a non-negative integer`)
  return v
}
const bytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new StoreCorruptError('expected a BLOB column')
  return new Uint8Array(v)
}
const STATUSES: readonly GroupMessageStatus[] = ['queued', 'sent', 'delivered']

export class SqliteGroupTx implements GroupTx {
  readonly #h: GroupTxHost
  constructor (host: GroupTxHost) { this.#h = host }

  #get (sql: string, ...p: SQLInputValue[]): Row | undefined { return this.#h.stmt(sql).get(...p) as Row | undefined }
  #all (sql: string, ...p: SQLInputValue[]): Row[] { return this.#h.stmt(sql).all(...p) as Row[] }
  #run (sql: string, ...p: SQLInputValue[]): number { return Number(this.#h.stmt(sql).run(...p).changes) }
  #w (): void { if (!this.#h.inWrite()) throw new StoreUsageError('write methods of a WriteTx can only be used inside store.write()') }
  #seal (table: string, column: string, key: string, v: Uint8Array): Uint8Array { return this.#h.codec().seal(table, column, key, v) }
  #open (table: string, column: string, key: string, v: unknown): Uint8Array { return new Uint8Array(this.#h.codec().open(table, column, key, bytes(v))) }

  #group (r: Row): StoredGroup {
    const gid = String(r.group_id)
    const text = String(r.addrs)
    if (text.length > GROUP_STORE_LIMITS.addrsChars) throw new StoreCorruptError('group addresses too long')
    let addrs: Record<string, string[]>
    try {
      const v = JSON.parse(text) as unknown
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object')
      addrs = v as Record<string, string[]>
    } catch (err) {
      throw new StoreCorruptError('group addresses are malformed', { cause: err })
    }
    return {
      groupId: gid,
      name: String(r.name),
      active: Number(r.active) === 1,
      epoch: Number(r.epoch),
      secret: this.#open('groups', 'secret', gid, r.secret),
      ownKey: this.#open('groups', 'own_key', gid, r.own_key),
      causal: this.#open('groups', 'causal', gid, r.causal),
      addrs,
      createdAt: Number(r.created_at),
      joinedAt: Number(r.joined_at)
    }
  }

  getGroup (groupId: string): StoredGroup | null {
    const r = this.#get('SELECT * FROM groups WHERE group_id = ?', id('group id', groupId))
    return r === undefined ? null : this.#group(r)
  }

  listGroups (): StoredGroup[] {
    return this.#all('SELECT * FROM groups ORDER BY created_at, group_id').map(r => this.#group(r))
  }

  putGroup (g: StoredGroup): void {
    this.#w()
    const gid = id('group id', g.groupId)
    if (typeof g.name !== 'string' || g.name.length > GROUP_STORE_LIMITS.nameChars) throw new StoreInputError('group name too long')
    const addrs = JSON.stringify(g.addrs)
    if (addrs.length > GROUP_STORE_LIMITS.addrsChars) throw new StoreInputError('group addresses too long')
    this.#run(`INSERT INTO groups (group_id, name, active, epoch, secret, own_key, causal, addrs, created_at, joined_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (group_id) DO UPDATE SET name = excluded.name, active = excluded.active, epoch = excluded.epoch,
        secret = excluded.secret, own_key = excluded.own_key, causal = excluded.causal, addrs = excluded.addrs`,
    gid, g.name, g.active ? 1 : 0, int('epoch', g.epoch),
    this.#seal('groups', 'secret', gid, blob('secret', g.secret, GROUP_STORE_LIMITS.secretBytes)),
    this.#seal('groups', 'own_key', gid, blob('own key', g.ownKey, GROUP_STORE_LIMITS.ownKeyBytes)),
    this.#seal('groups', 'causal', gid, blob('causal state', g.causal, GROUP_STORE_LIMITS.causalBytes)),
    addrs, int('createdAt', g.createdAt), int('joinedAt', g.joinedAt))
  }

  setGroupCausal (groupId: string, causal: Uint8Array): void {
    this.#w()
    const gid = id('group id', groupId)
    this.#run('UPDATE groups SET causal = ? WHERE group_id = ?', this.#seal('groups', 'causal', gid, blob('causal state', causal, GROUP_STORE_LIMITS.causalBytes)), gid)
  }

  listLog (groupId: string): Uint8Array[] {
    return this.#all('SELECT entry FROM group_log WHERE group_id = ? ORDER BY height', id('group id', groupId)).map(r => bytes(r.entry))
  }

  putLogEntry (groupId: string, height: number, entry: Uint8Array): void {
    this.#w()
    const gid = id('group id', groupId)
    int('height', height)
    blob('entry', entry, GROUP_STORE_LIMITS.entryBytes)
    this.#run('DELETE FROM group_log WHERE group_id = ? AND height >= ?', gid, height)
    this.#run('INSERT INTO group_log (group_id, height, entry) VALUES (?, ?, ?)', gid, height, entry)
  }

  listSenderKeys (groupId: string): Array<{ member: string, record: Uint8Array }> {
    const gid = id('group id', groupId)
    return this.#all('SELECT member, record FROM group_sender_keys WHERE group_id = ? ORDER BY member', gid)
      .map(r => ({ member: String(r.member), record: this.#open('group_sender_keys', 'record', `${gid}/${String(r.member)}`, r.record) }))
  }

  putSenderKey (groupId: string, member: string, record: Uint8Array): void {
    this.#w()
    const gid = id('group id', groupId)
    const m = id('member', member)
    const sealed = this.#seal('group_sender_keys', 'record', `${gid}/${m}`, blob('sender key record', record, GROUP_STORE_LIMITS.recordBytes))
    this.#run(`INSERT INTO group_sender_keys (group_id, member, record) VALUES (?, ?, ?)
      ON CONFLICT (group_id, member) DO UPDATE SET record = excluded.record`, gid, m, sealed)
  }

  deleteSenderKey (groupId: string, member: string): void {
    this.#w()
    this.#run('DELETE FROM group_sender_keys WHERE group_id = ? AND member = ?', id('group id', groupId), id('member', member))
  }

  #message (r: Row): StoredGroupMessage {
    const gid = String(r.group_id)
    const mid = String(r.id)
    const status = String(r.status) as GroupMessageStatus
    if (!STATUSES.includes(status)) throw new StoreCorruptError('unknown group message status')
    return {
      id: mid,
      groupId: gid,
      sender: String(r.sender),
      senderSeq: Number(r.sender_seq),
      lamport: Number(r.lamport),
      body: this.#open('group_messages', 'body', `${gid}/${mid}`, r.body),
      sentAt: Number(r.sent_at),
      receivedAt: r.received_at == null ? null : Number(r.received_at),
      status,
      readAt: r.read_at == null ? null : Number(r.read_at),
      wire: r.wire == null ? new Uint8Array(0) : bytes(r.wire)
    }
  }

  insertGroupMessage (m: NewGroupMessage): 'inserted' | 'duplicate' {
    this.#w()
    const gid = id('group id', m.groupId)
    const mid = id('message id', m.id)
    if (!STATUSES.includes(m.status)) throw new StoreInputError('unknown group message status')
    const body = this.#seal('group_messages', 'body', `${gid}/${mid}`, blob('body', m.body, GROUP_STORE_LIMITS.bodyBytes))
    const n = this.#run(`INSERT INTO group_messages (group_id, id, sender, sender_seq, lamport, body, sent_at, received_at, status, read_at, wire)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING`,
    gid, mid, id('sender', m.sender), int('seq', m.senderSeq), int('lamport', m.lamport), body, int('sentAt', m.sentAt),
    m.receivedAt == null ? null : int('receivedAt', m.receivedAt), m.status, blob('wire', m.wire, GROUP_STORE_LIMITS.wireBytes))
    return n === 1 ? 'inserted' : 'duplicate'
  }

  getGroupMessage (groupId: string, mid: string): StoredGroupMessage | null {
    const r = this.#get('SELECT * FROM group_messages WHERE group_id = ? AND id = ?', id('group id', groupId), id('message id', mid))
    return r === undefined ? null : this.#message(r)
  }

  listGroupMessages (groupId: string): StoredGroupMessage[] {
    return this.#all('SELECT * FROM group_messages WHERE group_id = ? ORDER BY lamport, sender, sender_seq', id('group id', groupId)).map(r => this.#message(r))
  }

  groupPosition (groupId: string, lamport: number, sender: string, senderSeq: number): number {
    return 1 + Number(this.#get('SELECT COUNT(*) AS n FROM group_messages WHERE group_id = ? AND (lamport, sender, sender_seq) < (?, ?, ?)',
      id('group id', groupId), int('lamport', lamport), id('sender', sender), int('seq', senderSeq))?.n ?? 0)
  }

  queuedGroupMessages (groupId: string): StoredGroupMessage[] {
    return this.#all("SELECT * FROM group_messages WHERE group_id = ? AND status = 'queued' ORDER BY lamport", id('group id', groupId)).map(r => this.#message(r))
  }

  setGroupMessageStatus (groupId: string, mid: string, status: GroupMessageStatus): void {
    this.#w()
    if (!STATUSES.includes(status)) throw new StoreInputError('unknown group message status')
    this.#run('UPDATE group_messages SET status = ? WHERE group_id = ? AND id = ?', status, id('group id', groupId), id('message id', mid))
  }

  groupWires (groupId: string, sender: string, from: number, to: number, limit: number): Array<{ seq: number, wire: Uint8Array }> {
    return this.#all(`SELECT sender_seq, wire FROM group_messages WHERE group_id = ? AND sender = ? AND sender_seq BETWEEN ? AND ?
      AND wire IS NOT NULL ORDER BY sender_seq LIMIT ?`, id('group id', groupId), id('sender', sender), int('from', from), int('to', to), int('limit', limit))
      .map(r => ({ seq: Number(r.sender_seq), wire: bytes(r.wire) }))
  }

  pruneGroupWires (groupId: string, keep: number): number {
    this.#w()
    const gid = id('group id', groupId)
    return this.#run(`UPDATE group_messages SET wire = NULL WHERE group_id = ? AND wire IS NOT NULL AND rowid NOT IN
      (SELECT rowid FROM group_messages WHERE group_id = ? ORDER BY lamport DESC LIMIT ?)`, gid, gid, int('keep', keep))
  }

  markGroupRead (groupId: string, at: number): number {
    this.#w()
    return this.#run("UPDATE group_messages SET read_at = ? WHERE group_id = ? AND read_at IS NULL AND status = 'delivered'", int('at', at), id('group id', groupId))
  }

  groupUnread (groupId: string): number {
    return Number(this.#get("SELECT COUNT(*) AS n FROM group_messages WHERE group_id = ? AND read_at IS NULL AND status = 'delivered'", id('group id', groupId))?.n ?? 0)
  }

  enqueueGroupOutbox (e: { id: string, peerId: string, envelope: Uint8Array }): void {
    this.#w()
    const eid = id('entry id', e.id)
    const now = this.#h.now()
    this.#run('INSERT INTO group_outbox (id, peer_id, envelope, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, 0, ?, ?)',
      eid, id('peer id', e.peerId), this.#seal('group_outbox', 'envelope', eid, blob('envelope', e.envelope, GROUP_STORE_LIMITS.envelopeBytes)), now, now)
  }

  groupOutboxFor (peerId: string, limit: number): GroupOutboxEntry[] {
    return this.#all('SELECT * FROM group_outbox WHERE peer_id = ? ORDER BY created_at, rowid LIMIT ?', id('peer id', peerId), int('limit', limit))
      .map(r => ({ id: String(r.id), peerId: String(r.peer_id), envelope: this.#open('group_outbox', 'envelope', String(r.id), r.envelope), attempts: Number(r.attempts), nextAttemptAt: Number(r.next_attempt_at) }))
  }

  setGroupOutboxEnvelope (eid: string, envelope: Uint8Array): void {
    this.#w()
    const k = id('entry id', eid)
    this.#run('UPDATE group_outbox SET envelope = ? WHERE id = ?', this.#seal('group_outbox', 'envelope', k, blob('envelope', envelope, GROUP_STORE_LIMITS.envelopeBytes)), k)
  }

  dueGroupOutboxPeers (now: number): string[] {
    return this.#all('SELECT DISTINCT peer_id FROM group_outbox WHERE next_attempt_at <= ?', int('now', now)).map(r => String(r.peer_id))
  }

  recordGroupOutboxAttempt (eid: string, nextAttemptAt: number): void {
    this.#w()
    this.#run('UPDATE group_outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?', int('nextAttemptAt', nextAttemptAt), id('entry id', eid))
  }

  removeGroupOutbox (eid: string): void {
    this.#w()
    this.#run('DELETE FROM group_outbox WHERE id = ?', id('entry id', eid))
  }
}

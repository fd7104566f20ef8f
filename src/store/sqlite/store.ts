/**
 * The SQLite implementation of ParleyStore on node:sqlite (DatabaseSync, no native addon).
 *
 * One connection per store. Every write goes through a synchronous unit of work (BEGIN IMMEDIATE ...
 * COMMIT), so a ratchet state and the message it produced commit together or not at all. Secret
 * columns pass through a ValueCodec (plain, or AES-256-GCM with the data key; see crypt.ts).
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite'
import {
  ContactNameTakenError, StoreClosedError, StoreCorruptError, StoreInputError, StoreNotEncryptedError,
  StoreUsageError, toStoreError
} from '../errors.js'
import { WrongPassphraseError } from '../../crypto/errors.js'
import type { ScryptParams } from '../../crypto/primitives/index.js'
import {
  AeadCodec, newDataKey, plainCodec, unwrapDataKey, wrapDataKey, type KeyWrapRecord, type ValueCodec
} from './crypt.js'
import { Checkpointer } from './checkpointer.js'
import { GROUP_SECRET_COLUMNS, SqliteGroupTx } from './groups.js'
import type { GroupTx } from '../groups.js'
import {
  DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, MAX_PREKEY_ID, MESSAGE_STATUSES, PREKEY_KINDS,
  type CallOptions, type Contact, type ContactPatch, type Durability, type WriteOptions, type IncomingReceipt, type InsertResult, type ListMessagesOptions,
  type MessageOrigin, type MessageStatus, type NewMessage, type NewOutboxEntry, type NewReceiptOutboxEntry, type OutboxEntry, type ParleyStore,
  type PreKeyKind, type ReadTx, type Receipt, type ReceiptOutboxEntry, type StoredIdentity, type StoredMessage, type StoredPreKey,
  type WriteTx, type ConversationState
} from '../types.js'

/** Size caps on what the store accepts (and therefore on what it ever decodes). */
export const STORE_LIMITS = {
  /** A conversation's mailbox route (issue 4): a tag and a few relay addresses. */
  conversationRouteBytes: 8 * 1024,
  identityBytes: 64 * 1024,
  preKeyBytes: 64 * 1024,
  /** Above the crypto core's MAX_SESSION_RECORD_BYTES (~1.5 MB: 11 states with 2000 skipped keys each). */
  sessionBytes: 4 * 1024 * 1024,
  messageBodyBytes: 1024 * 1024,
  envelopeBytes: 2 * 1024 * 1024,
  idChars: 256,
  nameChars: 256,
  addresses: 64,
  addressChars: 1024,
  errorChars: 1024
} as const

const STATUS_RANK: Record<MessageStatus, number> = { queued: 0, failed: 0, sent: 1, stored: 1, delivered: 2, read: 3 }

// ----------------------------------------------------------------------------------------------------
// Input checks (StoreInputError before anything touches the database)

function checkId (what: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > STORE_LIMITS.idChars) {
    throw new StoreInputError(`${what} must be a non-empty string of at most ${STORE_LIMITS.idChars} characters`)
  }
  return v
}

function checkBytes (what: string, v: unknown, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new StoreInputError(`${what} must be a Uint8Array`)
  if (v.length > max) throw new StoreInputError(`${what} is larger than ${max} bytes`)
  return v
}

function checkTime (what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new StoreInputError(`${what} must be a non-negative integer (ms)`)
  return v
}

function checkOptTime (what: string, v: unknown): number | null {
  return v == null ? null : checkTime(what, v)
}

function checkName (what: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim().length === 0 || v.length > STORE_LIMITS.nameChars) {
    throw new StoreInputError(`${what} must be a non-blank string of at most ${STORE_LIMITS.nameChars} characters`)
  }
  return v
}

function checkKind (v: unknown): PreKeyKind {
  if (!PREKEY_KINDS.includes(v as PreKeyKind)) throw new StoreInputError('unknown prekey kind')
  return v as PreKeyKind
}

function checkPreKeyId (v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_PREKEY_ID) {
    throw new StoreInputError(`prekey id must be an integer in 1..${MAX_PREKEY_ID}`)
  }
  return v
}

function checkStatus (v: unknown): MessageStatus {
  if (!MESSAGE_STATUSES.includes(v as MessageStatus)) throw new StoreInputError('unknown message status')
  return v as MessageStatus
}

function checkAddresses (v: unknown, what = 'addresses'): string[] {
  if (!Array.isArray(v) || v.length > STORE_LIMITS.addresses) throw new StoreInputError(`${what} must be an array of at most ${STORE_LIMITS.addresses}`)
  for (const a of v) {
    if (typeof a !== 'string' || a.length > STORE_LIMITS.addressChars) throw new StoreInputError(`an entry of ${what} is not a string or is too long`)
  }
  return [...v] as string[]
}

/** Decodes a stored JSON address list (contacts.addresses / contacts.relays) under the writer's cap. */
function parseAddressList (raw: unknown, what: string): string[] {
  try {
    const text = String(raw)
    // Decoder cap: never parse more than the writer could have produced.
    if (text.length > STORE_LIMITS.addresses * (STORE_LIMITS.addressChars + 3) + 2) throw new StoreCorruptError(`contact ${what} too long`)
    return checkAddresses(JSON.parse(text), what)
  } catch (err) {
    throw new StoreCorruptError(`contact ${what} are malformed`, { cause: err })
  }
}

function checkLimit (v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v < 1) throw new StoreInputError('limit must be a positive integer')
  return Math.min(v, MAX_LIST_LIMIT)
}

const bytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new StoreCorruptError('expected a BLOB column')
  return new Uint8Array(v)
}

function isThenable (v: unknown): v is PromiseLike<unknown> {
  return v != null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'
}

type Row = Record<string, SQLInputValue>

// ----------------------------------------------------------------------------------------------------

interface TxHost {
  db: DatabaseSync
  codec: () => ValueCodec
  now: () => number
  inWrite: () => boolean
  stmt: (sql: string) => StatementSync
}

/** All reads and writes, synchronous. Writes refuse to run outside a write unit. */
class SqliteTx implements WriteTx {
  readonly #h: TxHost
  constructor (host: TxHost) { this.#h = host }

  // issue 5: the group tables (src/store/sqlite/groups.ts), in the same unit of work
  #groups: SqliteGroupTx | undefined
  get groups (): GroupTx {
    this.#groups ??= new SqliteGroupTx(this.#h)
    return this.#groups
  }

  #get (sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#h.stmt(sql).get(...params) as Row | undefined
  }

  #all (sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#h.stmt(sql).all(...params) as Row[]
  }

  #run (sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#h.stmt(sql).run(...params).changes)
  }

  #w (): void {
    if (!this.#h.inWrite()) throw new StoreUsageError('write methods of a WriteTx can only be used inside store.write()')
  }

  #seal (table: string, column: string, key: string, v: Uint8Array): Uint8Array {
    return this.#h.codec().seal(table, column, key, v)
  }

  #open (table: string, column: string, key: string, v: unknown): Uint8Array {
    // perf: node:sqlite returns a fresh Uint8Array per BLOB read and AeadCodec.open a fresh plaintext,
    // so one copy at most (plain codec: the caller may keep the row's own buffer).
    if (!(v instanceof Uint8Array)) throw new StoreCorruptError('expected a BLOB column')
    const out = this.#h.codec().open(table, column, key, v)
    return out === v && Buffer.isBuffer(v) ? new Uint8Array(v) : out
  }

  // -- identity ---------------------------------------------------------------------------------------

  getIdentity (): StoredIdentity | null {
    const r = this.#get('SELECT sealed, profile_name FROM identity WHERE id = 1')
    if (r === undefined) return null
    return { sealed: this.#open('identity', 'sealed', 'self', r.sealed), profileName: String(r.profile_name) }
  }

  putIdentity (identity: StoredIdentity): void {
    this.#w()
    const sealed = checkBytes('identity', identity.sealed, STORE_LIMITS.identityBytes)
    const name = checkName('profile name', identity.profileName)
    this.#run(`INSERT INTO identity (id, sealed, profile_name, updated_at) VALUES (1, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, profile_name = excluded.profile_name, updated_at = excluded.updated_at`,
    this.#seal('identity', 'sealed', 'self', sealed), name, this.#h.now())
  }

  setProfileName (name: string): void {
    this.#w()
    checkName('profile name', name)
    if (this.#run('UPDATE identity SET profile_name = ?, updated_at = ? WHERE id = 1', name, this.#h.now()) === 0) {
      throw new StoreInputError('no identity stored yet')
    }
  }

  // -- prekeys ----------------------------------------------------------------------------------------

  getPreKey (kind: PreKeyKind, id: number): StoredPreKey | null {
    checkKind(kind); checkPreKeyId(id)
    const r = this.#get('SELECT record, created_at FROM prekeys WHERE kind = ? AND id = ?', kind, id)
    if (r === undefined) return null
    return { kind, id, record: this.#open('prekeys', 'record', `${kind}/${id}`, r.record), createdAt: Number(r.created_at) }
  }

  putPreKey (kind: PreKeyKind, id: number, record: Uint8Array): void {
    this.#w()
    checkKind(kind); checkPreKeyId(id); checkBytes('prekey record', record, STORE_LIMITS.preKeyBytes)
    this.#run(`INSERT INTO prekeys (kind, id, record, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (kind, id) DO UPDATE SET record = excluded.record`,
    kind, id, this.#seal('prekeys', 'record', `${kind}/${id}`, record), this.#h.now())
  }

  removePreKey (kind: PreKeyKind, id: number): boolean {
    this.#w()
    checkKind(kind); checkPreKeyId(id)
    return this.#run('DELETE FROM prekeys WHERE kind = ? AND id = ?', kind, id) > 0
  }

  countPreKeys (kind: PreKeyKind): number {
    checkKind(kind)
    return Number(this.#get('SELECT COUNT(*) AS n FROM prekeys WHERE kind = ?', kind)?.n ?? 0)
  }

  listPreKeyIds (kind: PreKeyKind): number[] {
    checkKind(kind)
    return this.#all('SELECT id FROM prekeys WHERE kind = ? ORDER BY id', kind).map(r => Number(r.id))
  }

  nextPreKeyId (kind: PreKeyKind): number {
    this.#w()
    checkKind(kind)
    let last = Number(this.#get('SELECT last_id FROM prekey_counters WHERE kind = ?', kind)?.last_id ?? 0)
    const live = this.countPreKeys(kind)
    if (live >= MAX_PREKEY_ID) throw new StoreInputError(`every ${kind} prekey id is in use`)
    // At most `live` ids can be taken, so live + 1 candidates always contain a free one.
    for (let i = 0; i <= live; i++) {
      const candidate = (last % MAX_PREKEY_ID) + 1
      last = candidate
      if (this.#get('SELECT 1 AS x FROM prekeys WHERE kind = ? AND id = ?', kind, candidate) === undefined) {
        this.#run(`INSERT INTO prekey_counters (kind, last_id) VALUES (?, ?)
          ON CONFLICT (kind) DO UPDATE SET last_id = excluded.last_id`, kind, candidate)
        return candidate
      }
    }
    throw new StoreCorruptError('prekey id allocation found no free id')
  }

  // -- sessions ---------------------------------------------------------------------------------------

  getSession (peerId: string): Uint8Array | null {
    checkId('peerId', peerId)
    const r = this.#get('SELECT record FROM sessions WHERE peer_id = ?', peerId)
    return r === undefined ? null : this.#open('sessions', 'record', peerId, r.record)
  }

  putSession (peerId: string, record: Uint8Array): void {
    this.#w()
    checkId('peerId', peerId); checkBytes('session record', record, STORE_LIMITS.sessionBytes)
    this.#run(`INSERT INTO sessions (peer_id, record, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (peer_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at`,
    peerId, this.#seal('sessions', 'record', peerId, record), this.#h.now())
  }

  deleteSession (peerId: string): boolean {
    this.#w()
    checkId('peerId', peerId)
    return this.#run('DELETE FROM sessions WHERE peer_id = ?', peerId) > 0
  }

  listSessionPeers (): string[] {
    return this.#all('SELECT peer_id FROM sessions ORDER BY peer_id').map(r => String(r.peer_id))
  }

  // -- contacts ---------------------------------------------------------------------------------------

  #contact (r: Row): Contact {
    const addresses = parseAddressList(r.addresses, 'addresses')
    const relays = parseAddressList(r.relays ?? '[]', 'relays')
    return {
      peerId: String(r.peer_id),
      name: String(r.name),
      identityKey: bytes(r.identity_key),
      verified: r.verified === 1,
      keyChange: r.pending_key == null ? null : { newKey: bytes(r.pending_key), seenAt: Number(r.pending_seen_at ?? 0) },
      addresses,
      relays,
      lastSeen: r.last_seen == null ? null : Number(r.last_seen),
      createdAt: Number(r.created_at)
    }
  }

  getContact (peerId: string): Contact | null {
    checkId('peerId', peerId)
    const r = this.#get('SELECT * FROM contacts WHERE peer_id = ?', peerId)
    return r === undefined ? null : this.#contact(r)
  }

  getContactByName (name: string): Contact | null {
    if (typeof name !== 'string' || name.length > STORE_LIMITS.nameChars) return null
    const r = this.#get('SELECT * FROM contacts WHERE name = ? COLLATE NOCASE', name)
    return r === undefined ? null : this.#contact(r)
  }

  listContacts (): Contact[] {
    return this.#all('SELECT * FROM contacts ORDER BY name COLLATE NOCASE, peer_id').map(r => this.#contact(r))
  }

  suggestContactName (base: string): string {
    checkName('name', base)
    const stem = base.trim().slice(0, STORE_LIMITS.nameChars - 8)
    const taken = (n: string): boolean => this.#get('SELECT 1 AS x FROM contacts WHERE name = ? COLLATE NOCASE', n) !== undefined
    if (!taken(stem)) return stem
    for (let i = 2; i < 10_000; i++) {
      if (!taken(`${stem}-${i}`)) return `${stem}-${i}`
    }
    throw new StoreInputError('no free contact name')
  }

  putContact (contact: Contact): void {
    this.#w()
    const peerId = checkId('peerId', contact.peerId)
    const name = checkName('contact name', contact.name)
    const identityKey = checkBytes('identity key', contact.identityKey, 4096)
    const addresses = checkAddresses(contact.addresses)
    const relays = checkAddresses(contact.relays ?? [], 'relays')
    const kc = contact.keyChange
    if (kc != null) { checkBytes('pending identity key', kc.newKey, 4096); checkTime('keyChange.seenAt', kc.seenAt) }
    const lastSeen = checkOptTime('lastSeen', contact.lastSeen)
    const createdAt = checkTime('createdAt', contact.createdAt)
    // Names are unique ignoring ASCII case (index contacts_name, COLLATE NOCASE).
    if (this.#get('SELECT 1 AS x FROM contacts WHERE name = ? COLLATE NOCASE AND peer_id <> ?', name, peerId) !== undefined) {
      throw new ContactNameTakenError(name)
    }
    this.#run(`INSERT INTO contacts (peer_id, name, identity_key, verified, pending_key, pending_seen_at, addresses, relays, last_seen, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (peer_id) DO UPDATE SET name = excluded.name, identity_key = excluded.identity_key,
        verified = excluded.verified, pending_key = excluded.pending_key, pending_seen_at = excluded.pending_seen_at,
        addresses = excluded.addresses, relays = excluded.relays, last_seen = excluded.last_seen`,
    peerId, name, identityKey, contact.verified ? 1 : 0, kc?.newKey ?? null, kc?.seenAt ?? null,
    JSON.stringify(addresses), JSON.stringify(relays), lastSeen, createdAt)
  }

  updateContact (peerId: string, patch: ContactPatch): Contact | null {
    this.#w()
    // perf (issue 3): every received envelope touches lastSeen; one UPDATE instead of read + name
    // check + full upsert (which also rewrites the name index). Same result as the general path.
    const keys = Object.keys(patch)
    if (keys.length === 1 && keys[0] === 'lastSeen' && patch.lastSeen !== undefined) {
      checkId('peerId', peerId)
      const lastSeen = checkOptTime('lastSeen', patch.lastSeen)
      if (this.#run('UPDATE contacts SET last_seen = ? WHERE peer_id = ?', lastSeen, peerId) === 0) return null
      return this.getContact(peerId)
    }
    const cur = this.getContact(peerId)
    if (cur === null) return null
    const next: Contact = { ...cur, ...patch, peerId: cur.peerId, createdAt: cur.createdAt }
    this.putContact(next)
    return this.getContact(peerId)
  }

  touchContact (peerId: string, lastSeen: number): boolean {
    this.#w()
    checkId('peerId', peerId)
    return this.#run('UPDATE contacts SET last_seen = ? WHERE peer_id = ?', checkTime('lastSeen', lastSeen), peerId) > 0
  }

  deleteContact (peerId: string): boolean {
    this.#w()
    checkId('peerId', peerId)
    return this.#run('DELETE FROM contacts WHERE peer_id = ?', peerId) > 0
  }

  // -- messages ---------------------------------------------------------------------------------------

  #message (r: Row): StoredMessage {
    const id = String(r.id)
    return {
      id,
      peerId: String(r.peer_id),
      direction: r.direction === 'in' ? 'in' : 'out',
      body: this.#open('messages', 'body', id, r.body),
      sentAt: Number(r.sent_at),
      receivedAt: r.received_at == null ? null : Number(r.received_at),
      status: checkStatus(r.status),
      seq: Number(r.seq),
      readAt: r.read_at == null ? null : Number(r.read_at)
    }
  }

  insertMessage (m: NewMessage): InsertResult {
    this.#w()
    const id = checkId('message id', m.id)
    const peerId = checkId('peerId', m.peerId)
    if (m.direction !== 'in' && m.direction !== 'out') throw new StoreInputError('direction must be in or out')
    const body = checkBytes('message body', m.body, STORE_LIMITS.messageBodyBytes)
    const sentAt = checkTime('sentAt', m.sentAt)
    const receivedAt = checkOptTime('receivedAt', m.receivedAt)
    const status = checkStatus(m.status)
    const seq = Number(this.#get('SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM messages WHERE peer_id = ?', peerId)?.s ?? 1)
    // Idempotent: a re-delivered message id changes nothing (the caller drops it). perf (issue 3): the
    // insert itself detects the duplicate id (no look-up first); only a duplicate reads the stored row.
    const inserted = this.#run(`INSERT INTO messages (id, peer_id, seq, direction, body, sent_at, received_at, status, read_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (id) DO NOTHING`,
    id, peerId, seq, m.direction, this.#seal('messages', 'body', id, body), sentAt, receivedAt, status)
    if (inserted === 0) {
      const existing = this.#get('SELECT peer_id, seq FROM messages WHERE id = ?', id)
      if (existing === undefined) throw new StoreCorruptError('message insert ignored without a stored row')
      return { result: 'duplicate', seq: Number(existing.seq), peerId: String(existing.peer_id) }
    }
    return { result: 'inserted', seq }
  }

  getMessage (id: string): StoredMessage | null {
    checkId('message id', id)
    const r = this.#get('SELECT * FROM messages WHERE id = ?', id)
    return r === undefined ? null : this.#message(r)
  }

  messageOrigin (id: string): MessageOrigin | null {
    checkId('message id', id)
    const r = this.#get('SELECT peer_id, direction FROM messages WHERE id = ?', id)
    return r === undefined ? null : { peerId: String(r.peer_id), direction: r.direction === 'in' ? 'in' : 'out' }
  }

  listMessages (peerId: string, opts: ListMessagesOptions = {}): StoredMessage[] {
    checkId('peerId', peerId)
    const limit = checkLimit(opts.limit, DEFAULT_LIST_LIMIT)
    if (opts.afterSeq !== undefined && opts.beforeSeq !== undefined) {
      const rows = this.#all('SELECT * FROM messages WHERE peer_id = ? AND seq > ? AND seq < ? ORDER BY seq ASC LIMIT ?',
        peerId, opts.afterSeq, opts.beforeSeq, limit)
      return rows.map(r => this.#message(r))
    }
    if (opts.afterSeq !== undefined) {
      return this.#all('SELECT * FROM messages WHERE peer_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?', peerId, opts.afterSeq, limit)
        .map(r => this.#message(r))
    }
    const rows = opts.beforeSeq !== undefined
      ? this.#all('SELECT * FROM messages WHERE peer_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?', peerId, opts.beforeSeq, limit)
      : this.#all('SELECT * FROM messages WHERE peer_id = ? ORDER BY seq DESC LIMIT ?', peerId, limit)
    return rows.reverse().map(r => this.#message(r))
  }

  setStatus (id: string, status: MessageStatus): boolean {
    this.#w()
    checkId('message id', id); checkStatus(status)
    return this.#run('UPDATE messages SET status = ? WHERE id = ?', status, id) > 0
  }

  promoteStatus (id: string, status: MessageStatus): boolean {
    this.#w()
    checkId('message id', id); checkStatus(status)
    return this.#run("UPDATE messages SET status = ? WHERE id = ? AND status IN ('queued', 'failed')", status, id) > 0
  }

  markRead (peerId: string, opts: { upToSeq?: number, at?: number } = {}): number {
    this.#w()
    checkId('peerId', peerId)
    const at = opts.at !== undefined ? checkTime('at', opts.at) : this.#h.now()
    const upTo = opts.upToSeq ?? Number.MAX_SAFE_INTEGER
    return this.#run(`UPDATE messages SET read_at = ?
      WHERE peer_id = ? AND direction = 'in' AND read_at IS NULL AND seq <= ?`, at, peerId, upTo)
  }

  unreadCount (peerId: string): number {
    checkId('peerId', peerId)
    return Number(this.#get("SELECT COUNT(*) AS n FROM messages WHERE peer_id = ? AND direction = 'in' AND read_at IS NULL", peerId)?.n ?? 0)
  }

  unreadCounts (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const r of this.#all("SELECT peer_id, COUNT(*) AS n FROM messages WHERE direction = 'in' AND read_at IS NULL GROUP BY peer_id")) {
      out[String(r.peer_id)] = Number(r.n)
    }
    return out
  }

  deleteMessage (id: string): boolean {
    this.#w()
    checkId('message id', id)
    // Outbox entry and receipts go with it (ON DELETE CASCADE).
    return this.#run('DELETE FROM messages WHERE id = ?', id) > 0
  }

  // -- outbox -----------------------------------------------------------------------------------------

  #outbox (r: Row): OutboxEntry {
    const messageId = String(r.message_id)
    return {
      messageId,
      peerId: String(r.peer_id),
      envelope: this.#open('outbox', 'envelope', messageId, r.envelope),
      attempts: Number(r.attempts),
      nextAttemptAt: Number(r.next_attempt_at),
      lastError: r.last_error == null ? null : String(r.last_error),
      createdAt: Number(r.created_at)
    }
  }

  enqueueOutbox (e: NewOutboxEntry): void {
    this.#w()
    const messageId = checkId('message id', e.messageId)
    const peerId = checkId('peerId', e.peerId)
    const envelope = checkBytes('envelope', e.envelope, STORE_LIMITS.envelopeBytes)
    const now = this.#h.now()
    const next = e.nextAttemptAt !== undefined ? checkTime('nextAttemptAt', e.nextAttemptAt) : now
    const msg = this.#get('SELECT peer_id FROM messages WHERE id = ?', messageId)
    if (msg === undefined) throw new StoreInputError('outbox entry for an unknown message')
    if (String(msg.peer_id) !== peerId) throw new StoreInputError('outbox peer differs from the message\'s conversation')
    this.#run(`INSERT INTO outbox (message_id, peer_id, envelope, attempts, next_attempt_at, last_error, created_at)
      VALUES (?, ?, ?, 0, ?, NULL, ?)
      ON CONFLICT (message_id) DO UPDATE SET envelope = excluded.envelope, attempts = 0,
        next_attempt_at = excluded.next_attempt_at, last_error = NULL`,
    messageId, peerId, this.#seal('outbox', 'envelope', messageId, envelope), next, now)
  }

  getOutbox (messageId: string): OutboxEntry | null {
    checkId('message id', messageId)
    const r = this.#get('SELECT * FROM outbox WHERE message_id = ?', messageId)
    return r === undefined ? null : this.#outbox(r)
  }

  dueOutbox (now: number, opts: { limit?: number } = {}): OutboxEntry[] {
    checkTime('now', now)
    return this.#all('SELECT * FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at, rowid LIMIT ?',
      now, checkLimit(opts.limit, 100)).map(r => this.#outbox(r))
  }

  outboxFor (peerId: string, opts: { limit?: number } = {}): OutboxEntry[] {
    checkId('peerId', peerId)
    return this.#all('SELECT * FROM outbox WHERE peer_id = ? ORDER BY created_at, rowid LIMIT ?',
      peerId, checkLimit(opts.limit, 100)).map(r => this.#outbox(r))
  }

  countOutbox (): number {
    return Number(this.#get('SELECT COUNT(*) AS n FROM outbox')?.n ?? 0)
  }

  recordOutboxAttempt (messageId: string, update: { error: string | null, nextAttemptAt: number }): boolean {
    this.#w()
    checkId('message id', messageId)
    const next = checkTime('nextAttemptAt', update.nextAttemptAt)
    const error = update.error == null ? null : String(update.error).slice(0, STORE_LIMITS.errorChars)
    return this.#run('UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE message_id = ?',
      error, next, messageId) > 0
  }

  removeOutbox (messageId: string): boolean {
    this.#w()
    checkId('message id', messageId)
    return this.#run('DELETE FROM outbox WHERE message_id = ?', messageId) > 0
  }

  // -- receipt outbox ---------------------------------------------------------------------------------

  #receiptEntry (r: Row): ReceiptOutboxEntry {
    const id = String(r.id)
    return {
      id,
      peerId: String(r.peer_id),
      envelope: this.#open('receipt_outbox', 'envelope', id, r.envelope),
      createdAt: Number(r.created_at)
    }
  }

  enqueueReceipt (e: NewReceiptOutboxEntry): void {
    this.#w()
    const id = checkId('receipt id', e.id)
    const peerId = checkId('peerId', e.peerId)
    const envelope = checkBytes('receipt envelope', e.envelope, STORE_LIMITS.envelopeBytes)
    this.#run(`INSERT INTO receipt_outbox (id, peer_id, envelope, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET peer_id = excluded.peer_id, envelope = excluded.envelope`,
    id, peerId, this.#seal('receipt_outbox', 'envelope', id, envelope), this.#h.now())
  }

  receiptsFor (peerId: string, opts: { limit?: number } = {}): ReceiptOutboxEntry[] {
    checkId('peerId', peerId)
    return this.#all('SELECT * FROM receipt_outbox WHERE peer_id = ? ORDER BY created_at, rowid LIMIT ?',
      peerId, checkLimit(opts.limit, 100)).map(r => this.#receiptEntry(r))
  }

  receiptPeers (): string[] {
    return this.#all('SELECT DISTINCT peer_id FROM receipt_outbox ORDER BY peer_id').map(r => String(r.peer_id))
  }

  removeReceipt (id: string): boolean {
    this.#w()
    checkId('receipt id', id)
    return this.#run('DELETE FROM receipt_outbox WHERE id = ?', id) > 0
  }

  trimReceipts (peerId: string, keep: number): number {
    this.#w()
    checkId('peerId', peerId)
    if (!Number.isSafeInteger(keep) || keep < 0) throw new StoreInputError('keep must be a non-negative integer')
    // the common case (called after every sealed receipt): under the cap, an index count and no DELETE
    if (Number(this.#get('SELECT COUNT(*) AS n FROM receipt_outbox WHERE peer_id = ?', peerId)?.n ?? 0) <= keep) return 0
    return this.#run(`DELETE FROM receipt_outbox WHERE peer_id = ? AND rowid NOT IN
      (SELECT rowid FROM receipt_outbox WHERE peer_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?)`, peerId, peerId, keep)
  }

  countReceiptOutbox (): number {
    return Number(this.#get('SELECT COUNT(*) AS n FROM receipt_outbox')?.n ?? 0)
  }

  // -- conversations (issue 4) ------------------------------------------------------------------------

  getConversation (peerId: string): ConversationState | null {
    checkId('peerId', peerId)
    const r = this.#get('SELECT send_seq, recv_seq, skips, route FROM conversations WHERE peer_id = ?', peerId)
    if (r === undefined) return null
    return { peerId, sendSeq: Number(r.send_seq), recvSeq: Number(r.recv_seq), skips: Number(r.skips), route: this.#open('conversations', 'route', peerId, r.route) }
  }

  bumpSendSeq (peerId: string, seq: number): boolean {
    this.#w()
    checkId('peerId', peerId)
    if (!Number.isSafeInteger(seq) || seq < 0) throw new StoreInputError('sendSeq must be a non-negative integer')
    return this.#run('UPDATE conversations SET send_seq = ?, updated_at = ? WHERE peer_id = ? AND send_seq < ?', seq, this.#h.now(), peerId, seq) > 0
  }

  putConversation (state: ConversationState): void {
    this.#w()
    const peerId = checkId('peerId', state.peerId)
    for (const [k, v] of [['sendSeq', state.sendSeq], ['recvSeq', state.recvSeq], ['skips', state.skips]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) throw new StoreInputError(`${k} must be a non-negative integer`)
    }
    const route = checkBytes('conversation route', state.route, STORE_LIMITS.conversationRouteBytes)
    this.#run(`INSERT INTO conversations (peer_id, send_seq, recv_seq, skips, route, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (peer_id) DO UPDATE SET send_seq = excluded.send_seq, recv_seq = excluded.recv_seq, skips = excluded.skips, route = excluded.route, updated_at = excluded.updated_at`,
    peerId, state.sendSeq, state.recvSeq, state.skips, this.#seal('conversations', 'route', peerId, route), this.#h.now())
  }

  // -- receipts ---------------------------------------------------------------------------------------

  addReceipt (receipt: IncomingReceipt): boolean {
    return this.applyReceipt(receipt) !== null
  }

  applyReceipt (receipt: IncomingReceipt): { before: MessageStatus, after: MessageStatus } | null {
    this.#w()
    const messageId = checkId('message id', receipt.messageId)
    const from = checkId('fromPeerId', receipt.fromPeerId)
    if (receipt.kind !== 'delivered' && receipt.kind !== 'read') throw new StoreInputError('receipt kind must be delivered or read')
    const at = checkTime('receipt time', receipt.at)
    const msg = this.#get('SELECT status, peer_id, direction FROM messages WHERE id = ?', messageId)
    // Only the recipient of one of our messages may acknowledge it: a peer that learnt another
    // conversation's message id must not be able to drop that message from our outbox.
    if (msg === undefined || msg.direction !== 'out' || String(msg.peer_id) !== from) return null
    this.#run('INSERT INTO receipts (message_id, kind, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', messageId, receipt.kind, at)
    // Status only moves forward (a late "delivered" after "read" changes nothing).
    const before = checkStatus(msg.status)
    let after = before
    if (STATUS_RANK[receipt.kind] > STATUS_RANK[before]) {
      this.#run('UPDATE messages SET status = ? WHERE id = ?', receipt.kind, messageId)
      after = receipt.kind
    }
    // The receipt proves delivery: the only point where an outbox entry is dropped for good.
    this.#run('DELETE FROM outbox WHERE message_id = ?', messageId)
    return { before, after }
  }

  listReceipts (messageId: string): Receipt[] {
    checkId('message id', messageId)
    return this.#all('SELECT kind, at FROM receipts WHERE message_id = ? ORDER BY at, kind', messageId)
      .map(r => ({ messageId, kind: r.kind === 'read' ? 'read' : 'delivered', at: Number(r.at) }))
  }
}

// ----------------------------------------------------------------------------------------------------

/** Secret columns: re-encoded when the passphrase is set or removed. */
const SECRET_COLUMNS: ReadonlyArray<{ table: string, column: string, key: string, rowKey: (r: Row) => string }> = [
  { table: 'identity', column: 'sealed', key: 'id', rowKey: () => 'self' },
  { table: 'prekeys', column: 'record', key: "kind || '/' || id", rowKey: r => String(r.k) },
  { table: 'sessions', column: 'record', key: 'peer_id', rowKey: r => String(r.k) },
  { table: 'messages', column: 'body', key: 'id', rowKey: r => String(r.k) },
  { table: 'outbox', column: 'envelope', key: 'message_id', rowKey: r => String(r.k) },
  { table: 'receipt_outbox', column: 'envelope', key: 'id', rowKey: r => String(r.k) },
  { table: 'conversations', column: 'route', key: 'peer_id', rowKey: r => String(r.k) },
  // issue 5: group secrets, sender keys, group texts, control envelopes
  ...GROUP_SECRET_COLUMNS
]

export interface SqliteStoreInit {
  db: DatabaseSync
  path: string
  /** Checkpoint the WAL after this long without a unit; 0 = SQLite's automatic checkpoints only. @default 0 */
  checkpointIdleMs?: number
  /** With idle checkpoints: SQLite's automatic checkpoint as a cap, in WAL pages. @default 1000 (SQLite's own default) */
  checkpointCapPages?: number
  codec: ValueCodec
  keyWrap: KeyWrapRecord
  schemaVersion: number
  now: () => number
  scrypt: ScryptParams
}

function checkSignal (opts?: CallOptions): void {
  opts?.signal?.throwIfAborted()
}

export class SqliteStore implements ParleyStore {
  readonly path: string
  readonly schemaVersion: number
  readonly #db: DatabaseSync
  readonly #now: () => number
  readonly #scrypt: ScryptParams
  readonly #stmts = new Map<string, StatementSync>()
  readonly #tx: SqliteTx
  #codec: ValueCodec
  #keyWrap: KeyWrapRecord
  #inWrite = false
  #closed = false
  /** The connection's synchronous mode (openStore leaves it at FULL). */
  #sync: 'full' | 'normal' | 'unknown' = 'full'
  /** Idle-time WAL checkpoints (null: SQLite's automatic checkpoints only). */
  readonly #checkpointer: Checkpointer | null

  constructor (init: SqliteStoreInit) {
    this.path = init.path
    this.schemaVersion = init.schemaVersion
    this.#db = init.db
    this.#now = init.now
    this.#scrypt = init.scrypt
    this.#codec = init.codec
    this.#keyWrap = init.keyWrap
    this.#tx = new SqliteTx({
      db: this.#db,
      codec: () => this.#codec,
      now: this.#now,
      inWrite: () => this.#inWrite,
      stmt: (sql) => this.#stmt(sql)
    })
    const idleMs = init.checkpointIdleMs ?? 0
    this.#checkpointer = null
    if (idleMs > 0) {
      // issue 3 (round-trip tail): checkpoints when idle, the automatic one only as a cap (checkpointer.ts)
      this.#db.exec(`PRAGMA wal_autocheckpoint = ${Math.trunc(init.checkpointCapPages ?? 1000)}`)
      this.#checkpointer = new Checkpointer({
        idleMs,
        checkpoint: () => { if (!this.#closed && !this.#inWrite) this.#db.exec('PRAGMA wal_checkpoint(PASSIVE)') }
      })
    }
  }

  /** Idle-time WAL checkpoints run so far (tests and metrics). */
  get idleCheckpoints (): number {
    return this.#checkpointer?.completed ?? 0
  }

  get encrypted (): boolean { return this.#codec.encrypted }

  #stmt (sql: string): StatementSync {
    if (this.#closed) throw new StoreClosedError()
    let s = this.#stmts.get(sql)
    if (s === undefined) {
      s = this.#db.prepare(sql)
      this.#stmts.set(sql, s)
    }
    return s
  }

  #check (opts?: CallOptions): void {
    if (this.#closed) throw new StoreClosedError()
    checkSignal(opts)
  }

  /**
   * The synchronous core of write(): BEGIN IMMEDIATE, fn, COMMIT; ROLLBACK on any throw. A deferred
   * unit runs with synchronous=NORMAL (no fsync at its COMMIT), a full unit with synchronous=FULL.
   * perf (issue 3): the connection's mode is switched only when it differs from what the unit needs
   * (a full unit after a deferred one sets FULL before its BEGIN; a failure to set it fails the unit
   * before anything runs), so a run of deferred units costs no PRAGMA per unit.
   */
  #writeSync<T> (fn: (tx: WriteTx) => T, what = 'write', durability: Durability = 'full'): T {
    if (this.#closed) throw new StoreClosedError()
    if (this.#inWrite) throw new StoreUsageError('store.write() cannot be nested')
    if (durability !== 'full' && durability !== 'deferred') throw new StoreInputError('durability must be full or deferred')
    try {
      // (a pragma takes effect outside a transaction only; it applies to this connection's next commits)
      this.#setSync(durability === 'deferred' ? 'normal' : 'full')
    } catch (err) {
      throw toStoreError(err, what)
    }
    const result = this.#unit(fn, what)
    this.#checkpointer?.committed()
    return result
  }

  /** The connection's synchronous mode, set only when it changes (see #writeSync). */
  #setSync (mode: 'full' | 'normal'): void {
    if (this.#sync === mode) return
    // unknown while the PRAGMA runs: if it throws, the next unit sets its mode again
    this.#sync = 'unknown'
    this.#stmt(mode === 'full' ? 'PRAGMA synchronous = FULL' : 'PRAGMA synchronous = NORMAL').run()
    this.#sync = mode
  }

  #unit<T> (fn: (tx: WriteTx) => T, what: string): T {
    try {
      // IMMEDIATE takes the write lock up front, so the unit never fails half-way on a lock upgrade.
      // (Transaction statements are prepared once and cached like the others: no re-parse per unit.)
      this.#stmt('BEGIN IMMEDIATE').run()
    } catch (err) {
      throw toStoreError(err, what)
    }
    this.#inWrite = true
    try {
      const result = fn(this.#tx)
      if (isThenable(result)) {
        result.then(undefined, () => {})
        throw new StoreUsageError('store.write() callbacks must be synchronous (do async work before the unit)')
      }
      this.#stmt('COMMIT').run()
      return result
    } catch (err) {
      // SQLite may already have rolled back by itself (SQLITE_FULL, IOERR: https://sqlite.org/lang_transaction.html).
      if (this.#db.isTransaction) {
        try { this.#stmt('ROLLBACK').run() } catch { /* the original error matters more */ }
      }
      throw toStoreError(err, what)
    } finally {
      this.#inWrite = false
    }
  }

  async write<T> (fn: (tx: WriteTx) => T, opts?: WriteOptions): Promise<T> {
    this.#check(opts)
    return this.#writeSync(fn, 'write', opts?.durability ?? 'full')
  }

  async read<T> (fn: (tx: ReadTx) => T, opts?: CallOptions): Promise<T> {
    this.#check(opts)
    return this.#readSync(fn)
  }

  #readSync<T> (fn: (tx: ReadTx) => T): T {
    if (this.#inWrite) return fn(this.#tx)
    try {
      this.#stmt('BEGIN').run()
    } catch (err) {
      throw toStoreError(err, 'read')
    }
    try {
      const result = fn(this.#tx)
      if (isThenable(result)) {
        result.then(undefined, () => {})
        throw new StoreUsageError('store.read() callbacks must be synchronous')
      }
      return result
    } catch (err) {
      throw toStoreError(err, 'read')
    } finally {
      if (this.#db.isTransaction) {
        try { this.#stmt('COMMIT').run() } catch { /* a read-only transaction has nothing to lose */ }
      }
    }
  }

  /** One-statement reads need no explicit transaction. */
  #r<T> (opts: CallOptions | undefined, fn: (tx: ReadTx) => T): T {
    this.#check(opts)
    try {
      return fn(this.#tx)
    } catch (err) {
      throw toStoreError(err, 'read')
    }
  }

  // identity
  async getIdentity (opts?: CallOptions): Promise<StoredIdentity | null> { return this.#r(opts, tx => tx.getIdentity()) }
  async putIdentity (identity: StoredIdentity, opts?: CallOptions): Promise<void> { await this.write(tx => tx.putIdentity(identity), opts) }
  async setProfileName (name: string, opts?: CallOptions): Promise<void> { await this.write(tx => tx.setProfileName(name), opts) }

  // prekeys
  async putPreKey (kind: PreKeyKind, id: number, record: Uint8Array, opts?: CallOptions): Promise<void> { await this.write(tx => tx.putPreKey(kind, id, record), opts) }
  async getPreKey (kind: PreKeyKind, id: number, opts?: CallOptions): Promise<StoredPreKey | null> { return this.#r(opts, tx => tx.getPreKey(kind, id)) }
  async removePreKey (kind: PreKeyKind, id: number, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.removePreKey(kind, id), opts) }
  async countPreKeys (kind: PreKeyKind, opts?: CallOptions): Promise<number> { return this.#r(opts, tx => tx.countPreKeys(kind)) }
  async listPreKeyIds (kind: PreKeyKind, opts?: CallOptions): Promise<number[]> { return this.#r(opts, tx => tx.listPreKeyIds(kind)) }
  async nextPreKeyId (kind: PreKeyKind, opts?: CallOptions): Promise<number> { return await this.write(tx => tx.nextPreKeyId(kind), opts) }

  // sessions
  async getSession (peerId: string, opts?: CallOptions): Promise<Uint8Array | null> { return this.#r(opts, tx => tx.getSession(peerId)) }
  async putSession (peerId: string, record: Uint8Array, opts?: CallOptions): Promise<void> { await this.write(tx => tx.putSession(peerId, record), opts) }
  async deleteSession (peerId: string, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.deleteSession(peerId), opts) }
  async listSessionPeers (opts?: CallOptions): Promise<string[]> { return this.#r(opts, tx => tx.listSessionPeers()) }

  // contacts
  async getContact (peerId: string, opts?: CallOptions): Promise<Contact | null> { return this.#r(opts, tx => tx.getContact(peerId)) }
  async getContactByName (name: string, opts?: CallOptions): Promise<Contact | null> { return this.#r(opts, tx => tx.getContactByName(name)) }
  async listContacts (opts?: CallOptions): Promise<Contact[]> { return this.#r(opts, tx => tx.listContacts()) }
  async putContact (contact: Contact, opts?: CallOptions): Promise<void> { await this.write(tx => tx.putContact(contact), opts) }
  async updateContact (peerId: string, patch: ContactPatch, opts?: CallOptions): Promise<Contact | null> { return await this.write(tx => tx.updateContact(peerId, patch), opts) }
  async deleteContact (peerId: string, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.deleteContact(peerId), opts) }
  async suggestContactName (base: string, opts?: CallOptions): Promise<string> { return this.#r(opts, tx => tx.suggestContactName(base)) }

  // messages
  async insertMessage (message: NewMessage, opts?: CallOptions): Promise<InsertResult> { return await this.write(tx => tx.insertMessage(message), opts) }
  async getMessage (id: string, opts?: CallOptions): Promise<StoredMessage | null> { return this.#r(opts, tx => tx.getMessage(id)) }
  async messageOrigin (id: string, opts?: CallOptions): Promise<MessageOrigin | null> { return this.#r(opts, tx => tx.messageOrigin(id)) }
  async listMessages (peerId: string, opts?: ListMessagesOptions): Promise<StoredMessage[]> { return this.#r(opts, tx => tx.listMessages(peerId, opts)) }
  async setStatus (id: string, status: MessageStatus, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.setStatus(id, status), opts) }
  async markRead (peerId: string, opts?: CallOptions & { upToSeq?: number, at?: number }): Promise<number> {
    return await this.write(tx => tx.markRead(peerId, { ...(opts?.upToSeq !== undefined ? { upToSeq: opts.upToSeq } : {}), ...(opts?.at !== undefined ? { at: opts.at } : {}) }), opts)
  }

  async unreadCount (peerId: string, opts?: CallOptions): Promise<number> { return this.#r(opts, tx => tx.unreadCount(peerId)) }
  async unreadCounts (opts?: CallOptions): Promise<Record<string, number>> { return this.#r(opts, tx => tx.unreadCounts()) }
  async deleteMessage (id: string, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.deleteMessage(id), opts) }

  // outbox
  async enqueueOutbox (entry: NewOutboxEntry, opts?: CallOptions): Promise<void> { await this.write(tx => tx.enqueueOutbox(entry), opts) }
  async getOutbox (messageId: string, opts?: CallOptions): Promise<OutboxEntry | null> { return this.#r(opts, tx => tx.getOutbox(messageId)) }
  async dueOutbox (now: number, opts?: CallOptions & { limit?: number }): Promise<OutboxEntry[]> { return this.#r(opts, tx => tx.dueOutbox(now, opts)) }
  async outboxFor (peerId: string, opts?: CallOptions & { limit?: number }): Promise<OutboxEntry[]> { return this.#r(opts, tx => tx.outboxFor(peerId, opts)) }
  async recordOutboxAttempt (messageId: string, update: { error: string | null, nextAttemptAt: number }, opts?: CallOptions): Promise<boolean> {
    return await this.write(tx => tx.recordOutboxAttempt(messageId, update), opts)
  }

  async removeOutbox (messageId: string, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.removeOutbox(messageId), opts) }
  async countOutbox (opts?: CallOptions): Promise<number> { return this.#r(opts, tx => tx.countOutbox()) }

  // receipt outbox
  async enqueueReceipt (entry: NewReceiptOutboxEntry, opts?: CallOptions): Promise<void> { await this.write(tx => tx.enqueueReceipt(entry), opts) }
  async receiptsFor (peerId: string, opts?: CallOptions & { limit?: number }): Promise<ReceiptOutboxEntry[]> { return this.#r(opts, tx => tx.receiptsFor(peerId, opts)) }
  async receiptPeers (opts?: CallOptions): Promise<string[]> { return this.#r(opts, tx => tx.receiptPeers()) }
  async removeReceipt (id: string, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.removeReceipt(id), opts) }
  async trimReceipts (peerId: string, keep: number, opts?: CallOptions): Promise<number> { return await this.write(tx => tx.trimReceipts(peerId, keep), opts) }
  async countReceiptOutbox (opts?: CallOptions): Promise<number> { return this.#r(opts, tx => tx.countReceiptOutbox()) }

  // receipts
  async addReceipt (receipt: IncomingReceipt, opts?: CallOptions): Promise<boolean> { return await this.write(tx => tx.addReceipt(receipt), opts) }
  async listReceipts (messageId: string, opts?: CallOptions): Promise<Receipt[]> { return this.#r(opts, tx => tx.listReceipts(messageId)) }

  // conversations (issue 4)
  async getConversation (peerId: string, opts?: CallOptions): Promise<ConversationState | null> { return this.#r(opts, tx => tx.getConversation(peerId)) }

  // -- passphrase -------------------------------------------------------------------------------------

  async changePassphrase (change: { current: string | null, next: string | null }, opts?: CallOptions): Promise<void> {
    this.#check(opts)
    const current = change.current === '' ? null : change.current
    const next = change.next === '' ? null : change.next
    const wrap = this.#keyWrap

    // Re-authenticate: the caller must know the passphrase the store is locked with.
    let dataKey: Uint8Array | null = null
    if (wrap.mode === 'none') {
      if (current !== null) throw new StoreNotEncryptedError()
    } else {
      if (current === null) throw new WrongPassphraseError('the current passphrase is required')
      dataKey = await unwrapDataKey(wrap, current)
    }
    this.#check(opts)

    try {
      if (dataKey !== null && next !== null) {
        // Encrypted -> encrypted: re-wrap the same data key; no value changes.
        const rec = await wrapDataKey(dataKey, next, this.#scrypt)
        this.#check(opts)
        this.#writeSync(() => this.#putKeyWrap(rec), 'changing the passphrase')
        this.#keyWrap = rec
        return
      }
      if (dataKey === null && next === null) return

      let target: ValueCodec
      let rec: KeyWrapRecord
      if (next !== null) {
        // Plain -> encrypted: a fresh data key.
        const fresh = newDataKey()
        rec = await wrapDataKey(fresh, next, this.#scrypt)
        target = new AeadCodec(fresh)
        fresh.fill(0)
      } else {
        rec = { v: 1, mode: 'none' }
        target = plainCodec
      }
      this.#check(opts)
      const source = this.#codec
      this.#writeSync(() => {
        for (const col of SECRET_COLUMNS) this.#recode(col, source, target)
        this.#putKeyWrap(rec)
      }, 'changing the passphrase')
      this.#codec = target
      this.#keyWrap = rec
      // Drop the old encoding's leftovers: rebuild the file, then empty the WAL
      // (secure_delete zeroes freed content; VACUUM rewrites every page; https://sqlite.org/lang_vacuum.html).
      this.#stmts.clear()
      try {
        this.#db.exec('VACUUM')
        this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      } catch (err) {
        throw toStoreError(err, 'vacuum after changing the passphrase')
      }
    } finally {
      dataKey?.fill(0)
    }
  }

  #putKeyWrap (rec: KeyWrapRecord): void {
    this.#db.prepare("INSERT INTO meta (key, value) VALUES ('keywrap', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
      .run(JSON.stringify(rec))
  }

  /** Re-encodes every value of one secret column, in batches ordered by rowid-free keys. */
  #recode (col: typeof SECRET_COLUMNS[number], from: ValueCodec, to: ValueCodec): void {
    const { table, column, key } = col
    const select = this.#db.prepare(`SELECT ${key} AS k, ${column} AS v FROM ${table} WHERE ${key} > ? ORDER BY ${key} LIMIT 256`)
    const update = this.#db.prepare(`UPDATE ${table} SET ${column} = ? WHERE ${key} = ?`)
    let after: SQLInputValue = table === 'identity' ? -1 : ''
    for (;;) {
      const rows = select.all(after) as Row[]
      if (rows.length === 0) break
      for (const r of rows) {
        const rk = col.rowKey(r)
        const plain = from.open(table, column, rk, bytes(r.v))
        update.run(to.seal(table, column, rk, plain), r.k ?? null)
        after = r.k ?? null
      }
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stmts.clear()
    this.#checkpointer?.close()
    try {
      // Fold the WAL into the main file and truncate it (https://sqlite.org/pragma.html#pragma_wal_checkpoint).
      this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      this.#db.exec('PRAGMA optimize')
    } catch {
      // Another connection may hold the WAL; the data is safe in the WAL either way.
    }
    try {
      this.#db.close()
    } catch (err) {
      throw toStoreError(err, 'close')
    }
  }
}

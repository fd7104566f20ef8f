/**
 * The storage contract of a Parley node: plain data types, one small async interface per concern
 * (identity, prekeys, sessions, contacts, messages, outbox, receipts), and the synchronous `WriteTx`
 * through which several changes commit as one unit of work. Secrets (identity, prekeys, sessions,
 * message bodies, outbox envelopes) are opaque bytes here: the crypto layer serialises them.
 *
 * All times are integer milliseconds since the Unix epoch.
 */

/** Options every call that may block (busy lock, disk) accepts. */
import type { GroupTx } from './groups.js'

export interface CallOptions {
  signal?: AbortSignal
}

/**
 * How durable a write unit is when `write()` resolves (src/store/README.md, "Durability per unit").
 * - `full` (default): the WAL is fsync'd at COMMIT (synchronous=FULL): on disk before the caller goes on.
 *   Required for every unit that holds a ratchet step, a consumed prekey, or anything a peer is told
 *   about before the next full unit.
 * - `deferred`: COMMIT without its own fsync (synchronous=NORMAL for this unit only). Survives a process
 *   crash (kill -9); a power cut may lose it, but only together with every later deferred unit and never
 *   a later full one (WAL frames are appended in order and one fsync covers all earlier frames). Only for
 *   bookkeeping whose loss is harmless (its cause is re-sent and de-duplicated).
 */
export type Durability = 'full' | 'deferred'

export interface WriteOptions extends CallOptions {
  /** @default 'full' */
  durability?: Durability
}

// ---------------------------------------------------------------------------------------------------
// Identity

export interface StoredIdentity {
  /** The serialised (possibly passphrase-sealed) identity key material, as the crypto layer made it. */
  sealed: Uint8Array
  /** The user's display name. */
  profileName: string
}

export interface IdentityStore {
  getIdentity: (opts?: CallOptions) => Promise<StoredIdentity | null>
  putIdentity: (identity: StoredIdentity, opts?: CallOptions) => Promise<void>
  setProfileName: (name: string, opts?: CallOptions) => Promise<void>
}

// ---------------------------------------------------------------------------------------------------
// Prekeys

/** Signal prekey families: signed (X3DH SPK), one-time (OPK), Kyber (PQXDH PQSPK / PQOPK). */
export type PreKeyKind = 'signed' | 'onetime' | 'kyber'
export const PREKEY_KINDS: readonly PreKeyKind[] = ['signed', 'onetime', 'kyber']

/** Largest prekey id: Signal keeps prekey ids in 24 bits (ids wrap to 1 after this). */
export const MAX_PREKEY_ID = 0xffffff

export interface StoredPreKey {
  kind: PreKeyKind
  id: number
  record: Uint8Array
  createdAt: number
}

export interface PreKeyStore {
  putPreKey: (kind: PreKeyKind, id: number, record: Uint8Array, opts?: CallOptions) => Promise<void>
  getPreKey: (kind: PreKeyKind, id: number, opts?: CallOptions) => Promise<StoredPreKey | null>
  /** True when the prekey existed. */
  removePreKey: (kind: PreKeyKind, id: number, opts?: CallOptions) => Promise<boolean>
  countPreKeys: (kind: PreKeyKind, opts?: CallOptions) => Promise<number>
  listPreKeyIds: (kind: PreKeyKind, opts?: CallOptions) => Promise<number[]>
  /** Allocates the next unused id of that kind (monotonic, 1..MAX_PREKEY_ID, wrapping; never a live id). */
  nextPreKeyId: (kind: PreKeyKind, opts?: CallOptions) => Promise<number>
}

// ---------------------------------------------------------------------------------------------------
// Sessions

export interface SessionStore {
  getSession: (peerId: string, opts?: CallOptions) => Promise<Uint8Array | null>
  putSession: (peerId: string, record: Uint8Array, opts?: CallOptions) => Promise<void>
  /** True when a session existed. */
  deleteSession: (peerId: string, opts?: CallOptions) => Promise<boolean>
  listSessionPeers: (opts?: CallOptions) => Promise<string[]>
}

// ---------------------------------------------------------------------------------------------------
// Contacts

export interface PendingKeyChange {
  newKey: Uint8Array
  seenAt: number
}

export interface Contact {
  peerId: string
  /** Unique among contacts, compared case-insensitively (see `suggestContactName`). */
  name: string
  identityKey: Uint8Array
  verified: boolean
  keyChange: PendingKeyChange | null
  addresses: string[]
  /**
   * The contact's relays, which are also its mailboxes: multiaddrs each ending in /p2p/<relayPeerId>
   * (from its invite, its signed DHT record, or told by the contact). Capped like `addresses`.
   */
  relays: string[]
  lastSeen: number | null
  createdAt: number
}

/** Fields a caller may change on an existing contact. */
export type ContactPatch = Partial<Omit<Contact, 'peerId' | 'createdAt'>>

export interface ContactStore {
  getContact: (peerId: string, opts?: CallOptions) => Promise<Contact | null>
  getContactByName: (name: string, opts?: CallOptions) => Promise<Contact | null>
  listContacts: (opts?: CallOptions) => Promise<Contact[]>
  /** Inserts or replaces (createdAt of an existing contact is kept). Throws ContactNameTakenError. */
  putContact: (contact: Contact, opts?: CallOptions) => Promise<void>
  /** Returns the updated contact, or null when there is none. Throws ContactNameTakenError. */
  updateContact: (peerId: string, patch: ContactPatch, opts?: CallOptions) => Promise<Contact | null>
  deleteContact: (peerId: string, opts?: CallOptions) => Promise<boolean>
  /** `base`, or `base-2`, `base-3`, ... : the first name no other contact uses. */
  suggestContactName: (base: string, opts?: CallOptions) => Promise<string>
}

// ---------------------------------------------------------------------------------------------------
// Messages

export type MessageDirection = 'in' | 'out'
export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'stored' | 'failed'
export const MESSAGE_STATUSES: readonly MessageStatus[] = ['queued', 'sent', 'delivered', 'read', 'stored', 'failed']

export interface NewMessage {
  /** Globally unique (the sender makes it random, 128 bits); re-inserting an id is a no-op. */
  id: string
  /** The other party of the conversation. */
  peerId: string
  direction: MessageDirection
  body: Uint8Array
  /** Sender's clock. */
  sentAt: number
  /** Our clock when it arrived (incoming); null for outgoing. */
  receivedAt?: number | null
  status: MessageStatus
}

export interface StoredMessage extends Required<NewMessage> {
  /** Per-conversation position, 1, 2, 3, ... in insertion order: the stable display order. */
  seq: number
  /** When an incoming message was marked read locally (null: unread, or outgoing). */
  readAt: number | null
}

export type InsertResult =
  | { result: 'inserted', seq: number }
  /**
   * The id already existed: nothing was changed. `peerId`/`seq` are those of the existing message;
   * a `peerId` other than the one inserted means an id collision (or a replay from another peer): drop it.
   */
  | { result: 'duplicate', seq: number, peerId: string }

export interface ListMessagesOptions extends CallOptions {
  /** @default 50, at most MAX_LIST_LIMIT */
  limit?: number
  /** Page backwards: messages with seq < beforeSeq (the `limit` newest of them). */
  beforeSeq?: number
  /** Page forwards: messages with seq > afterSeq (the `limit` oldest of them). */
  afterSeq?: number
}

/** Where a stored message belongs (MessageStore.messageOrigin). */
export interface MessageOrigin {
  peerId: string
  direction: 'in' | 'out'
}

export const DEFAULT_LIST_LIMIT = 50
export const MAX_LIST_LIMIT = 1000

export interface MessageStore {
  insertMessage: (message: NewMessage, opts?: CallOptions) => Promise<InsertResult>
  getMessage: (id: string, opts?: CallOptions) => Promise<StoredMessage | null>
  /** Conversation and direction of a stored message (no body read): the de-duplication look-up. */
  messageOrigin: (id: string, opts?: CallOptions) => Promise<MessageOrigin | null>
  /**
   * Oldest-first. Without beforeSeq/afterSeq: the `limit` most recent messages of the conversation.
   */
  listMessages: (peerId: string, opts?: ListMessagesOptions) => Promise<StoredMessage[]>
  /** True when the message exists (the status is set even if it is the same). */
  setStatus: (id: string, status: MessageStatus, opts?: CallOptions) => Promise<boolean>
  /** Marks incoming messages read (all, or those with seq <= upToSeq); returns how many changed. */
  markRead: (peerId: string, opts?: CallOptions & { upToSeq?: number, at?: number }) => Promise<number>
  unreadCount: (peerId: string, opts?: CallOptions) => Promise<number>
  /** Unread incoming messages per conversation (conversations with none are absent). */
  unreadCounts: (opts?: CallOptions) => Promise<Record<string, number>>
  /** Deletes a message with its outbox entry and receipts. */
  deleteMessage: (id: string, opts?: CallOptions) => Promise<boolean>
}

// ---------------------------------------------------------------------------------------------------
// Outbox

export interface OutboxEntry {
  messageId: string
  peerId: string
  /** The sealed envelope exactly as it goes on the wire (re-sent unchanged on retry). */
  envelope: Uint8Array
  attempts: number
  nextAttemptAt: number
  lastError: string | null
  createdAt: number
}

export interface NewOutboxEntry {
  messageId: string
  peerId: string
  envelope: Uint8Array
  /** @default now */
  nextAttemptAt?: number
}

export interface OutboxStore {
  /** The message must exist (foreign key). Re-enqueueing the same message id replaces the envelope. */
  enqueueOutbox: (entry: NewOutboxEntry, opts?: CallOptions) => Promise<void>
  getOutbox: (messageId: string, opts?: CallOptions) => Promise<OutboxEntry | null>
  /** Entries with nextAttemptAt <= now, oldest first. */
  dueOutbox: (now: number, opts?: CallOptions & { limit?: number }) => Promise<OutboxEntry[]>
  /** Every entry for one peer (e.g. to flush when it comes online), oldest first. */
  outboxFor: (peerId: string, opts?: CallOptions & { limit?: number }) => Promise<OutboxEntry[]>
  /** attempts += 1, records the error and when to retry. False when there is no entry. */
  recordOutboxAttempt: (messageId: string, update: { error: string | null, nextAttemptAt: number }, opts?: CallOptions) => Promise<boolean>
  removeOutbox: (messageId: string, opts?: CallOptions) => Promise<boolean>
  countOutbox: (opts?: CallOptions) => Promise<number>
}

// ---------------------------------------------------------------------------------------------------
// Receipt outbox (our own sealed receipts waiting to leave)

export interface ReceiptOutboxEntry {
  /** The receipt envelope's id (hex): unique, and no message row (receipts are never shown). */
  id: string
  peerId: string
  /** The sealed envelope exactly as it goes on the wire. */
  envelope: Uint8Array
  createdAt: number
}

export interface NewReceiptOutboxEntry {
  id: string
  peerId: string
  envelope: Uint8Array
}

export interface ReceiptOutboxStore {
  /** Stores a sealed receipt envelope (re-enqueueing an id replaces it). */
  enqueueReceipt: (entry: NewReceiptOutboxEntry, opts?: CallOptions) => Promise<void>
  /** One peer's pending receipts, oldest first. */
  receiptsFor: (peerId: string, opts?: CallOptions & { limit?: number }) => Promise<ReceiptOutboxEntry[]>
  /** Peers that have pending receipts. */
  receiptPeers: (opts?: CallOptions) => Promise<string[]>
  /** True when the entry existed. */
  removeReceipt: (id: string, opts?: CallOptions) => Promise<boolean>
  /** Keeps only the `keep` newest receipts of a peer; returns how many were dropped. */
  trimReceipts: (peerId: string, keep: number, opts?: CallOptions) => Promise<number>
  countReceiptOutbox: (opts?: CallOptions) => Promise<number>
}

// ---------------------------------------------------------------------------------------------------
// Receipts

export type ReceiptKind = 'delivered' | 'read'

export interface Receipt {
  messageId: string
  kind: ReceiptKind
  at: number
}

/** A receipt as it arrives: `fromPeerId` is the authenticated sender of the receipt. */
export interface IncomingReceipt extends Receipt {
  fromPeerId: string
}

export interface ReceiptStore {
  /**
   * Records a receipt for one of our messages, in one unit: stores it (idempotent), advances the
   * message status (never backwards: delivered < read), and removes the outbox entry — the only
   * place an outbox entry disappears after delivery. Returns false (and stores nothing) when the
   * message is unknown, is not outgoing, or belongs to another conversation than `fromPeerId`.
   */
  addReceipt: (receipt: IncomingReceipt, opts?: CallOptions) => Promise<boolean>
  listReceipts: (messageId: string, opts?: CallOptions) => Promise<Receipt[]>
}

// ---------------------------------------------------------------------------------------------------
// Conversation state (issue 4: offline delivery through mailboxes; used inside units of work only)

export interface ConversationState {
  peerId: string
  /** Sequence number of the last text we sealed for this peer (0: none yet). */
  sendSeq: number
  /** Every text of the peer with a sequence number <= recvSeq has been shown (0: none yet). */
  recvSeq: number
  /** Envelopes of the peer we refused for good since recvSeq: that many texts may be missing for good. */
  skips: number
  /** Opaque routing data the peer gave us (its mailbox route, src/core/mailboxes.ts); secret at rest. Empty: none. */
  route: Uint8Array
}

// ---------------------------------------------------------------------------------------------------
// Units of work

/** Synchronous reads, usable inside a write unit (read-modify-write) and by the async store. */
export interface ReadTx {
  /** issue 5: group chats (src/store/groups.ts); its write methods work only inside store.write(). */
  readonly groups: GroupTx
  getIdentity: () => StoredIdentity | null
  getPreKey: (kind: PreKeyKind, id: number) => StoredPreKey | null
  countPreKeys: (kind: PreKeyKind) => number
  listPreKeyIds: (kind: PreKeyKind) => number[]
  getSession: (peerId: string) => Uint8Array | null
  listSessionPeers: () => string[]
  getContact: (peerId: string) => Contact | null
  getContactByName: (name: string) => Contact | null
  listContacts: () => Contact[]
  suggestContactName: (base: string) => string
  getMessage: (id: string) => StoredMessage | null
  messageOrigin: (id: string) => MessageOrigin | null
  listMessages: (peerId: string, opts?: ListMessagesOptions) => StoredMessage[]
  unreadCount: (peerId: string) => number
  unreadCounts: () => Record<string, number>
  getOutbox: (messageId: string) => OutboxEntry | null
  dueOutbox: (now: number, opts?: { limit?: number }) => OutboxEntry[]
  outboxFor: (peerId: string, opts?: { limit?: number }) => OutboxEntry[]
  countOutbox: () => number
  listReceipts: (messageId: string) => Receipt[]
  receiptsFor: (peerId: string, opts?: { limit?: number }) => ReceiptOutboxEntry[]
  receiptPeers: () => string[]
  countReceiptOutbox: () => number
  /** issue 4: a conversation's sequence numbers and mailbox route (null: none stored yet). */
  getConversation: (peerId: string) => ConversationState | null
}

/**
 * The write side of a unit of work. Every method is synchronous and runs inside the unit's
 * BEGIN IMMEDIATE ... COMMIT; if the callback throws, none of its changes persist.
 */
export interface WriteTx extends ReadTx {
  putIdentity: (identity: StoredIdentity) => void
  setProfileName: (name: string) => void
  putPreKey: (kind: PreKeyKind, id: number, record: Uint8Array) => void
  removePreKey: (kind: PreKeyKind, id: number) => boolean
  nextPreKeyId: (kind: PreKeyKind) => number
  putSession: (peerId: string, record: Uint8Array) => void
  deleteSession: (peerId: string) => boolean
  putContact: (contact: Contact) => void
  updateContact: (peerId: string, patch: ContactPatch) => Contact | null
  /**
   * issue 3 (hot path): sets a contact's lastSeen with one UPDATE and nothing read back; false when
   * there is no such contact. Same change as `updateContact(peerId, { lastSeen })`.
   */
  touchContact: (peerId: string, lastSeen: number) => boolean
  /**
   * perf (issue 3): raises the conversation's send_seq to `seq` with one UPDATE (no read, the route
   * is not re-sealed). False when the conversation has no row yet or its send_seq is not below `seq`
   * (the caller then takes the general path: read + putConversation).
   */
  bumpSendSeq: (peerId: string, seq: number) => boolean
  deleteContact: (peerId: string) => boolean
  insertMessage: (message: NewMessage) => InsertResult
  setStatus: (id: string, status: MessageStatus) => boolean
  /**
   * issue 3 (hot path): sets `status` only on a message that is still `queued` or `failed` (one
   * conditional UPDATE instead of read + write); true when it changed.
   */
  promoteStatus: (id: string, status: MessageStatus) => boolean
  markRead: (peerId: string, opts?: { upToSeq?: number, at?: number }) => number
  deleteMessage: (id: string) => boolean
  enqueueOutbox: (entry: NewOutboxEntry) => void
  recordOutboxAttempt: (messageId: string, update: { error: string | null, nextAttemptAt: number }) => boolean
  removeOutbox: (messageId: string) => boolean
  addReceipt: (receipt: IncomingReceipt) => boolean
  /**
   * addReceipt that also tells what it did (issue 3 hot path: no re-read of the message before and
   * after): null when it refused (as addReceipt's false), else the message status before and after.
   */
  applyReceipt: (receipt: IncomingReceipt) => { before: MessageStatus, after: MessageStatus } | null
  enqueueReceipt: (entry: NewReceiptOutboxEntry) => void
  removeReceipt: (id: string) => boolean
  trimReceipts: (peerId: string, keep: number) => number
  /** issue 4: inserts or replaces a conversation's state. */
  putConversation: (state: ConversationState) => void
}

export interface ParleyStore extends IdentityStore, PreKeyStore, SessionStore, ContactStore, MessageStore, OutboxStore, ReceiptOutboxStore, ReceiptStore {
  /** Absolute path of the database file. */
  readonly path: string
  /** True when secret columns are encrypted at rest. */
  readonly encrypted: boolean
  /** Schema version of the open database. */
  readonly schemaVersion: number
  /**
   * Runs `fn` as one atomic unit (BEGIN IMMEDIATE ... COMMIT, ROLLBACK when it throws). `fn` must
   * be synchronous: do async work (crypto) before, then commit all its results here.
   */
  write: <T>(fn: (tx: WriteTx) => T, opts?: WriteOptions) => Promise<T>
  /** Runs `fn` against one consistent snapshot (a read transaction). */
  read: <T>(fn: (tx: ReadTx) => T, opts?: CallOptions) => Promise<T>
  /** issue 4: one conversation's state, outside a unit (one statement: no read transaction needed). */
  getConversation: (peerId: string, opts?: CallOptions) => Promise<ConversationState | null>
  /**
   * Sets, changes or removes (next = null) the passphrase. Encrypted -> encrypted re-wraps the data
   * key only; plain <-> encrypted rewrites every secret value in one transaction, then vacuums.
   * `current` must be the passphrase the store was opened with (null for a plain store).
   */
  changePassphrase: (change: { current: string | null, next: string | null }, opts?: CallOptions) => Promise<void>
  /** Checkpoints the WAL into the main file (truncating it) and closes. Idempotent. */
  close: () => Promise<void>
}

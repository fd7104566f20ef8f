/**
 * The Parley node: crypto (src/crypto) + store (src/store) + network (src/net) glued into a chat node
 * that implements ParleyNodeApi (src/core/api.ts).
 *
 * - Identity: one Ed25519 seed, sealed with src/crypto/keyfile.ts into the store; it is also the
 *   libp2p key, so a PeerId determines its Signal identity key (src/crypto/identity.ts).
 * - Sessions: PQXDH + Double Ratchet records, one per peer, changed only under a per-peer lock and
 *   committed in the same store unit as the message they belong to (issue 3: "ratchet state and the
 *   stored message change in one database transaction").
 * - Outbox: durable, per peer FIFO, one flush at a time per peer, exponential backoff with jitter,
 *   retransmission until the delivery receipt (receivers dedup by message id).
 * - Receipts are encrypted Content messages; they are not stored, only re-sent when the original
 *   message arrives again (the sender retransmits until it gets one).
 */
import { randomBytes } from 'node:crypto'
import { userInfo } from 'node:os'
import type {
  ContactInfo, LocalIdentityInfo, MessageInfo, MessageStatus, NodeEvent, ParleyNodeApi, PeerConnectionInfo,
  SafetyNumberInfo, SendOptions
} from './api.js'
import { formatInvite, identityFingerprint, parseInvite, InvalidInviteError } from './invite.js'
import {
  IdentityExistsError, InvalidArgumentError, KeyChangePendingError, NoBundleError, NodeStoppedError, NoIdentityError,
  SendFailedError, TimeoutError, UnknownContactError
} from './errors.js'
import { decodePlaintext, encodePlaintext, MAX_PROFILE_NAME_CHARS } from './plaintext.js'
import { DEFAULT_PREKEY_POLICY, PreKeyManager, registrationIdFor, type PreKeyPolicy } from './prekey-store.js'
import { bytesEqual, toHex, utf8 } from '../crypto/bytes.js'
import { ParleyCryptoError, DuplicateMessageError } from '../crypto/errors.js'
import { generateIdentity, identityKeyForEd25519, assertIdentityBoundToPeerKey, type IdentityKeyPair } from '../crypto/identity.js'
import { encodePublicKey } from '../crypto/keys.js'
import { openIdentity, sealIdentity } from '../crypto/keyfile.js'
import { computeSafetyNumber } from '../crypto/fingerprint.js'
import { decodePreKeyBundle, encodePreKeyBundle } from '../crypto/prekeys.js'
import { parsePreKeySignalMessage } from '../crypto/message.js'
import { constantTimeEqual } from '../crypto/primitives/types.js'
import {
  decryptMessage, deserializeSessionRecord, encryptMessage, initiateSession, serializeSessionRecord, type SessionRecord
} from '../crypto/session.js'
import { openStore, type Contact, type ParleyStore, type StoredMessage } from '../store/index.js'
import {
  createParleyNetwork, backoffDelay, peerIdFromSeed, ed25519PublicKeyOfPeerId, DeliveryIncompleteError,
  type Ack, type AckStatus, type Envelope, type NetTimeouts, type ParleyNetwork, type ParleyNetworkInit, type ReconnectOptions
} from '../net/index.js'
import { decodeEnvelope, encodeEnvelope, LIMITS } from '../wire/index.js'

// ---------------------------------------------------------------------------------------------------
// Options

export interface OutboxPolicy {
  /** How often due outbox entries are looked for. @default 1000 */
  tickMs: number
  /** First retry delay after a failed delivery. @default 1000 */
  retryBaseMs: number
  /** Cap of the retry backoff. @default 300000 */
  retryMaxMs: number
  /** After the peer acknowledged an envelope, re-send it when no delivery receipt came within this (doubling). @default 30000 */
  receiptWaitMs: number
  /** Cap of the receipt wait. @default 3600000 */
  receiptWaitMaxMs: number
  /** Whole-exchange timeout of one flush (dial + send + acks). @default 30000 */
  sendTimeoutMs: number
  /** Time allowed to fetch a bundle and set up a session inside send(); the message is queued otherwise. @default 10000 */
  sessionSetupMs: number
}

export const DEFAULT_OUTBOX_POLICY: Readonly<OutboxPolicy> = Object.freeze({
  tickMs: 1000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  receiptWaitMs: 30_000,
  receiptWaitMaxMs: 3_600_000,
  sendTimeoutMs: 30_000,
  sessionSetupMs: 10_000
})

export interface CreateNodeOptions {
  home: string
  /** Unlocks the identity and the store (both are encrypted at rest when one was set at init). */
  passphrase?: string
  /** @default ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws'] */
  listen?: string[]
  announce?: string[]
  bootstrap?: string[]
  /** @default true */
  mdns?: boolean
  /** Changes the profile name. */
  name?: string
  /** @default '/parley' */
  dhtPrefix?: string
  /** Allow many loopback connections (tests with many local nodes). @default false */
  allowLoopbackFlood?: boolean
  timeouts?: Partial<NetTimeouts>
  reconnect?: Partial<ReconnectOptions>
  outbox?: Partial<OutboxPolicy>
  prekeys?: Partial<PreKeyPolicy>
  /** Further network options (relays, NAT traversal, mDNS tag, limits …), passed to createParleyNetwork as is. */
  network?: Partial<Omit<ParleyNetworkInit, 'seed'>>
  /** How often prekeys are checked (rotation, replenishment) and the DHT record refreshed. @default 3600000 */
  maintenanceMs?: number
  signal?: AbortSignal
}

export interface InitIdentityOptions {
  home: string
  name?: string
  passphrase?: string
  prekeys?: Partial<PreKeyPolicy>
  signal?: AbortSignal
}

export interface InitIdentityResult {
  peerId: string
  name: string
  identityKey: string
  encrypted: boolean
}

/** Test/diagnostic access to the node's parts (not part of the local API). */
export interface NodeInternals {
  store: ParleyStore
  net: ParleyNetwork
  prekeys: PreKeyManager
  /** Runs one outbox pass now (all peers with due entries). */
  flushAll: () => Promise<void>
  /** Publishes the signed DHT record now (bundle without one-time prekey + addresses); throws on failure. */
  publishRecord: () => Promise<void>
}

export type ParleyNode = ParleyNodeApi & { readonly peerId: string, readonly internals: NodeInternals }

// ---------------------------------------------------------------------------------------------------
// Helpers

const ID_BYTES = LIMITS.idBytes
/** Largest text accepted by send() (UTF-8 bytes); keeps the ciphertext well under the body cap. */
export const MAX_TEXT_BYTES = 64 * 1024
const MAX_CONTACT_ADDRS = 16
const MAX_RECEIPT_QUEUE = 512
/** Envelopes sent in one flush (one dm exchange). */
const MAX_ENVELOPES_PER_FLUSH = 64
const DONE: ReadonlySet<MessageStatus> = new Set(['delivered', 'read'])
/** Delay between a new connection and the record (re)publication it triggers. */
const PUBLISH_DELAY_MS = 1500
/** At most one triggered publication per this interval. */
const PUBLISH_DEBOUNCE_MS = 10_000

function normPassphrase (p: string | undefined | null): string | null {
  return p == null || p === '' ? null : p
}

const identityKeyCache = new Map<string, Uint8Array>()
const IDENTITY_KEY_CACHE_SIZE = 4096

/**
 * The 33-byte Signal identity key that the PeerId's Ed25519 key determines (src/crypto/identity.ts).
 * A pure function, cached: the point validation (torsion check) costs milliseconds per call.
 */
export function identityKeyOfPeer (peerId: string): Uint8Array {
  const hit = identityKeyCache.get(peerId)
  if (hit != null) return hit.slice()
  const key = encodePublicKey(identityKeyForEd25519(ed25519PublicKeyOfPeerId(peerId)))
  if (identityKeyCache.size >= IDENTITY_KEY_CACHE_SIZE) identityKeyCache.delete(identityKeyCache.keys().next().value!)
  identityKeyCache.set(peerId, key.slice())
  return key
}

function isPeerIdLike (s: string): boolean {
  try {
    ed25519PublicKeyOfPeerId(s)
    return true
  } catch {
    return false
  }
}

function defaultProfileName (): string {
  try {
    const n = userInfo().username
    if (n !== '' && n.length <= 64) return n
  } catch {
    // no user database entry
  }
  return 'parley-user'
}

/** A contact-name base from a peer-supplied profile name: printable, trimmed, or null. */
function displayNameBase (name: string | undefined): string | null {
  if (name == null) return null
  // control and formatting characters (bidi overrides etc.) are never shown from a stranger's input
  const clean = name.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '').trim().slice(0, 48)
  return clean !== '' ? clean : null
}

function uniqueAddrs (addrs: string[]): string[] {
  return [...new Set(addrs.filter(a => typeof a === 'string' && a.startsWith('/') && a.length <= 512))].slice(0, MAX_CONTACT_ADDRS)
}

function mergeSignals (timeoutMs: number, ...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any([AbortSignal.timeout(timeoutMs), ...signals.filter((x): x is AbortSignal => x != null)])
}

function newId (): Uint8Array {
  return new Uint8Array(randomBytes(ID_BYTES))
}

function fromHexId (s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'))
}

function reject (reason: string): { status: AckStatus, reason: string } {
  return { status: 'REJECTED', reason }
}

// ---------------------------------------------------------------------------------------------------
// initIdentity

/** Creates the identity (refuses to overwrite one), its prekeys, and the profile name. */
export async function initIdentity (opts: InitIdentityOptions): Promise<InitIdentityResult> {
  const passphrase = normPassphrase(opts.passphrase)
  const store = await openStore({ home: opts.home, passphrase, ...(opts.signal != null ? { signal: opts.signal } : {}) })
  try {
    if (await store.getIdentity() != null) throw new IdentityExistsError(opts.home)
    const identity = await generateIdentity()
    const sealed = await sealIdentity(identity, passphrase, opts.signal != null ? { signal: opts.signal } : {})
    const name = (opts.name ?? '').trim() !== '' ? opts.name!.trim() : defaultProfileName()
    if (name.length > 64) throw new InvalidArgumentError('name is longer than 64 characters')
    await store.write((tx) => {
      // re-checked under the write lock: never overwrite an identity (issue 3: init refuses to overwrite)
      if (tx.getIdentity() != null) throw new IdentityExistsError(opts.home)
      tx.putIdentity({ sealed, profileName: name })
    })
    const prekeys = new PreKeyManager(store, identity, await registrationIdFor(identity), { ...DEFAULT_PREKEY_POLICY, ...opts.prekeys })
    await prekeys.generateInitial(opts.signal != null ? { signal: opts.signal } : {})
    return { peerId: await peerIdFromSeed(identity.seed), name, identityKey: toHex(encodePublicKey(identity.dhPublicKey)), encrypted: store.encrypted }
  } finally {
    await store.close()
  }
}

// ---------------------------------------------------------------------------------------------------
// createParleyNode

export async function createParleyNode (opts: CreateNodeOptions): Promise<ParleyNode> {
  const passphrase = normPassphrase(opts.passphrase)
  const store = await openStore({ home: opts.home, passphrase, ...(opts.signal != null ? { signal: opts.signal } : {}) })
  let net: ParleyNetwork | undefined
  try {
    const stored = await store.getIdentity()
    if (stored == null) throw new NoIdentityError(opts.home)
    const identity = await openIdentity(stored.sealed, passphrase, opts.signal != null ? { signal: opts.signal } : {})
    let profileName = stored.profileName
    if (opts.name != null && opts.name.trim() !== '' && opts.name.trim() !== profileName) {
      profileName = opts.name.trim()
      if (profileName.length > 64) throw new InvalidArgumentError('name is longer than 64 characters')
      await store.setProfileName(profileName)
    }
    const prekeys = new PreKeyManager(store, identity, await registrationIdFor(identity), { ...DEFAULT_PREKEY_POLICY, ...opts.prekeys })
    await prekeys.maintain(opts.signal != null ? { signal: opts.signal } : {})
    net = await createParleyNetwork({
      listen: opts.listen ?? ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws'],
      ...(opts.announce != null ? { announce: opts.announce } : {}),
      ...(opts.bootstrap != null ? { bootstrap: opts.bootstrap } : {}),
      mdns: opts.mdns ?? true,
      ...(opts.dhtPrefix != null ? { dhtPrefix: opts.dhtPrefix } : {}),
      ...(opts.allowLoopbackFlood != null ? { allowLoopbackFlood: opts.allowLoopbackFlood } : {}),
      ...(opts.timeouts != null ? { timeouts: opts.timeouts } : {}),
      ...(opts.reconnect != null ? { reconnect: opts.reconnect } : {}),
      ...opts.network,
      seed: identity.seed
    })
    const node = new Node(store, net, identity, profileName, prekeys, { ...DEFAULT_OUTBOX_POLICY, ...opts.outbox }, opts.maintenanceMs ?? 3_600_000)
    await node.start()
    return node
  } catch (err) {
    await net?.stop().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }
}

// ---------------------------------------------------------------------------------------------------
// The node

interface ReadyReceipt { env: Envelope }

class Node implements ParleyNodeApi {
  readonly peerId: string
  readonly internals: NodeInternals
  private readonly identityKey: Uint8Array
  private readonly listeners = new Set<(e: NodeEvent) => void>()
  private readonly locks = new Map<string, Promise<unknown>>()
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly flushing = new Map<string, { again: boolean, force: boolean }>()
  /** Peers with queued messages that still wait for a session (no bundle could be fetched yet). */
  private readonly awaitingSession = new Map<string, { attempt: number, nextAt: number }>()
  private readonly pendingReceipts = new Map<string, { DELIVERED: Uint8Array[], READ: Uint8Array[] }>()
  private readonly readyReceipts = new Map<string, ReadyReceipt[]>()
  private readonly recentAddrs = new Map<string, string[]>()
  private readonly lastBundleTo = new Map<string, number>()
  private readonly timers: NodeJS.Timeout[] = []
  private lastPublish = 0
  private publishTimer: NodeJS.Timeout | null = null
  private stopped = false
  private stopping: Promise<void> | null = null
  /** Aborted by stop(): every network call of the node listens to it. */
  private readonly life = new AbortController()

  constructor (
    private readonly store: ParleyStore,
    private readonly net: ParleyNetwork,
    private readonly identity: IdentityKeyPair,
    private profileName: string,
    private readonly prekeys: PreKeyManager,
    private readonly policy: OutboxPolicy,
    private readonly maintenanceMs: number
  ) {
    this.peerId = net.peerId
    this.identityKey = encodePublicKey(identity.dhPublicKey)
    this.internals = {
      store,
      net,
      prekeys,
      flushAll: async () => { await this.tick() },
      publishRecord: async () => { await this.publishRecord(true, true) }
    }
  }

  // -- lifecycle ------------------------------------------------------------------------------------

  async start (): Promise<void> {
    this.net.handleEnvelopes(async (from, env) => await this.track(this.onEnvelope(from, env)))
    this.net.handleBundleRequests(async (from) => await this.track(this.onBundleRequest(from)))
    this.net.addEventListener('peer:online', (e) => { this.onPeerOnline(e.detail.peerId) })
    this.net.addEventListener('peer:offline', (e) => { this.onPeerOffline(e.detail.peerId) })
    this.net.addEventListener('peer:addresses', (e) => { this.bg(this.onPeerAddresses(e.detail.peerId, e.detail.addresses)) })
    await this.net.start()
    for (const c of await this.store.listContacts()) this.net.watch(c.peerId, c.addresses)
    // peers whose queued messages never got a session (e.g. the node stopped before a bundle arrived)
    for (const c of await this.store.listContacts()) {
      const recs = await this.store.listMessages(c.peerId, { limit: 200 })
      if (recs.some(m => m.direction === 'out' && m.status === 'queued')) this.awaitingSession.set(c.peerId, { attempt: 0, nextAt: 0 })
    }
    const tick = setInterval(() => { this.bg(this.tick()) }, this.policy.tickMs)
    tick.unref?.()
    const maint = setInterval(() => { this.bg(this.maintain()) }, this.maintenanceMs)
    maint.unref?.()
    this.timers.push(tick, maint)
    this.bg(this.publishRecord())
    this.bg(this.tick())
  }

  async stop (): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true
      this.life.abort(new NodeStoppedError())
      for (const t of this.timers) clearInterval(t)
      if (this.publishTimer != null) clearTimeout(this.publishTimer)
      this.net.handleEnvelopes(null)
      this.net.handleBundleRequests(null)
      await this.net.stop().catch(() => {})
      // let in-flight handlers and flushes finish (they fail fast once the network is down)
      const deadline = new Promise(resolve => setTimeout(resolve, 10_000).unref())
      await Promise.race([Promise.allSettled([...this.tasks]), deadline])
      await this.store.close()
    })()
    await this.stopping
  }

  private assertRunning (): void {
    if (this.stopped) throw new NodeStoppedError()
  }

  private track<T> (p: Promise<T>): Promise<T> {
    this.tasks.add(p)
    void p.finally(() => this.tasks.delete(p)).catch(() => {})
    return p
  }

  /** Runs a background task; its failure never crashes the node. */
  private bg (p: Promise<unknown>): void {
    void this.track(p).catch(() => {})
  }

  /** Serialises everything that reads and writes one peer's session record. */
  private async withPeerLock<T> (peerId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(peerId) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    this.locks.set(peerId, tail)
    void tail.then(() => { if (this.locks.get(peerId) === tail) this.locks.delete(peerId) })
    return await run
  }

  private emit (e: NodeEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e)
      } catch {
        // a listener's failure is its own
      }
    }
  }

  subscribe (listener: (event: NodeEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  // -- views ----------------------------------------------------------------------------------------

  private contactInfo (c: Contact, unread: number): ContactInfo {
    return {
      peerId: c.peerId,
      name: c.name,
      identityKey: toHex(c.identityKey),
      verified: c.verified,
      pendingKeyChange: c.keyChange != null ? { identityKey: toHex(c.keyChange.newKey), seenAt: c.keyChange.seenAt } : null,
      online: this.net.isConnected(c.peerId),
      unread,
      addresses: [...c.addresses],
      lastSeen: c.lastSeen,
      createdAt: c.createdAt
    }
  }

  private messageInfo (m: StoredMessage): MessageInfo {
    const status: MessageStatus = m.direction === 'in' ? (m.readAt != null ? 'read' : 'delivered') : m.status
    return {
      id: m.id,
      peerId: m.peerId,
      direction: m.direction,
      text: utf8.decode(m.body),
      timestamp: m.sentAt,
      receivedAt: m.receivedAt,
      status,
      seq: m.seq
    }
  }

  async id (): Promise<LocalIdentityInfo> {
    return { peerId: this.peerId, name: this.profileName, addresses: this.net.addresses(), identityKey: toHex(this.identityKey) }
  }

  async invite (): Promise<{ invite: string }> {
    this.assertRunning()
    const fingerprint = await identityFingerprint(this.identityKey)
    const addresses = uniqueAddrs(this.net.addresses())
    return { invite: formatInvite({ peerId: this.peerId, fingerprint, name: this.profileName, addresses }) }
  }

  private async findContact (peer: string): Promise<Contact | null> {
    if (typeof peer !== 'string' || peer === '' || peer.length > 256) return null
    return await this.store.getContact(peer) ?? await this.store.getContactByName(peer)
  }

  private async resolveContact (peer: string): Promise<Contact> {
    const c = await this.findContact(peer)
    if (c == null) throw new UnknownContactError(peer)
    return c
  }

  async listContacts (): Promise<ContactInfo[]> {
    const [contacts, unread] = await Promise.all([this.store.listContacts(), this.store.unreadCounts()])
    return contacts.map(c => this.contactInfo(c, unread[c.peerId] ?? 0))
  }

  private async contactInfoOf (peerId: string): Promise<ContactInfo> {
    const c = await this.store.getContact(peerId)
    if (c == null) throw new UnknownContactError(peerId)
    return this.contactInfo(c, await this.store.unreadCount(peerId))
  }

  // -- contacts -------------------------------------------------------------------------------------

  async addContact (invite: string, opts: { name?: string, signal?: AbortSignal } = {}): Promise<ContactInfo> {
    this.assertRunning()
    opts.signal?.throwIfAborted()
    const inv = parseInvite(invite)
    if (inv.peerId === this.peerId) throw new InvalidInviteError('this is your own invite')
    let identityKey: Uint8Array
    try {
      // The identity key is a function of the PeerId (src/crypto/identity.ts): derive, never trust a copy.
      identityKey = identityKeyOfPeer(inv.peerId)
    } catch (err) {
      throw new InvalidInviteError(`invite PeerId is not a Parley identity: ${(err as Error).message}`)
    }
    // The invite's fingerprint must match the derived key (a mistyped or tampered link is refused).
    if (!constantTimeEqual(await identityFingerprint(identityKey), inv.fingerprint)) throw new InvalidInviteError('invite fingerprint does not match its PeerId')
    const explicit = opts.name?.trim()
    if (explicit != null && (explicit === '' || explicit.length > 64)) throw new InvalidArgumentError('contact name must be 1..64 characters')
    const now = Date.now()
    const { contact, created } = await this.store.write((tx) => {
      const existing = tx.getContact(inv.peerId)
      const addresses = uniqueAddrs([...inv.addresses, ...(existing?.addresses ?? [])])
      if (existing != null) {
        const patch: Parameters<typeof tx.updateContact>[1] = { addresses }
        if (explicit != null) patch.name = explicit
        return { contact: tx.updateContact(inv.peerId, patch)!, created: false }
      }
      const base = explicit ?? inv.name?.trim() ?? ''
      // an explicit --name must be free (ContactNameTakenError); otherwise pick the first free variant
      const name = explicit ?? tx.suggestContactName(base !== '' ? base : `peer-${inv.peerId.slice(-8)}`)
      const c: Contact = { peerId: inv.peerId, name, identityKey, verified: false, keyChange: null, addresses, lastSeen: null, createdAt: now }
      tx.putContact(c)
      return { contact: c, created: true }
    }, opts.signal != null ? { signal: opts.signal } : {})
    this.net.watch(contact.peerId, contact.addresses)
    const info = this.contactInfo(contact, created ? 0 : await this.store.unreadCount(contact.peerId))
    if (created) this.emit({ type: 'contact-added', contact: info })
    return info
  }

  async verifyContact (peer: string): Promise<ContactInfo> {
    const c = await this.resolveContact(peer)
    if (c.keyChange != null) throw new KeyChangePendingError(c.peerId)
    await this.store.updateContact(c.peerId, { verified: true })
    return await this.contactInfoOf(c.peerId)
  }

  async acceptKeyChange (peer: string): Promise<ContactInfo> {
    const c = await this.resolveContact(peer)
    if (c.keyChange == null) return this.contactInfo(c, await this.store.unreadCount(c.peerId))
    const newKey = c.keyChange.newKey
    await this.withPeerLock(c.peerId, async () => {
      await this.store.write((tx) => {
        // the accepted key is unverified again (Signal: a changed safety number clears "verified")
        tx.updateContact(c.peerId, { identityKey: newKey, keyChange: null, verified: false })
        const rec = tx.getSession(c.peerId)
        if (rec != null) {
          let keep: boolean
          try {
            const r = deserializeSessionRecord(rec)
            const k = (r.current ?? r.previous[0])?.remoteIdentityKey
            keep = k != null && bytesEqual(k, newKey)
          } catch {
            keep = false
          }
          if (!keep) tx.deleteSession(c.peerId)
        }
      })
    })
    return await this.contactInfoOf(c.peerId)
  }

  async safetyNumber (peer: string): Promise<SafetyNumberInfo> {
    const c = await this.resolveContact(peer)
    const localIdentifier = utf8.encode(this.peerId)
    const remoteIdentifier = utf8.encode(c.peerId)
    const sn = await computeSafetyNumber({ localIdentifier, localIdentityKey: this.identityKey, remoteIdentifier, remoteIdentityKey: c.identityKey })
    return {
      safetyNumber: sn.displayable,
      local: { identifier: toHex(localIdentifier), identityKey: toHex(this.identityKey) },
      remote: { identifier: toHex(remoteIdentifier), identityKey: toHex(c.identityKey) },
      scannable: toHex(sn.scannable),
      verified: c.verified
    }
  }

  /** A contact for PEER; a PeerId that is no contact yet becomes an unverified one. */
  private async ensureContact (peer: string): Promise<Contact> {
    const c = await this.findContact(peer)
    if (c != null) return c
    if (!isPeerIdLike(peer)) throw new UnknownContactError(peer)
    if (peer === this.peerId) throw new InvalidArgumentError('cannot message yourself')
    const identityKey = identityKeyOfPeer(peer)
    const now = Date.now()
    const { contact, created } = await this.store.write((tx) => {
      const existing = tx.getContact(peer)
      if (existing != null) return { contact: existing, created: false }
      const n: Contact = { peerId: peer, name: tx.suggestContactName(`peer-${peer.slice(-8)}`), identityKey, verified: false, keyChange: null, addresses: this.recentAddrs.get(peer) ?? [], lastSeen: null, createdAt: now }
      tx.putContact(n)
      return { contact: n, created: true }
    })
    if (created) {
      this.net.watch(contact.peerId, contact.addresses)
      this.emit({ type: 'contact-added', contact: this.contactInfo(contact, 0) })
    }
    return contact
  }

  // -- messages -------------------------------------------------------------------------------------

  async messages (peer: string, opts: { limit?: number, before?: number } = {}): Promise<MessageInfo[]> {
    const c = await this.findContact(peer)
    const peerId = c?.peerId ?? (isPeerIdLike(peer) ? peer : null)
    if (peerId == null) throw new UnknownContactError(peer)
    const list = await this.store.listMessages(peerId, {
      ...(opts.limit != null ? { limit: opts.limit } : {}),
      ...(opts.before != null ? { beforeSeq: opts.before } : {})
    })
    return list.map(m => this.messageInfo(m))
  }

  async markRead (peer: string): Promise<void> {
    const c = await this.resolveContact(peer)
    const unread = (await this.store.listMessages(c.peerId, { limit: 1000 })).filter(m => m.direction === 'in' && m.readAt == null)
    if (unread.length === 0) return
    const upToSeq = Math.max(...unread.map(m => m.seq))
    await this.store.markRead(c.peerId, { upToSeq })
    this.queueReceipt(c.peerId, 'READ', unread.map(m => fromHexId(m.id)))
  }

  async peers (): Promise<PeerConnectionInfo[]> {
    const contacts = new Map((await this.store.listContacts()).map(c => [c.peerId, c.name]))
    return this.net.connections().map(c => ({
      peerId: c.peerId,
      remoteAddr: c.remoteAddr,
      relayed: c.relayed,
      direction: c.direction,
      contact: contacts.get(c.peerId) ?? null
    }))
  }

  async send (peer: string, text: string, opts: SendOptions = {}): Promise<MessageInfo> {
    this.assertRunning()
    opts.signal?.throwIfAborted()
    if (typeof text !== 'string' || text.length === 0) throw new InvalidArgumentError('message text is empty')
    const body = utf8.encode(text)
    if (body.length > MAX_TEXT_BYTES) throw new InvalidArgumentError(`message text exceeds ${MAX_TEXT_BYTES} bytes`)
    const contact = await this.ensureContact(peer)
    if (contact.keyChange != null) throw new KeyChangePendingError(contact.peerId)
    const peerId = contact.peerId
    const id = newId()
    const idHex = toHex(id)
    const timestamp = Date.now()
    // subscribe before anything goes out: the receipt may beat send()'s return
    let waiter: Promise<MessageInfo> | null = null
    let cancelWait = (): void => {}
    if (opts.wait === true) {
      const w = this.waitDelivered(idHex, peerId, opts.timeoutMs ?? 60_000, opts.signal)
      waiter = w.promise
      cancelWait = w.cancel
      waiter.catch(() => {})
    }
    let stored: StoredMessage
    try {
      stored = await this.withPeerLock(peerId, async () => {
        let record = await this.loadRecord(peerId)
        if (record?.current == null) {
          try {
            record = await this.establish(contact, record, mergeSignals(this.policy.sessionSetupMs, opts.signal, this.life.signal))
          } catch (err) {
            if (err instanceof KeyChangePendingError) throw err
            opts.signal?.throwIfAborted()
            record = null
          }
        }
        if (record?.current == null) {
          // no session yet: keep the message queued; it is encrypted once a bundle can be fetched
          const m = await this.store.write((tx) => {
            tx.insertMessage({ id: idHex, peerId, direction: 'out', body, sentAt: timestamp, status: 'queued' })
            return tx.getMessage(idHex)!
          })
          if (!this.awaitingSession.has(peerId)) this.awaitingSession.set(peerId, { attempt: 1, nextAt: Date.now() + this.retryDelay(1) })
          return m
        }
        if (this.awaitingSession.has(peerId)) record = await this.sealPendingLocked(peerId, record)
        const env = await this.sealText(record, id, timestamp, text)
        // one unit: the advanced ratchet, the message and its outbox entry (issue 3 atomicity)
        return await this.store.write((tx) => {
          tx.putSession(peerId, serializeSessionRecord(env.record))
          tx.insertMessage({ id: idHex, peerId, direction: 'out', body, sentAt: timestamp, status: 'queued' })
          tx.enqueueOutbox({ messageId: idHex, peerId, envelope: env.bytes })
          return tx.getMessage(idHex)!
        })
      })
    } catch (err) {
      cancelWait()
      throw err
    }
    const info = this.messageInfo(stored)
    this.emit({ type: 'message', message: info })
    this.kick(peerId, false)
    if (waiter == null) return info
    return await waiter
  }

  private waitDelivered (id: string, peerId: string, timeoutMs: number, signal?: AbortSignal): { promise: Promise<MessageInfo>, cancel: () => void } {
    let cancel = (): void => {}
    const promise = new Promise<MessageInfo>((resolve, rejectP) => {
      let unsub = (): void => {}
      const done = (): void => { clearTimeout(timer); unsub(); signal?.removeEventListener('abort', onAbort) }
      const finish = (): void => {
        done()
        void this.store.getMessage(id).then(m => {
          if (m == null) rejectP(new SendFailedError(id, { id, status: 'failed', reason: 'message vanished' }))
          else resolve(this.messageInfo(m))
        }, rejectP)
      }
      const timer = setTimeout(() => {
        done()
        void this.store.getMessage(id).then(m => {
          const status = m?.status ?? 'queued'
          rejectP(new TimeoutError(`message ${id} not delivered within ${Math.round(timeoutMs / 1000)} s; it stays ${status} and will be retried`, { id, status, peerId }))
        }, rejectP)
      }, timeoutMs)
      const onAbort = (): void => { done(); rejectP(signal?.reason) }
      signal?.addEventListener('abort', onAbort)
      unsub = this.subscribe((e) => {
        if (e.type !== 'status' || e.id !== id) return
        if (DONE.has(e.status)) finish()
        else if (e.status === 'failed') { done(); rejectP(new SendFailedError(id, { id, status: 'failed' })) }
      })
      cancel = done
    })
    return { promise, cancel }
  }

  private async loadRecord (peerId: string): Promise<SessionRecord | null> {
    const bytes = await this.store.getSession(peerId)
    return bytes != null ? deserializeSessionRecord(bytes) : null
  }

  private async sealText (record: SessionRecord, id: Uint8Array, timestamp: number, text: string): Promise<{ record: SessionRecord, bytes: Uint8Array }> {
    // while the session is new (PreKey phase) our display name travels along, for the peer's message request
    const fresh = record.current?.pendingPreKey != null
    const pt = encodePlaintext({ id, timestamp, content: { text }, ...(fresh ? { profileName: this.profileName.slice(0, MAX_PROFILE_NAME_CHARS) } : {}) })
    const { record: next, message } = await encryptMessage(record, pt)
    const env: Envelope = { id, sender: this.peerId, timestamp, type: message.type === 'prekey' ? 'PREKEY' : 'WHISPER', body: message.body }
    return { record: next, bytes: encodeEnvelope(env) }
  }

  /**
   * Fetches the peer's bundle (directly, else from its DHT record), checks it and starts a PQXDH
   * session. Caller holds the peer lock.
   */
  private async establish (contact: Contact, existing: SessionRecord | null, signal: AbortSignal): Promise<SessionRecord> {
    const peerId = contact.peerId
    let bytes: Uint8Array | null = null
    let firstErr: unknown
    try {
      bytes = await this.net.fetchBundle(peerId, { addrs: contact.addresses, signal })
    } catch (err) {
      firstErr = err
    }
    // a DHT lookup needs DHT peers: with no connection at all it could only time out
    if (bytes == null && !signal.aborted && this.net.connections().length > 0) {
      try {
        const rec = await this.net.findRecord(peerId, { signal })
        if (rec != null) {
          bytes = rec.payload
          this.bg(this.onPeerAddresses(peerId, rec.addresses))
        }
      } catch (err) {
        firstErr ??= err
      }
    }
    if (bytes == null) throw new NoBundleError(`no prekey bundle available for ${peerId}`, { cause: firstErr })
    const bundle = decodePreKeyBundle(bytes)
    // Identity binding: the bundle's identity key must be the one the PeerId determines (src/crypto/identity.ts).
    assertIdentityBoundToPeerKey(ed25519PublicKeyOfPeerId(peerId), bundle.identityKey.subarray(1))
    if (!bytesEqual(bundle.identityKey, contact.identityKey)) {
      await this.recordKeyChange(peerId, bundle.identityKey)
      throw new KeyChangePendingError(peerId)
    }
    // PQXDH §3.3: verifies both prekey signatures before use; a Kyber prekey is mandatory.
    return await initiateSession({ identity: this.identity, registrationId: this.prekeys.registrationId, bundle, mode: 'pqxdh', ...(existing != null ? { record: existing } : {}), signal })
  }

  /** Encrypts every queued message of the peer that has no envelope yet, oldest first. Caller holds the lock. */
  private async sealPendingLocked (peerId: string, record: SessionRecord): Promise<SessionRecord> {
    const queued = (await this.store.listMessages(peerId, { limit: 1000 })).filter(m => m.direction === 'out' && m.status === 'queued')
    for (const m of queued) {
      if (await this.store.getOutbox(m.id) != null) continue
      const env = await this.sealText(record, fromHexId(m.id), m.sentAt, utf8.decode(m.body))
      record = env.record
      await this.store.write((tx) => {
        tx.putSession(peerId, serializeSessionRecord(env.record))
        tx.enqueueOutbox({ messageId: m.id, peerId, envelope: env.bytes })
      })
    }
    this.awaitingSession.delete(peerId)
    return record
  }

  /** Retries the session set-up for a peer whose queued messages wait for a bundle. */
  private async retrySession (peerId: string): Promise<void> {
    const st = this.awaitingSession.get(peerId)
    if (st == null || this.stopped) return
    st.nextAt = Number.MAX_SAFE_INTEGER // in progress
    let ok = false
    try {
      await this.withPeerLock(peerId, async () => {
        const contact = await this.store.getContact(peerId)
        if (contact == null || contact.keyChange != null) return
        let record = await this.loadRecord(peerId)
        if (record?.current == null) record = await this.establish(contact, record, mergeSignals(this.policy.sessionSetupMs, this.life.signal))
        await this.sealPendingLocked(peerId, record)
        ok = true
      })
    } catch {
      ok = false
    }
    if (ok) {
      this.kick(peerId, false)
    } else if (this.awaitingSession.get(peerId) === st) {
      st.attempt++
      st.nextAt = Date.now() + this.retryDelay(st.attempt)
    }
  }

  private retryDelay (attempt: number): number {
    return backoffDelay(attempt, { baseMs: this.policy.retryBaseMs, maxMs: this.policy.retryMaxMs })
  }

  private async recordKeyChange (peerId: string, newKey: Uint8Array): Promise<void> {
    const now = Date.now()
    const changed = await this.store.write((tx) => {
      const c = tx.getContact(peerId)
      if (c == null) return false
      if (c.keyChange != null && bytesEqual(c.keyChange.newKey, newKey)) return false
      tx.updateContact(peerId, { keyChange: { newKey, seenAt: now } })
      return true
    })
    if (changed) this.emit({ type: 'key-changed', peerId, identityKey: toHex(newKey) })
  }

  // -- outbox ---------------------------------------------------------------------------------------

  /** Flushes one peer's outbox soon (coalesced; one flush at a time per peer). */
  private kick (peerId: string, force: boolean): void {
    if (this.stopped) return
    const f = this.flushing.get(peerId)
    if (f != null) {
      f.again = true
      f.force ||= force
      return
    }
    const state = { again: false, force }
    this.flushing.set(peerId, state)
    this.bg((async () => {
      try {
        let more: boolean
        do {
          const force = state.force
          state.again = false
          state.force = false
          more = await this.flushPeer(peerId, force)
        } while ((state.again || more) && !this.stopped)
      } finally {
        this.flushing.delete(peerId)
      }
    })())
  }

  private async tick (): Promise<void> {
    if (this.stopped) return
    const now = Date.now()
    const due = await this.store.dueOutbox(now, { limit: 500 })
    for (const p of new Set(due.map(e => e.peerId))) this.kick(p, false)
    for (const [p, st] of this.awaitingSession) if (st.nextAt <= now) this.bg(this.retrySession(p))
  }

  /** One delivery attempt of a peer's due envelopes; true when more are due and this one made progress. */
  private async flushPeer (peerId: string, force: boolean): Promise<boolean> {
    if (this.stopped) return false
    const now = Date.now()
    const receipts = [...(this.readyReceipts.get(peerId) ?? [])]
    // failed entries stay (with their reason) at nextAttemptAt = MAX; at most 64 envelopes per flush
    const due = (await this.store.outboxFor(peerId, { limit: 1000 }))
      .filter(e => e.nextAttemptAt !== Number.MAX_SAFE_INTEGER && (force || e.nextAttemptAt <= now))
    const entries = due.slice(0, MAX_ENVELOPES_PER_FLUSH)
    if (receipts.length === 0 && entries.length === 0) return false
    const envs: Envelope[] = [...receipts.map(r => r.env)]
    const good: typeof entries = []
    const broken: string[] = []
    for (const e of entries) {
      try {
        envs.push(decodeEnvelope(e.envelope))
        good.push(e)
      } catch {
        broken.push(e.messageId)
      }
    }
    const contact = await this.store.getContact(peerId)
    let acks: Ack[] = []
    let error: string | null = null
    try {
      acks = await this.net.sendEnvelopes(peerId, envs, { addrs: contact?.addresses ?? [], signal: mergeSignals(this.policy.sendTimeoutMs, this.life.signal) })
    } catch (err) {
      if (err instanceof DeliveryIncompleteError) acks = [...err.acks] as Ack[]
      error = (err as Error).name ?? 'send failed'
    }
    // receipts need no receipt: gone once the peer acknowledged them in any way
    const ackedReceipts = new Set(receipts.slice(0, Math.min(acks.length, receipts.length)))
    const left = (this.readyReceipts.get(peerId) ?? []).filter(r => !ackedReceipts.has(r))
    if (left.length > 0) this.readyReceipts.set(peerId, left)
    else this.readyReceipts.delete(peerId)
    const statusEvents: Array<{ id: string, status: MessageStatus }> = []
    const later = Date.now()
    await this.store.write((tx) => {
      for (const id of broken) {
        tx.setStatus(id, 'failed')
        tx.recordOutboxAttempt(id, { error: 'corrupt envelope', nextAttemptAt: Number.MAX_SAFE_INTEGER })
        statusEvents.push({ id, status: 'failed' })
      }
      good.forEach((e, i) => {
        const ack = acks[receipts.length + i]
        if (ack == null) {
          tx.recordOutboxAttempt(e.messageId, { error: error ?? 'no ack', nextAttemptAt: later + this.retryDelay(e.attempts) })
          return
        }
        if (ack.status === 'OK' || ack.status === 'DUPLICATE') {
          const m = tx.getMessage(e.messageId)
          if (m != null && (m.status === 'queued' || m.status === 'failed')) {
            tx.setStatus(e.messageId, 'sent')
            statusEvents.push({ id: e.messageId, status: 'sent' })
          }
          // keep it until the delivery receipt: retransmission until receipt (issue 3)
          const wait = Math.min(this.policy.receiptWaitMaxMs, this.policy.receiptWaitMs * 2 ** Math.min(e.attempts, 20))
          tx.recordOutboxAttempt(e.messageId, { error: null, nextAttemptAt: later + wait })
        } else if (ack.status === 'REJECTED') {
          tx.setStatus(e.messageId, 'failed')
          tx.recordOutboxAttempt(e.messageId, { error: `rejected: ${ack.reason ?? ''}`.slice(0, 200), nextAttemptAt: Number.MAX_SAFE_INTEGER })
          statusEvents.push({ id: e.messageId, status: 'failed' })
        } else {
          tx.recordOutboxAttempt(e.messageId, { error: `peer error: ${ack.reason ?? ''}`.slice(0, 200), nextAttemptAt: later + this.retryDelay(e.attempts) })
        }
      })
    }).catch(() => {})
    for (const s of statusEvents) this.emit({ type: 'status', peerId, id: s.id, status: s.status })
    return due.length > entries.length && acks.length > 0
  }

  // -- receipts -------------------------------------------------------------------------------------

  private queueReceipt (peerId: string, kind: 'DELIVERED' | 'READ', ids: Uint8Array[]): void {
    if (this.stopped || ids.length === 0) return
    let q = this.pendingReceipts.get(peerId)
    const schedule = q == null
    if (q == null) {
      q = { DELIVERED: [], READ: [] }
      this.pendingReceipts.set(peerId, q)
    }
    q[kind].push(...ids)
    if (schedule) setImmediate(() => { this.bg(this.sealReceipts(peerId)) })
  }

  private async sealReceipts (peerId: string): Promise<void> {
    await this.withPeerLock(peerId, async () => {
      const q = this.pendingReceipts.get(peerId)
      this.pendingReceipts.delete(peerId)
      if (q == null || this.stopped) return
      let record = await this.loadRecord(peerId)
      if (record?.current == null) return
      const ready: ReadyReceipt[] = []
      for (const kind of ['DELIVERED', 'READ'] as const) {
        const ids = q[kind]
        for (let i = 0; i < ids.length; i += LIMITS.maxReceiptIds) {
          const r = await this.sealReceipt(record, kind, ids.slice(i, i + LIMITS.maxReceiptIds))
          record = r.record
          ready.push(r.ready)
        }
      }
      if (ready.length === 0) return
      // the ratchet advance is committed before any receipt leaves (no key reuse after a crash)
      await this.store.putSession(peerId, serializeSessionRecord(record))
      this.pushReadyReceipts(peerId, ready)
    })
    this.kick(peerId, false)
  }

  private async sealReceipt (record: SessionRecord, kind: 'DELIVERED' | 'READ', ids: Uint8Array[]): Promise<{ record: SessionRecord, ready: ReadyReceipt }> {
    const id = newId()
    const timestamp = Date.now()
    const pt = encodePlaintext({ id, timestamp, content: { receipt: { kind, ids } } })
    const { record: next, message } = await encryptMessage(record, pt)
    return { record: next, ready: { env: { id, sender: this.peerId, timestamp, type: message.type === 'prekey' ? 'PREKEY' : 'WHISPER', body: message.body } } }
  }

  private pushReadyReceipts (peerId: string, ready: ReadyReceipt[]): void {
    const list = [...(this.readyReceipts.get(peerId) ?? []), ...ready]
    this.readyReceipts.set(peerId, list.slice(-MAX_RECEIPT_QUEUE))
  }

  // -- incoming -------------------------------------------------------------------------------------

  private async onEnvelope (from: string, env: Envelope): Promise<{ status: AckStatus, reason?: string }> {
    if (this.stopped) return { status: 'ERROR', reason: 'stopping' }
    try {
      return await this.withPeerLock(from, async () => await this.receive(from, env))
    } catch {
      // store failure or the like: the sender keeps the envelope and retries
      return { status: 'ERROR', reason: 'internal error' }
    }
  }

  private async receive (from: string, env: Envelope): Promise<{ status: AckStatus, reason?: string }> {
    const idHex = toHex(env.id)
    // 1. dedup by message id before any crypto (issue 3: duplicates never shown twice)
    const existing = await this.store.getMessage(idHex)
    if (existing != null) {
      if (existing.peerId !== from || existing.direction !== 'in') return reject('message id collision')
      this.queueReceipt(from, 'DELIVERED', [env.id]) // the first receipt may have been lost
      return { status: 'DUPLICATE' }
    }
    let expectedKey: Uint8Array
    try {
      expectedKey = identityKeyOfPeer(from)
    } catch {
      return reject('sender is not a Parley identity')
    }
    const contact = await this.store.getContact(from)
    if (contact?.keyChange != null) return reject('identity key change not accepted')
    if (contact != null && !bytesEqual(contact.identityKey, expectedKey)) {
      // the peer presents another identity key than the stored one: refuse until the user accepts it
      await this.recordKeyChange(from, expectedKey)
      return reject('identity key changed')
    }
    const type = env.type === 'PREKEY' ? 'prekey' : 'whisper'
    if (type === 'prekey') {
      // Impersonation check before any prekey is touched: the PreKey message's identity key must be
      // the one bound to the Noise-authenticated PeerId (libp2p noise spec §Handshake; identity.ts).
      let claimed: Uint8Array
      try {
        claimed = parsePreKeySignalMessage(env.body).identityKey
      } catch {
        return reject('malformed message')
      }
      if (!bytesEqual(claimed, expectedKey)) return reject('identity key not bound to the sender PeerId')
    }
    let record: SessionRecord | null
    try {
      record = await this.loadRecord(from)
    } catch {
      return { status: 'ERROR', reason: 'session state unreadable' }
    }
    let res
    try {
      res = await decryptMessage({
        identity: this.identity,
        registrationId: this.prekeys.registrationId,
        ...(record != null ? { record } : {}),
        message: { type, body: env.body },
        preKeys: this.prekeys.lookup(),
        // PQXDH only between Parley peers: a classic X3DH start would be a downgrade (PQXDH §4.7)
        acceptClassic: false
      })
    } catch (err) {
      if (err instanceof DuplicateMessageError) return { status: 'DUPLICATE' }
      if (err instanceof ParleyCryptoError) return reject(err.code)
      throw err
    }
    if (!bytesEqual(res.remoteIdentityKey, expectedKey)) return reject('identity key not bound to the sender PeerId')
    let pt
    try {
      pt = decodePlaintext(res.plaintext)
    } catch {
      return reject('malformed content')
    }
    // the authenticated inner id must be the envelope's (the dedup key)
    if (!bytesEqual(pt.id, env.id)) return reject('message id mismatch')
    const now = Date.now()
    let recordBytes = serializeSessionRecord(res.record)
    const consumedOt = res.consumedOneTimePreKeyId
    const consumedKy = res.consumedKyberPreKeyId
    if (pt.content.text != null) {
      const text = pt.content.text
      // The delivery receipt is encrypted now and its ratchet step committed with the message (one
      // unit instead of two); it leaves after the Ack. Lost in a crash, it is re-made when the
      // sender retransmits (dedup path above).
      const receipt = await this.sealReceipt(res.record, 'DELIVERED', [env.id])
      recordBytes = serializeSessionRecord(receipt.record)
      const out = await this.store.write((tx) => {
        let created: Contact | null = null
        if (tx.getContact(from) == null) {
          // a message request: a stranger becomes an unverified contact (its key is bound to its PeerId)
          created = { peerId: from, name: tx.suggestContactName(displayNameBase(pt.profileName) ?? `peer-${from.slice(-8)}`), identityKey: expectedKey, verified: false, keyChange: null, addresses: this.recentAddrs.get(from) ?? [], lastSeen: now, createdAt: now }
          tx.putContact(created)
        } else {
          tx.updateContact(from, { lastSeen: now })
        }
        const ins = tx.insertMessage({ id: idHex, peerId: from, direction: 'in', body: utf8.encode(text), sentAt: pt.timestamp, receivedAt: now, status: 'delivered' })
        tx.putSession(from, recordBytes)
        // X3DH §3.4: the one-time prekey is deleted in the same unit as the session it created
        if (consumedOt != null) tx.removePreKey('onetime', consumedOt)
        if (consumedKy != null) tx.removePreKey('kyber', consumedKy)
        return { created, message: ins.result === 'inserted' ? tx.getMessage(idHex) : null }
      })
      if (out.created != null) {
        this.net.watch(from, out.created.addresses)
        this.emit({ type: 'contact-added', contact: this.contactInfo(out.created, 1) })
      }
      if (out.message != null) this.emit({ type: 'message', message: this.messageInfo(out.message) })
      this.pushReadyReceipts(from, [receipt.ready])
      setImmediate(() => { this.kick(from, false) })
    } else if (pt.content.receipt != null) {
      if (contact == null) return reject('receipt from a stranger')
      const kind = pt.content.receipt.kind === 'READ' ? 'read' : 'delivered'
      const ids = pt.content.receipt.ids.map(i => toHex(i))
      const events = await this.store.write((tx) => {
        tx.putSession(from, recordBytes)
        if (consumedOt != null) tx.removePreKey('onetime', consumedOt)
        if (consumedKy != null) tx.removePreKey('kyber', consumedKy)
        tx.updateContact(from, { lastSeen: now })
        const ev: Array<{ id: string, status: MessageStatus }> = []
        for (const id of ids) {
          const before = tx.getMessage(id)
          // addReceipt checks the message is ours and belongs to this conversation, and removes the outbox entry
          if (!tx.addReceipt({ messageId: id, kind, at: now, fromPeerId: from })) continue
          const after = tx.getMessage(id)
          if (after != null && after.status !== before?.status) ev.push({ id, status: after.status })
        }
        return ev
      })
      for (const e of events) this.emit({ type: 'status', peerId: from, id: e.id, status: e.status })
    }
    if (consumedOt != null || consumedKy != null) this.bg(this.maintain())
    return { status: 'OK' }
  }

  private async onBundleRequest (from: string): Promise<Uint8Array | null> {
    if (this.stopped) return null
    // one one-time prekey per requester per minute: a stranger cannot drain them quickly
    const last = this.lastBundleTo.get(from) ?? 0
    const oneTime = Date.now() - last > 60_000
    if (oneTime) this.lastBundleTo.set(from, Date.now())
    if (this.lastBundleTo.size > 4096) this.lastBundleTo.clear()
    const bundle = await this.prekeys.issueBundle({ oneTime })
    if (oneTime) this.bg(this.maintain())
    return encodePreKeyBundle(bundle)
  }

  private async maintain (): Promise<void> {
    if (this.stopped) return
    const r = await this.prekeys.maintain()
    if (r.rotated) await this.publishRecord(true)
    else if (Date.now() - this.lastPublish > this.maintenanceMs / 2) await this.publishRecord(true)
  }

  /**
   * Re-publishes the record shortly after a new connection (once the peer's DHT protocol is known
   * from identify), at most every PUBLISH_DEBOUNCE_MS: new DHT neighbours get a copy, so the record
   * outlives our going offline.
   */
  private schedulePublish (): void {
    if (this.publishTimer != null || this.stopped) return
    const wait = Math.max(PUBLISH_DELAY_MS, this.lastPublish + PUBLISH_DEBOUNCE_MS - Date.now())
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null
      this.bg(this.publishRecord(true))
    }, wait)
    this.publishTimer.unref?.()
  }

  /** Publishes the signed DHT record: a bundle without a one-time prekey (many may fetch it) + addresses. */
  private async publishRecord (force = false, rethrow = false): Promise<void> {
    if (this.stopped) return
    if (!force && Date.now() - this.lastPublish < 60_000) return
    this.lastPublish = Date.now()
    try {
      const bundle = encodePreKeyBundle(await this.prekeys.issueBundle({ oneTime: false }))
      await this.net.publishRecord(bundle, { signal: this.life.signal })
    } catch (err) {
      this.lastPublish = 0 // no DHT peers yet: try again on the next connection
      if (rethrow) throw err
    }
  }


  private onPeerOnline (peerId: string): void {
    if (this.stopped) return
    this.bg((async () => {
      const c = await this.store.getContact(peerId)
      if (c == null) return
      this.emit({ type: 'contact-online', peerId, online: true })
      await this.store.updateContact(peerId, { lastSeen: Date.now() })
      if (this.awaitingSession.has(peerId)) await this.retrySession(peerId)
      this.kick(peerId, true)
    })())
    this.schedulePublish()
  }

  private onPeerOffline (peerId: string): void {
    if (this.stopped) return
    this.bg((async () => {
      const c = await this.store.getContact(peerId)
      if (c == null || this.net.isConnected(peerId)) return
      this.emit({ type: 'contact-online', peerId, online: false })
      await this.store.updateContact(peerId, { lastSeen: Date.now() })
    })())
  }

  /** Persists a contact's current addresses (a restarted peer usually listens on a new port). */
  private async onPeerAddresses (peerId: string, addresses: string[]): Promise<void> {
    if (this.stopped) return
    const addrs = uniqueAddrs(addresses)
    if (addrs.length === 0) return
    this.recentAddrs.delete(peerId)
    this.recentAddrs.set(peerId, addrs)
    if (this.recentAddrs.size > 256) this.recentAddrs.delete(this.recentAddrs.keys().next().value!)
    await this.store.write((tx) => {
      const c = tx.getContact(peerId)
      if (c == null) return
      const merged = uniqueAddrs([...addrs, ...c.addresses])
      if (merged.length === c.addresses.length && merged.every((a, i) => a === c.addresses[i])) return
      tx.updateContact(peerId, { addresses: merged })
    })
  }
}

/**
 * Offline delivery through mailboxes (issue 4; docs/PROTOCOL.md Part 3 §6 and Part 4 §7): the node's
 * side of `/parley/mailbox/1.0.0`.
 *
 * - Our mailboxes are our relays (`ctx.relays`). For every contact we derive a routing tag from a
 *   mailbox secret (HKDF of the identity seed, so it needs no storage and survives restarts) and send
 *   it with our relays inside the encrypted session (Plaintext.route). An "introduction" tag (label
 *   `intro`) travels in our invites and our DHT record (format 3), for first messages from contacts
 *   that have no session yet.
 * - Sending: when a peer cannot be reached directly, the outbox hands its due envelopes to `deposit`:
 *   each one is sealed to the peer's identity key together with our PeerId (src/mailbox/seal.ts) and
 *   deposited in batches with every mailbox of the peer's route, from a throwaway libp2p identity.
 * - Receiving: `fetch` runs on start, whenever a connection to one of our relays opens, periodically,
 *   and when a gap is seen; it pages through our items, opens them, hands them per sender to the
 *   inbound path (one store transaction per sender and page), and acknowledges what was committed
 *   (or is garbage). Items held back by gap detection stay in the mailbox and come again.
 * - Mutual contacts as mailboxes (PROTOCOL.md Part 4 §9), opt-in on both sides: a node that hosts
 *   (`hostMailboxes`) serves `/parley/mailbox/1.0.0` on its own node for the tags its contacts
 *   registered with it (MailboxRoute.host_tag); a node that uses them (`contactMailboxes`) registers
 *   with its hosting contacts, names them to its other contacts only through per-receiver hints
 *   (MailboxRoute.mutual), and fetches from them like from its relays.
 */
import type { NodeContext } from './context.js'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { routeFromPb, routeToPb, ROUTE_DECODE_LIMITS, ROUTE_LIMITS, type MailboxRoute, type MutualHost } from './plaintext.js'
import { MailboxRoute as PbMailboxRoute } from './gen/plaintext.js'
import { relayPeerIdOf, mergeRelays } from './relays.js'
import { concatBytes, toHex, utf8 } from '../crypto/bytes.js'
import { primitives } from '../crypto/primitives/index.js'
import { decodePublicKey } from '../crypto/keys.js'
import {
  createEphemeralMailboxClient, deriveMailboxKey, MailboxFullError, MailboxRateLimitedError, MailboxService, openItem, sealItem,
  MAILBOX_LIMITS, type EphemeralMailboxClient, type MailboxItem, type MailboxKey, type MailboxLimits, type MailboxTarget
} from '../mailbox/index.js'
import type { ConversationState, WriteTx } from '../store/index.js'
import { decodeEnvelope, type Envelope } from '../wire/index.js'
import { fromHexId, identityKeyOfPeer, mergeSignals } from './util.js'

/** Tunables of offline delivery. */
export interface MailboxPolicy {
  /** Fetch from our mailboxes this often (also on start and when a relay connection opens). @default 60000 */
  fetchIntervalMs: number
  /** After a failed direct attempt, go straight to the mailboxes for this long (while not connected). @default 5000 */
  directRetryMs: number
  /** Deadline of one mailbox operation (dial + request + response). @default 15000 */
  requestTimeoutMs: number
  /** Host a mailbox for our contacts on this node (Part 4 §9). @default false */
  hostMailboxes: boolean
  /** Quotas of that mailbox. @default HOST_MAILBOX_LIMITS */
  hostLimits: Partial<MailboxLimits>
  /** Use contacts that host as our mailboxes (register with them, advertise them, fetch from them). @default false */
  contactMailboxes: boolean
}

/** Quotas of a mailbox a node hosts for its contacts: per registered tag (= per contact) and in all. */
export const HOST_MAILBOX_LIMITS: Readonly<MailboxLimits> = Object.freeze({
  maxItemsPerTag: 2000,
  maxBytesPerTag: 16 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  retentionMs: 30 * 24 * 60 * 60 * 1000
})

export const DEFAULT_MAILBOX_POLICY: Readonly<MailboxPolicy> = Object.freeze({
  fetchIntervalMs: 60_000,
  directRetryMs: 5_000,
  requestTimeoutMs: 15_000,
  hostMailboxes: false,
  hostLimits: HOST_MAILBOX_LIMITS,
  contactMailboxes: false
})

/** A peer with no known route gets its DHT record looked up for one at most this often. */
const RECORD_LOOKUP_MS = 5 * 60_000
/** Tag epoch: tags do not rotate yet (PROTOCOL.md Part 4 §8, known limits). */
const EPOCH = 0
/** Label of the introduction tag (a PeerId never equals it). */
export const INTRO_LABEL = 'intro'
const te = new TextEncoder()
const SECRET_INFO = te.encode('parley/mailbox/secret/v1')
const CLIENT_ID_PREFIX = te.encode('parley/mailbox/client-id/v1')
const MUTUAL_PREFIX = te.encode('parley/mailbox/mutual/v1')
/** Prefix of the label of our tag at a hosting contact ("host/" || its PeerId; never a PeerId or "intro"). */
const HOST_LABEL_PREFIX = 'host/'
/** Most host addresses dialled per host. */
const MAX_HOST_ADDRS = 8
/**
 * How long a host reuses its view of the tags its contacts registered (deposits come from strangers)
 * while no stored route changed; bounds how long a removed contact's tag stays accepted.
 */
const REGISTRATION_CACHE_MS = 1000
/** How long the view of our hosting contacts is reused while no stored route changed (removals, key changes, order). */
const HOSTS_CACHE_MS = 5000
/** After our set of hosts changed: wait this long (more changes coalesce), then tell every contact. */
const HOSTS_BROADCAST_DELAY_MS = 2000

/**
 * Route generation per store unit-of-work object (the store hands out one per store): bumped whenever
 * noteReceived stores a changed route, so views derived from every stored route (hosting contacts,
 * registered tags) are recomputed only after a change (scanning 1000 contacts' routes: ~20-36 ms).
 */
const routeGenerations = new WeakMap<object, number>()

/** The route generation of the store that `tx` belongs to. */
export function routeGeneration (tx: object): number {
  return routeGenerations.get(tx) ?? 0
}
/** Refusal of a deposit for a tag no current contact registered (Part 4 §9). */
export const UNREGISTERED_TAG_REASON = 'mailbox refused: tag not registered by a contact of this host'

/** What happened to one envelope handed to deposit(). */
export type DepositOutcome =
  | { kind: 'stored' }
  | { kind: 'full', reason: string }
  | { kind: 'error', reason: string }

/** One envelope to deposit: its id (hex, the idempotency key's source) and its wire bytes. */
export interface DepositItem { id: string, envelope: Uint8Array }

/** An item fetched from a mailbox, opened: who it claims to be from and its envelope. */
export interface FetchedEnvelope { sender: string, env: Envelope }

/** The inbound side: processes one sender's envelopes in order; true per envelope = done (ack it). */
export type BatchReceiver = (sender: string, envs: Envelope[]) => Promise<boolean[]>

export function encodeRoute (r: MailboxRoute): Uint8Array {
  return PbMailboxRoute.encode(routeToPb(r))
}

export function decodeRoute (b: Uint8Array): MailboxRoute | null {
  if (b.length === 0) return null
  try {
    const r = routeFromPb(PbMailboxRoute.decode(b, { limits: ROUTE_DECODE_LIMITS }))
    return { ...r, relays: mergeRelays(r.relays, []) }
  } catch {
    return null
  }
}

/** hint = SHA-256("parley/mailbox/mutual/v1" || routeTag || hostPeerId)[0..16] (Part 4 §9). */
export async function mutualHint (routeTag: Uint8Array, hostPeerId: string): Promise<Uint8Array> {
  return (await primitives.sha256(concatBytes(MUTUAL_PREFIX, routeTag, utf8.encode(hostPeerId)))).subarray(0, ROUTE_LIMITS.hintBytes)
}

/**
 * Dialable targets of a host from its known addresses: multiaddrs the dial-only mailbox client can
 * reach (no relayed or WebRTC hops), each ending in /p2p/<host> (another PeerId: dropped).
 */
export function hostTargets (hostPeerId: string, addrs: readonly string[]): Multiaddr[] {
  const out: Multiaddr[] = []
  for (const a of addrs) {
    if (out.length >= MAX_HOST_ADDRS) break
    try {
      let ma = multiaddr(a)
      const parts = ma.getComponents()
      if (parts.some(c => c.name === 'p2p-circuit' || c.name === 'webrtc' || c.name === 'webrtc-direct')) continue
      const owners = parts.filter(c => c.name === 'p2p').map(c => c.value)
      if (owners.length > 1 || (owners.length === 1 && owners[0] !== hostPeerId)) continue
      if (owners.length === 0) ma = ma.encapsulate(`/p2p/${hostPeerId}`)
      if (!out.some(o => o.equals(ma))) out.push(ma)
    } catch {
      // not a multiaddr: skipped
    }
  }
  return out
}

/** A host of our mail among our contacts, as the route we stored from it says (Part 4 §9). */
interface HostContact { peerId: string, addresses: string[] }

/** Where to deposit for a peer: its relays under the route tag, and the mutual hosts we know under theirs. */
interface DepositRoute {
  tag: Uint8Array
  relays: string[]
  hosts: Array<{ peerId: string, tag: Uint8Array, targets: Multiaddr[] }>
}

/** The conversation row of `peerId` inside a unit of work (a zero row when none exists yet). */
export function conversationOf (tx: { getConversation: (p: string) => ConversationState | null }, peerId: string): ConversationState {
  return tx.getConversation(peerId) ?? { peerId, sendSeq: 0, recvSeq: 0, skips: 0, route: new Uint8Array(0) }
}

/**
 * Gap rule (PROTOCOL.md Part 3 §6): may text number `seq` be shown now? Yes when nothing before it is
 * missing — or when the missing ones are at most the envelopes of this peer we refused for good.
 */
export function inOrder (c: ConversationState, seq: number | undefined): boolean {
  return seq == null || seq <= c.recvSeq + 1 + c.skips
}

/** Records, inside a unit of work, that we refused an envelope of `peerId` for good (direct path). */
export function noteRefused (tx: WriteTx, peerId: string): void {
  const c = conversationOf(tx, peerId)
  if (c.skips < MAX_SKIPS) tx.putConversation({ ...c, skips: c.skips + 1 })
}

/** Refusals remembered per conversation. */
const MAX_SKIPS = 1000

/** Records, inside a unit of work, that we sealed text number `seq` for `peerId`. */
export function noteSentSeq (tx: WriteTx, peerId: string, seq: number): void {
  const c = conversationOf(tx, peerId)
  if (seq > c.sendSeq) tx.putConversation({ ...c, sendSeq: seq })
}

/**
 * Records, inside a unit of work, what a decrypted plaintext of `peerId` told us: the text number
 * it showed (recvSeq only grows) and the peer's mailbox route (the newest wins; its relays also
 * become the contact's relays).
 */
export function noteReceived (tx: WriteTx, peerId: string, seq: number | undefined, route: MailboxRoute | undefined, skips?: number): void {
  const c = conversationOf(tx, peerId)
  let next = c
  // one text: those skipped over (seq - recvSeq - 1) use up as many remembered refusals; a batch
  // (receiveBatch) passes what is left itself
  if (seq != null && seq > c.recvSeq) next = { ...next, recvSeq: seq, skips: skips ?? Math.max(0, c.skips - (seq - c.recvSeq - 1)) }
  if (route != null) {
    const relays = mergeRelays(route.relays, [])
    const enc = encodeRoute({ ...route, relays })
    if (!bytesEq(enc, c.route)) {
      next = { ...next, route: enc }
      routeGenerations.set(tx, routeGeneration(tx) + 1)
      if (relays.length > 0) {
        const contact = tx.getContact(peerId)
        if (contact != null && !(contact.relays.length === relays.length && contact.relays.every((a, i) => a === relays[i]))) tx.updateContact(peerId, { relays })
      }
    }
  }
  if (next !== c) tx.putConversation(next)
}

function bytesEq (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export class Mailboxes {
  private secret: Uint8Array | null = null
  private readonly keys = new Map<string, Promise<MailboxKey>>()
  private clientP: Promise<EphemeralMailboxClient> | null = null
  private timer: NodeJS.Timeout | null = null
  private fetching: Promise<void> | null = null
  private fetchAgain = false
  private receiver: BatchReceiver | null = null
  /** Peers whose DHT record we looked up for a route, and when. */
  private readonly recordLookups = new Map<string, number>()
  /** Peers whose last direct attempt failed, and when. */
  private readonly directFailedAt = new Map<string, number>()
  /** Part 4 §9: the mailbox this node hosts for its contacts (null: not hosting). */
  private hostService: MailboxService | null = null
  /** Part 4 §9: where the hosted mailbox keeps its database (the node's home). */
  private home: string | null = null
  /** Part 4 §9: the registered tags (hex) of current contacts, when and at which route generation they were read. */
  private registered: { at: number, tx: object, gen: number, tags: Set<string> } | null = null
  /** Part 4 §9: our hosting contacts, when and at which route generation they were read. */
  private hostsCache: { at: number, tx: object, gen: number, hosts: HostContact[] } | null = null
  /** Part 4 §9: hosting contacts seen by the last scan (their connection opening triggers a fetch). */
  private knownHosts = new Set<string>()
  /** Part 4 §9: hosting contacts we sent a route announcement (our registration) in this run. */
  private readonly registeredWith = new Set<string>()
  /** Part 4 §9: the hosting / contact-mailbox settings changed since the last run: tell every contact. */
  private announceAll = false
  /**
   * Part 4 §9: the settings changed in this run: send a route even when it names nothing (so a host
   * drops our registration and senders our hints), and fetch from hosts once more even when we stopped
   * using them (mail left there is collected).
   */
  private settingsChanged = false
  /** Part 4 §9: a pending broadcast of our route after our set of hosts changed. */
  private broadcastTimer: NodeJS.Timeout | null = null
  /**
   * Part 4 §9: sends `peerId` a route announcement (a pairwise message carrying only our current
   * route); set by node.ts. True when it is committed to the receipt outbox (false: no session yet).
   */
  announce: ((peerId: string) => Promise<boolean>) | null = null
  /** Counters for tests and metrics. */
  readonly stats = { deposited: 0, depositFull: 0, depositErrors: 0, fetched: 0, acked: 0, held: 0, garbage: 0, fetchErrors: 0, hostDeposits: 0, announced: 0 }

  constructor (private readonly ctx: NodeContext, readonly policy: MailboxPolicy) {}

  /** Part 4 §9 (before start): where a hosted mailbox keeps its database; `changed`: tell every contact our new route. */
  configureContactMailboxes (home: string, changed: boolean): void {
    this.home = home
    this.announceAll = changed
    this.settingsChanged = changed
  }

  /** The mailbox this node hosts for its contacts (null when not hosting). */
  get hosted (): MailboxService | null {
    return this.hostService
  }

  /** What `id` reports about mutual contacts as mailboxes (Part 4 §9). */
  async summary (): Promise<{ hosting: boolean, hostedItems: number, hostedBytes: number, using: boolean, hosts: string[] }> {
    const st = this.hostService?.stats()
    const hosts = this.policy.contactMailboxes ? (await this.hostingContacts()).map(h => h.peerId) : []
    return { hosting: this.hostService != null, hostedItems: st?.items ?? 0, hostedBytes: st?.bytes ?? 0, using: this.policy.contactMailboxes, hosts }
  }

  // -- keys and routes ------------------------------------------------------------------------------

  private async mailboxSecret (): Promise<Uint8Array> {
    // A function of the identity seed (HKDF, RFC 5869 §3.1: independent output per info string):
    // nothing to store, and a restored identity fetches its old mail.
    this.secret ??= await primitives.hkdfSha256(this.ctx.identity.seed, new Uint8Array(0), SECRET_INFO, 32)
    return this.secret
  }

  /** Our owner key for `label` (a contact's PeerId, INTRO_LABEL, or "host/" + a hosting contact's PeerId). */
  async keyFor (label: string): Promise<MailboxKey> {
    let k = this.keys.get(label)
    if (k == null) {
      k = this.mailboxSecret().then(async s => await deriveMailboxKey(s, label, EPOCH))
      if (this.keys.size > 4096) this.keys.clear()
      this.keys.set(label, k)
    }
    return await k
  }

  /** Our key at the hosting contact `hostPeerId` (Part 4 §9: one tag per host, shared by our senders). */
  async hostKeyFor (hostPeerId: string): Promise<MailboxKey> {
    return await this.keyFor(HOST_LABEL_PREFIX + hostPeerId)
  }

  /**
   * The route we give `peerId` (undefined while we have no relays and take no part in contact
   * mailboxes): our relays, whether we host, our registration when `peerId` hosts, and hints naming
   * our other hosting contacts (Part 4 §9).
   */
  async routeFor (peerId: string): Promise<MailboxRoute | undefined> {
    const hosting = this.policy.hostMailboxes
    const hosts = this.policy.contactMailboxes ? await this.hostingContacts() : []
    if (this.ctx.relays.length === 0 && !hosting && hosts.length === 0 && !this.settingsChanged) return undefined
    const tag = (await this.keyFor(peerId)).tag
    const route: MailboxRoute = { tag, relays: [...this.ctx.relays] }
    if (hosting) route.hosting = true
    if (hosts.some(h => h.peerId === peerId)) route.hostTag = (await this.hostKeyFor(peerId)).tag
    const others = hosts.filter(h => h.peerId !== peerId).slice(0, ROUTE_LIMITS.maxMutual)
    if (others.length > 0) {
      route.mutual = await Promise.all(others.map(async (h): Promise<MutualHost> => ({ hint: await mutualHint(tag, h.peerId), tag: (await this.hostKeyFor(h.peerId)).tag })))
    }
    return route
  }

  /**
   * Contacts whose newest route says they host mailboxes (Part 4 §9), most recently seen first. Read
   * from the store each time (the routes are small and secret at rest); also refreshes `knownHosts`.
   */
  async hostingContacts (): Promise<HostContact[]> {
    const now = Date.now()
    const cached = this.hostsCache
    if (cached != null && now - cached.at < HOSTS_CACHE_MS && routeGeneration(cached.tx) === cached.gen) return cached.hosts
    const { tx, gen, rows } = await this.ctx.store.read(tx => ({ tx, gen: routeGeneration(tx), rows: tx.listContacts().map(c => ({ c, route: tx.getConversation(c.peerId)?.route ?? null })) }))
    const hosts = rows
      .filter(r => r.c.keyChange == null && r.route != null && r.route.length > 0 && decodeRoute(r.route)?.hosting === true)
      .sort((a, b) => (b.c.lastSeen ?? 0) - (a.c.lastSeen ?? 0))
      .map(r => ({ peerId: r.c.peerId, addresses: [...r.c.addresses] }))
    const before = cached?.hosts
    this.knownHosts = new Set(hosts.map(h => h.peerId))
    this.hostsCache = { at: now, tx, gen, hosts }
    // a host came or went during this run: every contact should learn our new mutual entries
    if (before != null && (before.length !== hosts.length || before.some(h => !this.knownHosts.has(h.peerId)))) this.scheduleBroadcast()
    return hosts
  }

  /** Our introduction tag (for invites): where contacts without a session deposit. */
  async introTag (): Promise<Uint8Array> {
    return (await this.keyFor(INTRO_LABEL)).tag
  }

  private async client (): Promise<EphemeralMailboxClient> {
    this.clientP ??= createEphemeralMailboxClient({ dialTimeoutMs: this.policy.requestTimeoutMs, readTimeoutMs: this.policy.requestTimeoutMs })
    try {
      return await this.clientP
    } catch (err) {
      this.clientP = null
      throw err
    }
  }

  // -- hosting for contacts (Part 4 §9) ---------------------------------------------------------------

  /**
   * Mounts `/parley/mailbox/1.0.0` on the node when hosting is on: its own `mailbox.db` in the home,
   * the host quotas, and deposits accepted only for tags that current contacts registered.
   */
  async startHost (): Promise<void> {
    if (!this.policy.hostMailboxes || this.hostService != null || this.ctx.stopped) return
    if (this.home == null) throw new Error('mailbox host needs the node home (configureContactMailboxes)')
    const net = this.ctx.net
    const svc = new MailboxService({
      peerId: this.ctx.peerId,
      handle: async (protocol, handler, options) => { await net.handleProtocol(protocol, handler, options) },
      unhandle: async (protocol) => { await net.unhandleProtocol(protocol) }
    }, {
      home: this.home,
      limits: { ...HOST_MAILBOX_LIMITS, ...this.policy.hostLimits },
      accept: async (tags) => {
        const reg = await this.registeredTags()
        return tags.map(t => reg.has(toHex(t)) ? null : UNREGISTERED_TAG_REASON)
      }
    })
    await svc.start()
    this.hostService = svc
  }

  /** The tags (hex) current contacts registered with us (their newest route's host_tag); cached briefly. */
  private async registeredTags (): Promise<Set<string>> {
    const now = Date.now()
    const cached = this.registered
    if (cached != null && now - cached.at < REGISTRATION_CACHE_MS && routeGeneration(cached.tx) === cached.gen) return cached.tags
    const { tx, gen, tags } = await this.ctx.store.read(tx => {
      const out = new Set<string>()
      for (const c of tx.listContacts()) {
        const raw = tx.getConversation(c.peerId)?.route
        const r = raw != null ? decodeRoute(raw) : null
        if (r?.hostTag != null) out.add(toHex(r.hostTag))
      }
      return { tx, gen: routeGeneration(tx), tags: out }
    })
    this.registered = { at: now, tx, gen, tags }
    return tags
  }

  // -- sending --------------------------------------------------------------------------------------

  noteDirectFailure (peerId: string): void {
    this.directFailedAt.set(peerId, Date.now())
    if (this.directFailedAt.size > 4096) this.directFailedAt.delete(this.directFailedAt.keys().next().value!)
  }

  noteDirectSuccess (peerId: string): void {
    this.directFailedAt.delete(peerId)
  }

  /** True when a direct attempt failed very recently and the peer is still not connected: skip it. */
  skipDirect (peerId: string): boolean {
    const at = this.directFailedAt.get(peerId)
    return at != null && Date.now() - at < this.policy.directRetryMs && !this.ctx.net.isConnected(peerId)
  }

  /**
   * A contact's signed DHT record (format 3) named its introduction tag and relays: they become the
   * contact's route when we know none yet (no route from its session, no invite tag). A route we
   * already have is never replaced from here. True when the route was set.
   */
  async noteRecordRoute (peerId: string, introTag: Uint8Array | null, relays: readonly string[]): Promise<boolean> {
    if (introTag == null || introTag.length !== 32 || this.ctx.stopped) return false
    const valid = mergeRelays(relays, [])
    if (valid.length === 0) return false
    const tag = introTag.slice()
    return await this.ctx.store.write((tx) => {
      if (tx.getContact(peerId) == null) return false
      const conv = conversationOf(tx, peerId)
      if (conv.route.length > 0) return false
      tx.putConversation({ ...conv, route: encodeRoute({ tag, relays: valid }) })
      return true
    })
  }

  /**
   * No route known: the peer's DHT record may name one (format 3); noteRecordRoute stores it. At most
   * once per RECORD_LOOKUP_MS per peer (a peer without a format 3 record would otherwise cost a DHT
   * query per flush).
   */
  private lookupRecordRoute (peerId: string): void {
    const last = this.recordLookups.get(peerId)
    if (this.ctx.stopped || (last != null && Date.now() - last < RECORD_LOOKUP_MS)) return
    this.recordLookups.delete(peerId)
    this.recordLookups.set(peerId, Date.now())
    if (this.recordLookups.size > 4096) this.recordLookups.delete(this.recordLookups.keys().next().value!)
    this.ctx.bg((async () => {
      const rec = await this.ctx.net.findRecord(peerId, { signal: mergeSignals(this.policy.requestTimeoutMs, this.ctx.life.signal) })
      if (rec != null) await this.noteRecordRoute(peerId, rec.introTag, rec.relays)
    })().catch(() => {}))
  }

  /**
   * Where to deposit for `peerId`, or null (then nothing can be deposited): the relays of its route
   * (else the contact's relays) under the route tag, and each mutual host of its route that is one of
   * our contacts, under the tag for that host (Part 4 §9). Hints matching none of our contacts stay
   * unusable: a host we do not know is never revealed to us.
   */
  async routeOf (peerId: string): Promise<DepositRoute | null> {
    const { conv, contact, others } = await this.ctx.store.read(tx => ({
      conv: tx.getConversation(peerId),
      contact: tx.getContact(peerId),
      others: tx.listContacts().filter(c => c.peerId !== peerId && c.peerId !== this.ctx.peerId && c.keyChange == null)
    }))
    const r = conv != null ? decodeRoute(conv.route) : null
    if (r == null) return null
    const relays = r.relays.length > 0 ? r.relays : (contact?.relays ?? [])
    const hosts: DepositRoute['hosts'] = []
    if (r.mutual != null && r.mutual.length > 0) {
      for (const c of others) {
        const hint = await mutualHint(r.tag, c.peerId)
        const m = r.mutual.find(h => bytesEq(h.hint, hint))
        if (m == null || hosts.some(h => h.peerId === c.peerId)) continue
        const targets = hostTargets(c.peerId, c.addresses)
        if (targets.length > 0) hosts.push({ peerId: c.peerId, tag: m.tag, targets })
      }
    }
    return relays.length > 0 || hosts.length > 0 ? { tag: r.tag, relays, hosts } : null
  }

  /**
   * Deposits `items` (in order) with every mailbox of the peer's route: its relays and the mutual
   * hosts we know. An item counts as stored when at least one mailbox accepted it; FULL when every
   * mailbox that answered refused it as full. Returns null when the peer has no known route.
   */
  async deposit (peerId: string, items: DepositItem[], signal?: AbortSignal): Promise<DepositOutcome[] | null> {
    if (items.length === 0) return []
    const route = await this.routeOf(peerId)
    if (route == null) {
      // the next attempt may find one in the peer's DHT record (looked up in the background: a DHT
      // query must not hold up this flush)
      this.lookupRecordRoute(peerId)
      return null
    }
    const recipient = decodePublicKey(identityKeyOfPeer(peerId))
    // sealed once per item; the client_id is per tag (idempotency is scoped to a tag, Part 4 §7)
    const sealed = await Promise.all(items.map(async it => await sealItem(recipient, this.ctx.peerId, it.envelope)))
    const inputsFor = async (tag: Uint8Array): Promise<Array<{ tag: Uint8Array, clientId: Uint8Array, sealed: Uint8Array }>> =>
      await Promise.all(items.map(async (it, i) => ({ tag, clientId: await clientIdOf(tag, it.id), sealed: sealed[i]! })))
    const jobs: Array<{ target: MailboxTarget, inputs: Awaited<ReturnType<typeof inputsFor>>, host: boolean }> = []
    const c = await this.client()
    if (route.relays.some(a => relayPeerIdOf(a) != null)) {
      const inputs = await inputsFor(route.tag)
      for (const addr of route.relays) {
        if (relayPeerIdOf(addr) == null) continue
        try {
          jobs.push({ target: c.target(addr), inputs, host: false })
        } catch { /* unusable address */ }
      }
    }
    for (const h of route.hosts) jobs.push({ target: h.targets, inputs: await inputsFor(h.tag), host: true })
    const out: Array<DepositOutcome | null> = items.map(() => null)
    const reasons: string[] = []
    const s = mergeSignals(this.policy.requestTimeoutMs * 4, signal, this.ctx.life.signal)
    await Promise.all(jobs.map(async (job) => {
      try {
        const res = await c.client.depositMany(job.target, job.inputs, { signal: s })
        res.forEach((r, i) => {
          if (r.ok) {
            out[i] = { kind: 'stored' }
            if (job.host) this.stats.hostDeposits++
          } else if (r.error instanceof MailboxFullError) { if (out[i]?.kind !== 'stored') out[i] = { kind: 'full', reason: r.error.message } } else if (out[i] == null) out[i] = { kind: 'error', reason: r.error.message }
        })
      } catch (err) {
        const e = err as Error
        reasons.push(err instanceof MailboxRateLimitedError ? `mailbox rate limit (retry in ${e instanceof MailboxRateLimitedError ? e.retryAfterMs : 0} ms)` : `mailbox: ${e.message}`)
      }
    }))
    const reason = reasons[0] ?? 'mailbox unreachable'
    const final = out.map(o => o ?? { kind: 'error' as const, reason })
    for (const o of final) {
      if (o.kind === 'stored') this.stats.deposited++
      else if (o.kind === 'full') this.stats.depositFull++
      else this.stats.depositErrors++
    }
    return final
  }

  // -- receiving ------------------------------------------------------------------------------------

  /**
   * Prepares the mailbox client and dials our mailboxes in the background (the connection set-up —
   * Noise, Yamux — is most of a first fetch's time), so the fetch at start finds them connected.
   */
  warm (): void {
    if (this.ctx.relays.length === 0 || this.ctx.stopped) return
    this.ctx.bg((async () => {
      const c = await this.client()
      await Promise.allSettled(this.ctx.relays.map(async a => { await c.dial(c.target(a), { signal: mergeSignals(this.policy.requestTimeoutMs, this.ctx.life.signal) }) }))
    })())
  }

  /** Starts fetching: now, then every fetchIntervalMs. `receiver` processes what arrives. */
  start (receiver: BatchReceiver): void {
    this.receiver = receiver
    if (this.announceAll) {
      // Part 4 §9: hosting or contact-mailbox use changed: every contact learns our new route
      this.announceAll = false
      this.ctx.bg((async () => {
        for (const c of await this.ctx.store.listContacts()) await this.sendAnnouncement(c.peerId)
      })())
    }
    this.requestFetch()
    this.timer = setInterval(() => { this.requestFetch() }, this.policy.fetchIntervalMs)
    this.timer.unref?.()
  }

  /** Tells every contact our route soon (coalesced): our set of hosting contacts changed (Part 4 §9.3). */
  private scheduleBroadcast (): void {
    if (this.broadcastTimer != null || this.ctx.stopped || !this.policy.contactMailboxes) return
    this.broadcastTimer = setTimeout(() => {
      this.broadcastTimer = null
      this.ctx.bg((async () => {
        for (const c of await this.ctx.store.listContacts()) {
          if (this.ctx.stopped) return
          await this.sendAnnouncement(c.peerId)
        }
      })())
    }, HOSTS_BROADCAST_DELAY_MS)
    this.broadcastTimer.unref?.()
  }

  /** True when the announcement was committed (it leaves with the receipt outbox). */
  private async sendAnnouncement (peerId: string): Promise<boolean> {
    if (this.announce == null || this.ctx.stopped) return false
    try {
      if (!await this.announce(peerId)) return false
      this.stats.announced++
      return true
    } catch {
      // no session yet, store closing: the next message carries the route anyway
      return false
    }
  }

  async stop (): Promise<void> {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = null
    if (this.broadcastTimer != null) clearTimeout(this.broadcastTimer)
    this.broadcastTimer = null
    await this.fetching?.catch(() => {})
    const c = this.clientP
    this.clientP = null
    if (c != null) await (await c.catch(() => null))?.stop().catch(() => {})
    const h = this.hostService
    this.hostService = null
    if (h != null) await h.stop().catch(() => {})
  }

  /** True when `peerId` is one of our relays (its connection opening triggers a fetch). */
  isOwnRelay (peerId: string): boolean {
    return this.ctx.relays.some(a => relayPeerIdOf(a) === peerId)
  }

  /** True when `peerId` is one of our mailboxes: a relay, or a hosting contact we use (Part 4 §9). */
  isOwnMailbox (peerId: string): boolean {
    return this.isOwnRelay(peerId) || (this.policy.contactMailboxes && this.knownHosts.has(peerId))
  }

  /** Fetches soon (coalesced: one fetch at a time, one more after it when asked meanwhile). */
  requestFetch (): void {
    if (this.ctx.stopped || this.receiver == null || (this.ctx.relays.length === 0 && !this.policy.contactMailboxes && !this.settingsChanged)) return
    if (this.fetching != null) {
      this.fetchAgain = true
      return
    }
    const run = (async () => {
      try {
        do {
          this.fetchAgain = false
          await this.fetchAll()
        } while (this.fetchAgain && !this.ctx.stopped)
      } finally {
        this.fetching = null
      }
    })()
    this.fetching = run
    this.ctx.bg(run)
  }

  /** Resolves once no fetch is running (tests). */
  async idle (): Promise<void> {
    while (this.fetching != null) await this.fetching.catch(() => {})
  }

  /** One pass over every mailbox of ours: relays, and hosting contacts when we use them (the node's stop, or `signal`, aborts it). */
  async fetchAll (options: { signal?: AbortSignal } = {}): Promise<void> {
    const ctx = this.ctx
    if (ctx.stopped || this.receiver == null) return
    const signal = options.signal != null ? AbortSignal.any([options.signal, ctx.life.signal]) : ctx.life.signal
    const jobs: Array<Promise<void>> = []
    if (ctx.relays.length > 0) {
      const contacts = await ctx.store.listContacts()
      const labels = [INTRO_LABEL, ...contacts.map(c => c.peerId)]
      const keys = await Promise.all(labels.map(async l => await this.keyFor(l)))
      const groups: MailboxKey[][] = []
      for (let i = 0; i < keys.length; i += MAILBOX_LIMITS.maxTags) groups.push(keys.slice(i, i + MAILBOX_LIMITS.maxTags))
      const c = await this.client()
      for (const addr of ctx.relays) {
        jobs.push((async () => {
          for (const g of groups) {
            try {
              await this.fetchFrom(c.target(addr), g, signal)
            } catch {
              this.stats.fetchErrors++
            }
          }
        })())
      }
    }
    if (this.policy.contactMailboxes || this.settingsChanged) {
      // Part 4 §9: each hosting contact holds our mail under one tag; register with new ones first
      // (after opting out: fetch what they still hold, and the announcement withdraws the registration)
      for (const h of await this.hostingContacts()) {
        if (!this.registeredWith.has(h.peerId) && await this.sendAnnouncement(h.peerId)) this.registeredWith.add(h.peerId)
        const targets = hostTargets(h.peerId, h.addresses)
        if (targets.length === 0) continue
        jobs.push((async () => {
          try {
            await this.fetchFrom(targets, [await this.hostKeyFor(h.peerId)], signal)
          } catch {
            this.stats.fetchErrors++
          }
        })())
      }
    }
    await Promise.all(jobs)
  }

  private async fetchFrom (target: MailboxTarget, keys: MailboxKey[], signal: AbortSignal): Promise<void> {
    const ctx = this.ctx
    const c = await this.client()
    let after = 0
    const acks: Array<Promise<void>> = []
    // pipelined: the next page is requested while this one is processed
    let next: Promise<Awaited<ReturnType<typeof c.client.fetch>>> | null = c.client.fetch(target, keys, { after, signal: mergeSignals(this.policy.requestTimeoutMs, signal) })
    while (next != null && !ctx.stopped && !signal.aborted) {
      const page = await next
      next = null
      if (page.more && page.items.length > 0) {
        after = page.next
        next = c.client.fetch(target, keys, { after, signal: mergeSignals(this.policy.requestTimeoutMs, signal) })
        next.catch(() => {})
      }
      this.stats.fetched += page.items.length
      const done = await this.process(page.items)
      // acknowledged in the background (only after the commit above): the next page is not held up
      if (done.length > 0) acks.push(c.client.ack(target, keys, done, { signal: mergeSignals(this.policy.requestTimeoutMs, signal) }).then(n => { this.stats.acked += n }))
    }
    const results = await Promise.allSettled(acks)
    const failed = results.find(r => r.status === 'rejected')
    if (failed != null) throw (failed as PromiseRejectedResult).reason
  }
  /** Opens and hands over one page; returns the server ids that can be acknowledged. */
  private async process (items: MailboxItem[]): Promise<number[]> {
    const ctx = this.ctx
    const done: number[] = []
    const bySender = new Map<string, Array<{ id: number, env: Envelope }>>()
    const opened = await Promise.all(items.map(async (it) => {
      try {
        const o = await openItem(ctx.identity.dhPrivateKey, ctx.identity.dhPublicKey, it.sealed)
        return { id: it.id, sender: o.sender, env: decodeEnvelope(o.envelope) }
      } catch {
        return { id: it.id, sender: null, env: null }
      }
    }))
    for (const o of opened) {
      if (o.sender == null || o.env == null || o.sender === ctx.peerId) {
        // not for us / unreadable: nothing will ever make it readable (it is under our tag: drop it)
        this.stats.garbage++
        done.push(o.id)
        continue
      }
      let list = bySender.get(o.sender)
      if (list == null) bySender.set(o.sender, list = [])
      list.push({ id: o.id, env: o.env })
    }
    await Promise.all([...bySender].map(async ([sender, list]) => {
      let ok: boolean[]
      try {
        ok = await this.receiver!(sender, list.map(l => l.env))
      } catch {
        ok = list.map(() => false)
      }
      list.forEach((l, i) => {
        if (ok[i] === true) done.push(l.id)
        else this.stats.held++
      })
    }))
    return done
  }
}

/** client_id = SHA-256("parley/mailbox/client-id/v1" || tag || id)[0..16]: stable per message, unlinkable to its id. */
async function clientIdOf (tag: Uint8Array, idHex: string): Promise<Uint8Array> {
  return (await primitives.sha256(concatBytes(CLIENT_ID_PREFIX, tag, fromHexId(idHex)))).subarray(0, 16)
}

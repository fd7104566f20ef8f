/**
 * The Parley node: crypto (src/crypto) + store (src/store) + network (src/net) glued into a chat node
 * that implements ParleyNodeApi (src/core/api.ts). This file is the composition root; the parts are:
 *
 * - context.ts   shared state: store, network, keys, lifecycle, per-peer locks, events, API views
 * - contacts.ts  contacts, invites, verification, identity-key changes, safety numbers, addresses
 * - sessions.ts  PQXDH set-up from bundles, sealing texts and receipts, messages waiting for a session
 * - outbox.ts    the durable message outbox and the durable receipt outbox, flushing, markRead receipts
 * - inbound.ts   incoming envelopes and bundle requests
 *
 * - Identity: one Ed25519 seed, sealed with src/crypto/keyfile.ts into the store; it is also the
 *   libp2p key, so a PeerId determines its Signal identity key (src/crypto/identity.ts).
 * - Sessions: PQXDH + Double Ratchet records, one per peer, changed only under a per-peer lock and
 *   committed in the same store unit as the message they belong to (issue 3: "ratchet state and the
 *   stored message change in one database transaction").
 * - Outbox: durable, per peer FIFO, one flush at a time per peer, exponential backoff with jitter,
 *   retransmission until the delivery receipt (receivers dedup by message id).
 * - Receipts are encrypted Content messages, committed to the store's receipt outbox in the same unit
 *   as their cause (the received message, markRead, a duplicate's re-sent receipt) and deleted once
 *   the peer acknowledged them.
 */
import type {
  ContactInfo, LocalIdentityInfo, MessageInfo, MessageStatus, NodeEvent, ParleyNodeApi, PeerConnectionInfo,
  SafetyNumberInfo, SendOptions, GroupInfo, GroupMessageInfo
} from './api.js'
import { NodeContext } from './context.js'
import { Contacts } from './contacts.js'
import { Sessions } from './sessions.js'
import { Outbox } from './outbox.js'
import { Inbound } from './inbound.js'
import { DEFAULT_GROUP_POLICY, GroupManager, type GroupPolicy } from './groups.js'
import { formatInvite, identityFingerprint } from './invite.js'
import { DEFAULT_MAILBOX_POLICY, Mailboxes, noteSentSeq, type MailboxPolicy } from './mailboxes.js'
import { MAX_RELAYS, relayPeerIdOf } from './relays.js'
import { readNodeSettings, resolveContactMailboxSettings, updateNodeSettings } from './settings.js'
import {
  IdentityExistsError, InvalidArgumentError, KeyChangePendingError, NodeStoppedError, NoIdentityError,
  SendFailedError, TimeoutError, UnknownContactError
} from './errors.js'
import { DEFAULT_PREKEY_POLICY, PreKeyManager, registrationIdFor } from './prekey-store.js'
import {
  DEFAULT_OUTBOX_POLICY, type CreateNodeOptions, type InitIdentityOptions, type InitIdentityResult, type NodeInternals,
  type OutboxPolicy, type ParleyNode
} from './options.js'
import {
  defaultProfileName, DONE, isPeerIdLike, MAX_RECEIPT_QUEUE, MAX_TEXT_BYTES, mergeSignals, newId, normPassphrase, uniqueAddrs
} from './util.js'
import { toHex, utf8 } from '../crypto/bytes.js'
import { generateIdentity, type IdentityKeyPair } from '../crypto/identity.js'
import { encodePublicKey } from '../crypto/keys.js'
import { openIdentity, sealIdentity } from '../crypto/keyfile.js'
import { encodePreKeyBundle } from '../crypto/prekeys.js'
import { serializeSessionRecord } from '../crypto/session.js'
import { openStore, type ParleyStore, type StoredMessage } from '../store/index.js'
import { createParleyNetwork, peerIdFromSeed, type ParleyNetwork } from '../net/index.js'

export {
  DEFAULT_OUTBOX_POLICY, type CreateNodeOptions, type InitIdentityOptions, type InitIdentityResult, type NodeInternals,
  type OutboxPolicy, type ParleyNode
} from './options.js'
export { identityKeyOfPeer, MAX_TEXT_BYTES } from './util.js'

/** Delay between a new connection and the record (re)publication it triggers. */
const PUBLISH_DELAY_MS = 1500
/** Delay of the prekey upkeep that using or handing out prekeys triggers (see scheduleMaintain). */
const MAINTAIN_DELAY_MS = 2000
/** At most one triggered publication per this interval. */
const PUBLISH_DEBOUNCE_MS = 10_000

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
    // issue 4: the node's own relays / mailboxes: CreateNodeOptions.relays (then remembered in
    // HOME/settings.json), else the remembered ones, else network.relays
    const relays = await resolveRelays(opts)
    net = await createParleyNetwork({
      listen: opts.listen ?? ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws'],
      ...(opts.announce != null ? { announce: opts.announce } : {}),
      ...(opts.bootstrap != null ? { bootstrap: opts.bootstrap } : {}),
      mdns: opts.mdns ?? true,
      ...(opts.dhtPrefix != null ? { dhtPrefix: opts.dhtPrefix } : {}),
      ...(opts.allowLoopbackFlood != null ? { allowLoopbackFlood: opts.allowLoopbackFlood } : {}),
      ...(opts.timeouts != null ? { timeouts: opts.timeouts } : {}),
      ...(opts.reconnect != null ? { reconnect: opts.reconnect } : {}),
      // issue 4: every chat node can dial relayed and WebRTC addresses (contacts behind NAT advertise them)
      nat: true,
      ...opts.network,
      ...(relays.length > 0 ? { relays } : {}),
      seed: identity.seed
    })
    const node = new Node(store, net, identity, profileName, prekeys, { ...DEFAULT_OUTBOX_POLICY, ...opts.outbox }, opts.maintenanceMs ?? 3_600_000)
    node.setRelays(relays)
    node.setMailboxPolicy(opts.mailbox) // issue 4
    // issue 4, Part 4 §9: mutual contacts as mailboxes (both switches remembered in settings.json)
    const cm = await resolveContactMailboxSettings(opts.home, { hostMailboxes: opts.hostMailboxes, contactMailboxes: opts.contactMailboxes })
    node.setMailboxPolicy({ hostMailboxes: cm.hostMailboxes, contactMailboxes: cm.contactMailboxes })
    node.internals.mailboxes?.configureContactMailboxes(opts.home, cm.changed)
    node.setGroupPolicy(opts.groups) // issue 5
    await node.start()
    return node
  } catch (err) {
    await net?.stop().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }
}

/** issue 4: the node's relays (see createParleyNode); explicit ones are stored for later starts. */
async function resolveRelays (opts: CreateNodeOptions): Promise<string[]> {
  if (opts.relays != null) {
    const bad = opts.relays.find(r => relayPeerIdOf(r) == null)
    if (bad != null) throw new InvalidArgumentError(`relay address must be a multiaddr ending in /p2p/<relayPeerId>: ${bad}`)
    const relays = [...new Set(opts.relays)]
    if (relays.length > MAX_RELAYS) throw new InvalidArgumentError(`at most ${MAX_RELAYS} relays`)
    const stored = await readNodeSettings(opts.home)
    if (stored.relays == null || stored.relays.length !== relays.length || stored.relays.some((r, i) => r !== relays[i])) {
      await updateNodeSettings(opts.home, { relays })
    }
    return relays
  }
  const stored = await readNodeSettings(opts.home)
  return stored.relays ?? [...new Set(opts.network?.relays ?? [])]
}

// ---------------------------------------------------------------------------------------------------
// The node

class Node implements ParleyNodeApi {
  readonly peerId: string
  readonly internals: NodeInternals
  private readonly ctx: NodeContext
  private readonly contacts: Contacts
  private readonly sessions: Sessions
  private readonly outbox: Outbox
  private readonly inbound: Inbound
  private readonly mailboxes: Mailboxes
  private readonly groups: GroupManager
  private readonly timers: NodeJS.Timeout[] = []
  private lastPublish = 0
  private publishTimer: NodeJS.Timeout | null = null
  private maintainTimer: NodeJS.Timeout | null = null
  private stopping: Promise<void> | null = null

  constructor (
    store: ParleyStore,
    net: ParleyNetwork,
    identity: IdentityKeyPair,
    profileName: string,
    prekeys: PreKeyManager,
    policy: OutboxPolicy,
    private readonly maintenanceMs: number
  ) {
    this.ctx = new NodeContext(store, net, identity, profileName, prekeys, policy)
    this.contacts = new Contacts(this.ctx)
    this.sessions = new Sessions(this.ctx, this.contacts)
    this.outbox = new Outbox(this.ctx, this.sessions)
    this.inbound = new Inbound(this.ctx, this.contacts, this.outbox, async () => { this.scheduleMaintain() })
    // issue 4: offline delivery through mailboxes (src/core/mailboxes.ts)
    this.mailboxes = new Mailboxes(this.ctx, { ...DEFAULT_MAILBOX_POLICY })
    this.outbox.mailboxes = this.mailboxes
    this.sessions.routeFor = async (p) => await this.mailboxes.routeFor(p)
    this.inbound.onGap = () => { this.mailboxes.requestFetch() }
    this.mailboxes.announce = async (p) => await this.announceRoute(p)
    // issue 5: group chats (src/core/groups.ts); control messages arrive through the inbound path
    this.groups = new GroupManager(this.ctx, this.sessions, { ...DEFAULT_GROUP_POLICY })
    this.inbound.groupHandler = async (from, control, commit) => { await this.groups.onControl(from, control, commit) }
    this.peerId = this.ctx.peerId
    this.internals = {
      store,
      net,
      prekeys,
      flushAll: async () => { await this.outbox.tick() },
      publishRecord: async () => { await this.publishRecord(true, true) },
      mailboxes: this.mailboxes,
      groups: this.groups
    }
  }

  /** issue 4: offline-delivery tunables (before start). */
  setMailboxPolicy (policy: Partial<MailboxPolicy> | undefined): void {
    if (policy != null) Object.assign(this.mailboxes.policy, policy)
  }

  /** issue 5: group tunables (before start). */
  setGroupPolicy (policy: Partial<GroupPolicy> | undefined): void {
    if (policy != null) Object.assign(this.groups.policy, policy)
  }

  /** issue 4: the node's own relays / mailboxes (before start). */
  setRelays (relays: readonly string[]): void {
    this.ctx.relays = Object.freeze([...relays])
  }

  // -- lifecycle ------------------------------------------------------------------------------------

  async start (): Promise<void> {
    const { ctx } = this
    const { net, store } = ctx
    net.handleEnvelopes(async (from, env) => await ctx.track(this.inbound.onEnvelope(from, env)))
    net.handleBundleRequests(async (from) => await ctx.track(this.inbound.onBundleRequest(from)))
    net.addEventListener('peer:online', (e) => { this.onPeerOnline(e.detail.peerId) })
    net.addEventListener('peer:offline', (e) => { this.onPeerOffline(e.detail.peerId) })
    net.addEventListener('peer:addresses', (e) => { ctx.bg(this.contacts.onPeerAddresses(e.detail.peerId, e.detail.addresses)) })
    // issue 4: a contact's signed DHT record names its relays / mailboxes
    net.addEventListener('peer:record', (e) => {
      ctx.bg(this.contacts.setContactRelays(e.detail.peerId, e.detail.relays))
      // format 3: its introduction tag is where we deposit while we know no other route (Part 4 §7.1)
      ctx.bg(this.mailboxes.noteRecordRoute(e.detail.peerId, e.detail.introTag, e.detail.relays))
    })
    this.mailboxes.warm() // issue 4: dial our mailboxes while the rest starts
    await net.start()
    for (const c of await store.listContacts()) net.watch(c.peerId, c.addresses)
    // peers whose queued messages never got a session (e.g. the node stopped before a bundle arrived)
    for (const c of await store.listContacts()) {
      const recs = await store.listMessages(c.peerId, { limit: 200 })
      if (recs.some(m => m.direction === 'out' && m.status === 'queued')) this.sessions.markAwaiting(c.peerId, true)
    }
    const tick = setInterval(() => { ctx.bg(this.outbox.tick()) }, ctx.policy.tickMs)
    tick.unref?.()
    const maint = setInterval(() => { ctx.bg(this.maintain()) }, this.maintenanceMs)
    maint.unref?.()
    this.timers.push(tick, maint)
    ctx.bg(this.publishRecord())
    ctx.bg(ctx.prekeys.reserve({ signal: ctx.life.signal })) // a bundle request then costs no write
    ctx.bg(this.outbox.tick())
    // issue 4: fetch from our mailboxes now and periodically; batches go through the inbound path
    await this.mailboxes.startHost() // Part 4 §9: the mailbox we host for our contacts, if we do
    this.mailboxes.start(async (from, envs) => await ctx.track(this.inbound.receiveBatch(from, envs)))
    await this.groups.start() // issue 5
  }

  async stop (): Promise<void> {
    const { ctx } = this
    this.stopping ??= (async () => {
      ctx.stopped = true
      ctx.life.abort(new NodeStoppedError())
      for (const t of this.timers) clearInterval(t)
      if (this.publishTimer != null) clearTimeout(this.publishTimer)
      if (this.maintainTimer != null) clearTimeout(this.maintainTimer)
      ctx.net.handleEnvelopes(null)
      ctx.net.handleBundleRequests(null)
      await this.mailboxes.stop().catch(() => {}) // issue 4
      this.groups.stop() // issue 5
      await ctx.net.stop().catch(() => {})
      // let in-flight handlers and flushes finish (they fail fast once the network is down)
      const deadline = new Promise(resolve => setTimeout(resolve, 10_000).unref())
      await Promise.race([Promise.allSettled([...ctx.tasks]), deadline])
      await ctx.store.close()
    })()
    await this.stopping
  }

  private assertRunning (): void {
    if (this.ctx.stopped) throw new NodeStoppedError()
  }

  subscribe (listener: (event: NodeEvent) => void): () => void {
    return this.ctx.subscribe(listener)
  }

  // -- groups (issue 5; src/core/groups.ts) ---------------------------------------------------------

  async createGroup (name: string, opts: { members?: string[], signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.groups.createGroup(name, opts)
  }

  async listGroups (): Promise<GroupInfo[]> {
    return await this.groups.listGroups()
  }

  async addGroupMember (group: string, peer: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.groups.addMember(group, peer, opts)
  }

  async removeGroupMember (group: string, peer: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.groups.removeMember(group, peer, opts)
  }

  async leaveGroup (group: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.groups.leave(group, opts)
  }

  async sendGroup (group: string, text: string, opts: { signal?: AbortSignal } = {}): Promise<GroupMessageInfo> {
    return await this.groups.send(group, text, opts)
  }

  async groupMessages (group: string, opts: { limit?: number, before?: number } = {}): Promise<GroupMessageInfo[]> {
    return await this.groups.messages(group, opts)
  }

  async markGroupRead (group: string): Promise<void> {
    await this.groups.markRead(group)
  }

  // -- identity and contacts ------------------------------------------------------------------------

  async id (): Promise<LocalIdentityInfo> {
    const { ctx } = this
    return {
      peerId: ctx.peerId,
      name: ctx.profileName,
      addresses: ctx.net.addresses(),
      identityKey: toHex(ctx.identityKey),
      // issue 4
      relays: [...ctx.relays],
      reservations: ctx.net.reservations(),
      reachability: ctx.net.reachability(),
      contactMailboxes: await this.mailboxes.summary() // Part 4 §9
    }
  }

  async invite (): Promise<{ invite: string }> {
    this.assertRunning()
    const { ctx } = this
    const fingerprint = await identityFingerprint(ctx.identityKey)
    const addresses = uniqueAddrs(ctx.net.addresses())
    // issue 4: with relays, the invite carries our introduction mailbox tag
    const mailboxTag = ctx.relays.length > 0 ? await this.mailboxes.introTag() : undefined
    return { invite: formatInvite({ peerId: ctx.peerId, fingerprint, name: ctx.profileName, addresses, relays: [...ctx.relays], ...(mailboxTag != null ? { mailboxTag } : {}) }) }
  }

  async listContacts (): Promise<ContactInfo[]> {
    return await this.contacts.listContacts()
  }

  async addContact (invite: string, opts: { name?: string, signal?: AbortSignal } = {}): Promise<ContactInfo> {
    this.assertRunning()
    // the invite's introduction tag (issue 4) is stored in the same unit as the contact (contacts.ts)
    return await this.contacts.addContact(invite, opts)
  }

  async verifyContact (peer: string): Promise<ContactInfo> {
    return await this.contacts.verifyContact(peer)
  }

  async acceptKeyChange (peer: string): Promise<ContactInfo> {
    return await this.contacts.acceptKeyChange(peer)
  }

  async safetyNumber (peer: string): Promise<SafetyNumberInfo> {
    return await this.contacts.safetyNumber(peer)
  }

  async peers (): Promise<PeerConnectionInfo[]> {
    const contacts = new Map((await this.ctx.store.listContacts()).map(c => [c.peerId, c.name]))
    return this.ctx.net.connections().map(c => ({
      peerId: c.peerId,
      remoteAddr: c.remoteAddr,
      relayed: c.relayed,
      direction: c.direction,
      contact: contacts.get(c.peerId) ?? null
    }))
  }

  // -- messages -------------------------------------------------------------------------------------

  async messages (peer: string, opts: { limit?: number, before?: number } = {}): Promise<MessageInfo[]> {
    const c = await this.contacts.findContact(peer)
    const peerId = c?.peerId ?? (isPeerIdLike(peer) ? peer : null)
    if (peerId == null) throw new UnknownContactError(peer)
    const list = await this.ctx.store.listMessages(peerId, {
      ...(opts.limit != null ? { limit: opts.limit } : {}),
      ...(opts.before != null ? { beforeSeq: opts.before } : {})
    })
    return await Promise.all(list.map(async m => await this.ctx.messageInfoOf(m)))
  }

  async markRead (peer: string): Promise<void> {
    const c = await this.contacts.resolveContact(peer)
    await this.outbox.markRead(c.peerId)
  }

  async send (peer: string, text: string, opts: SendOptions = {}): Promise<MessageInfo> {
    this.assertRunning()
    const { ctx } = this
    opts.signal?.throwIfAborted()
    if (typeof text !== 'string' || text.length === 0) throw new InvalidArgumentError('message text is empty')
    const body = utf8.encode(text)
    if (body.length > MAX_TEXT_BYTES) throw new InvalidArgumentError(`message text exceeds ${MAX_TEXT_BYTES} bytes`)
    const contact = await this.contacts.ensureContact(peer)
    if (contact.keyChange != null) throw new KeyChangePendingError(contact.peerId)
    const peerId = contact.peerId
    const id = newId()
    const idHex = toHex(id)
    const timestamp = Date.now()
    // subscribe before anything goes out: the receipt may beat send()'s return
    let waiter: Promise<MessageInfo> | null = null
    let cancelWait = (): void => {}
    let stored: StoredMessage | null = null
    if (opts.wait === true) {
      const w = this.waitDelivered(idHex, peerId, opts.timeoutMs ?? 60_000, opts.signal, () => stored)
      waiter = w.promise
      cancelWait = w.cancel
      waiter.catch(() => {})
    }
    let row: StoredMessage
    try {
      row = await ctx.withPeerLock(peerId, async () => {
        let record = await ctx.loadRecord(peerId)
        if (record?.current == null) {
          try {
            record = await this.sessions.establish(contact, record, mergeSignals(ctx.policy.sessionSetupMs, opts.signal, ctx.life.signal))
          } catch (err) {
            if (err instanceof KeyChangePendingError) throw err
            opts.signal?.throwIfAborted()
            record = null
          }
        }
        if (record?.current == null) {
          // no session yet: keep the message queued; it is encrypted once a bundle can be fetched
          const m = await ctx.store.write((tx) => {
            tx.insertMessage({ id: idHex, peerId, direction: 'out', body, sentAt: timestamp, status: 'queued' })
            return tx.getMessage(idHex)!
          })
          this.sessions.markAwaiting(peerId)
          return m
        }
        if (this.sessions.awaitingSession.has(peerId)) record = await this.sessions.sealPendingLocked(peerId, record)
        const env = await this.sessions.sealTextFor(peerId, record, id, timestamp, text)
        // one unit: the advanced ratchet, the message and its outbox entry (issue 3 atomicity)
        return await ctx.store.write((tx) => {
          tx.putSession(peerId, serializeSessionRecord(env.record))
          // issue 4: the per-conversation text number (one UPDATE once the conversation has its row)
          if (!tx.bumpSendSeq(peerId, env.seq)) noteSentSeq(tx, peerId, env.seq)
          const ins = tx.insertMessage({ id: idHex, peerId, direction: 'out', body, sentAt: timestamp, status: 'queued' })
          tx.enqueueOutbox({ messageId: idHex, peerId, envelope: env.bytes })
          // the row just inserted, as getMessage would return it (a fresh random id: never a duplicate;
          // not read back, issue 3 hot path)
          if (ins.result !== 'inserted') return tx.getMessage(idHex)!
          const m: StoredMessage = { id: idHex, peerId, direction: 'out', body, sentAt: timestamp, receivedAt: null, status: 'queued', seq: ins.seq, readAt: null }
          return m
        })
      })
    } catch (err) {
      cancelWait()
      throw err
    }
    stored = row
    const info = ctx.messageInfo(row)
    ctx.emit({ type: 'message', message: info })
    this.outbox.kick(peerId, false)
    if (waiter == null) return info
    return await waiter
  }

  /** `known`: the row send() committed (once it did); a delivery then needs no read of it (issue 3 hot path). */
  private waitDelivered (id: string, peerId: string, timeoutMs: number, signal: AbortSignal | undefined, known: () => StoredMessage | null): { promise: Promise<MessageInfo>, cancel: () => void } {
    const { ctx } = this
    let cancel = (): void => {}
    const promise = new Promise<MessageInfo>((resolve, rejectP) => {
      let unsub = (): void => {}
      const done = (): void => { clearTimeout(timer); unsub(); signal?.removeEventListener('abort', onAbort) }
      const finish = (status: MessageStatus): void => {
        done()
        const row = known()
        // the committed row with the status the event reported (what a read of it would return now)
        if (row != null) { resolve(ctx.messageInfo({ ...row, status })); return }
        void ctx.store.getMessage(id).then(m => {
          if (m == null) rejectP(new SendFailedError(id, { id, status: 'failed', reason: 'message vanished' }))
          else resolve(ctx.messageInfo(m))
        }, rejectP)
      }
      const timer = setTimeout(() => {
        done()
        void ctx.store.getMessage(id).then(m => {
          const status = m?.status ?? 'queued'
          rejectP(new TimeoutError(`message ${id} not delivered within ${Math.round(timeoutMs / 1000)} s; it stays ${status} and will be retried`, { id, status, peerId }))
        }, rejectP)
      }, timeoutMs)
      const onAbort = (): void => { done(); rejectP(signal?.reason) }
      signal?.addEventListener('abort', onAbort)
      unsub = ctx.subscribe((e) => {
        if (e.type !== 'status' || e.id !== id) return
        if (DONE.has(e.status)) finish(e.status)
        else if (e.status === 'failed') { done(); rejectP(new SendFailedError(id, { id, status: 'failed', ...(e.reason != null ? { reason: e.reason } : {}) })) }
      })
      cancel = done
    })
    return { promise, cancel }
  }

  // -- prekeys and the DHT record -------------------------------------------------------------------

  /**
   * Prekey upkeep after prekeys were consumed or handed out: coalesced and deferred by
   * MAINTAIN_DELAY_MS, so replenishing (which reads every prekey record) and the record publication
   * it may trigger never compete with the exchange that used the prekeys (a first message's bundle
   * fetch and PreKey message). One-time prekeys are only an optimisation (X3DH §3.3 allows bundles
   * without one), so a short delay costs nothing.
   */
  private scheduleMaintain (): void {
    if (this.maintainTimer != null || this.ctx.stopped) return
    this.maintainTimer = setTimeout(() => {
      this.maintainTimer = null
      this.ctx.bg(this.maintain())
    }, MAINTAIN_DELAY_MS)
    this.maintainTimer.unref?.()
  }

  private async maintain (): Promise<void> {
    if (this.ctx.stopped) return
    const r = await this.ctx.prekeys.maintain()
    await this.ctx.prekeys.reserve({ signal: this.ctx.life.signal })
    if (r.rotated) await this.publishRecord(true)
    else if (Date.now() - this.lastPublish > this.maintenanceMs / 2) await this.publishRecord(true)
  }

  /**
   * Re-publishes the record shortly after a new connection (once the peer's DHT protocol is known
   * from identify), at most every PUBLISH_DEBOUNCE_MS: new DHT neighbours get a copy, so the record
   * outlives our going offline.
   */
  private schedulePublish (): void {
    if (this.publishTimer != null || this.ctx.stopped) return
    const wait = Math.max(PUBLISH_DELAY_MS, this.lastPublish + PUBLISH_DEBOUNCE_MS - Date.now())
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null
      this.ctx.bg(this.publishRecord(true))
    }, wait)
    this.publishTimer.unref?.()
  }

  /** Publishes the signed DHT record: a bundle without a one-time prekey (many may fetch it) + addresses. */
  private async publishRecord (force = false, rethrow = false): Promise<void> {
    const { ctx } = this
    if (ctx.stopped) return
    if (!force && Date.now() - this.lastPublish < 60_000) return
    this.lastPublish = Date.now()
    try {
      const bundle = encodePreKeyBundle(await ctx.prekeys.issueBundle({ oneTime: false }))
      // issue 4: with relays, the record (format 3) carries our introduction tag, like our invites
      const introTag = ctx.relays.length > 0 ? await this.mailboxes.introTag() : undefined
      await ctx.net.publishRecord(bundle, { signal: ctx.life.signal, ...(introTag != null ? { introTag } : {}) })
    } catch (err) {
      this.lastPublish = 0 // no DHT peers yet: try again on the next connection
      if (rethrow) throw err
    }
  }

  /**
   * issue 4, PROTOCOL.md Part 4 §9: a route announcement — a DELIVERED receipt naming one random id
   * (it matches no message), sent only for the route it carries (our registration with a hosting
   * contact, our changed hosting). It goes through the receipt outbox like any receipt.
   */
  private async announceRoute (peerId: string): Promise<boolean> {
    const { ctx } = this
    if (ctx.stopped) return false
    const sent = await ctx.withPeerLock(peerId, async () => {
      const record = await ctx.loadRecord(peerId)
      if (record?.current == null) return false // no session: the first message carries the route
      const sealed = await this.sessions.sealReceipt(record, peerId, 'DELIVERED', [newId()])
      await ctx.store.write((tx) => {
        tx.putSession(peerId, serializeSessionRecord(sealed.record))
        tx.enqueueReceipt(sealed.entry)
        tx.trimReceipts(peerId, MAX_RECEIPT_QUEUE)
      })
      return true
    })
    if (sent) this.outbox.kick(peerId, false)
    return sent
  }

  // -- peers coming and going -----------------------------------------------------------------------

  private onPeerOnline (peerId: string): void {
    const { ctx } = this
    if (ctx.stopped) return
    if (this.mailboxes.isOwnMailbox(peerId)) this.mailboxes.requestFetch() // issue 4: a relay or hosting contact (re)connected
    ctx.bg((async () => {
      const c = await ctx.store.getContact(peerId)
      if (c == null) return
      ctx.emit({ type: 'contact-online', peerId, online: true })
      // lastSeen is bookkeeping: no fsync of its own on a new connection's path (src/store/README.md)
      await ctx.store.write((tx) => { tx.updateContact(peerId, { lastSeen: Date.now() }) }, { durability: 'deferred' })
      if (this.sessions.awaitingSession.has(peerId)) await this.sessions.retrySession(peerId)
      this.outbox.kick(peerId, true)
    })())
    this.schedulePublish()
  }

  private onPeerOffline (peerId: string): void {
    const { ctx } = this
    if (ctx.stopped) return
    ctx.bg((async () => {
      const c = await ctx.store.getContact(peerId)
      if (c == null || ctx.net.isConnected(peerId)) return
      ctx.emit({ type: 'contact-online', peerId, online: false })
      await ctx.store.write((tx) => { tx.updateContact(peerId, { lastSeen: Date.now() }) }, { durability: 'deferred' })
    })())
  }
}

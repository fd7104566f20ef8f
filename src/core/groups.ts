/**
 * The group manager (issue 5; docs/PROTOCOL.md Part 5). It joins the pure group core (src/groups:
 * membership log, causal order, key-change rules) and sender keys (src/crypto/sender-keys.ts) to the
 * node's store, pairwise sessions and the gossipsub transport (src/net/groups.ts):
 *
 * - Membership and keys travel as GroupControl messages inside pairwise Double Ratchet plaintexts
 *   (invitation with the log, group secret and member addresses; log entries; the new secret of an
 *   epoch; sender-key distributions; repair requests/responses; delivery summaries). They wait in a
 *   durable outbox (store `group_outbox`) until the peer acknowledges them; members need not be
 *   contacts: sessions are set up from the member's bundle (direct fetch or DHT record).
 * - Group messages are encrypted once with our sender chain and published on the topic
 *   deriveTopic(secret, epoch). The transport's validator callback is `onGossip`: a message is
 *   accepted only from a current member whose PeerId signed it, and only when it decrypts and its
 *   causal metadata is consistent; decryption, the sender-key step and the stored message commit in
 *   one store unit.
 * - Ordering and repair: messages are released in causal order and shown sorted by (lamport, sender,
 *   seq) — the same order at every member. Gaps produce repair requests to other members; members
 *   exchange delivery summaries when they (re)connect and periodically, and push what the other lacks
 *   from their bounded store of published ciphertexts.
 * - Any departure (REMOVE or LEAVE) starts an epoch: every remaining member rotates its sender chain
 *   and a new group secret (so a new topic) goes to the remaining members only — the departed member
 *   can neither find nor decrypt anything newer (Part 5 §5).
 */
import type { GroupInfo, GroupMemberInfo, GroupMessageInfo, GroupRole, NodeEvent } from './api.js'
import type { NodeContext } from './context.js'
import type { Sessions } from './sessions.js'
import { GroupInactiveError, GroupPermissionError, InvalidArgumentError, NodeStoppedError, UnknownContactError, UnknownGroupError } from './errors.js'
import { encodeGroupPlaintext } from './plaintext.js'
import {
  decodeGroupBody, decodeGroupControl, decodeGroupWire, encodeGroupBody, encodeGroupControl, encodeGroupWire,
  MAX_GROUP_TEXT_BYTES, MAX_INVITE_LOG, MAX_MEMBER_ADDRS, MAX_REPAIR_MESSAGES, type GroupControl, type GroupControlParts
} from './groups-wire.js'
import { identityKeyOfPeer, isPeerIdLike, mergeSignals, newId } from './util.js'
import { fromBase64Url, fromHex, toBase64Url, toHex, utf8 } from '../crypto/bytes.js'
import { DuplicateMessageError, ParleyCryptoError } from '../crypto/errors.js'
import { primitives } from '../crypto/primitives/index.js'
import {
  createSenderKey, decodeSenderKeyDistribution, deserializeSenderKeyRecord, deserializeSenderKeyState, encodeSenderKeyDistribution,
  processSenderKeyDistribution, rotateSenderKey, senderKeyDecrypt, senderKeyDistribution, senderKeyEncrypt, serializeSenderKeyRecord,
  serializeSenderKeyState, SenderChainConflictError, UnknownSenderChainError, type SenderKeyRecord, type SenderKeyState
} from '../crypto/sender-keys.js'
import { encryptMessage, serializeSessionRecord } from '../crypto/session.js'
import {
  appendToLog, CausalBufferFullError, CausalViolationError, createCausalState, createGroup as createGroupEntry, decodeEntry, deriveTopic,
  gapsAgainst, membershipDelta, newGroupSecret, nextMeta, ParleyGroupError, receive, signChange, startLog, KNOWN_WINDOW, UnknownParentError,
  type CausalMessage, type CausalState, type GroupState, type MembershipLog, type MissingReport
} from '../groups/index.js'
import type { Contact, StoredGroup, StoredGroupMessage, WriteTx } from '../store/index.js'
import { ed25519PublicKeyOfPeerId, peerIdOfEd25519Key, type Envelope, type GroupValidation } from '../net/index.js'
import { decodeEnvelope, encodeEnvelope } from '../wire/index.js'

export interface GroupPolicy {
  /** How often a member sends its delivery summary to one connected member (trailing-gap repair). @default 30000 */
  syncMs: number
  /** How often the control outbox is flushed. @default 1000 */
  tickMs: number
  /** First retry delay of a control message; doubles up to retryMaxMs. @default 1000 */
  retryBaseMs: number
  /** @default 60000 */
  retryMaxMs: number
  /** Published ciphertexts kept per group to answer repair requests. @default 5000 */
  keepWires: number
}

export const DEFAULT_GROUP_POLICY: Readonly<GroupPolicy> = Object.freeze({ syncMs: 30_000, tickMs: 1000, retryBaseMs: 1000, retryMaxMs: 60_000, keepWires: 5000 })

/** Undecryptable messages (distribution still in flight) kept per group and retried on each distribution. */
const MAX_STASH = 512
/** Controls for groups/members we do not know yet (arrived before the invitation or the ADD), per group. */
const MAX_EARLY = 256
/** Messages pushed for one summary. */
const MAX_PUSH = 1024
/** Bytes of GroupWire per repair response (below the control cap). */
const REPAIR_RESPONSE_BYTES = 80 * 1024
const OUTBOX_UNSEALED = 0
const OUTBOX_SEALED = 1

interface PendingPayload { wire: string, text: string, timestamp: number, receivedAt: number }

interface Live {
  gid: string
  name: string
  log: MembershipLog
  active: boolean
  secret: Uint8Array | null
  topic: string | null
  own: SenderKeyState | null
  records: Map<string, SenderKeyRecord>
  causal: CausalState<PendingPayload>
  addrs: Record<string, string[]>
  createdAt: number
  joinedAt: number
  stash: Array<{ wire: Uint8Array, at: number }>
  /** A GroupSecretMsg for an epoch whose entry has not been applied yet. */
  earlySecret: { epoch: number, head: string, secret: Uint8Array } | null
  repairTimer: NodeJS.Timeout | null
  missing: MissingReport | null
}

type Ctl = Omit<GroupControlParts, 'groupId'>

const hexKey = (peerId: string): string => toHex(ed25519PublicKeyOfPeerId(peerId))
const enc = (o: unknown): Uint8Array => utf8.encode(JSON.stringify(o))

export class GroupManager {
  readonly me: string
  private readonly meKey: Uint8Array
  private readonly groups = new Map<string, Live>()
  private readonly topics = new Map<string, string>()
  private readonly locks = new Map<string, Promise<unknown>>()
  private readonly flushing = new Set<string>()
  /** Group message ids whose publication is under way, and groups whose queue is being re-published. */
  private readonly publishing = new Set<string>()
  private readonly republishing = new Set<string>()
  private readonly early = new Map<string, Array<{ from: string, bytes: Uint8Array }>>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly peerNames = new Map<string, string>()

  constructor (private readonly ctx: NodeContext, private readonly sessions: Sessions, readonly policy: GroupPolicy) {
    this.meKey = ctx.identity.edPublicKey.slice()
    this.me = toHex(this.meKey)
  }

  // -- lifecycle ------------------------------------------------------------------------------------

  async start (): Promise<void> {
    const { ctx } = this
    ctx.net.groups.setValidator(async (topic, data, origin) => await this.onGossip(topic, data, origin))
    for (const row of await ctx.store.read(tx => tx.groups.listGroups())) {
      try {
        const g = await this.load(row)
        this.groups.set(g.gid, g)
        if (g.active) {
          await this.subscribe(g)
          this.watchMembers(g)
        }
      } catch {
        // a group whose stored state no longer verifies stays unloaded (its rows are kept)
      }
    }
    ctx.net.addEventListener('peer:online', (e) => { this.onPeerOnline(e.detail.peerId) })
    const tick = setInterval(() => { ctx.bg(this.tick()) }, this.policy.tickMs)
    tick.unref?.()
    const sync = setInterval(() => { ctx.bg(this.syncRound()) }, this.policy.syncMs)
    sync.unref?.()
    this.timers.push(tick, sync)
    ctx.bg(this.tick())
    for (const g of this.groups.values()) if (g.active && g.topic != null) ctx.bg(this.publishQueued(g))
  }

  stop (): void {
    for (const t of this.timers) clearInterval(t)
    for (const g of this.groups.values()) if (g.repairTimer != null) clearTimeout(g.repairTimer)
    this.ctx.net.groups.setValidator(null)
  }

  private async withGroupLock<T> (gid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(gid) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    this.locks.set(gid, tail)
    void tail.then(() => { if (this.locks.get(gid) === tail) this.locks.delete(gid) })
    return await run
  }

  // -- persistence ----------------------------------------------------------------------------------

  private async load (row: StoredGroup): Promise<Live> {
    const entries = await this.ctx.store.read(tx => tx.groups.listLog(row.groupId))
    const log = await rebuildLog(entries)
    const keys = await this.ctx.store.read(tx => tx.groups.listSenderKeys(row.groupId))
    const records = new Map<string, SenderKeyRecord>()
    for (const k of keys) records.set(k.member, deserializeSenderKeyRecord(k.record))
    const recent = await this.ctx.store.read(tx => tx.groups.listGroupMessages(row.groupId))
    const g: Live = {
      gid: row.groupId,
      name: row.name,
      log,
      active: row.active,
      secret: row.secret.length > 0 ? row.secret : null,
      topic: null,
      own: row.ownKey.length > 0 ? deserializeSenderKeyState(row.ownKey) : null,
      records,
      causal: decodeCausal(row.causal, this.me, recent.slice(-KNOWN_WINDOW)),
      addrs: row.addrs,
      createdAt: row.createdAt,
      joinedAt: row.joinedAt,
      stash: [],
      earlySecret: null,
      repairTimer: null,
      missing: null
    }
    return g
  }

  private row (g: Live): StoredGroup {
    return {
      groupId: g.gid,
      name: g.name,
      active: g.active,
      epoch: g.log.state.epoch,
      secret: g.secret ?? new Uint8Array(0),
      ownKey: g.own != null ? serializeSenderKeyState(g.own) : new Uint8Array(0),
      causal: encodeCausal(g.causal),
      addrs: g.addrs,
      createdAt: g.createdAt,
      joinedAt: g.joinedAt
    }
  }

  private async subscribe (g: Live): Promise<void> {
    if (g.secret == null || !g.active) return
    const topic = await deriveTopic(g.secret, g.log.state.epoch)
    if (g.topic === topic) return
    this.unsubscribe(g)
    g.topic = topic
    this.topics.set(topic, g.gid)
    this.ctx.net.groups.subscribe(topic)
  }

  private unsubscribe (g: Live): void {
    if (g.topic == null) return
    this.topics.delete(g.topic)
    try { this.ctx.net.groups.unsubscribe(g.topic) } catch { /* network stopped */ }
    g.topic = null
  }

  private watchMembers (g: Live): void {
    for (const m of g.log.state.members) {
      if (m === this.me) continue
      const peer = peerIdOfEd25519Key(fromHex(m))
      try { this.ctx.net.watch(peer, g.addrs[m] ?? []) } catch { /* not started */ }
    }
  }

  // -- the API --------------------------------------------------------------------------------------

  private async resolve (group: string): Promise<Live> {
    if (typeof group !== 'string' || group.length === 0) throw new InvalidArgumentError('group is empty')
    const byId = this.groups.get(group.toLowerCase())
    if (byId != null) return byId
    const named = [...this.groups.values()].filter(g => g.name === group)
    if (named.length === 1) return named[0]!
    if (named.length > 1) throw new UnknownGroupError(group, 'several groups have that name; use the group id')
    throw new UnknownGroupError(group)
  }

  private async peerIdOf (peer: string): Promise<string> {
    const c = await this.ctx.store.getContactByName(peer) ?? (isPeerIdLike(peer) ? { peerId: peer } : null)
    if (c == null) throw new UnknownContactError(peer)
    if (c.peerId === this.ctx.peerId) throw new InvalidArgumentError('that is us')
    return c.peerId
  }

  private async addrsOfPeer (peerId: string): Promise<string[]> {
    const c = await this.ctx.store.getContact(peerId)
    const known = [...(c?.addresses ?? []), ...(this.ctx.recentAddrs.get(peerId) ?? [])]
    return [...new Set(known)].slice(0, MAX_MEMBER_ADDRS)
  }

  private myAddrs (): string[] {
    return this.ctx.net.addresses().slice(0, MAX_MEMBER_ADDRS)
  }

  async createGroup (name: string, opts: { members?: string[], signal?: AbortSignal } = {}): Promise<GroupInfo> {
    this.assertRunning()
    opts.signal?.throwIfAborted()
    if (typeof name !== 'string' || name.trim() === '') throw new InvalidArgumentError('group name is empty')
    const peers = [...new Set(await Promise.all((opts.members ?? []).map(async p => await this.peerIdOf(p))))]
    const addrs: Record<string, string[]> = { [this.me]: this.myAddrs() }
    for (const p of peers) addrs[hexKey(p)] = await this.addrsOfPeer(p)
    let created
    try {
      created = await createGroupEntry(this.ctx.identity, { name: name.trim(), members: peers.map(p => ed25519PublicKeyOfPeerId(p)) })
    } catch (err) {
      if (err instanceof ParleyGroupError) throw new InvalidArgumentError(err.message)
      throw err
    }
    const log = await startLog(created.entry)
    const gid = log.state.groupId
    const now = Date.now()
    const g: Live = {
      gid,
      name: log.state.name,
      log,
      active: true,
      secret: newGroupSecret(),
      topic: null,
      own: await createSenderKey(fromHex(gid), this.meKey),
      records: new Map(),
      causal: createCausalState<PendingPayload>(this.me),
      addrs,
      createdAt: now,
      joinedAt: now,
      stash: [],
      earlySecret: null,
      repairTimer: null,
      missing: null
    }
    await this.withGroupLock(gid, async () => {
      await this.ctx.store.write((tx) => {
        tx.groups.putGroup(this.row(g))
        tx.groups.putLogEntry(gid, 0, created.entry)
      })
      this.groups.set(gid, g)
      await this.subscribe(g)
      for (const p of peers) {
        await this.enqueue(p, gid, { invite: this.invitation(g) })
        await this.enqueue(p, gid, { distribution: this.distribution(g) })
      }
    })
    this.watchMembers(g)
    for (const p of peers) this.kick(p)
    const info = await this.info(g)
    this.ctx.emit({ type: 'group-updated', group: info })
    return info
  }

  async listGroups (): Promise<GroupInfo[]> {
    return await Promise.all([...this.groups.values()].sort((a, b) => a.createdAt - b.createdAt).map(async g => await this.info(g)))
  }

  async addMember (group: string, peer: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    this.assertRunning()
    const g = await this.resolve(group)
    const peerId = await this.peerIdOf(peer)
    const target = hexKey(peerId)
    const addrs = await this.addrsOfPeer(peerId)
    await this.withGroupLock(g.gid, async () => {
      opts.signal?.throwIfAborted()
      if (!g.active) throw new GroupInactiveError(g.gid)
      const entry = await this.sign(g, { op: 'add', target })
      const others = g.log.state.members.filter(m => m !== this.me)
      g.addrs[target] = addrs
      await this.applyEntry(g, entry, null)
      const newcomerAddrs = [{ member: fromHex(target), addrs }]
      for (const m of others) await this.enqueue(this.peerOfMember(m), g.gid, { entry: { entry, addrs: newcomerAddrs } })
      await this.enqueue(peerId, g.gid, { invite: this.invitation(g) })
      await this.enqueue(peerId, g.gid, { distribution: this.distribution(g) })
      for (const m of others) this.kick(this.peerOfMember(m))
      this.kick(peerId)
    })
    this.watchMembers(g)
    return await this.info(g)
  }

  async removeMember (group: string, peer: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    this.assertRunning()
    const g = await this.resolve(group)
    const peerId = await this.peerIdOf(peer)
    const target = hexKey(peerId)
    await this.withGroupLock(g.gid, async () => {
      opts.signal?.throwIfAborted()
      if (!g.active) throw new GroupInactiveError(g.gid)
      const entry = await this.sign(g, { op: 'remove', target })
      // Part 5 §5: the author of a REMOVE makes the next epoch's secret; only the remaining members get it.
      const secret = newGroupSecret()
      await this.applyEntry(g, entry, secret)
      for (const m of g.log.state.members) {
        if (m === this.me) continue
        await this.enqueue(this.peerOfMember(m), g.gid, { entry: { entry, secret, addrs: [] } })
        this.kick(this.peerOfMember(m))
      }
      // the removed member learns of its removal (no secret)
      await this.enqueue(peerId, g.gid, { entry: { entry, addrs: [] } })
      this.kick(peerId)
    })
    return await this.info(g)
  }

  async leave (group: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    this.assertRunning()
    const g = await this.resolve(group)
    await this.withGroupLock(g.gid, async () => {
      opts.signal?.throwIfAborted()
      if (!g.active) throw new GroupInactiveError(g.gid)
      const others = g.log.state.members.filter(m => m !== this.me)
      const entry = await this.sign(g, { op: 'leave' })
      await this.applyEntry(g, entry, null)
      for (const m of others) {
        await this.enqueue(this.peerOfMember(m), g.gid, { entry: { entry, addrs: [] } })
        this.kick(this.peerOfMember(m))
      }
    })
    return await this.info(g)
  }

  async send (group: string, text: string, opts: { signal?: AbortSignal } = {}): Promise<GroupMessageInfo> {
    this.assertRunning()
    opts.signal?.throwIfAborted()
    if (typeof text !== 'string' || text.length === 0) throw new InvalidArgumentError('message text is empty')
    if (utf8.encode(text).byteLength > MAX_GROUP_TEXT_BYTES) throw new InvalidArgumentError(`message text exceeds ${MAX_GROUP_TEXT_BYTES} bytes`)
    const g = await this.resolve(group)
    const stored = await this.withGroupLock(g.gid, async () => {
      if (!g.active || g.own == null) throw new GroupInactiveError(g.gid)
      const meta = nextMeta(g.causal)
      const timestamp = Date.now()
      const body = encodeGroupBody({ seq: meta.seq, lamport: meta.lamport, deps: meta.deps.map(d => ({ id: fromHex(d.id), sender: fromHex(d.sender), seq: d.seq })), timestamp, text })
      const { state: own, message } = await senderKeyEncrypt(g.own, body)
      const wire = encodeGroupWire({ sender: this.meKey, message })
      const id = toHex(await primitives.sha256(wire))
      // in place: copying the per-member maps for every message would cost O(members)
      const r = receive(g.causal, { id, ...meta, payload: { wire: toBase64Url(wire), text, timestamp, receivedAt: timestamp } }, { inPlace: true })
      const causal = trimOrder(r.state)
      const row: StoredGroupMessage = { id, groupId: g.gid, sender: this.me, senderSeq: meta.seq, lamport: meta.lamport, body: utf8.encode(text), sentAt: timestamp, receivedAt: null, status: 'queued', wire, readAt: null }
      await this.commitOrReload(g, (tx) => {
        tx.groups.putGroup(this.row({ ...g, own, causal }))
        tx.groups.insertGroupMessage(row)
      })
      g.own = own
      g.causal = causal
      return row
    })
    const published = await this.publish(g, stored)
    const info = await this.messageInfo(g, published)
    this.ctx.emit({ type: 'group-message', message: info })
    return info
  }

  async messages (group: string, opts: { limit?: number, before?: number } = {}): Promise<GroupMessageInfo[]> {
    const g = await this.resolve(group)
    const rows = await this.ctx.store.read(tx => tx.groups.listGroupMessages(g.gid))
    let list = rows.map((m, i) => ({ m, seq: i + 1 }))
    if (opts.before != null) list = list.filter(x => x.seq < opts.before!)
    if (opts.limit != null) list = list.slice(Math.max(0, list.length - Math.max(0, opts.limit)))
    return await Promise.all(list.map(async x => await this.messageInfo(g, x.m, x.seq)))
  }

  async markRead (group: string): Promise<void> {
    const g = await this.resolve(group)
    await this.ctx.store.write(tx => tx.groups.markGroupRead(g.gid, Date.now()))
    this.ctx.emit({ type: 'group-updated', group: await this.info(g) })
  }

  private assertRunning (): void {
    if (this.ctx.stopped) throw new NodeStoppedError()
  }

  // -- views ----------------------------------------------------------------------------------------

  private peerOfMember (m: string): string {
    return peerIdOfEd25519Key(fromHex(m))
  }

  private async nameOf (peerId: string): Promise<string | null> {
    if (peerId === this.ctx.peerId) return this.ctx.profileName
    const c = await this.ctx.store.getContact(peerId)
    return c?.name ?? this.peerNames.get(peerId) ?? null
  }

  async info (g: Live): Promise<GroupInfo> {
    const s = g.log.state
    const role = (m: string): GroupRole => m === s.creator ? 'creator' : s.admins.includes(m) ? 'admin' : 'member'
    const members: GroupMemberInfo[] = await Promise.all(s.members.map(async m => {
      const peerId = this.peerOfMember(m)
      return { peerId, name: await this.nameOf(peerId), role: role(m) }
    }))
    const unread = await this.ctx.store.read(tx => tx.groups.groupUnread(g.gid))
    return { groupId: g.gid, name: g.name, members, role: g.active && s.members.includes(this.me) ? role(this.me) : null, active: g.active, epoch: s.epoch, unread, createdAt: g.createdAt }
  }

  private async messageInfo (g: Live, m: StoredGroupMessage, seq?: number): Promise<GroupMessageInfo> {
    const from = this.peerOfMember(m.sender)
    const pos = seq ?? await this.ctx.store.read(tx => tx.groups.groupPosition(g.gid, m.lamport, m.sender, m.senderSeq))
    return { id: m.id, groupId: g.gid, from, fromName: await this.nameOf(from), text: utf8.decode(m.body), timestamp: m.sentAt, receivedAt: m.receivedAt, seq: pos, status: m.status }
  }

  // -- membership -----------------------------------------------------------------------------------

  private async sign (g: Live, change: { op: 'add' | 'remove' | 'leave', target?: string }): Promise<Uint8Array> {
    try {
      const { entry } = await signChange(this.ctx.identity, g.log.state, { op: change.op, ...(change.target != null ? { target: change.target } : {}) })
      return entry
    } catch (err) {
      if (err instanceof ParleyGroupError) throw new GroupPermissionError(err.message, { cause: err })
      throw err
    }
  }

  private invitation (g: Live): NonNullable<GroupControlParts['invite']> {
    if (g.log.entries.length > MAX_INVITE_LOG) throw new GroupPermissionError('membership log too long to carry in one invitation')
    const perMember = Math.max(1, Math.min(MAX_MEMBER_ADDRS, Math.floor(40_000 / (g.log.state.members.length * 80))))
    return {
      log: g.log.entries.map(e => e.slice()),
      secret: (g.secret ?? new Uint8Array(0)).slice(),
      epoch: g.log.state.epoch,
      // fewer addresses per member in big groups, so the invitation fits one control message
      addrs: g.log.state.members.map(m => ({ member: fromHex(m), addrs: (m === this.me ? this.myAddrs() : g.addrs[m] ?? []).slice(0, perMember) }))
    }
  }

  private distribution (g: Live): NonNullable<GroupControlParts['distribution']> {
    if (g.own == null) throw new GroupInactiveError(g.gid)
    return {
      distribution: encodeSenderKeyDistribution(senderKeyDistribution(g.own)),
      seq: BigInt(g.causal.delivered[this.me] ?? 0),
      lamport: BigInt(g.causal.lamport),
      epoch: g.log.state.epoch
    }
  }

  /** Rotator of a LEAVE epoch (Part 5 §5): the creator if still a member, else the smallest admin, else the smallest member. */
  private rotator (s: GroupState): string | undefined {
    if (s.members.includes(s.creator)) return s.creator
    return [...s.admins].sort()[0] ?? [...s.members].sort()[0]
  }

  /**
   * Applies a verified-on-append log entry (ours or received) and what it means for keys: departed
   * members' chains are dropped, our chain rotates, the new secret (if given) opens the new topic;
   * our distribution goes to whoever needs it (group.ts distributionTargets). Caller holds the group lock.
   */
  private async applyEntry (g: Live, entry: Uint8Array, secret: Uint8Array | null, extra?: (tx: WriteTx) => void): Promise<boolean> {
    const before = g.log.state
    const res = await appendToLog(g.log, entry)
    if (res.outcome === 'duplicate') return false
    const after = res.log.state
    const delta = membershipDelta(before, after)
    g.log = res.log
    const height = after.height
    const sends: Array<{ member: string, ctl: Ctl }> = []
    if (!after.members.includes(this.me)) {
      // removed or left: forget every key and the secret (nothing new can be read), keep the history
      g.active = false
      this.unsubscribe(g)
      g.secret = null
      g.own = null
      g.records.clear()
    } else {
      for (const m of delta.removed) g.records.delete(m)
      if (delta.rotate) {
        g.own = g.own != null ? await rotateSenderKey(g.own) : await createSenderKey(fromHex(g.gid), this.meKey)
        g.secret = secret
        this.unsubscribe(g)
        // Part 5 §5: a LEAVE has no author left to make the next secret: the epoch's rotator makes it
        if (g.secret == null && this.rotator(after) === this.me && (await decodeEntry(entry)).op === 'leave') {
          g.secret = newGroupSecret()
          for (const m of after.members) if (m !== this.me) sends.push({ member: m, ctl: { secret: { epoch: after.epoch, secret: g.secret, head: fromHex(after.head) } } })
        }
        if (g.secret == null && g.earlySecret != null && g.earlySecret.epoch === after.epoch && g.earlySecret.head === after.head) g.secret = g.earlySecret.secret
        g.earlySecret = null
      }
      const targets = delta.rotate ? after.members.filter(m => m !== this.me) : delta.added.filter(m => m !== this.me)
      for (const m of targets) sends.push({ member: m, ctl: { distribution: this.distribution(g) } })
    }
    await this.ctx.store.write((tx) => {
      extra?.(tx)
      tx.groups.putLogEntry(g.gid, height, entry)
      tx.groups.putGroup(this.row(g))
      for (const m of delta.removed) tx.groups.deleteSenderKey(g.gid, m)
      if (!g.active) for (const k of tx.groups.listSenderKeys(g.gid)) tx.groups.deleteSenderKey(g.gid, k.member)
    })
    for (const s of sends) await this.enqueue(this.peerOfMember(s.member), g.gid, s.ctl)
    for (const s of sends) this.kick(this.peerOfMember(s.member))
    if (g.active) {
      await this.subscribe(g)
      if (g.topic != null) this.ctx.bg(this.publishQueued(g))
    }
    this.ctx.emit({ type: 'group-updated', group: await this.info(g) })
    // controls that waited for this entry (a newcomer's distribution)
    this.ctx.bg(this.replayEarly(g.gid))
    return true
  }

  // -- pairwise control messages: outgoing ----------------------------------------------------------

  /** Queues a control message for a peer durably (sealed when a session exists, else sealed on flush). */
  private async enqueue (peerId: string, gid: string, part: Ctl): Promise<void> {
    const ctl = encodeGroupControl({ groupId: fromHex(gid), ...part })
    await this.ctx.store.write(tx => { tx.groups.enqueueGroupOutbox({ id: toHex(newId()), peerId, envelope: concat(OUTBOX_UNSEALED, ctl) }) })
  }

  kick (peerId: string): void {
    if (this.ctx.stopped) return
    this.ctx.bg(this.flushPeer(peerId))
  }

  private async tick (): Promise<void> {
    if (this.ctx.stopped) return
    const peers = await this.ctx.store.read(tx => tx.groups.dueGroupOutboxPeers(Date.now()))
    for (const p of peers) this.kick(p)
    for (const g of this.groups.values()) {
      if (g.active && g.topic != null && this.ctx.net.groups.subscribers(g.topic).length > 0) await this.publishQueued(g)
    }
  }

  /** Seals queued controls (setting up a session from the member's bundle if needed) and sends them in order. */
  private async flushPeer (peerId: string): Promise<void> {
    const { ctx } = this
    if (this.flushing.has(peerId) || ctx.stopped) return
    this.flushing.add(peerId)
    try {
      for (let round = 0; round < 16 && !ctx.stopped; round++) {
        const entries = await ctx.store.read(tx => tx.groups.groupOutboxFor(peerId, 64))
        if (entries.length === 0) return
        const addrs = await this.addrsOfMemberPeer(peerId)
        const envs: Array<{ id: string, env: Envelope, attempts: number }> = []
        const unsealed = entries.filter(e => e.envelope[0] === OUTBOX_UNSEALED)
        if (unsealed.length > 0) {
          const ok = await this.sealEntries(peerId, unsealed, addrs)
          if (!ok) { await this.backoff(entries); return }
          continue // re-read: everything is sealed now, in order
        }
        for (const e of entries) {
          try {
            envs.push({ id: e.id, env: decodeEnvelope(e.envelope.subarray(1)), attempts: e.attempts })
          } catch {
            await ctx.store.write(tx => { tx.groups.removeGroupOutbox(e.id) })
          }
        }
        let acks: Array<{ status: string } | undefined> = []
        try {
          acks = await ctx.net.sendEnvelopes(peerId, envs.map(e => e.env), { addrs, signal: mergeSignals(ctx.policy.sendTimeoutMs, ctx.life.signal) })
        } catch (err) {
          acks = [...((err as { acks?: Array<{ status: string }> }).acks ?? [])]
        }
        const done = envs.filter((_, i) => acks[i] != null && acks[i]!.status !== 'ERROR')
        const later = Date.now()
        await ctx.store.write((tx) => {
          for (const e of done) tx.groups.removeGroupOutbox(e.id)
          for (const e of envs.slice(done.length)) tx.groups.recordGroupOutboxAttempt(e.id, later + this.retryDelay(e.attempts + 1))
        })
        if (done.length < envs.length) return
      }
    } catch {
      // store closed / network stopped: the entries stay for the next tick
    } finally {
      this.flushing.delete(peerId)
    }
  }

  private retryDelay (attempt: number): number {
    const base = Math.min(this.policy.retryMaxMs, this.policy.retryBaseMs * 2 ** Math.min(attempt, 16))
    return Math.round(base / 2 + Math.random() * base / 2)
  }

  private async backoff (entries: Array<{ id: string, attempts: number }>): Promise<void> {
    const later = Date.now()
    await this.ctx.store.write((tx) => { for (const e of entries) tx.groups.recordGroupOutboxAttempt(e.id, later + this.retryDelay(e.attempts + 1)) })
  }

  private async addrsOfMemberPeer (peerId: string): Promise<string[]> {
    const m = hexKey(peerId)
    const known = new Set(await this.addrsOfPeer(peerId))
    for (const g of this.groups.values()) for (const a of g.addrs[m] ?? []) known.add(a)
    return [...known].slice(0, 16)
  }

  /** Seals unsealed controls under the peer lock; the ratchet steps and the sealed envelopes commit together. */
  private async sealEntries (peerId: string, entries: Array<{ id: string, envelope: Uint8Array }>, addrs: string[]): Promise<boolean> {
    const { ctx } = this
    return await ctx.withPeerLock(peerId, async () => {
      const contact = await ctx.store.getContact(peerId)
      if (contact?.keyChange != null) return false
      let record = await ctx.loadRecord(peerId)
      if (record?.current == null) {
        // Members need not be contacts: the identity key is the one the PeerId determines (identity.ts).
        const c: Contact = contact ?? { peerId, name: '', identityKey: identityKeyOfPeer(peerId), verified: false, keyChange: null, addresses: addrs, relays: [], lastSeen: null, createdAt: Date.now() }
        try {
          record = await this.sessions.establish({ ...c, addresses: [...new Set([...c.addresses, ...addrs])].slice(0, 16) }, record, mergeSignals(ctx.policy.sessionSetupMs, ctx.life.signal))
        } catch {
          return false
        }
      }
      const sealed: Array<{ id: string, envelope: Uint8Array }> = []
      for (const e of entries) {
        const id = newId()
        const timestamp = Date.now()
        const { record: next, message } = await encryptMessage(record, encodeGroupPlaintext({ id, timestamp, group: e.envelope.subarray(1) }))
        record = next
        const env: Envelope = { id, sender: ctx.peerId, timestamp, type: message.type === 'prekey' ? 'PREKEY' : 'WHISPER', body: message.body }
        sealed.push({ id: e.id, envelope: concat(OUTBOX_SEALED, encodeEnvelope(env)) })
      }
      const recordBytes = serializeSessionRecord(record)
      // the ratchet steps and the sealed envelopes commit together; rewritten in place (order kept)
      await ctx.store.write((tx) => {
        tx.putSession(peerId, recordBytes)
        for (const s of sealed) tx.groups.setGroupOutboxEnvelope(s.id, s.envelope)
      })
      return true
    })
  }

  // -- pairwise control messages: incoming ----------------------------------------------------------

  /**
   * A GroupControl from `from` (Noise-authenticated PeerId, decrypted from its session). `commit`
   * stores the advanced session (and consumed prekeys): it runs in the same unit as the control's
   * effect, or on its own when the control is refused. Never sends under the caller's peer lock.
   */
  async onControl (from: string, bytes: Uint8Array, commit: (tx: WriteTx) => void): Promise<void> {
    let pendingCommit: ((tx: WriteTx) => void) | null = commit
    const take = (tx: WriteTx): void => { if (pendingCommit != null) { pendingCommit(tx); pendingCommit = null } }
    try {
      const ctl = decodeGroupControl(bytes)
      const gid = toHex(ctl.groupId)
      await this.withGroupLock(gid, async () => { await this.handle(from, gid, ctl, bytes, take) })
    } catch {
      // malformed or refused (forged entry, not a member, …): nothing changes but the session
    } finally {
      if (pendingCommit != null) await this.ctx.store.write(tx => { take(tx) })
    }
  }

  private async handle (from: string, gid: string, ctl: GroupControl, bytes: Uint8Array, take: (tx: WriteTx) => void): Promise<void> {
    const sender = hexKey(from)
    const g = this.groups.get(gid)
    if (ctl.invite != null) { await this.onInvite(from, gid, ctl.invite, take); return }
    if (g == null) {
      // an entry/distribution may overtake the invitation (different pairwise channels): keep a few
      this.keepEarly(gid, from, bytes)
      return
    }
    if (ctl.entry != null) {
      const e = await decodeEntry(ctl.entry.entry)
      if (e.author !== sender) return // entries come from their author (Part 5 §8)
      for (const a of ctl.entry.addrs) g.addrs[toHex(a.member)] = a.addrs.slice(0, MAX_MEMBER_ADDRS)
      const secret = ctl.entry.secret != null && ctl.entry.secret.length > 0 ? ctl.entry.secret : null
      try {
        await this.applyEntry(g, ctl.entry.entry, secret, take)
      } catch (err) {
        // another author's earlier entry is still on its way: apply this one after it
        if (err instanceof UnknownParentError) { this.keepEarly(gid, from, bytes); return }
        throw err
      }
      if (g.active) this.watchMembers(g)
      return
    }
    if (ctl.secret != null) {
      const s = g.log.state
      // only the epoch's rotator may set its secret (Part 5 §5)
      if (!g.active) return
      const head = toHex(ctl.secret.head)
      if (ctl.secret.epoch === s.epoch && head === s.head) {
        if (this.rotator(s) !== sender) return
        g.secret = ctl.secret.secret
        await this.ctx.store.write((tx) => { take(tx); tx.groups.putGroup(this.row(g)) })
        await this.subscribe(g)
        this.ctx.bg(this.publishQueued(g))
      } else if (ctl.secret.epoch > s.epoch) {
        g.earlySecret = { epoch: ctl.secret.epoch, head, secret: ctl.secret.secret }
      }
      return
    }
    if (ctl.distribution != null) {
      // not (yet) for us: we may be re-added (the invitation overtaken), or the sender's ADD is on its way
      if (!g.active || !g.log.state.members.includes(sender)) { this.keepEarly(gid, from, bytes); return }
      await this.onDistribution(g, sender, ctl.distribution, take)
      return
    }
    if (!g.log.state.members.includes(sender) || !g.active) return
    if (ctl.repairRequest != null) {
      const wires: Uint8Array[] = []
      await this.ctx.store.read((tx) => {
        for (const r of ctl.repairRequest!.ranges) {
          if (wires.length >= MAX_PUSH) break
          const from = Math.max(1, Number(r.from))
          const to = Math.min(Number(r.to), from + MAX_PUSH)
          for (const w of tx.groups.groupWires(gid, toHex(r.sender), from, to, MAX_PUSH - wires.length)) wires.push(w.wire)
        }
      })
      await this.queueWires(from, gid, wires)
      return
    }
    if (ctl.repairResponse != null) {
      await this.ctx.store.write(tx => { take(tx) })
      for (const w of ctl.repairResponse.messages) await this.processWire(g, w, null)
      return
    }
    if (ctl.summary != null) {
      await this.onSummary(from, g, ctl.summary.delivered.map(r => ({ sender: toHex(r.sender), to: Number(r.to) })))
    }
  }

  private keepEarly (gid: string, from: string, bytes: Uint8Array): void {
    const list = this.early.get(gid) ?? []
    if (list.length >= MAX_EARLY) return
    list.push({ from, bytes: bytes.slice() })
    this.early.set(gid, list)
    if (this.early.size > 64) this.early.delete(this.early.keys().next().value!)
  }

  private async replayEarly (gid: string): Promise<void> {
    const list = this.early.get(gid)
    if (list == null) return
    this.early.delete(gid)
    for (const e of list) await this.onControl(e.from, e.bytes, () => {})
  }

  private async onInvite (from: string, gid: string, inv: NonNullable<GroupControl['invite']>, take: (tx: WriteTx) => void): Promise<void> {
    const existing = this.groups.get(gid)
    if (existing?.active === true) return
    const log = await rebuildLog(inv.log)
    const s = log.state
    if (s.groupId !== gid) return
    const inviter = hexKey(from)
    // only an admin can have added us (membership rules), and we must be in the log
    if (!s.members.includes(this.me) || !(s.admins.includes(inviter) || s.creator === inviter)) return
    if (inv.epoch !== s.epoch || inv.secret.length !== 32) return
    const addrs: Record<string, string[]> = {}
    for (const a of inv.addrs) {
      const m = toHex(a.member)
      if (s.members.includes(m)) addrs[m] = a.addrs.slice(0, MAX_MEMBER_ADDRS)
    }
    const now = Date.now()
    const g: Live = {
      gid,
      name: s.name,
      log,
      active: true,
      secret: inv.secret.slice(),
      topic: null,
      own: await createSenderKey(fromHex(gid), this.meKey),
      records: new Map(),
      // a fresh causal state (a re-added member starts over from the distributions' baselines; its
      // clock stays ahead of what it already showed)
      causal: existing == null
        ? createCausalState<PendingPayload>(this.me)
        : {
            ...createCausalState<PendingPayload>(this.me),
            lamport: existing.causal.lamport,
            // our own numbering continues (the others remember our earlier seqs)
            delivered: { [this.me]: existing.causal.delivered[this.me] ?? 0 },
            lastLamport: { [this.me]: existing.causal.lastLamport[this.me] ?? 0 }
          },
      addrs,
      createdAt: existing?.createdAt ?? now,
      joinedAt: now,
      stash: [],
      earlySecret: null,
      repairTimer: null,
      missing: null
    }
    await this.ctx.store.write((tx) => {
      take(tx)
      tx.groups.putGroup(this.row(g))
      log.entries.forEach((e, i) => { tx.groups.putLogEntry(gid, i, e) })
    })
    this.groups.set(gid, g)
    await this.subscribe(g)
    for (const m of s.members) {
      if (m === this.me) continue
      await this.enqueue(this.peerOfMember(m), gid, { distribution: this.distribution(g) })
    }
    this.watchMembers(g)
    for (const m of s.members) if (m !== this.me) this.kick(this.peerOfMember(m))
    this.ctx.emit({ type: 'group-updated', group: await this.info(g) })
    this.ctx.bg(this.replayEarly(gid))
  }

  private async onDistribution (g: Live, sender: string, d: NonNullable<GroupControl['distribution']>, take: (tx: WriteTx) => void): Promise<void> {
    const dist = decodeSenderKeyDistribution(d.distribution)
    if (toHex(dist.groupId) !== g.gid) return
    const prior = g.records.get(sender)
    let record: SenderKeyRecord
    try {
      // Signal sender keys: the chain belongs to whoever sent the distribution over the pairwise session.
      record = processSenderKeyDistribution(prior, dist, fromHex(sender))
    } catch (err) {
      if (err instanceof SenderChainConflictError || err instanceof ParleyCryptoError) return
      throw err
    }
    let causal = g.causal
    const seq = Number(d.seq)
    const lamport = Number(d.lamport)
    if (prior == null && (causal.delivered[sender] ?? 0) === 0 && seq > 0 && Number.isSafeInteger(seq) && Number.isSafeInteger(lamport)) {
      // A newcomer's baseline (Part 5 §4): earlier messages of this sender are history we do not get.
      causal = {
        ...causal,
        delivered: { ...causal.delivered, [sender]: seq },
        lastLamport: { ...causal.lastLamport, [sender]: lamport },
        lamport: Math.max(causal.lamport, lamport),
        pending: causal.pending.filter(p => !(p.sender === sender && p.seq <= seq))
      }
    }
    await this.ctx.store.write((tx) => {
      take(tx)
      tx.groups.putSenderKey(g.gid, sender, serializeSenderKeyRecord(record))
      tx.groups.setGroupCausal(g.gid, encodeCausal(causal))
    })
    g.records.set(sender, record)
    g.causal = causal
    // messages that arrived before this chain
    const stash = g.stash.splice(0)
    for (const s of stash) await this.processWire(g, s.wire, null)
  }

  private async onSummary (from: string, g: Live, theirs: Array<{ sender: string, to: number }>): Promise<void> {
    // push what they lack (for senders they hold a chain of: they list those)
    const wires: Uint8Array[] = []
    const mine = g.causal.delivered
    await this.ctx.store.read((tx) => {
      for (const t of theirs) {
        const ours = mine[t.sender] ?? 0
        if (ours <= t.to || wires.length >= MAX_PUSH) continue
        for (const w of tx.groups.groupWires(g.gid, t.sender, t.to + 1, ours, MAX_PUSH - wires.length)) wires.push(w.wire)
      }
    })
    await this.queueWires(from, g.gid, wires)
    // ask for what we lack, from senders whose chains we hold
    const remote: Record<string, number> = {}
    for (const t of theirs) if (g.records.has(t.sender)) remote[t.sender] = t.to
    const gaps = gapsAgainst(g.causal, remote)
    if (gaps.seqs.length > 0) await this.sendRepairRequest(g, from, gaps)
  }

  private async queueWires (peerId: string, gid: string, wires: Uint8Array[]): Promise<void> {
    let batch: Uint8Array[] = []
    let size = 0
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      await this.enqueue(peerId, gid, { repairResponse: { messages: batch } })
      batch = []
      size = 0
    }
    for (const w of wires) {
      if (size + w.byteLength > REPAIR_RESPONSE_BYTES || batch.length >= MAX_REPAIR_MESSAGES) await flush()
      batch.push(w)
      size += w.byteLength
    }
    await flush()
    if (wires.length > 0) this.kick(peerId)
  }

  private async sendRepairRequest (g: Live, peerId: string, missing: MissingReport): Promise<void> {
    const ranges = missing.seqs.slice(0, 256).map(r => ({ sender: fromHex(r.sender), from: BigInt(r.from), to: BigInt(Math.min(r.to, r.from + MAX_PUSH)) }))
    if (ranges.length === 0) return
    await this.enqueue(peerId, g.gid, { repairRequest: { ranges } })
    this.kick(peerId)
  }

  /** Gaps seen: ask (after a short pause that lets in-flight messages land) the author, else another connected member. */
  private scheduleRepair (g: Live, missing: MissingReport): void {
    g.missing = missing
    if (g.repairTimer != null || this.ctx.stopped) return
    g.repairTimer = setTimeout(() => {
      g.repairTimer = null
      const m = g.missing
      g.missing = null
      if (m == null || !g.active) return
      const bySender = new Map<string, Array<MissingReport['seqs'][number]>>()
      for (const r of m.seqs) bySender.set(r.sender, [...(bySender.get(r.sender) ?? []), r])
      this.ctx.bg((async () => {
        for (const [sender, seqs] of bySender) {
          const author = sender !== this.me && g.log.state.members.includes(sender) ? this.peerOfMember(sender) : null
          const peer = author != null && this.ctx.net.isConnected(author) ? author : this.randomConnectedMember(g)
          if (peer != null) await this.sendRepairRequest(g, peer, { seqs, ids: [] })
        }
      })())
    }, 300)
    g.repairTimer.unref?.()
  }

  private randomConnectedMember (g: Live): string | null {
    const peers = g.log.state.members.filter(m => m !== this.me).map(m => this.peerOfMember(m)).filter(p => this.ctx.net.isConnected(p))
    return peers.length > 0 ? peers[Math.floor(Math.random() * peers.length)]! : null
  }

  private summaryOf (g: Live): Ctl {
    const senders = new Set([this.me, ...g.records.keys(), ...Object.keys(g.causal.delivered)])
    return { summary: { delivered: [...senders].filter(s => s === this.me || g.records.has(s)).map(s => ({ sender: fromHex(s), from: 1n, to: BigInt(g.causal.delivered[s] ?? 0) })) } }
  }

  private async sendSummary (g: Live, peerId: string): Promise<void> {
    if (!g.active) return
    await this.enqueue(peerId, g.gid, this.summaryOf(g))
    this.kick(peerId)
  }

  private onPeerOnline (peerId: string): void {
    if (this.ctx.stopped) return
    let m: string
    try { m = hexKey(peerId) } catch { return }
    for (const g of this.groups.values()) {
      if (g.active && g.log.state.members.includes(m)) {
        this.kick(peerId)
        this.ctx.bg(this.withGroupLock(g.gid, async () => { await this.sendSummary(g, peerId) }))
      }
    }
  }

  private async syncRound (): Promise<void> {
    for (const g of this.groups.values()) {
      if (!g.active) continue
      const p = this.randomConnectedMember(g)
      if (p != null) await this.withGroupLock(g.gid, async () => { await this.sendSummary(g, p) })
      await this.ctx.store.write(tx => tx.groups.pruneGroupWires(g.gid, this.policy.keepWires))
    }
  }

  // -- group messages -------------------------------------------------------------------------------

  /**
   * Commits a unit whose causal state was already advanced in memory (in place); if the unit fails,
   * the in-memory group is reloaded from the store so memory never runs ahead of the database.
   */
  private async commitOrReload (g: Live, fn: (tx: WriteTx) => void): Promise<void> {
    try {
      await this.ctx.store.write(fn)
    } catch (err) {
      const row = await this.ctx.store.read(tx => tx.groups.getGroup(g.gid)).catch(() => null)
      if (row != null) {
        const fresh = await this.load(row).catch(() => null)
        if (fresh != null) Object.assign(g, { ...fresh, topic: g.topic, stash: g.stash, repairTimer: g.repairTimer })
      }
      throw err
    }
  }

  private async publish (g: Live, m: StoredGroupMessage): Promise<StoredGroupMessage> {
    if (g.topic == null || this.ctx.stopped) return m
    // A message still waiting for its turn in the transport's send pacing (src/net/groups.ts) is still
    // 'queued' in the store: a re-publication from the queue (tick) must not take a second turn for it,
    // or a burst of sends fills the pacing queue with copies and later messages wait behind them.
    if (this.publishing.has(m.id)) return m
    this.publishing.add(m.id)
    try {
      // nobody subscribed yet (mesh still forming, everyone offline): stays queued, published again on
      // the next tick; members who miss it anyway get it through summaries (Part 5 §10)
      if ((await this.ctx.net.groups.publish(g.topic, m.wire, { signal: this.ctx.life.signal })).recipients === 0) return m
    } catch {
      return m
    } finally {
      this.publishing.delete(m.id)
    }
    await this.ctx.store.write(tx => { tx.groups.setGroupMessageStatus(g.gid, m.id, 'sent') })
    return { ...m, status: 'sent' }
  }

  /** Publishes the group's queued messages in order; one pass per group at a time (ticks overlap a slow pass). */
  private async publishQueued (g: Live): Promise<void> {
    if (this.republishing.has(g.gid)) return
    this.republishing.add(g.gid)
    try {
      const queued = await this.ctx.store.read(tx => tx.groups.queuedGroupMessages(g.gid))
      for (const m of queued) {
        if (this.ctx.stopped) return
        const out = await this.publish(g, m)
        if (out.status === 'sent') this.ctx.emit({ type: 'group-message', message: await this.messageInfo(g, out) })
      }
    } finally {
      this.republishing.delete(g.gid)
    }
  }

  /** The transport's validator (Part 5 §7). */
  async onGossip (topic: string, data: Uint8Array, origin: string): Promise<GroupValidation> {
    const gid = this.topics.get(topic)
    if (gid == null) return 'ignore'
    const g = this.groups.get(gid)
    if (g == null || !g.active) return 'ignore'
    return await this.withGroupLock(gid, async () => await this.processWire(g, data, origin))
  }

  /**
   * One group message (from gossip with its StrictSign `origin`, or relayed in a repair response with
   * origin null). Caller holds the group lock.
   */
  private async processWire (g: Live, data: Uint8Array, origin: string | null): Promise<GroupValidation> {
    let w
    try { w = decodeGroupWire(data) } catch { return 'reject' }
    const sender = toHex(w.sender)
    if (sender === this.me) return 'ignore'
    const members = g.log.state.members
    if (origin != null) {
      // the gossipsub origin signature must be the claimed author's key (StrictSign binds the PeerId)
      if (hexKey(origin) !== sender) return 'reject'
    }
    const id = toHex(await primitives.sha256(data))
    if (g.causal.pending.some(p => p.id === id)) return 'ignore'
    if (await this.ctx.store.read(tx => tx.groups.getGroupMessage(g.gid, id)) != null) return 'ignore'
    const record = g.records.get(sender)
    const stash = (): GroupValidation => {
      if (g.stash.length < MAX_STASH) g.stash.push({ wire: data.slice(), at: Date.now() })
      return 'ignore'
    }
    // Not a current member: never delivered. Ignored without penalty and kept briefly, because an ADD
    // may still be on its way to us; messages of departed members never decrypt (their chains are gone).
    if (!members.includes(sender)) return stash()
    if (record == null) return stash()
    let dec
    try {
      dec = await senderKeyDecrypt(record, w.message)
    } catch (err) {
      if (err instanceof UnknownSenderChainError) return stash()
      if (err instanceof DuplicateMessageError) return 'ignore'
      return 'reject'
    }
    let body
    try { body = decodeGroupBody(dec.plaintext) } catch { return 'reject' }
    const now = Date.now()
    const msg: CausalMessage<PendingPayload> = {
      id,
      sender,
      seq: body.seq,
      lamport: body.lamport,
      deps: body.deps.map(d => ({ id: toHex(d.id), sender: toHex(d.sender), seq: d.seq })),
      payload: { wire: toBase64Url(data), text: body.text, timestamp: body.timestamp, receivedAt: now }
    }
    let r
    try {
      r = receive(g.causal, msg, { inPlace: true })
    } catch (err) {
      if (err instanceof CausalViolationError) return 'reject'
      if (err instanceof CausalBufferFullError) return 'ignore'
      throw err
    }
    const rejected = r.events.some(e => e.type === 'rejected' && e.id === id)
    if (rejected) return 'reject'
    const delivered = r.events.flatMap(e => e.type === 'delivered' ? [e.message] : [])
    const causal = trimOrder(r.state)
    const rows: StoredGroupMessage[] = delivered.map(m => ({
      id: m.id,
      groupId: g.gid,
      sender: m.sender,
      senderSeq: m.seq,
      lamport: m.lamport,
      body: utf8.encode(m.payload.text),
      sentAt: m.payload.timestamp,
      receivedAt: m.payload.receivedAt,
      status: 'delivered',
      wire: fromBase64Url(m.payload.wire),
      readAt: null
    }))
    await this.commitOrReload(g, (tx) => {
      tx.groups.putSenderKey(g.gid, sender, serializeSenderKeyRecord(dec.record))
      for (const row of rows) tx.groups.insertGroupMessage(row)
      tx.groups.setGroupCausal(g.gid, encodeCausal(causal))
    })
    g.records.set(sender, dec.record)
    g.causal = causal
    for (const row of rows) this.ctx.emit({ type: 'group-message', message: await this.messageInfo(g, row) } satisfies NodeEvent)
    const missing = r.events.find(e => e.type === 'missing')
    if (missing?.type === 'missing') this.scheduleRepair(g, missing.missing)
    return 'accept'
  }

  // -- test and diagnostic access -------------------------------------------------------------------

  /** The current topic of a group (null when inactive or the secret is not known yet). */
  topicOf (gid: string): string | null {
    return this.groups.get(gid)?.topic ?? null
  }

  /** Tries to decrypt a published group message with the sender keys we hold, without changing anything. */
  async canDecrypt (gid: string, wire: Uint8Array): Promise<boolean> {
    const g = this.groups.get(gid)
    if (g == null) return false
    try {
      const w = decodeGroupWire(wire)
      const rec = g.records.get(toHex(w.sender))
      if (rec == null) return false
      await senderKeyDecrypt(rec, w.message)
      return true
    } catch {
      return false
    }
  }

  /** Queues a raw control message to a peer (tests of forged changes). */
  async sendRawControl (peerId: string, gid: string, part: Ctl): Promise<void> {
    await this.enqueue(peerId, gid, part)
    this.kick(peerId)
  }
}

// -- helpers ----------------------------------------------------------------------------------------

function concat (tag: number, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.byteLength + 1)
  out[0] = tag
  out.set(b, 1)
  return out
}

async function rebuildLog (entries: readonly Uint8Array[]): Promise<MembershipLog> {
  if (entries.length === 0) throw new GroupPermissionError('empty membership log')
  let log = await startLog(entries[0]!)
  for (const e of entries.slice(1)) log = (await appendToLog(log, e)).log
  return log
}

/** The display order lives in the store; the in-memory order is not needed (and would grow). */
function trimOrder<P> (s: CausalState<P>): CausalState<P> {
  return s.order.length === 0 ? s : { ...s, order: [] }
}

function encodeCausal (s: CausalState<PendingPayload>): Uint8Array {
  return enc({ v: 1, lamport: s.lamport, delivered: s.delivered, lastLamport: s.lastLamport, recent: s.recent, pending: s.pending })
}

function decodeCausal (bytes: Uint8Array, self: string, recent: StoredGroupMessage[]): CausalState<PendingPayload> {
  const base = createCausalState<PendingPayload>(self)
  if (bytes.length === 0) return base
  const o = JSON.parse(utf8.decode(bytes)) as { v: number, lamport: number, delivered: Record<string, number>, lastLamport: Record<string, number>, recent: CausalState['recent'], pending: Array<CausalMessage<PendingPayload>> }
  if (o.v !== 1) throw new GroupPermissionError('unsupported causal state')
  const window = recent.map(m => ({ id: m.id, sender: m.sender, seq: m.senderSeq, lamport: m.lamport }))
  return { ...base, lamport: o.lamport, delivered: o.delivered, lastLamport: o.lastLamport, recent: o.recent, pending: o.pending, window }
}

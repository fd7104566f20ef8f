/**
 * An in-memory ParleyNodeApi for testing the daemon, the local API and the CLI plumbing (auth,
 * parsing, output shapes, errors) without crypto or network. It also works as a PARLEY_NODE_MODULE
 * (exports createParleyNode + initIdentity) so real `parley daemon` processes can run on it.
 * Contacts whose name contains "offline" never acknowledge; others get sent → delivered receipts.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ParleyError, type ContactInfo, type GroupInfo, type GroupMessageInfo, type GroupRole, type LocalIdentityInfo, type MessageInfo, type NodeEvent, type ParleyNodeApi, type PeerConnectionInfo, type SafetyNumberInfo, type SendOptions } from '../../src/core/api.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

export function fakePeerId (name: string): string {
  // Shaped like a base58 Ed25519 PeerId (12D3KooW + 44 chars); content is a hash of the name.
  const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
  const h = Buffer.from(sha('peer:' + name), 'hex')
  let s = ''
  for (let i = 0; i < 44; i++) s += alphabet[(h[i % 32] as number + i) % 58]
  return '12D3KooW' + s
}

export class FakeNode implements ParleyNodeApi {
  readonly contacts = new Map<string, ContactInfo>()
  readonly msgs = new Map<string, MessageInfo[]>()
  readonly listeners = new Set<(e: NodeEvent) => void>()
  readonly groups = new Map<string, GroupInfo>()
  readonly groupMsgs = new Map<string, GroupMessageInfo[]>()
  readonly self: LocalIdentityInfo
  stopped = false
  private counter = 0
  /** Delay before the fake peer acknowledges (sent) and receipts (delivered). */
  ackDelayMs = 20

  constructor (name: string, readonly passphrase?: string) {
    const peerId = fakePeerId(name)
    this.self = { peerId, name, addresses: [`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`], identityKey: '05' + sha('ik:' + name) }
  }

  private emit (e: NodeEvent): void { for (const l of this.listeners) l(e) }

  resolve (peer: string): ContactInfo {
    const c = this.contacts.get(peer) ?? [...this.contacts.values()].find((x) => x.name === peer)
    if (c == null) throw new ParleyError('ERR_UNKNOWN_PEER', `no contact "${peer}"`)
    return c
  }

  async id (): Promise<LocalIdentityInfo> { return { ...this.self } }
  async invite (): Promise<{ invite: string }> { return { invite: `parley1:${this.self.peerId}:${Buffer.from(this.self.name).toString('base64url')}` } }

  async addContact (invite: string, opts: { name?: string, signal?: AbortSignal } = {}): Promise<ContactInfo> {
    const m = /^parley1:(12D3KooW[1-9A-Za-z]{44}):([A-Za-z0-9_-]*)$/.exec(invite)
    if (m == null) throw new ParleyError('ERR_BAD_INVITE', 'invalid invite')
    const peerId = m[1] as string
    const name = opts.name ?? Buffer.from(m[2] as string, 'base64url').toString('utf8')
    const c: ContactInfo = { peerId, name, identityKey: '05' + sha('ik:' + name), verified: false, pendingKeyChange: null, online: !name.includes('offline'), unread: 0, addresses: [], relays: [], lastSeen: null, createdAt: Date.now() }
    this.contacts.set(peerId, c)
    this.emit({ type: 'contact-added', contact: { ...c } })
    return { ...c }
  }

  async listContacts (): Promise<ContactInfo[]> { return [...this.contacts.values()].map((c) => ({ ...c })) }
  async verifyContact (peer: string): Promise<ContactInfo> { const c = this.resolve(peer); c.verified = true; return { ...c } }
  async acceptKeyChange (peer: string): Promise<ContactInfo> {
    const c = this.resolve(peer)
    if (c.pendingKeyChange == null) throw new ParleyError('ERR_NO_KEY_CHANGE', `no pending key change for ${c.name}`)
    c.identityKey = c.pendingKeyChange.identityKey
    c.pendingKeyChange = null
    c.verified = false
    return { ...c }
  }

  async safetyNumber (peer: string): Promise<SafetyNumberInfo> {
    const c = this.resolve(peer)
    const digits = BigInt('0x' + sha(this.self.identityKey + c.identityKey)).toString().padStart(60, '0').slice(0, 60)
    return {
      safetyNumber: digits,
      local: { identifier: Buffer.from(this.self.peerId).toString('hex'), identityKey: this.self.identityKey },
      remote: { identifier: Buffer.from(c.peerId).toString('hex'), identityKey: c.identityKey },
      scannable: sha(digits),
      verified: c.verified
    }
  }

  async send (peer: string, text: string, opts: SendOptions = {}): Promise<MessageInfo> {
    const c = this.resolve(peer)
    if (c.pendingKeyChange != null) throw new ParleyError('ERR_KEY_CHANGED', `${c.name}'s identity key changed; accept it first`)
    const list = this.msgs.get(c.peerId) ?? []
    const m: MessageInfo = { id: `m${++this.counter}-${sha(text + String(this.counter)).slice(0, 8)}`, peerId: c.peerId, direction: 'out', text, timestamp: Date.now(), receivedAt: null, status: 'queued', seq: list.length + 1 }
    list.push(m)
    this.msgs.set(c.peerId, list)
    if (c.online) {
      setTimeout(() => { this.setStatus(m, 'sent') }, this.ackDelayMs)
      setTimeout(() => { this.setStatus(m, 'delivered') }, this.ackDelayMs * 2)
    }
    if (opts.wait === true) throw new Error('FakeNode: the daemon implements --wait on events; it must not call send({ wait })')
    return { ...m }
  }

  private setStatus (m: MessageInfo, status: MessageInfo['status']): void {
    if (this.stopped) return
    m.status = status
    this.emit({ type: 'status', peerId: m.peerId, id: m.id, status })
  }

  async messages (peer: string, opts: { limit?: number } = {}): Promise<MessageInfo[]> {
    const list = (this.msgs.get(this.resolve(peer).peerId) ?? []).map((m) => ({ ...m }))
    // Newest first, on purpose: callers must order by seq themselves.
    const newestFirst = list.reverse()
    return opts.limit != null ? newestFirst.slice(0, opts.limit) : newestFirst
  }

  async markRead (peer: string): Promise<void> { this.resolve(peer).unread = 0 }

  async peers (): Promise<PeerConnectionInfo[]> {
    return [...this.contacts.values()].filter((c) => c.online).map((c) => ({ peerId: c.peerId, remoteAddr: `/ip4/127.0.0.1/tcp/4002/p2p/${c.peerId}`, relayed: false, direction: 'outbound' as const, contact: c.name }))
  }

  // -- groups: one node's view only (no other member exists); roles follow the membership-log rules --

  resolveGroup (group: string): GroupInfo {
    const byId = this.groups.get(group)
    if (byId != null) return byId
    const named = [...this.groups.values()].filter((g) => g.name === group)
    if (named.length > 1) throw new ParleyError('ERR_UNKNOWN_GROUP', `several groups have that name; use the group id: "${group}"`)
    if (named[0] == null) throw new ParleyError('ERR_UNKNOWN_GROUP', `no group "${group}"`)
    return named[0]
  }

  private memberOf (peer: string): { peerId: string, name: string | null } {
    const c = this.contacts.get(peer) ?? [...this.contacts.values()].find((x) => x.name === peer)
    if (c != null) return { peerId: c.peerId, name: c.name }
    if (/^12D3KooW[1-9A-Za-z]{44}$/.test(peer)) return { peerId: peer, name: null }
    throw new ParleyError('ERR_UNKNOWN_CONTACT', `no contact named or with PeerId "${peer}"`)
  }

  private groupCopy (g: GroupInfo): GroupInfo { return { ...g, members: g.members.map((m) => ({ ...m })) } }

  private admin (g: GroupInfo): void {
    if (!g.active) throw new ParleyError('ERR_GROUP_INACTIVE', `you are no longer a member of "${g.name}"`)
    if (g.role !== 'creator' && g.role !== 'admin') throw new ParleyError('ERR_GROUP_PERMISSION', 'only the creator and admins may change membership')
  }

  private updated (g: GroupInfo): GroupInfo {
    this.emit({ type: 'group-updated', group: this.groupCopy(g) })
    return this.groupCopy(g)
  }

  async createGroup (name: string, opts: { members?: string[], signal?: AbortSignal } = {}): Promise<GroupInfo> {
    const members: GroupInfo['members'] = [{ peerId: this.self.peerId, name: this.self.name, role: 'creator' }]
    for (const p of opts.members ?? []) {
      const m = this.memberOf(p)
      if (!members.some((x) => x.peerId === m.peerId)) members.push({ ...m, role: 'member' })
    }
    const groupId = sha(`group:${this.self.peerId}:${name}:${++this.counter}`)
    const g: GroupInfo = { groupId, name, members, role: 'creator', active: true, epoch: 0, unread: 0, createdAt: Date.now() }
    this.groups.set(groupId, g)
    this.groupMsgs.set(groupId, [])
    return this.updated(g)
  }

  async listGroups (): Promise<GroupInfo[]> { return [...this.groups.values()].map((g) => this.groupCopy(g)) }

  async addGroupMember (group: string, peer: string): Promise<GroupInfo> {
    const g = this.resolveGroup(group)
    this.admin(g)
    const m = this.memberOf(peer)
    if (g.members.some((x) => x.peerId === m.peerId)) throw new ParleyError('ERR_INVALID_OPERATION', `${m.name ?? m.peerId} is already a member`)
    g.members.push({ ...m, role: 'member' })
    return this.updated(g)
  }

  async removeGroupMember (group: string, peer: string): Promise<GroupInfo> {
    const g = this.resolveGroup(group)
    this.admin(g)
    const m = this.memberOf(peer)
    if (!g.members.some((x) => x.peerId === m.peerId)) throw new ParleyError('ERR_INVALID_OPERATION', `${m.name ?? m.peerId} is not a member`)
    if (m.peerId === this.self.peerId) throw new ParleyError('ERR_INVALID_OPERATION', 'use leave to leave a group')
    g.members = g.members.filter((x) => x.peerId !== m.peerId)
    g.epoch++
    return this.updated(g)
  }

  async leaveGroup (group: string): Promise<GroupInfo> {
    const g = this.resolveGroup(group)
    if (!g.active) throw new ParleyError('ERR_GROUP_INACTIVE', `you are no longer a member of "${g.name}"`)
    g.members = g.members.filter((x) => x.peerId !== this.self.peerId)
    g.role = null
    g.active = false
    g.epoch++
    return this.updated(g)
  }

  async sendGroup (group: string, text: string): Promise<GroupMessageInfo> {
    const g = this.resolveGroup(group)
    if (!g.active) throw new ParleyError('ERR_GROUP_INACTIVE', `you are no longer a member of "${g.name}"`)
    const list = this.groupMsgs.get(g.groupId) ?? []
    const m: GroupMessageInfo = { id: sha(`gm:${g.groupId}:${++this.counter}`).slice(0, 32), groupId: g.groupId, from: this.self.peerId, fromName: this.self.name, text, timestamp: Date.now(), receivedAt: null, seq: list.length + 1, status: 'queued' }
    list.push(m)
    this.groupMsgs.set(g.groupId, list)
    setTimeout(() => {
      if (this.stopped) return
      m.status = 'sent'
      this.emit({ type: 'group-message', message: { ...m } })
    }, this.ackDelayMs)
    return { ...m }
  }

  async groupMessages (group: string, opts: { limit?: number, before?: number } = {}): Promise<GroupMessageInfo[]> {
    let list = (this.groupMsgs.get(this.resolveGroup(group).groupId) ?? []).map((m) => ({ ...m }))
    if (opts.before != null) list = list.filter((m) => m.seq < (opts.before as number))
    // Newest first, on purpose (as messages()): callers must order by seq themselves.
    const newestFirst = list.reverse()
    return opts.limit != null ? newestFirst.slice(0, opts.limit) : newestFirst
  }

  async markGroupRead (group: string): Promise<void> {
    const g = this.resolveGroup(group)
    g.unread = 0
    this.updated(g) // as the real node: the new unread count goes out as 'group-updated'
  }

  /** Test hook: we were added to a group that `creator` (a contact) created. */
  joinGroup (name: string, creator: string, others: string[] = []): GroupInfo {
    const c = this.resolve(creator)
    const groupId = sha(`group:${c.peerId}:${name}:${++this.counter}`)
    const g: GroupInfo = {
      groupId,
      name,
      members: [{ peerId: c.peerId, name: c.name, role: 'creator' }, { peerId: this.self.peerId, name: this.self.name, role: 'member' }, ...others.map((o) => ({ ...this.memberOf(o), role: 'member' as GroupRole }))],
      role: 'member',
      active: true,
      epoch: 0,
      unread: 0,
      createdAt: Date.now()
    }
    this.groups.set(groupId, g)
    this.groupMsgs.set(groupId, [])
    this.updated(g)
    return this.groupCopy(g)
  }

  /** Test hook: an incoming group message from a member. */
  receiveGroup (group: string, from: string, text: string): GroupMessageInfo {
    const g = this.resolveGroup(group)
    const author = this.memberOf(from)
    const list = this.groupMsgs.get(g.groupId) ?? []
    const m: GroupMessageInfo = { id: sha(`gin:${g.groupId}:${++this.counter}`).slice(0, 32), groupId: g.groupId, from: author.peerId, fromName: author.name, text, timestamp: Date.now(), receivedAt: Date.now(), seq: list.length + 1, status: 'delivered' }
    list.push(m)
    this.groupMsgs.set(g.groupId, list)
    g.unread++
    this.emit({ type: 'group-message', message: { ...m } })
    return { ...m }
  }

  subscribe (listener: (event: NodeEvent) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async stop (): Promise<void> { this.stopped = true; this.listeners.clear() }

  /** Test hook: an incoming message from a contact. */
  receive (peer: string, text: string): MessageInfo {
    const c = this.resolve(peer)
    const list = this.msgs.get(c.peerId) ?? []
    const m: MessageInfo = { id: `in${++this.counter}`, peerId: c.peerId, direction: 'in', text, timestamp: Date.now(), receivedAt: Date.now(), status: 'delivered', seq: list.length + 1 }
    list.push(m)
    this.msgs.set(c.peerId, list)
    c.unread++
    this.emit({ type: 'message', message: { ...m } })
    return m
  }

  /** Test hook: the contact presents a new identity key. */
  changeKey (peer: string): void {
    const c = this.resolve(peer)
    const identityKey = '05' + sha('new:' + c.identityKey)
    c.pendingKeyChange = { identityKey, seenAt: Date.now() }
    c.verified = false
    this.emit({ type: 'key-changed', peerId: c.peerId, identityKey })
  }
}

// --- PARLEY_NODE_MODULE surface: the identity lives in HOME/fake-identity.json ---

interface FakeIdentityFile { name: string, passphraseHash: string | null }

export async function initIdentity (opts: { home: string, name?: string, passphrase?: string }): Promise<{ peerId: string, name: string }> {
  const file = join(opts.home, 'fake-identity.json')
  if (existsSync(file)) throw new ParleyError('ERR_IDENTITY_EXISTS', `an identity already exists in ${opts.home}; refusing to overwrite it`)
  const name = opts.name ?? 'fake'
  const doc: FakeIdentityFile = { name, passphraseHash: opts.passphrase != null ? sha(opts.passphrase) : null }
  writeFileSync(file, JSON.stringify(doc), { mode: 0o600, flag: 'wx' })
  return { peerId: fakePeerId(name), name }
}

export async function createParleyNode (opts: { home: string, passphrase?: string }): Promise<FakeNode> {
  const file = join(opts.home, 'fake-identity.json')
  if (!existsSync(file)) throw new ParleyError('ERR_NO_IDENTITY', `no identity in ${opts.home}`)
  const doc = JSON.parse(readFileSync(file, 'utf8')) as FakeIdentityFile
  if (doc.passphraseHash != null && (opts.passphrase == null || sha(opts.passphrase) !== doc.passphraseHash)) {
    throw new ParleyError('ERR_WRONG_PASSPHRASE', 'wrong or missing passphrase')
  }
  const node = new FakeNode(doc.name, opts.passphrase)
  // A second contact so CLI runs against a daemon process have someone to talk to.
  await node.addContact(`parley1:${fakePeerId('bob')}:${Buffer.from('bob').toString('base64url')}`)
  return node
}

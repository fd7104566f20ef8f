/**
 * Contacts of the node: lookup by name or PeerId, invites, verification, identity-key changes,
 * safety numbers, and the contacts' known addresses.
 */
import type { ContactInfo, SafetyNumberInfo } from './api.js'
import type { NodeContext } from './context.js'
import { identityFingerprint, parseInvite, InvalidInviteError } from './invite.js'
import { InvalidArgumentError, KeyChangePendingError, UnknownContactError } from './errors.js'
import { identityKeyOfPeer, isPeerIdLike, uniqueAddrs } from './util.js'
import { mergeRelays, sameRelays } from './relays.js'
import { conversationOf, encodeRoute } from './mailboxes.js'
import { bytesEqual, toHex, utf8 } from '../crypto/bytes.js'
import { computeSafetyNumber } from '../crypto/fingerprint.js'
import { constantTimeEqual } from '../crypto/primitives/types.js'
import { deserializeSessionRecord } from '../crypto/session.js'
import type { Contact } from '../store/index.js'

export class Contacts {
  constructor (private readonly ctx: NodeContext) {}

  async findContact (peer: string): Promise<Contact | null> {
    if (typeof peer !== 'string' || peer === '' || peer.length > 256) return null
    return await this.ctx.store.getContact(peer) ?? await this.ctx.store.getContactByName(peer)
  }

  async resolveContact (peer: string): Promise<Contact> {
    const c = await this.findContact(peer)
    if (c == null) throw new UnknownContactError(peer)
    return c
  }

  async listContacts (): Promise<ContactInfo[]> {
    const [contacts, unread] = await Promise.all([this.ctx.store.listContacts(), this.ctx.store.unreadCounts()])
    return contacts.map(c => this.ctx.contactInfo(c, unread[c.peerId] ?? 0))
  }

  async contactInfoOf (peerId: string): Promise<ContactInfo> {
    const c = await this.ctx.store.getContact(peerId)
    if (c == null) throw new UnknownContactError(peerId)
    return this.ctx.contactInfo(c, await this.ctx.store.unreadCount(peerId))
  }

  async addContact (invite: string, opts: { name?: string, signal?: AbortSignal } = {}): Promise<ContactInfo> {
    const ctx = this.ctx
    opts.signal?.throwIfAborted()
    const inv = parseInvite(invite)
    if (inv.peerId === ctx.peerId) throw new InvalidInviteError('this is your own invite')
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
    // One deferred unit (issue 3: it was a full one, plus a second full one for the invite's route, on
    // a first message's path). Nothing that leaves the node is derived from it before the next full
    // unit — the dial and the bundle request come from the invite the caller holds, and the first
    // message to the contact is committed in a full unit, whose fsync makes this one durable too;
    // losing it (power cut only) reverts to "not added yet": src/store/README.md, "Durability per unit".
    const { contact, created } = await ctx.store.write((tx) => {
      // issue 4: the invite's introduction tag is the contact's route until its session gives one
      if (inv.mailboxTag != null) {
        const conv = conversationOf(tx, inv.peerId)
        if (conv.route.length === 0) tx.putConversation({ ...conv, route: encodeRoute({ tag: inv.mailboxTag, relays: inv.relays }) })
      }
      const existing = tx.getContact(inv.peerId)
      const addresses = uniqueAddrs([...inv.addresses, ...(existing?.addresses ?? [])])
      // issue 4: the invite's relays are the contact's mailboxes; the invite is the newest word on them
      const relays = inv.relays.length > 0 ? mergeRelays(inv.relays, []) : (existing?.relays ?? [])
      if (existing != null) {
        const patch: Parameters<typeof tx.updateContact>[1] = { addresses, relays }
        if (explicit != null) patch.name = explicit
        return { contact: tx.updateContact(inv.peerId, patch)!, created: false }
      }
      const base = explicit ?? inv.name?.trim() ?? ''
      // an explicit --name must be free (ContactNameTakenError); otherwise pick the first free variant
      const name = explicit ?? tx.suggestContactName(base !== '' ? base : `peer-${inv.peerId.slice(-8)}`)
      const c: Contact = { peerId: inv.peerId, name, identityKey, verified: false, keyChange: null, addresses, relays, lastSeen: null, createdAt: now }
      tx.putContact(c)
      return { contact: c, created: true }
    }, { durability: 'deferred', ...(opts.signal != null ? { signal: opts.signal } : {}) })
    ctx.net.watch(contact.peerId, contact.addresses)
    const info = ctx.contactInfo(contact, created ? 0 : await ctx.store.unreadCount(contact.peerId))
    if (created) ctx.emit({ type: 'contact-added', contact: info })
    return info
  }

  async verifyContact (peer: string): Promise<ContactInfo> {
    const c = await this.resolveContact(peer)
    if (c.keyChange != null) throw new KeyChangePendingError(c.peerId)
    await this.ctx.store.updateContact(c.peerId, { verified: true })
    return await this.contactInfoOf(c.peerId)
  }

  async acceptKeyChange (peer: string): Promise<ContactInfo> {
    const c = await this.resolveContact(peer)
    if (c.keyChange == null) return this.ctx.contactInfo(c, await this.ctx.store.unreadCount(c.peerId))
    const newKey = c.keyChange.newKey
    await this.ctx.withPeerLock(c.peerId, async () => {
      await this.ctx.store.write((tx) => {
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
    const localIdentifier = utf8.encode(this.ctx.peerId)
    const remoteIdentifier = utf8.encode(c.peerId)
    const identityKey = this.ctx.identityKey
    const sn = await computeSafetyNumber({ localIdentifier, localIdentityKey: identityKey, remoteIdentifier, remoteIdentityKey: c.identityKey })
    return {
      safetyNumber: sn.displayable,
      local: { identifier: toHex(localIdentifier), identityKey: toHex(identityKey) },
      remote: { identifier: toHex(remoteIdentifier), identityKey: toHex(c.identityKey) },
      scannable: toHex(sn.scannable),
      verified: c.verified
    }
  }

  /** A contact for PEER; a PeerId that is no contact yet becomes an unverified one. */
  async ensureContact (peer: string): Promise<Contact> {
    const ctx = this.ctx
    const c = await this.findContact(peer)
    if (c != null) return c
    if (!isPeerIdLike(peer)) throw new UnknownContactError(peer)
    if (peer === ctx.peerId) throw new InvalidArgumentError('cannot message yourself')
    const identityKey = identityKeyOfPeer(peer)
    const now = Date.now()
    const { contact, created } = await ctx.store.write((tx) => {
      const existing = tx.getContact(peer)
      if (existing != null) return { contact: existing, created: false }
      const n: Contact = { peerId: peer, name: tx.suggestContactName(`peer-${peer.slice(-8)}`), identityKey, verified: false, keyChange: null, addresses: ctx.recentAddrs.get(peer) ?? [], relays: [], lastSeen: null, createdAt: now }
      tx.putContact(n)
      return { contact: n, created: true }
    })
    if (created) {
      ctx.net.watch(contact.peerId, contact.addresses)
      ctx.emit({ type: 'contact-added', contact: ctx.contactInfo(contact, 0) })
    }
    return contact
  }

  /** Stores a newly seen identity key as a pending change (refused until the user accepts it). */
  async recordKeyChange (peerId: string, newKey: Uint8Array): Promise<void> {
    const now = Date.now()
    const changed = await this.ctx.store.write((tx) => {
      const c = tx.getContact(peerId)
      if (c == null) return false
      if (c.keyChange != null && bytesEqual(c.keyChange.newKey, newKey)) return false
      tx.updateContact(peerId, { keyChange: { newKey, seenAt: now } })
      return true
    })
    if (changed) this.ctx.emit({ type: 'key-changed', peerId, identityKey: toHex(newKey) })
  }

  /**
   * issue 4: replaces a contact's relays / mailboxes with `relays` (validated, capped) — from its
   * signed DHT record or from the contact itself. An empty list is ignored (the contact still has the
   * ones we knew). Returns true when something changed.
   */
  async setContactRelays (peerId: string, relays: readonly unknown[]): Promise<boolean> {
    const ctx = this.ctx
    if (ctx.stopped) return false
    const next = mergeRelays(relays, [])
    if (next.length === 0) return false
    return await ctx.store.write((tx) => {
      const c = tx.getContact(peerId)
      if (c == null || sameRelays(c.relays, next)) return false
      tx.updateContact(peerId, { relays: next })
      return true
    })
  }

  /** Persists a contact's current addresses (a restarted peer usually listens on a new port). */
  async onPeerAddresses (peerId: string, addresses: string[]): Promise<void> {
    const ctx = this.ctx
    if (ctx.stopped) return
    const addrs = uniqueAddrs(addresses)
    if (addrs.length === 0) return
    ctx.recentAddrs.delete(peerId)
    ctx.recentAddrs.set(peerId, addrs)
    if (ctx.recentAddrs.size > 256) ctx.recentAddrs.delete(ctx.recentAddrs.keys().next().value!)
    // A deferred unit (no fsync of its own; issue 3: this ran on every identify, on the first message's
    // path): nothing that leaves the node is derived from it, and losing it is harmless — the addresses
    // are learnt again from the peer's next identify, the DHT or an invite (src/store/README.md,
    // "Durability per unit").
    await ctx.store.write((tx) => {
      const c = tx.getContact(peerId)
      if (c == null) return
      const merged = uniqueAddrs([...addrs, ...c.addresses])
      if (merged.length === c.addresses.length && merged.every((a, i) => a === c.addresses[i])) return
      tx.updateContact(peerId, { addresses: merged })
    }, { durability: 'deferred' })
  }
}

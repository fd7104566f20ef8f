/**
 * What every part of the node shares: its store, network and keys, the lifecycle flag, background
 * task tracking, per-peer locks, events, and the API views of stored rows. node.ts makes one and
 * hands it to contacts.ts, sessions.ts, outbox.ts and inbound.ts.
 */
import type { ContactInfo, MessageInfo, MessageStatus, NodeEvent } from './api.js'
import type { OutboxPolicy } from './options.js'
import type { PreKeyManager } from './prekey-store.js'
import { toHex, utf8 } from '../crypto/bytes.js'
import type { IdentityKeyPair } from '../crypto/identity.js'
import { encodePublicKey } from '../crypto/keys.js'
import { deserializeSessionRecord, type SessionRecord } from '../crypto/session.js'
import type { Contact, ParleyStore, StoredMessage } from '../store/index.js'
import { backoffDelay, type ParleyNetwork } from '../net/index.js'

export class NodeContext {
  readonly peerId: string
  /** Our 33-byte Signal identity key. */
  readonly identityKey: Uint8Array
  /** Aborted by stop(): every network call of the node listens to it. */
  readonly life = new AbortController()
  /** Set once stop() began: nothing new starts. */
  stopped = false
  /** Recently announced addresses of peers (used for contacts created from a message request). */
  readonly recentAddrs = new Map<string, string[]>()
  /**
   * The node's own relays, which are also its mailboxes (multiaddrs ending in /p2p/<relayPeerId>):
   * CreateNodeOptions.relays, else the relays stored in the node's settings (issue 4). Set by node.ts.
   */
  relays: readonly string[] = []
  private readonly listeners = new Set<(e: NodeEvent) => void>()
  private readonly locks = new Map<string, Promise<unknown>>()
  readonly tasks = new Set<Promise<unknown>>()

  constructor (
    readonly store: ParleyStore,
    readonly net: ParleyNetwork,
    readonly identity: IdentityKeyPair,
    readonly profileName: string,
    readonly prekeys: PreKeyManager,
    readonly policy: OutboxPolicy
  ) {
    this.peerId = net.peerId
    this.identityKey = encodePublicKey(identity.dhPublicKey)
  }

  track<T> (p: Promise<T>): Promise<T> {
    this.tasks.add(p)
    void p.finally(() => this.tasks.delete(p)).catch(() => {})
    return p
  }

  /**
   * A deadline of `ms` that also ends with the node (stop()), for a network call that usually ends
   * long before it: call `clear()` when it did. perf (issue 3): per flush this replaces
   * AbortSignal.any([AbortSignal.timeout(ms), life.signal]), whose timer cannot be cleared and whose
   * link to the node's life signal stays until garbage collection.
   */
  deadline (ms: number): { signal: AbortSignal, clear: () => void } {
    const life = this.life.signal
    const ac = new AbortController()
    if (life.aborted) {
      ac.abort(life.reason)
      return { signal: ac.signal, clear: () => {} }
    }
    const timer = setTimeout(() => { ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) }, ms)
    timer.unref?.()
    const onStop = (): void => { clearTimeout(timer); ac.abort(life.reason) }
    life.addEventListener('abort', onStop, { once: true })
    return {
      signal: ac.signal,
      clear: () => {
        clearTimeout(timer)
        life.removeEventListener('abort', onStop)
      }
    }
  }

  /** Runs a background task; its failure never crashes the node. */
  bg (p: Promise<unknown>): void {
    void this.track(p).catch(() => {})
  }

  /** Serialises everything that reads and writes one peer's session record. */
  async withPeerLock<T> (peerId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(peerId) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    this.locks.set(peerId, tail)
    void tail.then(() => { if (this.locks.get(peerId) === tail) this.locks.delete(peerId) })
    return await run
  }

  emit (e: NodeEvent): void {
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

  emitStatus (peerId: string, id: string, status: MessageStatus, reason?: string | null): void {
    this.emit({ type: 'status', peerId, id, status, ...(status === 'failed' && reason != null ? { reason } : {}) })
  }

  async loadRecord (peerId: string): Promise<SessionRecord | null> {
    const bytes = await this.store.getSession(peerId)
    return bytes != null ? deserializeSessionRecord(bytes) : null
  }

  retryDelay (attempt: number): number {
    return backoffDelay(attempt, { baseMs: this.policy.retryBaseMs, maxMs: this.policy.retryMaxMs })
  }

  // -- views ----------------------------------------------------------------------------------------

  contactInfo (c: Contact, unread: number): ContactInfo {
    return {
      peerId: c.peerId,
      name: c.name,
      identityKey: toHex(c.identityKey),
      verified: c.verified,
      pendingKeyChange: c.keyChange != null ? { identityKey: toHex(c.keyChange.newKey), seenAt: c.keyChange.seenAt } : null,
      online: this.net.isConnected(c.peerId),
      unread,
      addresses: [...c.addresses],
      relays: [...c.relays],
      lastSeen: c.lastSeen,
      createdAt: c.createdAt
    }
  }

  /** `reason`: why a failed message failed (the outbox entry's last error). */
  messageInfo (m: StoredMessage, reason?: string | null): MessageInfo {
    const status: MessageStatus = m.direction === 'in' ? (m.readAt != null ? 'read' : 'delivered') : m.status
    return {
      id: m.id,
      peerId: m.peerId,
      direction: m.direction,
      text: utf8.decode(m.body),
      timestamp: m.sentAt,
      receivedAt: m.receivedAt,
      status,
      seq: m.seq,
      // issue 4: a queued message also shows why it waits (e.g. "mailbox full")
      ...(reason != null && (status === 'failed' || (status === 'queued' && reason.startsWith('mailbox'))) ? { reason } : {})
    }
  }

  /** messageInfo with the failure reason looked up for a failed outgoing message. */
  async messageInfoOf (m: StoredMessage): Promise<MessageInfo> {
    if (m.direction !== 'out' || (m.status !== 'failed' && m.status !== 'queued')) return this.messageInfo(m)
    return this.messageInfo(m, (await this.store.getOutbox(m.id))?.lastError ?? null)
  }
}

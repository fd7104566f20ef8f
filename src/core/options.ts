/**
 * Options and the public node type of src/core/node.ts (re-exported there; import them from node.js).
 */
import type { ParleyNodeApi } from './api.js'
import type { PreKeyManager, PreKeyPolicy } from './prekey-store.js'
import type { ParleyStore } from '../store/index.js'
import type { Mailboxes, MailboxPolicy } from './mailboxes.js'
import type { GroupManager, GroupPolicy } from './groups.js'
import type { NetTimeouts, ParleyNetwork, ParleyNetworkInit, ReconnectOptions } from '../net/index.js'

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
  /**
   * Relays this node reserves on and uses as its mailboxes (multiaddrs ending in /p2p/<relayPeerId>);
   * advertised in invites and the signed DHT record (issue 4). Passed to the network as `relays`.
   * @default [] (or network.relays)
   */
  relays?: string[]
  /**
   * issue 4: offline delivery through mailboxes (fetch interval, direct-retry window, deadlines, host
   * quotas). Its `hostMailboxes` / `contactMailboxes` are overridden by the options below.
   */
  mailbox?: Partial<MailboxPolicy>
  /**
   * issue 4, PROTOCOL.md Part 4 §9: host a mailbox for our contacts (`parley daemon --host-mail`).
   * Stored in HOME/settings.json for later starts. @default the stored value, else false
   */
  hostMailboxes?: boolean
  /**
   * issue 4, Part 4 §9: use contacts that host as our mailboxes (`parley daemon --contact-mailboxes`).
   * Stored in HOME/settings.json for later starts. @default the stored value, else false
   */
  contactMailboxes?: boolean
  /** issue 5: group tunables (summary interval, control retries, kept ciphertexts). @default DEFAULT_GROUP_POLICY */
  groups?: Partial<GroupPolicy>
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
  /** issue 4: the node's mailbox side (fetch now, idle, counters). */
  mailboxes?: Mailboxes
  /** issue 5: the group manager (topics, raw controls, decryption probes for tests). */
  groups?: GroupManager
}

export type ParleyNode = ParleyNodeApi & { readonly peerId: string, readonly internals: NodeInternals }

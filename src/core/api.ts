/**
 * The public face of a running Parley node, as the daemon, the CLI, the TUI and embedding applications
 * see it. Everything here is plain, JSON-serialisable data (byte strings are lowercase hex) so the local
 * API can carry it unchanged. src/core/node.ts implements it on crypto + store + net.
 */

/** Delivery state of a message, in the order it normally advances. */
export type MessageStatus =
  | 'queued' // stored locally, in the outbox, not yet accepted by the peer (or a mailbox)
  | 'sent' // the peer's node acknowledged the envelope on the wire
  | 'stored' // deposited at a mailbox for an offline peer (offline-delivery issue)
  | 'delivered' // the peer's encrypted delivery receipt arrived
  | 'read' // the peer's encrypted read receipt arrived
  | 'failed' // cannot be sent (e.g. the contact's key changed and was not accepted)

export interface LocalIdentityInfo {
  peerId: string
  name: string
  /** Multiaddrs (with /p2p/<peerId>) this node can currently be reached at. */
  addresses: string[]
  /** Hex of the 33-byte Signal identity key (0x05 || X25519). */
  identityKey: string
  /** issue 4: our relays / mailboxes (as configured), those we hold a reservation on now, and the AutoNAT verdict. */
  relays?: string[]
  reservations?: string[]
  reachability?: 'public' | 'private'
  /**
   * issue 4, PROTOCOL.md Part 4 §9: mutual contacts as mailboxes — whether we host a mailbox for our
   * contacts (and what it holds now), whether we use hosting contacts, and which contacts host for us.
   */
  contactMailboxes?: { hosting: boolean, hostedItems: number, hostedBytes: number, using: boolean, hosts: string[] }
}

export interface ContactInfo {
  peerId: string
  name: string
  identityKey: string
  verified: boolean
  /** Set when the contact presented a different identity key that the user has not accepted yet. */
  pendingKeyChange: null | { identityKey: string, seenAt: number }
  online: boolean
  unread: number
  addresses: string[]
  /** The contact's relays / mailboxes (multiaddrs ending in /p2p/<relayPeerId>), issue 4. */
  relays: string[]
  lastSeen: number | null
  createdAt: number
}

export interface MessageInfo {
  id: string
  peerId: string
  direction: 'in' | 'out'
  text: string
  /** Sender's clock, ms since epoch. */
  timestamp: number
  receivedAt: number | null
  status: MessageStatus
  /** Per-conversation display position (stable). */
  seq: number
  /** Why a 'failed' message failed (e.g. "rejected: identity key changed"); absent otherwise. */
  reason?: string
}

export interface PeerConnectionInfo {
  peerId: string
  remoteAddr: string
  /** True when traffic goes through a circuit relay (judged by the connection, not the address string). */
  relayed: boolean
  direction: 'inbound' | 'outbound'
  contact: string | null
}

export interface SafetyNumberInfo {
  safetyNumber: string
  /** Hex of the exact bytes fed to the fingerprint function, for independent recomputation. */
  local: { identifier: string, identityKey: string }
  remote: { identifier: string, identityKey: string }
  /** Hex of the scannable (QR) form. */
  scannable: string
  verified: boolean
}

export type NodeEvent =
  | { type: 'message', message: MessageInfo }
  | { type: 'status', peerId: string, id: string, status: MessageStatus, reason?: string }
  | { type: 'contact-online', peerId: string, online: boolean }
  | { type: 'key-changed', peerId: string, identityKey: string }
  | { type: 'contact-added', contact: ContactInfo }
  | { type: 'group-message', message: GroupMessageInfo }
  | { type: 'group-updated', group: GroupInfo }

// -- groups (issue 5) --------------------------------------------------------------------------------

export type GroupRole = 'creator' | 'admin' | 'member'

export interface GroupMemberInfo {
  peerId: string
  /** Contact name when the member is a contact, else the member's own profile name if known, else null. */
  name: string | null
  role: GroupRole
}

export interface GroupInfo {
  /** Hex id of the group's CREATE membership entry. */
  groupId: string
  name: string
  members: GroupMemberInfo[]
  /** Our role; null once we were removed or left (the history stays readable). */
  role: GroupRole | null
  /** False after we were removed or left: nothing new arrives, `groupMessages` still works. */
  active: boolean
  /** Sender-key / topic epoch: advances on every removal or departure. */
  epoch: number
  unread: number
  createdAt: number
}

export interface GroupMessageInfo {
  /** Hex message id (unique per group). */
  id: string
  groupId: string
  /** PeerId of the author. */
  from: string
  /** The author's display name as we know it (contact name, profile name), or null. */
  fromName: string | null
  text: string
  /** Author's clock, ms since epoch. */
  timestamp: number
  receivedAt: number | null
  /** Display position in the group: the same order for every member (causal, then Lamport, then id). */
  seq: number
  /** Our own messages: 'queued' until published, then 'sent'. Others' messages: 'delivered'. */
  status: MessageStatus
}

export interface SendOptions {
  /** Resolve only once delivered (receipt) — rejects with a TimeoutError after timeoutMs, leaving it queued. */
  wait?: boolean
  /** @default 60000 */
  timeoutMs?: number
  signal?: AbortSignal
}

/** PEER arguments accept a PeerId or a contact name. */
export interface ParleyNodeApi {
  id: () => Promise<LocalIdentityInfo>
  invite: () => Promise<{ invite: string }>
  addContact: (invite: string, opts?: { name?: string, signal?: AbortSignal }) => Promise<ContactInfo>
  listContacts: () => Promise<ContactInfo[]>
  verifyContact: (peer: string) => Promise<ContactInfo>
  /** Accepts a pending identity-key change (it stays unverified). */
  acceptKeyChange: (peer: string) => Promise<ContactInfo>
  safetyNumber: (peer: string) => Promise<SafetyNumberInfo>
  send: (peer: string, text: string, opts?: SendOptions) => Promise<MessageInfo>
  messages: (peer: string, opts?: { limit?: number, before?: number }) => Promise<MessageInfo[]>
  markRead: (peer: string) => Promise<void>
  peers: () => Promise<PeerConnectionInfo[]>
  /** GROUP arguments accept a group id (hex) or a group name that is unique among our groups. */
  createGroup: (name: string, opts?: { members?: string[], signal?: AbortSignal }) => Promise<GroupInfo>
  listGroups: () => Promise<GroupInfo[]>
  /** Only the creator and admins may add (membership log rules); PEER is a PeerId or a contact name. */
  addGroupMember: (group: string, peer: string, opts?: { signal?: AbortSignal }) => Promise<GroupInfo>
  /** Only the creator and admins may remove; every remaining member's sender key rotates. */
  removeGroupMember: (group: string, peer: string, opts?: { signal?: AbortSignal }) => Promise<GroupInfo>
  leaveGroup: (group: string, opts?: { signal?: AbortSignal }) => Promise<GroupInfo>
  sendGroup: (group: string, text: string, opts?: { signal?: AbortSignal }) => Promise<GroupMessageInfo>
  /** Oldest first; `before` is a seq (exclusive). */
  groupMessages: (group: string, opts?: { limit?: number, before?: number }) => Promise<GroupMessageInfo[]>
  markGroupRead: (group: string) => Promise<void>
  /** Subscribe to events; returns an unsubscribe function. */
  subscribe: (listener: (event: NodeEvent) => void) => () => void
  stop: () => Promise<void>
}

/** Error codes the local API and the CLI surface (one line each). */
export class ParleyError extends Error {
  override readonly name: string = 'ParleyError'
  constructor (readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

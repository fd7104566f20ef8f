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

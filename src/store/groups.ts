/**
 * Storage contract for group chats (issue 5): groups, their membership logs, sender-key states (our
 * own chain and every other member's record), group messages with their causal metadata and the
 * published ciphertext (kept to answer repair requests), and the outbox of sealed pairwise control
 * envelopes. Reached as `tx.groups` inside store.read()/store.write() units, so a sender-key step
 * commits with the message it decrypted. Secrets (group secret, chains, causal buffer, texts,
 * envelopes) are opaque bytes, encrypted at rest like sessions.
 */

export type GroupMessageStatus = 'queued' | 'sent' | 'delivered'

export interface StoredGroup {
  /** Hex group id (id of the CREATE entry). */
  groupId: string
  name: string
  /** False once we were removed or left. */
  active: boolean
  epoch: number
  /** Group secret of `epoch` (32 bytes), or empty when not (yet) known / forgotten. */
  secret: Uint8Array
  /** Our serialised SenderKeyState, or empty. */
  ownKey: Uint8Array
  /** Serialised causal state (counters + the buffer of not yet deliverable messages). */
  causal: Uint8Array
  /** Known addresses per member id (hex Ed25519 key). */
  addrs: Record<string, string[]>
  createdAt: number
  joinedAt: number
}

export interface NewGroupMessage {
  id: string
  groupId: string
  /** Member id of the author. */
  sender: string
  senderSeq: number
  lamport: number
  body: Uint8Array
  sentAt: number
  receivedAt: number | null
  status: GroupMessageStatus
  /** The GroupWire bytes as published. */
  wire: Uint8Array
}

export interface StoredGroupMessage extends NewGroupMessage {
  readAt: number | null
}

export interface GroupOutboxEntry {
  id: string
  peerId: string
  envelope: Uint8Array
  attempts: number
  nextAttemptAt: number
}

export interface GroupTx {
  getGroup: (groupId: string) => StoredGroup | null
  listGroups: () => StoredGroup[]
  putGroup: (g: StoredGroup) => void
  /** Replaces the causal state only (the hot path). */
  setGroupCausal: (groupId: string, causal: Uint8Array) => void
  listLog: (groupId: string) => Uint8Array[]
  /** Writes the entry at `height`, dropping any entries at or above it first (fork replacement). */
  putLogEntry: (groupId: string, height: number, entry: Uint8Array) => void
  listSenderKeys: (groupId: string) => Array<{ member: string, record: Uint8Array }>
  putSenderKey: (groupId: string, member: string, record: Uint8Array) => void
  deleteSenderKey: (groupId: string, member: string) => void
  insertGroupMessage: (m: NewGroupMessage) => 'inserted' | 'duplicate'
  getGroupMessage: (groupId: string, id: string) => StoredGroupMessage | null
  /** Every message of the group in display order (lamport, sender, senderSeq). */
  listGroupMessages: (groupId: string) => StoredGroupMessage[]
  /** 1-based display position of a message (how many sort before it, plus one). */
  groupPosition: (groupId: string, lamport: number, sender: string, senderSeq: number) => number
  /** Our own messages not yet published. */
  queuedGroupMessages: (groupId: string) => StoredGroupMessage[]
  setGroupMessageStatus: (groupId: string, id: string, status: GroupMessageStatus) => void
  /** Published ciphertexts of one sender's seqs in [from, to], at most `limit`. */
  groupWires: (groupId: string, sender: string, from: number, to: number, limit: number) => Array<{ seq: number, wire: Uint8Array }>
  /** Forgets stored ciphertexts beyond the newest `keep` of the group (texts stay). */
  pruneGroupWires: (groupId: string, keep: number) => number
  markGroupRead: (groupId: string, at: number) => number
  groupUnread: (groupId: string) => number
  enqueueGroupOutbox: (e: { id: string, peerId: string, envelope: Uint8Array }) => void
  groupOutboxFor: (peerId: string, limit: number) => GroupOutboxEntry[]
  setGroupOutboxEnvelope: (id: string, envelope: Uint8Array) => void
  dueGroupOutboxPeers: (now: number) => string[]
  recordGroupOutboxAttempt: (id: string, nextAttemptAt: number) => void
  removeGroupOutbox: (id: string) => void
}

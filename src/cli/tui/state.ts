/**
 * The chat screen's state and its pure transitions (events in, new state out). Plain data, so the
 * renderer and the tests need no node, no terminal and no clock.
 */
import type { ContactInfo, GroupInfo, GroupMessageInfo, MessageInfo, NodeEvent } from '../../core/api.js'

export interface ChatState {
  self: { peerId: string, name: string } | null
  contacts: ContactInfo[]
  /** PeerId of the open conversation (null while a group is open). */
  selected: string | null
  /** Messages per PeerId, kept in `seq` order. */
  conversations: Record<string, MessageInfo[]>
  /** Our groups, listed below the contacts. */
  groups: GroupInfo[]
  /** groupId of the open group conversation (null while a contact is open); exclusive with `selected`. */
  selectedGroup: string | null
  /** Group messages per groupId, kept in `seq` order. */
  groupConversations: Record<string, GroupMessageInfo[]>
  input: string
  notice: { text: string, level: 'info' | 'warn' | 'error' } | null
  /** Lines shown instead of the conversation until dismissed (help, invite, safety number). */
  overlay: string[] | null
  mode: 'daemon' | 'in-process'
  connected: boolean
}

export function initialState (mode: ChatState['mode']): ChatState {
  return { self: null, contacts: [], selected: null, conversations: {}, groups: [], selectedGroup: null, groupConversations: {}, input: '', notice: null, overlay: null, mode, connected: true }
}

export function upsertMessage (list: readonly MessageInfo[], m: MessageInfo): MessageInfo[] {
  const i = list.findIndex((x) => x.id === m.id)
  const out = i >= 0 ? list.map((x, j) => j === i ? m : x) : [...list, m]
  return out.sort((a, b) => a.seq - b.seq)
}

function patchContact (s: ChatState, peerId: string, patch: (c: ContactInfo) => ContactInfo): ChatState {
  return { ...s, contacts: s.contacts.map((c) => c.peerId === peerId ? patch(c) : c) }
}

export function contactName (s: ChatState, peerId: string): string {
  return s.contacts.find((c) => c.peerId === peerId)?.name ?? peerId
}

/** Applies one node event. Unread counts rise only for incoming messages outside the open conversation. */
export function applyEvent (s: ChatState, ev: NodeEvent, now = Date.now()): ChatState {
  switch (ev.type) {
    case 'message': {
      const m = ev.message
      let next: ChatState = { ...s, conversations: { ...s.conversations, [m.peerId]: upsertMessage(s.conversations[m.peerId] ?? [], m) } }
      const isNew = (s.conversations[m.peerId] ?? []).every((x) => x.id !== m.id)
      if (m.direction === 'in' && isNew && m.peerId !== s.selected) next = patchContact(next, m.peerId, (c) => ({ ...c, unread: c.unread + 1 }))
      return next
    }
    case 'status': {
      const list = s.conversations[ev.peerId]
      if (list == null) return s
      return { ...s, conversations: { ...s.conversations, [ev.peerId]: list.map((m) => m.id === ev.id ? { ...m, status: ev.status } : m) } }
    }
    case 'contact-online':
      return patchContact(s, ev.peerId, (c) => ({ ...c, online: ev.online, lastSeen: ev.online ? c.lastSeen : now }))
    case 'key-changed': {
      const next = patchContact(s, ev.peerId, (c) => ({ ...c, verified: false, pendingKeyChange: { identityKey: ev.identityKey, seenAt: now } }))
      return { ...next, notice: { level: 'warn', text: `${contactName(s, ev.peerId)}'s identity key CHANGED — check /verify, then /accept-key` } }
    }
    case 'contact-added': {
      const exists = s.contacts.some((c) => c.peerId === ev.contact.peerId)
      const contacts = exists ? s.contacts.map((c) => c.peerId === ev.contact.peerId ? ev.contact : c) : [...s.contacts, ev.contact]
      return { ...s, contacts, selected: s.selected ?? (s.selectedGroup == null ? ev.contact.peerId : null) }
    }
    case 'group-message': {
      const m = ev.message
      const before = s.groupConversations[m.groupId] ?? []
      const isNew = before.every((x) => x.id !== m.id)
      const next: ChatState = { ...s, groupConversations: { ...s.groupConversations, [m.groupId]: upsertGroupMessage(before, m) } }
      if (isNew && m.from !== s.self?.peerId && m.groupId !== s.selectedGroup) return patchGroup(next, m.groupId, (g) => ({ ...g, unread: g.unread + 1 }))
      return next
    }
    case 'group-updated': {
      const g = ev.group
      const old = s.groups.find((x) => x.groupId === g.groupId)
      // The node's count is authoritative (it may have been read elsewhere); the open group has none.
      const unread = g.groupId === s.selectedGroup ? 0 : g.unread
      const groups = old != null ? s.groups.map((x) => x.groupId === g.groupId ? { ...g, unread } : x) : [...s.groups, { ...g, unread }]
      let next: ChatState = { ...s, groups }
      if (old?.active === true && !g.active) next = { ...next, notice: { level: 'warn', text: `you are no longer a member of ${g.name}; its history stays readable` } }
      return next
    }
  }
  return s
}

// -- groups (issue 5) --

export function upsertGroupMessage (list: readonly GroupMessageInfo[], m: GroupMessageInfo): GroupMessageInfo[] {
  const i = list.findIndex((x) => x.id === m.id)
  const out = i >= 0 ? list.map((x, j) => j === i ? m : x) : [...list, m]
  return out.sort((a, b) => a.seq - b.seq)
}

function patchGroup (s: ChatState, groupId: string, patch: (g: GroupInfo) => GroupInfo): ChatState {
  return { ...s, groups: s.groups.map((g) => g.groupId === groupId ? patch(g) : g) }
}

/** An author's name in a group conversation: "me", the name we know, else the PeerId. */
export function authorName (s: ChatState, m: GroupMessageInfo): string {
  if (m.from === s.self?.peerId) return 'me'
  return s.contacts.find((c) => c.peerId === m.from)?.name ?? m.fromName ?? m.from
}

/** Opens a group conversation (clears its unread count locally; the caller tells the node). */
export function selectGroup (s: ChatState, groupId: string): ChatState {
  return { ...patchGroup(s, groupId, (g) => ({ ...g, unread: 0 })), selected: null, selectedGroup: groupId, overlay: null }
}

/** Finds a group by exact name, id, or unique prefix of either. */
export function findGroup (s: ChatState, query: string): GroupInfo | null {
  const q = query.trim().replace(/^#/, '')
  const exact = s.groups.filter((g) => g.name === q || g.groupId === q)
  if (exact.length === 1) return exact[0] as GroupInfo
  const lower = q.toLowerCase()
  const hits = s.groups.filter((g) => g.name.toLowerCase().startsWith(lower) || g.groupId.startsWith(lower))
  return hits.length === 1 ? hits[0] as GroupInfo : null
}

// -- end groups --

/** Opens a conversation (clears its unread count locally; the caller tells the node). */
export function select (s: ChatState, peerId: string): ChatState {
  return { ...patchContact(s, peerId, (c) => ({ ...c, unread: 0 })), selected: peerId, selectedGroup: null, overlay: null }
}

/** Next (+1) or previous (-1) conversation — contacts, then groups — wrapping around. */
export function cycle (s: ChatState, step: 1 | -1): ChatState {
  const all = [...s.contacts.map((c) => ({ kind: 'contact' as const, id: c.peerId })), ...s.groups.map((g) => ({ kind: 'group' as const, id: g.groupId }))]
  if (all.length === 0) return s
  const i = all.findIndex((x) => x.kind === 'group' ? x.id === s.selectedGroup : x.id === s.selected)
  const j = ((i < 0 ? 0 : i + step) + all.length) % all.length
  const t = all[j] as { kind: 'contact' | 'group', id: string }
  return t.kind === 'group' ? selectGroup(s, t.id) : select(s, t.id)
}

/** Finds a contact by exact name, PeerId, or unique prefix of either. */
export function findContact (s: ChatState, query: string): ContactInfo | null {
  const q = query.trim()
  const exact = s.contacts.find((c) => c.name === q || c.peerId === q)
  if (exact != null) return exact
  const lower = q.toLowerCase()
  const hits = s.contacts.filter((c) => c.name.toLowerCase().startsWith(lower) || c.peerId.startsWith(q))
  return hits.length === 1 ? hits[0] as ContactInfo : null
}

/**
 * The chat screen's state and its pure transitions (events in, new state out). Plain data, so the
 * renderer and the tests need no node, no terminal and no clock.
 */
import type { ContactInfo, MessageInfo, NodeEvent } from '../../core/api.js'

export interface ChatState {
  self: { peerId: string, name: string } | null
  contacts: ContactInfo[]
  /** PeerId of the open conversation. */
  selected: string | null
  /** Messages per PeerId, kept in `seq` order. */
  conversations: Record<string, MessageInfo[]>
  input: string
  notice: { text: string, level: 'info' | 'warn' | 'error' } | null
  /** Lines shown instead of the conversation until dismissed (help, invite, safety number). */
  overlay: string[] | null
  mode: 'daemon' | 'in-process'
  connected: boolean
}

export function initialState (mode: ChatState['mode']): ChatState {
  return { self: null, contacts: [], selected: null, conversations: {}, input: '', notice: null, overlay: null, mode, connected: true }
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
      return { ...s, contacts, selected: s.selected ?? ev.contact.peerId }
    }
  }
  return s
}

/** Opens a conversation (clears its unread count locally; the caller tells the node). */
export function select (s: ChatState, peerId: string): ChatState {
  return { ...patchContact(s, peerId, (c) => ({ ...c, unread: 0 })), selected: peerId, overlay: null }
}

/** Next (+1) or previous (-1) contact, wrapping around. */
export function cycle (s: ChatState, step: 1 | -1): ChatState {
  if (s.contacts.length === 0) return s
  const i = s.contacts.findIndex((c) => c.peerId === s.selected)
  const j = ((i < 0 ? 0 : i + step) + s.contacts.length) % s.contacts.length
  return select(s, (s.contacts[j] as ContactInfo).peerId)
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

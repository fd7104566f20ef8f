/** Human-readable output of the CLI (pure functions; --json output bypasses all of this). */
import type { ContactInfo, GroupInfo, GroupMessageInfo, LocalIdentityInfo, MessageInfo, MessageStatus, PeerConnectionInfo, SafetyNumberInfo } from '../core/api.js'

export const STATUS_MARK: Record<MessageStatus, string> = {
  queued: '…',
  sent: '✓',
  stored: '✓',
  delivered: '✓✓',
  read: '✓✓',
  failed: '✗'
}

export function shortId (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

/** Safety numbers are 60 digits shown as 12 groups of 5 (Signal's presentation), 4 groups a line. */
export function groupSafetyNumber (digits: string): string {
  const groups = digits.replace(/\s+/g, '').match(/.{1,5}/g) ?? []
  const lines: string[] = []
  for (let i = 0; i < groups.length; i += 4) lines.push(groups.slice(i, i + 4).join(' '))
  return lines.join('\n')
}

export function formatTime (ms: number, now = Date.now()): string {
  const d = new Date(ms)
  const pad = (n: number): string => String(n).padStart(2, '0')
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`
  const sameDay = new Date(now).toDateString() === d.toDateString()
  return sameDay ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`
}

export function formatId (id: LocalIdentityInfo): string {
  const lines = [`PeerId:       ${id.peerId}`, `Name:         ${sanitize(id.name)}`, `Identity key: ${id.identityKey}`, 'Addresses:']
  if (id.addresses.length === 0) lines.push('  (none yet)')
  for (const a of id.addresses) lines.push(`  ${a}`)
  // issue 4: relays and NAT
  if (id.relays != null && id.relays.length > 0) {
    lines.push('Relays:')
    for (const r of id.relays) {
      const rid = r.split('/p2p/').pop() ?? ''
      lines.push(`  ${r}  (${id.reservations?.includes(rid) === true ? 'reserved' : 'no reservation yet'})`)
    }
  }
  if (id.reachability != null) lines.push(`Reachability: ${id.reachability === 'public' ? 'public address' : 'behind NAT / private (reachable through relays)'}`)
  // issue 4, PROTOCOL.md Part 4 §9: mutual contacts as mailboxes
  const cm = id.contactMailboxes
  if (cm != null && (cm.hosting || cm.using)) {
    if (cm.hosting) lines.push(`Hosting mail for contacts: ${cm.hostedItems} item(s), ${cm.hostedBytes} bytes`)
    if (cm.using) lines.push(`Contacts as mailboxes: ${cm.hosts.length === 0 ? 'on (no contact hosts yet)' : `${cm.hosts.length} hosting contact(s)`}`)
  }
  return lines.join('\n') + '\n'
}

export function formatContacts (list: ContactInfo[]): string {
  if (list.length === 0) return 'No contacts yet. Add one with `parley contact add INVITE`.\n'
  list = list.map((c) => ({ ...c, name: sanitize(c.name) }))
  const nameW = Math.max(4, ...list.map((c) => c.name.length))
  const lines = [`${'NAME'.padEnd(nameW)}  ${'PEER'.padEnd(17)}  ONLINE  VERIFIED  UNREAD`]
  for (const c of list) {
    lines.push(`${c.name.padEnd(nameW)}  ${shortId(c.peerId).padEnd(17)}  ${(c.online ? 'yes' : 'no').padEnd(6)}  ${(c.verified ? 'yes' : 'no').padEnd(8)}  ${c.unread}` +
      (c.pendingKeyChange != null ? '  ⚠ IDENTITY KEY CHANGED — see `parley safety-number` / `parley contact accept-key`' : ''))
  }
  return lines.join('\n') + '\n'
}

export function formatSafetyNumber (peer: string, s: SafetyNumberInfo): string {
  return [
    `Safety number with ${peer}${s.verified ? ' (verified)' : ''}:`,
    '',
    groupSafetyNumber(s.safetyNumber),
    '',
    'Compare it with your contact in person or over a trusted channel; if it matches, run',
    `\`parley contact verify ${peer}\`.`
  ].join('\n') + '\n'
}

export function formatMessages (list: MessageInfo[], contactName: string, now = Date.now()): string {
  if (list.length === 0) return `No messages with ${contactName} yet.\n`
  return list.map((m) => {
    const who = m.direction === 'out' ? 'me' : sanitize(contactName)
    // failed: why; queued: why it waits, when the node says (issue 4: "mailbox full…")
    const why = (m.status === 'failed' || m.status === 'queued') && m.reason != null ? ` (${sanitize(m.reason)})` : ''
    const mark = m.direction === 'out' ? `  ${STATUS_MARK[m.status]} ${m.status}${why}` : ''
    return `[${formatTime(m.timestamp, now)}] ${who}: ${sanitize(m.text)}${mark}`
  }).join('\n') + '\n'
}

export function formatPeers (list: PeerConnectionInfo[]): string {
  if (list.length === 0) return 'Not connected to any peer.\n'
  return list.map((p) => `${p.contact != null ? sanitize(p.contact) : shortId(p.peerId)}  ${p.direction}  ${p.relayed ? 'relayed ' : 'direct  '}  ${p.remoteAddr}`).join('\n') + '\n'
}

export const KEY_CHANGE_WARNING = [
  '!!! WARNING: ACCEPTING A CHANGED IDENTITY KEY !!!',
  'This contact now presents a DIFFERENT identity key. That happens when they reinstalled Parley',
  'or moved to a new device — and it is exactly what an attacker impersonating them would look like.',
  'Messages will be encrypted to the NEW key. The contact is now marked UNVERIFIED: compare the new',
  'safety number (`parley safety-number PEER`) in person or over a trusted channel before trusting it.'
].join('\n')

/**
 * Makes peer-controlled text (messages, contact names) safe to print on a terminal: C0/C1 control
 * characters (ESC starts ANSI sequences that could rewrite the screen or the title) and bidi overrides
 * become U+FFFD; tabs become spaces. Newlines are kept only when `keepNewlines`.
 */
export function sanitize (text: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\t/g, '    ').replace(keepNewlines ? /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g : /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '\ufffd')
}

// -- groups (issue 5) --------------------------------------------------------------------------------

/** A group id shortened for tables (ids are 64 hex digits; any unique name or the full id selects one). */
export function shortGroupId (id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id
}

/** A member or author as a person reads it: the name we know, else the short PeerId. */
export function memberLabel (peerId: string, name: string | null, selfPeerId?: string): string {
  if (selfPeerId != null && peerId === selfPeerId) return 'me'
  return name != null && name !== '' ? sanitize(name) : shortId(peerId)
}

export function formatGroups (list: GroupInfo[], selfPeerId?: string): string {
  if (list.length === 0) return 'No groups yet. Create one with `parley group create NAME --member PEER`.\n'
  const rows = list.map((g) => ({
    name: sanitize(g.name),
    id: shortGroupId(g.groupId),
    role: g.role ?? (g.active ? '?' : 'left'),
    members: g.members.map((m) => memberLabel(m.peerId, m.name, selfPeerId) + (m.role !== 'member' ? ` (${m.role})` : '')).join(', '),
    unread: String(g.unread)
  }))
  const nameW = Math.max(4, ...rows.map((r) => r.name.length))
  const lines = [`${'NAME'.padEnd(nameW)}  ${'ID'.padEnd(12)}  ${'ROLE'.padEnd(7)}  UNREAD  MEMBERS`]
  for (const r of rows) lines.push(`${r.name.padEnd(nameW)}  ${r.id.padEnd(12)}  ${r.role.padEnd(7)}  ${r.unread.padEnd(6)}  ${r.members}`)
  return lines.join('\n') + '\n'
}

/** One group after a change (create, add, remove, leave). */
export function formatGroup (g: GroupInfo, headline: string, selfPeerId?: string): string {
  const lines = [headline, `Group:   ${sanitize(g.name)}`, `Id:      ${g.groupId}`, `Epoch:   ${g.epoch}`, `Members (${g.members.length}):`]
  for (const m of g.members) lines.push(`  ${memberLabel(m.peerId, m.name, selfPeerId)}${m.role !== 'member' ? ` (${m.role})` : ''}  ${m.peerId}`)
  if (!g.active) lines.push('You are no longer a member: nothing new arrives; `parley group messages` still shows the history.')
  return lines.join('\n') + '\n'
}

export function formatGroupMessages (list: GroupMessageInfo[], groupName: string, selfPeerId?: string, now = Date.now()): string {
  if (list.length === 0) return `No messages in ${sanitize(groupName)} yet.\n`
  return list.map((m) => {
    const mine = selfPeerId != null && m.from === selfPeerId
    const mark = mine ? `  ${STATUS_MARK[m.status]} ${m.status}` : ''
    return `[${formatTime(m.timestamp, now)}] ${memberLabel(m.from, m.fromName, selfPeerId)}: ${sanitize(m.text)}${mark}`
  }).join('\n') + '\n'
}

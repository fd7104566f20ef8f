/**
 * Renders the chat screen as exactly `height` lines of exactly `width` terminal columns (plus ANSI
 * colour codes when `color`). Pure: state in, lines out. Peer-controlled text is sanitised first.
 */
import type { ContactInfo, GroupInfo, GroupMessageInfo, MessageInfo, MessageStatus } from '../../core/api.js'
import { formatTime, sanitize, shortId } from '../format.js'
import { authorName, type ChatState } from './state.js'

export interface RenderOptions {
  width: number
  height: number
  color: boolean
  now?: number
}

const MARK: Record<MessageStatus, { text: string, sgr: string }> = {
  queued: { text: '…', sgr: '2' },
  sent: { text: '✓', sgr: '2' },
  stored: { text: '✓', sgr: '2' },
  delivered: { text: '✓✓', sgr: '32' },
  read: { text: '✓✓', sgr: '1;36' },
  failed: { text: '✗', sgr: '1;31' }
}

/** Terminal columns of one code point (0 for combining marks, 2 for wide CJK / emoji). */
export function charWidth (cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)) return 2
  return 1
}

export function textWidth (s: string): number {
  let w = 0
  for (const ch of s) w += charWidth(ch.codePointAt(0) ?? 0)
  return w
}

/** Cuts to at most `w` columns, then pads with spaces to exactly `w`. */
export function fit (s: string, w: number, ellipsis = true): string {
  if (w <= 0) return ''
  if (textWidth(s) <= w) return s + ' '.repeat(w - textWidth(s))
  let out = ''
  let used = 0
  const limit = ellipsis ? w - 1 : w
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0) ?? 0)
    if (used + cw > limit) break
    out += ch
    used += cw
  }
  if (ellipsis) { out += '…'; used += 1 }
  return out + ' '.repeat(Math.max(0, w - used))
}

/** Wraps to lines of at most `w` columns, preferring to break after a space. */
export function wrap (s: string, w: number): string[] {
  if (w <= 0) return []
  const out: string[] = []
  for (const para of s.split('\n')) {
    let line = ''
    let used = 0
    let lastSpace = -1
    for (const ch of para) {
      const cw = charWidth(ch.codePointAt(0) ?? 0)
      if (used + cw > w) {
        if (lastSpace > 0) {
          out.push(line.slice(0, lastSpace))
          line = line.slice(lastSpace + 1)
        } else {
          out.push(line)
          line = ''
        }
        used = textWidth(line)
        lastSpace = -1
      }
      line += ch
      used += cw
      if (ch === ' ') lastSpace = line.length - 1
    }
    out.push(line)
  }
  return out
}

export function render (s: ChatState, opts: RenderOptions): string[] {
  const width = Math.max(20, opts.width)
  const height = Math.max(6, opts.height)
  const now = opts.now ?? Date.now()
  const paint = (sgr: string, text: string): string => opts.color ? `\x1b[${sgr}m${text}\x1b[0m` : text

  const lines: string[] = []
  const me = s.self != null ? `${sanitize(s.self.name)} (${shortId(s.self.peerId)})` : '…'
  const conn = s.connected ? (s.mode === 'daemon' ? 'via daemon' : 'in-process node') : 'DISCONNECTED'
  lines.push(paint('7', fit(` Parley — ${me} · ${conn}`, width)))

  const bodyH = height - 3
  const leftW = Math.min(30, Math.max(14, Math.floor(width * 0.3)))
  const rightW = width - leftW - 1
  const left = [...renderContacts(s.contacts, s.selected, leftW, bodyH, paint), ...renderGroups(s.groups, s.selectedGroup, leftW, paint)].slice(0, bodyH)
  const right = renderConversation(s, rightW, bodyH, now, paint)
  for (let i = 0; i < bodyH; i++) lines.push(`${left[i] ?? ' '.repeat(leftW)}${paint('2', '│')}${right[i] ?? ' '.repeat(rightW)}`)

  if (s.notice != null) {
    const sgr = s.notice.level === 'error' ? '1;31' : s.notice.level === 'warn' ? '1;33' : '36'
    lines.push(paint(sgr, fit(sanitize(s.notice.text), width)))
  } else {
    lines.push(paint('2', fit('Enter send · Tab switch · /add INVITE · /invite · /verify · /group · /help · /quit', width)))
  }
  const prompt = '> '
  const room = width - prompt.length
  const input = sanitize(s.input)
  // Show the tail of a long input so the cursor stays visible.
  let shown = input
  while (textWidth(shown) > room - 1) shown = shown.slice(1)
  lines.push(fit(prompt + shown, width, false))
  return lines
}

function renderContacts (contacts: ContactInfo[], selected: string | null, w: number, h: number, paint: (sgr: string, t: string) => string): string[] {
  const out = [paint('1', fit(' Contacts', w))]
  if (contacts.length === 0) out.push(paint('2', fit(' (none — /add INVITE)', w)))
  for (const c of contacts) {
    if (out.length >= h) break
    const sel = c.peerId === selected ? '>' : ' '
    const dot = c.online ? '●' : '○'
    const unread = c.unread > 0 ? ` (${c.unread})` : ''
    const warn = c.pendingKeyChange != null ? ' ⚠' : ''
    const tail = unread + warn
    const nameRoom = w - 3 - textWidth(tail)
    if (nameRoom < 1) { out.push(fit(`${sel}${dot} ${sanitize(c.name)}`, w)); continue }
    const name = fit(sanitize(c.name), nameRoom)
    if (c.peerId === selected) out.push(paint('7', `${sel}${dot} ${name}${tail}`))
    else out.push(`${sel}${paint(c.online ? '32' : '2', dot)} ${name}${paint('1;33', unread)}${paint('1;31', warn)}`)
  }
  return out
}

// -- groups (issue 5) --

function renderGroups (groups: GroupInfo[], selected: string | null, w: number, paint: (sgr: string, t: string) => string): string[] {
  if (groups.length === 0) return []
  const out = [' '.repeat(w), paint('1', fit(' Groups', w))]
  for (const g of groups) {
    const sel = g.groupId === selected ? '>' : ' '
    const unread = g.unread > 0 ? ` (${g.unread})` : ''
    const left = g.active ? '' : ' (left)'
    const tail = unread + left
    const nameRoom = w - 3 - textWidth(tail)
    if (nameRoom < 1) { out.push(fit(`${sel}# ${sanitize(g.name)}`, w)); continue }
    const name = fit(sanitize(g.name), nameRoom)
    if (g.groupId === selected) out.push(paint('7', `${sel}# ${name}${tail}`))
    else out.push(`${sel}${paint(g.active ? '36' : '2', '#')} ${name}${paint('1;33', unread)}${paint('2', left)}`)
  }
  return out
}

function renderGroupConversation (s: ChatState, g: GroupInfo, w: number, h: number, now: number, paint: (sgr: string, t: string) => string): string[] {
  const others = g.members.filter((m) => m.peerId !== s.self?.peerId).map((m) => s.contacts.find((c) => c.peerId === m.peerId)?.name ?? m.name ?? shortId(m.peerId))
  const head = [paint('1', fit(` # ${sanitize(g.name)} · ${g.members.length} member${g.members.length === 1 ? '' : 's'}: ${sanitize(['me', ...others].join(', '))}`, w))]
  if (!g.active) head.push(paint('1;33', fit(' You are no longer a member: nothing new arrives (history stays)', w)))
  const msgLines: string[] = []
  for (const m of s.groupConversations[g.groupId] ?? []) msgLines.push(...groupMessageLines(m, authorName(s, m), m.from === s.self?.peerId, w, now, paint))
  const room = h - head.length
  return [...head, ...msgLines.slice(Math.max(0, msgLines.length - room))]
}

function groupMessageLines (m: GroupMessageInfo, who: string, mine: boolean, w: number, now: number, paint: (sgr: string, t: string) => string): string[] {
  // The same layout as a direct message; author names are what tells the members apart.
  const asDirect: MessageInfo = { id: m.id, peerId: m.from, direction: mine ? 'out' : 'in', text: m.text, timestamp: m.timestamp, receivedAt: m.receivedAt, status: m.status, seq: m.seq }
  return messageLines(asDirect, who, w, now, paint)
}

// -- end groups --

function renderConversation (s: ChatState, w: number, h: number, now: number, paint: (sgr: string, t: string) => string): string[] {
  const head: string[] = []
  const c = s.contacts.find((x) => x.peerId === s.selected)
  if (s.overlay != null) {
    const body = s.overlay.flatMap((l) => wrap(sanitize(l), w - 1)).map((l) => ' ' + l)
    return [...body.slice(0, h).map((l) => fit(l, w))]
  }
  const g = s.selectedGroup != null ? s.groups.find((x) => x.groupId === s.selectedGroup) : undefined
  if (g != null) return renderGroupConversation(s, g, w, h, now, paint)
  if (c == null) {
    return [fit(' No conversation open.', w), fit(' Add a contact: /add INVITE   Share yours: /invite', w)]
  }
  const title = ` ${sanitize(c.name)} · ${shortId(c.peerId)} · ${c.online ? 'online' : 'offline'} · ${c.verified ? 'verified ✓' : 'not verified'}`
  head.push(paint(c.verified ? '1;32' : '1', fit(title, w)))
  if (c.pendingKeyChange != null) head.push(paint('1;31', fit(' ⚠ IDENTITY KEY CHANGED — /verify to compare, /accept-key to accept', w)))

  const msgLines: string[] = []
  for (const m of s.conversations[c.peerId] ?? []) msgLines.push(...messageLines(m, c.name, w, now, paint))
  const room = h - head.length
  const shown = msgLines.slice(Math.max(0, msgLines.length - room))
  return [...head, ...shown]
}

function messageLines (m: MessageInfo, name: string, w: number, now: number, paint: (sgr: string, t: string) => string): string[] {
  const who = m.direction === 'out' ? 'me' : sanitize(name)
  const prefix = ` ${formatTime(m.timestamp, now)} ${who}: `
  const mark = m.direction === 'out' ? MARK[m.status] : null
  const suffix = mark != null ? ` ${mark.text}` : ''
  const indent = '   '
  const body = wrap(sanitize(m.text, true), Math.max(4, w - textWidth(prefix) - textWidth(suffix)))
  const out: string[] = []
  body.forEach((l, i) => {
    const lead = i === 0 ? prefix : indent + ' '.repeat(Math.max(0, textWidth(prefix) - indent.length))
    const isLast = i === body.length - 1
    const text = fit(lead + l, w - (isLast ? textWidth(suffix) : 0), false)
    const styled = i === 0 ? paint(m.direction === 'out' ? '34' : '35', text.slice(0, prefix.length)) + text.slice(prefix.length) : text
    out.push(isLast && mark != null ? styled + paint(mark.sgr, suffix) : styled)
  })
  return out
}

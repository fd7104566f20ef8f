/**
 * `parley chat`: the interactive terminal UI. Talks to the home's daemon when one runs; otherwise
 * starts the node in-process (serving the local API too, so other `parley` commands keep working) and
 * creates an identity first for a newcomer. On a TTY it draws full screens on the alternate buffer;
 * with piped stdin it reads one command or message per line and prints a frame after each.
 */
import { userInfo } from 'node:os'
import { createInterface, emitKeypressEvents } from 'node:readline'
import type { NodeEvent, ParleyNodeApi } from '../../core/api.js'
import { connectDaemon, type ApiClient } from '../../daemon/client.js'
import { startDaemon, type RunningDaemon } from '../../daemon/daemon.js'
import { NoDaemonError } from '../../daemon/errors.js'
import { loadNodeModule, NO_IDENTITY_CODES } from '../../daemon/node-module.js'
import { groupSafetyNumber, KEY_CHANGE_WARNING } from '../format.js'
import type { CliContext } from '../main.js'
import { render } from './render.js'
import { applyEvent, contactName, cycle, findContact, findGroup, initialState, select, selectGroup, upsertGroupMessage, upsertMessage, type ChatState } from './state.js'

interface Keypress { name?: string, ctrl?: boolean, meta?: boolean, shift?: boolean, sequence?: string }

const HELP = [
  'Commands',
  '  /add INVITE [NAME]   add a contact from their invite',
  '  /invite              show your invite',
  '  /verify              show the safety number; /verify yes marks the contact verified',
  '  /accept-key          after a key change: read the warning; /accept-key yes accepts',
  '  /switch NAME         open another conversation or group (or Tab / Shift-Tab)',
  '  /group create NAME [PEER…]   create a group (PEER: contact name or PeerId)',
  '  /group add PEER · /group remove PEER · /group leave · /group members   (the open group)',
  '  /quit                leave (Ctrl-C too)',
  'Anything else is sent to the open conversation.',
  '',
  'Marks: … queued  ✓ sent  ✓✓ delivered  ✓✓ read (coloured)'
]

async function openNode (ctx: CliContext): Promise<{ node: ParleyNodeApi, client: ApiClient | null, daemon: RunningDaemon | null, notice: string | null }> {
  try {
    const { client } = await connectDaemon(ctx.home)
    return { node: client, client, daemon: null, notice: null }
  } catch (err) {
    if (!(err instanceof NoDaemonError)) throw err
  }
  const mod = await loadNodeModule(ctx.io.env)
  const passphrase = await ctx.passphrase()
  const f = ctx.parsed.flags
  const opts = {
    home: ctx.home,
    mode: 'chat' as const,
    createNode: mod.createParleyNode,
    mdns: f['no-mdns'] !== true,
    ...(Array.isArray(f.listen) ? { listen: f.listen } : {}),
    ...(Array.isArray(f.bootstrap) ? { bootstrap: f.bootstrap } : {}),
    ...(passphrase != null ? { passphrase } : {})
  }
  try {
    const daemon = await startDaemon(opts)
    return { node: daemon.node, client: null, daemon, notice: null }
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code !== 'string' || !NO_IDENTITY_CODES.has(code)) throw err
  }
  // A newcomer: create the identity, then start.
  const name = typeof f.name === 'string' ? f.name : safeUserName()
  await mod.initIdentity({ home: ctx.home, name, ...(passphrase != null ? { passphrase } : {}) })
  const daemon = await startDaemon(opts)
  return { node: daemon.node, client: null, daemon, notice: `Welcome! Created your identity in ${ctx.home}. Share /invite with a contact.` }
}

function safeUserName (): string {
  try { return userInfo().username } catch { return 'me' }
}

export async function runChat (ctx: CliContext): Promise<number> {
  const { io } = ctx
  const { node, client, daemon, notice } = await openNode(ctx)
  const tty = io.stdin.isTTY === true && io.stdout.isTTY === true
  let state: ChatState = initialState(client != null ? 'daemon' : 'in-process')
  if (notice != null) state.notice = { level: 'info', text: notice }
  const done = new AbortController()
  let drawScheduled = false

  const draw = (): void => {
    drawScheduled = false
    const lines = render(state, { width: io.stdout.columns ?? 80, height: io.stdout.rows ?? 24, color: tty })
    if (tty) io.stdout.write('\x1b[H' + lines.join('\x1b[K\r\n') + '\x1b[K' + `\x1b[${lines.length};${Math.min(lines[lines.length - 1]?.trimEnd().length ?? 2, (io.stdout.columns ?? 80)) + 1}H`)
    else io.stdout.write(lines.map((l) => l.trimEnd()).join('\n') + '\n\n')
  }
  const redraw = (): void => {
    if (!tty) return // piped mode prints a frame per input line instead
    if (drawScheduled) return
    drawScheduled = true
    setImmediate(draw)
  }
  const setNotice = (level: 'info' | 'warn' | 'error', text: string): void => { state = { ...state, notice: { level, text } } }

  const openConversation = async (peerId: string): Promise<void> => {
    state = select(state, peerId)
    const list = await node.messages(peerId, { limit: 500 })
    let conv = state.conversations[peerId] ?? []
    for (const m of list) conv = upsertMessage(conv, m)
    state = { ...state, conversations: { ...state.conversations, [peerId]: conv } }
    await node.markRead(peerId).catch(() => {})
  }

  // -- groups (issue 5) --
  const openGroup = async (groupId: string): Promise<void> => {
    state = selectGroup(state, groupId)
    const list = await node.groupMessages(groupId, { limit: 500 })
    let conv = state.groupConversations[groupId] ?? []
    for (const m of list) conv = upsertGroupMessage(conv, m)
    state = { ...state, groupConversations: { ...state.groupConversations, [groupId]: conv } }
    await node.markGroupRead(groupId).catch(() => {})
  }
  const selectedGroupName = (): string | null => state.groups.find((g) => g.groupId === state.selectedGroup)?.name ?? null
  const groupCommand = async (rest: string[]): Promise<void> => {
    const [sub = '', ...args] = rest
    const gid = state.selectedGroup
    if (sub === 'create') {
      const [name, ...members] = args
      if (name == null) { setNotice('error', 'usage: /group create NAME [PEER…]'); return }
      const g = await node.createGroup(name, members.length > 0 ? { members } : {})
      state = applyEvent(state, { type: 'group-updated', group: g })
      await openGroup(g.groupId)
      setNotice('info', `created group ${g.name} with ${g.members.length} member${g.members.length === 1 ? '' : 's'}`)
      return
    }
    if (!['add', 'remove', 'leave', 'members'].includes(sub)) { setNotice('error', 'usage: /group create|add|remove|leave|members'); return }
    if (gid == null) { setNotice('error', 'no group open — /switch to one, or /group create NAME'); return }
    switch (sub) {
      case 'add': case 'remove': {
        const peer = args.join(' ')
        if (peer === '') { setNotice('error', `usage: /group ${sub} PEER`); return }
        const g = sub === 'add' ? await node.addGroupMember(gid, peer) : await node.removeGroupMember(gid, peer)
        state = applyEvent(state, { type: 'group-updated', group: g })
        setNotice('info', sub === 'add' ? `added ${peer} to ${g.name}` : `removed ${peer} from ${g.name}; sender keys rotated`)
        return
      }
      case 'leave': {
        const g = await node.leaveGroup(gid)
        state = applyEvent(state, { type: 'group-updated', group: g })
        setNotice('info', `left ${g.name}; its history stays readable`)
        return
      }
      case 'members': {
        const g = state.groups.find((x) => x.groupId === gid)
        if (g == null) return
        state = { ...state, overlay: [`Members of ${g.name} (epoch ${g.epoch}):`, '', ...g.members.map((m) => `${m.peerId === state.self?.peerId ? 'me' : (state.contacts.find((c) => c.peerId === m.peerId)?.name ?? m.name ?? m.peerId)}${m.role !== 'member' ? ` (${m.role})` : ''}  ${m.peerId}`), '', '(Enter closes this)'] }
        return
      }
      default: setNotice('error', 'usage: /group create|add|remove|leave|members')
    }
  }
  // -- end groups --

  const onEvent = (ev: NodeEvent): void => {
    state = applyEvent(state, ev)
    if (ev.type === 'message' && ev.message.direction === 'in' && ev.message.peerId === state.selected) node.markRead(ev.message.peerId).catch(() => {})
    if (ev.type === 'group-message' && ev.message.groupId === state.selectedGroup && ev.message.from !== state.self?.peerId) node.markGroupRead(ev.message.groupId).catch(() => {})
    redraw()
  }

  let unsubscribe: () => void = () => {}
  try {
    const id = await node.id()
    state = { ...state, self: { peerId: id.peerId, name: id.name }, contacts: await node.listContacts(), groups: await node.listGroups() }
    if (client != null) {
      const ac = new AbortController()
      await client.events(onEvent, {
        signal: ac.signal,
        onEnd: () => { state = { ...state, connected: false }; setNotice('error', 'the daemon stopped — /quit and restart `parley chat`'); redraw() }
      })
      unsubscribe = () => { ac.abort() }
    } else {
      unsubscribe = node.subscribe(onEvent)
    }
    const first = state.contacts[0]
    const firstGroup = state.groups[0]
    if (first != null) await openConversation(first.peerId)
    else if (firstGroup != null) await openGroup(firstGroup.groupId)
  } catch (err) {
    await shutdown()
    throw err
  }

  async function shutdown (): Promise<void> {
    unsubscribe()
    if (client != null) await client.stop()
    if (daemon != null) await daemon.stop()
  }

  const handleLine = async (line: string): Promise<void> => {
    const text = line.trim()
    if (text === '') { state = { ...state, overlay: null }; return }
    state = { ...state, notice: null }
    if (!text.startsWith('/')) {
      if (state.selectedGroup != null) {
        const m = await node.sendGroup(state.selectedGroup, line)
        state = { ...state, overlay: null, groupConversations: { ...state.groupConversations, [m.groupId]: upsertGroupMessage(state.groupConversations[m.groupId] ?? [], m) } }
        return
      }
      if (state.selected == null) { setNotice('error', 'no conversation open — /add INVITE first'); return }
      const m = await node.send(state.selected, line)
      state = { ...state, overlay: null, conversations: { ...state.conversations, [m.peerId]: upsertMessage(state.conversations[m.peerId] ?? [], m) } }
      return
    }
    const [cmd = '', ...rest] = text.split(/\s+/)
    const arg = rest.join(' ')
    const sel = state.selected
    switch (cmd) {
      case '/quit': case '/exit': done.abort(); return
      case '/help': state = { ...state, overlay: HELP }; return
      case '/invite': {
        const { invite } = await node.invite()
        state = { ...state, overlay: ['Your invite — your contact adds it with /add or `parley contact add`:', '', invite, '', '(Enter closes this)'] }
        return
      }
      case '/add': {
        const [invite, ...nameParts] = rest
        if (invite == null) { setNotice('error', 'usage: /add INVITE [NAME]'); return }
        const name = nameParts.join(' ')
        const c = await node.addContact(invite, name !== '' ? { name } : {})
        state = applyEvent(state, { type: 'contact-added', contact: c })
        await openConversation(c.peerId)
        setNotice('info', `added ${c.name} — compare safety numbers with /verify`)
        return
      }
      case '/switch': {
        const c = arg.startsWith('#') ? null : findContact(state, arg)
        const g = c == null ? findGroup(state, arg) : null
        if (g != null) { await openGroup(g.groupId); return }
        if (c == null) { setNotice('error', `no single contact or group matches "${arg}"`); return }
        await openConversation(c.peerId)
        return
      }
      case '/group': await groupCommand(rest); return
      case '/verify': {
        if (sel == null) { setNotice('error', state.selectedGroup != null ? `${selectedGroupName() ?? 'a group'} is a group: /verify works in a contact's conversation` : 'no conversation open'); return }
        if (arg === 'yes') {
          const c = await node.verifyContact(sel)
          state = applyEvent(state, { type: 'contact-added', contact: c })
          setNotice('info', `${c.name} is now verified`)
          return
        }
        const sn = await node.safetyNumber(sel)
        state = { ...state, overlay: [`Safety number with ${contactName(state, sel)}${sn.verified ? ' (verified)' : ''}:`, '', ...groupSafetyNumber(sn.safetyNumber).split('\n'), '', 'Compare it in person or over a trusted channel.', 'If it matches: /verify yes'] }
        return
      }
      case '/accept-key': {
        if (sel == null) { setNotice('error', 'no conversation open'); return }
        if (arg === 'yes') {
          const c = await node.acceptKeyChange(sel)
          state = applyEvent(state, { type: 'contact-added', contact: c })
          setNotice('warn', `accepted ${c.name}'s new identity key — UNVERIFIED until you compare safety numbers`)
          return
        }
        state = { ...state, overlay: [...KEY_CHANGE_WARNING.split('\n'), '', 'Type /accept-key yes to accept, or Enter to cancel.'] }
        return
      }
      default: setNotice('error', `unknown command ${cmd} — /help`)
    }
  }

  // Lines run one after another; an error becomes a notice, never a crash.
  let queue: Promise<void> = Promise.resolve()
  const submit = (line: string): void => {
    queue = queue.then(async () => {
      if (done.signal.aborted) return // typed after /quit
      try { await handleLine(line) } catch (err) { setNotice('error', (err as Error).message ?? String(err)) }
      if (tty) redraw()
      else if (!done.signal.aborted) draw()
    })
  }

  const stopOn = io.signal
  stopOn?.addEventListener('abort', () => { done.abort() }, { once: true })

  if (tty) {
    io.stdout.write('\x1b[?1049h\x1b[H\x1b[2J')
    emitKeypressEvents(io.stdin)
    io.stdin.setRawMode?.(true)
    const onKey = (str: string | undefined, key: Keypress | undefined): void => {
      const name = key?.name
      if (key?.ctrl === true && (name === 'c' || name === 'd')) { done.abort(); return }
      if (name === 'return' || name === 'enter') {
        const l = state.input
        state = { ...state, input: '' }
        submit(l)
      } else if (name === 'backspace') {
        state = { ...state, input: [...state.input].slice(0, -1).join('') }
      } else if (name === 'tab') {
        state = cycle(state, key?.shift === true ? -1 : 1)
        const p = state.selected
        const g = state.selectedGroup
        if (p != null) queue = queue.then(async () => { await openConversation(p).catch(() => {}); redraw() })
        else if (g != null) queue = queue.then(async () => { await openGroup(g).catch(() => {}); redraw() })
      } else if (name === 'escape') {
        state = { ...state, overlay: null, notice: null }
      } else if (str != null && key?.ctrl !== true && key?.meta !== true && str >= ' ' && !str.startsWith('\x1b')) {
        state = { ...state, input: state.input + str }
      }
      redraw()
    }
    io.stdin.on('keypress', onKey)
    const onResize = (): void => { redraw() }
    io.stdout.on('resize', onResize)
    draw()
    await new Promise<void>((resolve) => { done.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    io.stdin.off('keypress', onKey)
    io.stdout.off('resize', onResize)
    io.stdin.setRawMode?.(false)
    io.stdin.pause()
    io.stdout.write('\x1b[?1049l')
  } else {
    draw()
    const rl = createInterface({ input: io.stdin, terminal: false })
    rl.on('line', (l) => { if (!done.signal.aborted) submit(l) })
    rl.on('close', () => { void queue.then(() => { done.abort() }) })
    await new Promise<void>((resolve) => { done.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    rl.close()
    await queue
    draw()
  }
  await queue.catch(() => {})
  await shutdown()
  return 0
}

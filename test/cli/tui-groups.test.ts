// Groups in `parley chat` (issue 5): state transitions, rendering, and the real chat process against
// a daemon serving the fake node (groups beside contacts, unread counts, authors, sending, live arrival).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import type { ContactInfo, GroupInfo, GroupMessageInfo } from '../../src/core/api.js'
import { render, textWidth } from '../../src/cli/tui/render.js'
import { applyEvent, authorName, cycle, findGroup, initialState, select, selectGroup, type ChatState } from '../../src/cli/tui/state.js'
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js'
import { FakeNode, fakePeerId } from '../daemon/fake-node.js'
import { CLI_MAIN, tmpHome } from '../daemon/helpers.js'

const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '') // eslint-disable-line no-control-regex
const ME = fakePeerId('alice')

function contact (name: string, patch: Partial<ContactInfo> = {}): ContactInfo {
  return { peerId: fakePeerId(name), name, identityKey: '05' + '11'.repeat(32), verified: false, pendingKeyChange: null, online: true, unread: 0, addresses: [], lastSeen: null, createdAt: 0, ...patch } as ContactInfo
}

function group (name: string, patch: Partial<GroupInfo> = {}): GroupInfo {
  return {
    groupId: Buffer.from(name.padEnd(32, '.')).toString('hex').slice(0, 64),
    name,
    members: [{ peerId: ME, name: 'alice', role: 'creator' }, { peerId: fakePeerId('bob'), name: 'bob', role: 'member' }, { peerId: fakePeerId('zed'), name: 'zed', role: 'member' }],
    role: 'creator',
    active: true,
    epoch: 0,
    unread: 0,
    createdAt: 0,
    ...patch
  }
}

function gmsg (g: GroupInfo, seq: number, from: string, text: string, fromName: string | null = null): GroupMessageInfo {
  return { id: `g${seq}-${g.name}`, groupId: g.groupId, from, fromName, text, timestamp: Date.UTC(2026, 10, 25, 11, seq), receivedAt: null, seq, status: from === ME ? 'sent' : 'delivered' }
}

function sample (): ChatState {
  const s = initialState('daemon')
  s.self = { peerId: ME, name: 'alice' }
  s.contacts = [contact('bob'), contact('carol')]
  const team = group('team')
  s.groups = [team, group('old', { active: false, role: null }), group('busy', { unread: 2 })]
  s.selected = fakePeerId('bob')
  s.groupConversations[team.groupId] = [gmsg(team, 1, fakePeerId('bob'), 'hi all'), gmsg(team, 2, ME, 'hello'), gmsg(team, 3, fakePeerId('zed'), 'from a stranger', 'zed (profile)')]
  return s
}

describe('TUI groups: state', () => {
  it('counts group unread only for others\' new messages outside the open group', () => {
    let s = sample()
    const busy = s.groups[2] as GroupInfo
    s = applyEvent(s, { type: 'group-message', message: gmsg(busy, 1, fakePeerId('bob'), 'ping') })
    assert.equal(s.groups[2]?.unread, 3)
    s = applyEvent(s, { type: 'group-message', message: gmsg(busy, 1, fakePeerId('bob'), 'ping') }) // duplicate
    assert.equal(s.groups[2]?.unread, 3)
    s = applyEvent(s, { type: 'group-message', message: gmsg(busy, 2, ME, 'mine') }) // our own
    assert.equal(s.groups[2]?.unread, 3)
    assert.deepEqual(s.groupConversations[busy.groupId]?.map((m) => m.seq), [1, 2])
    s = selectGroup(s, busy.groupId)
    assert.equal(s.selected, null)
    assert.equal(s.selectedGroup, busy.groupId)
    assert.equal(s.groups[2]?.unread, 0)
    s = applyEvent(s, { type: 'group-message', message: gmsg(busy, 3, fakePeerId('bob'), 'while open') })
    assert.equal(s.groups[2]?.unread, 0)
    // Out-of-order arrival is displayed in seq order.
    s = applyEvent(s, { type: 'group-message', message: { ...gmsg(busy, 0, fakePeerId('zed'), 'late but earlier'), seq: 0 } })
    assert.deepEqual(s.groupConversations[busy.groupId]?.map((m) => m.text), ['late but earlier', 'ping', 'mine', 'while open'])
  })

  it('group-updated adds or replaces a group and warns when we are no longer a member', () => {
    let s = sample()
    const fresh = group('fresh')
    s = applyEvent(s, { type: 'group-updated', group: fresh })
    assert.equal(s.groups.length, 4)
    const team = s.groups[0] as GroupInfo
    s = applyEvent(s, { type: 'group-updated', group: { ...team, active: false, role: null, epoch: 1 } })
    assert.equal(s.groups[0]?.active, false)
    assert.equal(s.notice?.level, 'warn')
    assert.match(s.notice?.text ?? '', /no longer a member of team/)
    // The node's unread count wins (read elsewhere, e.g. `parley group messages`), except for the open group.
    s = applyEvent(s, { type: 'group-updated', group: { ...(s.groups[2] as GroupInfo), unread: 0 } })
    assert.equal(s.groups[2]?.unread, 0)
    s = applyEvent(selectGroup(s, fresh.groupId), { type: 'group-updated', group: { ...fresh, unread: 5 } })
    assert.equal(s.groups.find((g) => g.groupId === fresh.groupId)?.unread, 0)
  })

  it('Tab cycles through contacts, then groups; groups are found by name, #name or id prefix', () => {
    let s = sample()
    s = cycle(s, 1)
    assert.equal(s.selected, fakePeerId('carol'))
    s = cycle(s, 1)
    assert.equal(s.selectedGroup, s.groups[0]?.groupId)
    assert.equal(s.selected, null)
    s = cycle(cycle(cycle(s, 1), 1), 1)
    assert.equal(s.selected, fakePeerId('bob'))
    assert.equal(cycle(s, -1).selectedGroup, s.groups[2]?.groupId)
    assert.equal(select(selectGroup(s, s.groups[0]?.groupId ?? ''), fakePeerId('carol')).selectedGroup, null)
    assert.equal(findGroup(s, 'team')?.name, 'team')
    assert.equal(findGroup(s, '#bu')?.name, 'busy')
    assert.equal(findGroup(s, (s.groups[1] as GroupInfo).groupId.slice(0, 10))?.name, 'old')
    assert.equal(findGroup(s, 'nothing'), null)
  })

  it('names authors: me, the contact name, else the author\'s profile name, else the PeerId', () => {
    const s = sample()
    const team = s.groups[0] as GroupInfo
    assert.equal(authorName(s, gmsg(team, 1, ME, 'x')), 'me')
    assert.equal(authorName(s, gmsg(team, 1, fakePeerId('bob'), 'x', 'bobby')), 'bob')
    assert.equal(authorName(s, gmsg(team, 1, fakePeerId('zed'), 'x', 'zed (profile)')), 'zed (profile)')
    assert.equal(authorName(s, gmsg(team, 1, fakePeerId('zed'), 'x')), fakePeerId('zed'))
  })
})

describe('TUI groups: render', () => {
  it('lists groups below contacts with unread counts and (left); exact size with or without colour', () => {
    for (const color of [false, true]) {
      for (const [w, h] of [[100, 20], [40, 12], [20, 6]] as const) {
        const lines = render(sample(), { width: w, height: h, color })
        assert.equal(lines.length, h)
        for (const l of lines) assert.equal(textWidth(strip(l)), w)
      }
    }
    const text = render(sample(), { width: 100, height: 20, color: false }).map((l) => l.trimEnd()).join('\n')
    assert.match(text, / Contacts[\s\S]*bob[\s\S]*carol[\s\S]* Groups/)
    assert.match(text, / # team/)
    assert.match(text, / # old\s+\(left\)/)
    assert.match(text, / # busy\s+\(2\)/)
  })

  it('shows an open group with its members and each message\'s author', () => {
    const s = selectGroup(sample(), sample().groups[0]?.groupId ?? '')
    const text = render(s, { width: 110, height: 16, color: false, now: Date.UTC(2026, 10, 25, 12) }).map((l) => l.trimEnd()).join('\n')
    assert.match(text, /># team/)
    assert.match(text, /# team · 3 members: me, bob, zed/)
    assert.match(text, /\d\d:\d\d bob: hi all/)
    assert.match(text, /\d\d:\d\d me: hello\s+✓$/m)
    assert.match(text, /\d\d:\d\d zed \(profile\): from a stranger/)
    const left = selectGroup(sample(), sample().groups[1]?.groupId ?? '')
    assert.match(render(left, { width: 100, height: 12, color: false }).join('\n'), /no longer a member/)
  })

  it('neutralises escape sequences in group names, author names and texts', () => {
    const s = sample()
    const evil = group('evil\x1b[2J', { members: [{ peerId: fakePeerId('m'), name: 'm\x1b]0;x\x07', role: 'member' }] })
    s.groups.push(evil)
    s.groupConversations[evil.groupId] = [gmsg(evil, 1, fakePeerId('m'), 'a\x1b[31mb', 'n\x1b[1m')]
    const out = render(selectGroup(s, evil.groupId), { width: 90, height: 14, color: false }).join('\n')
    assert.ok(!out.includes('\x1b'))
  })
})

describe('parley chat with groups (piped input, daemon with the fake node)', () => {
  let home: string
  let cleanup: () => Promise<void>
  let d: RunningDaemon
  let node: FakeNode

  before(async () => {
    ({ home, cleanup } = await tmpHome())
    node = new FakeNode('alice')
    d = await startDaemon({ home, node })
    await node.addContact(`parley1:${fakePeerId('bob')}:${Buffer.from('bob').toString('base64url')}`)
    node.joinGroup('existing', 'bob')
    node.receiveGroup('existing', 'bob', 'before you opened the chat')
  })
  after(async () => { await d.stop(); await cleanup() })

  it('shows groups with unread counts, creates a group, sends to it, and shows a live group message', async () => {
    const child = spawn(process.execPath, [CLI_MAIN, 'chat', '--no-mdns'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, PARLEY_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const killer = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { clearTimeout(killer); resolve(code) }))
    const until = async (re: RegExp): Promise<void> => {
      const deadline = AbortSignal.timeout(20_000)
      while (!re.test(stdout)) {
        if (deadline.aborted || child.exitCode != null) throw new Error(`no ${String(re)} in output:\n${stdout}\n${stderr}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    try {
      await until(/via daemon/)
      assert.match(stdout, / # existing\s+\(1\)/) // unread count beside the contacts
      child.stdin.write('/group create team bob\n')
      await until(/created group team with 2 members/)
      const team = node.resolveGroup('team')
      assert.deepEqual(team.members.map((m) => m.name), ['alice', 'bob'])
      child.stdin.write('hello group\n')
      await until(/me: hello group/)
      assert.deepEqual(node.groupMsgs.get(team.groupId)?.map((m) => m.text), ['hello group'])
      // A message arrives while the group is open: it shows up (with its author) at the next frame.
      // Piped mode draws a frame per input line: empty lines ask for frames until the event has arrived.
      node.receiveGroup(team.groupId, 'bob', 'live from bob')
      const nudge = setInterval(() => { child.stdin.write('\n') }, 250)
      try { await until(/bob: live from bob/) } finally { clearInterval(nudge) }
      assert.equal(node.resolveGroup('team').unread, 0, 'an open group is marked read')
      child.stdin.write('/switch existing\n')
      await until(/bob: before you opened the chat/)
      child.stdin.write('/group members\n')
      await until(/Members of existing \(epoch 0\):/)
      child.stdin.write('/group add carol\n')
      await until(/only the creator and admins/)
      child.stdin.write('/group leave\n')
      await until(/left existing; its history stays readable/)
      child.stdin.write('/quit\n')
      child.stdin.end()
      assert.equal(await exited, 0, stderr)
      assert.ok(!stdout.includes('\x1b'))
    } finally {
      child.kill('SIGKILL')
    }
  })
})

// `parley group …` (issue 5): argument parsing, human formatting, and the commands against a daemon
// serving the in-memory fake node (plumbing; the real thing is test/e2e/groups.test.ts).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { GroupInfo, GroupMessageInfo } from '../../src/core/api.js'
import { commandHelp, generalHelp, parseArgs } from '../../src/cli/args.js'
import { COMMANDS } from '../../src/cli/commands.js'
import { UsageError } from '../../src/cli/errors.js'
import { formatGroup, formatGroupMessages, formatGroups, memberLabel, shortGroupId } from '../../src/cli/format.js'
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js'
import { FakeNode, fakePeerId } from '../daemon/fake-node.js'
import { runCli, runMain, tmpHome } from '../daemon/helpers.js'

const parse = (...argv: string[]): ReturnType<typeof parseArgs> => parseArgs(argv, COMMANDS)
const invite = (name: string): string => `parley1:${fakePeerId(name)}:${Buffer.from(name).toString('base64url')}`

function oneErrorLine (stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `expected one stderr line, got: ${stderr}`)
  assert.match(lines[0] as string, /^parley: /)
  return lines[0] as string
}

describe('group commands: parsing', () => {
  it('resolves every group subcommand with its arguments, flags anywhere', () => {
    const c = parse('group', 'create', 'team', '--member', 'bob', '--json', '--member=carol', '--home', '/h')
    assert.equal(c.command?.name, 'group create')
    assert.equal(c.args.NAME, 'team')
    assert.deepEqual(c.flags.member, ['bob', 'carol'])
    assert.equal(c.global.json, true)
    assert.equal(c.global.home, '/h')
    assert.deepEqual(parse('--json', 'group', 'add', 'team', 'bob').args, { GROUP: 'team', PEER: 'bob' })
    assert.deepEqual(parse('group', 'remove', 'team', 'bob').args, { GROUP: 'team', PEER: 'bob' })
    assert.deepEqual(parse('group', 'leave', 'team').args, { GROUP: 'team' })
    const s = parse('group', 'send', 'team', 'hello', 'all', '--json')
    assert.equal(s.args.TEXT, 'hello all')
    assert.equal(s.global.json, true)
    assert.equal(parse('group', 'send', 'team', '--', '--dash', 'text').args.TEXT, '--dash text')
    assert.equal(parse('group', 'messages', 'team', '--limit', '5').flags.limit, '5')
    assert.equal(parse('group', 'list', '--home=/x').global.home, '/x')
  })

  it('refuses missing arguments, extra arguments and foreign flags', () => {
    for (const argv of [['group', 'create'], ['group', 'add', 'team'], ['group', 'remove'], ['group', 'leave'], ['group', 'send', 'team'], ['group', 'messages'],
      ['group', 'leave', 'a', 'b'], ['group', 'list', 'x'], ['group', 'send', 'team', 'x', '--wait'], ['group', 'frob']]) {
      assert.throws(() => parse(...argv), UsageError, argv.join(' '))
    }
  })

  it('lists the group commands in help', () => {
    const h = generalHelp(COMMANDS, ['group'])
    for (const sub of ['create', 'list', 'add', 'remove', 'leave', 'send', 'messages']) assert.match(h, new RegExp(`group ${sub}`))
    assert.match(commandHelp(COMMANDS.find((c) => c.name === 'group create') as never), /^Usage: parley group create NAME \[--member PEER\]\.\.\./)
  })
})

describe('group commands: human formatting', () => {
  const me = fakePeerId('alice')
  const g: GroupInfo = {
    groupId: 'ab'.repeat(32),
    name: 'team',
    members: [{ peerId: me, name: 'alice', role: 'creator' }, { peerId: fakePeerId('bob'), name: 'bob', role: 'member' }, { peerId: fakePeerId('zed'), name: null, role: 'admin' }],
    role: 'creator',
    active: true,
    epoch: 2,
    unread: 3,
    createdAt: 0
  }
  const gm = (seq: number, from: string, fromName: string | null, text: string, status: GroupMessageInfo['status'] = 'delivered'): GroupMessageInfo =>
    ({ id: `id${seq}`, groupId: g.groupId, from, fromName, text, timestamp: Date.UTC(2026, 10, 25, 9, seq), receivedAt: null, seq, status })

  it('labels members: me, known name, else short PeerId', () => {
    assert.equal(memberLabel(me, 'alice', me), 'me')
    assert.equal(memberLabel(fakePeerId('bob'), 'bob', me), 'bob')
    assert.match(memberLabel(fakePeerId('zed'), null, me), /^12D3KooW.*…/)
    assert.equal(memberLabel(fakePeerId('x'), 'evil\x1b[2J', me), 'evil\ufffd[2J')
    assert.equal(shortGroupId(g.groupId), 'abababababab')
  })

  it('formats the group list, one group, and a conversation with authors', () => {
    const list = formatGroups([g, { ...g, groupId: 'cd'.repeat(32), name: 'old', role: null, active: false, unread: 0 }], me)
    assert.match(list, /^NAME\s+ID\s+ROLE\s+UNREAD\s+MEMBERS/)
    assert.match(list, /team\s+abababababab\s+creator\s+3\s+me \(creator\), bob, 12D3KooW\S+ \(admin\)/)
    assert.match(list, /old\s+cdcdcdcdcdcd\s+left\s+0/)
    assert.match(formatGroups([]), /No groups yet/)
    const one = formatGroup(g, 'Created group team with 3 members.', me)
    assert.match(one, /^Created group team/)
    assert.ok(one.includes(g.groupId))
    assert.match(one, /Members \(3\):\n {2}me \(creator\)/)
    assert.match(formatGroup({ ...g, active: false, role: null }, 'x'), /no longer a member/)
    const conv = formatGroupMessages([gm(1, fakePeerId('bob'), 'bob', 'hi'), gm(2, me, 'alice', 'hello', 'sent'), gm(3, fakePeerId('zed'), null, 'yo \x1b]0;t\x07')], 'team', me, Date.UTC(2026, 10, 25, 12))
    const lines = conv.trimEnd().split('\n')
    assert.match(lines[0] ?? '', /^\[\d\d:\d\d\] bob: hi$/)
    assert.match(lines[1] ?? '', /^\[\d\d:\d\d\] me: hello {2}✓ sent$/)
    assert.match(lines[2] ?? '', /^\[\d\d:\d\d\] 12D3KooW\S+: yo \ufffd/)
    assert.ok(!conv.includes('\x1b'))
    assert.match(formatGroupMessages([], 'team'), /No messages in team yet/)
  })
})

describe('group commands against a daemon (fake node)', () => {
  let home: string
  let cleanup: () => Promise<void>
  let d: RunningDaemon
  let node: FakeNode
  const cli = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runMain(['--home', home, ...args])
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli(...args, '--json')
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as T
  }

  before(async () => {
    ({ home, cleanup } = await tmpHome())
    node = new FakeNode('alice')
    d = await startDaemon({ home, node })
    await node.addContact(invite('bob'))
    await node.addContact(invite('carol'))
  })
  after(async () => { await d.stop(); await cleanup() })

  it('--json: create (→ groupId), list, add, remove, send, messages, leave', async () => {
    const g = await json<GroupInfo>('group', 'create', 'team', '--member', 'bob', '--member', fakePeerId('carol'))
    assert.match(g.groupId, /^[0-9a-f]{64}$/)
    assert.deepEqual(g.members.map((m) => m.name), ['alice', 'bob', 'carol'])
    const list = await json<GroupInfo[]>('group', 'list')
    assert.deepEqual(list.map((x) => x.groupId), [g.groupId])
    const added = await json<GroupInfo>('group', 'add', 'team', fakePeerId('dave'))
    assert.equal(added.members.length, 4)
    const removed = await json<GroupInfo>('group', 'remove', g.groupId, 'carol')
    assert.deepEqual(removed.members.map((m) => m.name), ['alice', 'bob', null])
    assert.equal(removed.epoch, 1)

    const m1 = await json<GroupMessageInfo>('group', 'send', 'team', 'hello', 'everyone')
    assert.equal(m1.text, 'hello everyone')
    assert.equal(m1.from, node.self.peerId)
    const dash = await cli('--json', 'group', 'send', g.groupId, '--', '-starts with a dash')
    assert.equal(dash.code, 0, dash.stderr)
    assert.equal((JSON.parse(dash.stdout) as GroupMessageInfo).text, '-starts with a dash')
    node.receiveGroup('team', 'bob', 'reply from bob')
    const msgs = await json<GroupMessageInfo[]>('group', 'messages', 'team')
    // Oldest first although the fake node answers newest first.
    assert.deepEqual(msgs.map((m) => [m.text, m.from]), [['hello everyone', node.self.peerId], ['-starts with a dash', node.self.peerId], ['reply from bob', fakePeerId('bob')]])
    for (const m of msgs) { assert.equal(typeof m.id, 'string'); assert.equal(typeof m.seq, 'number') }
    assert.deepEqual((await json<GroupMessageInfo[]>('group', 'messages', 'team', '--limit', '1')).map((m) => m.text), ['reply from bob'])

    const left = await json<GroupInfo>('group', 'leave', 'team')
    assert.equal(left.active, false)
    // History stays after leaving.
    assert.equal((await json<GroupMessageInfo[]>('group', 'messages', g.groupId)).length, 3)
  })

  it('human output is readable and names authors', async () => {
    const c = await cli('group', 'create', 'book club', '--member', 'bob')
    assert.equal(c.code, 0, c.stderr)
    assert.match(c.stdout, /^Created group book club with 2 members\./)
    assert.match(c.stdout, /Send with: parley group send [0-9a-f]{64} TEXT/)
    node.receiveGroup('book club', 'bob', 'chapter 3?')
    assert.equal((await cli('group', 'send', 'book club', 'yes')).code, 0)
    const m = await cli('group', 'messages', 'book club')
    assert.match(m.stdout, /\] bob: chapter 3\?\n\[\d\d:\d\d\] me: yes {2}(…|✓) (queued|sent)\n$/)
    const l = await cli('group', 'list')
    assert.match(l.stdout, /book club\s+[0-9a-f]{12}\s+creator\s+1\s+me \(creator\), bob/)
    const r = await cli('group', 'remove', 'book club', 'bob')
    assert.match(r.stdout, /^Removed bob from book club; the remaining members' sender keys rotated \(epoch 1\)\./)
    const lv = await cli('group', 'leave', 'book club')
    assert.match(lv.stdout, /^Left book club\. Its history stays readable/)
    assert.ok(!(await cli('group', 'list')).stdout.includes('\x1b'))
  })

  it('failures: one stderr line, exit 1 (node refused) or 2 (usage), one JSON error document', async () => {
    const unknown = await cli('group', 'send', 'nope', 'x', '--json')
    assert.equal(unknown.code, 1)
    assert.match(oneErrorLine(unknown.stderr), /no group "nope"/)
    assert.deepEqual(JSON.parse(unknown.stdout), { error: { code: 'ERR_UNKNOWN_GROUP', message: 'no group "nope"' } })
    node.joinGroup('bobs', 'bob')
    const forbidden = await cli('group', 'add', 'bobs', 'carol', '--json')
    assert.equal(forbidden.code, 1)
    oneErrorLine(forbidden.stderr)
    assert.equal((JSON.parse(forbidden.stdout) as { error: { code: string } }).error.code, 'ERR_GROUP_PERMISSION')
    for (const args of [['group', 'create', ''], ['group', 'messages', 'bobs', '--limit', '0'], ['group', 'messages', 'bobs', '--limit', '2.5'], ['group', 'create'], ['group', 'send', 'bobs']]) {
      const r = await cli(...args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      oneErrorLine(r.stderr)
      assert.equal(r.stdout, '')
    }
  })

  it('the spawned binary: group list with --home after the subcommand; no daemon → one clear line', async () => {
    const r = await runCli(['group', 'list', '--home', home, '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok((JSON.parse(r.stdout) as GroupInfo[]).some((g) => g.name === 'bobs'))
    const { home: empty, cleanup: c } = await tmpHome()
    const none = await runCli(['--home', empty, 'group', 'list'])
    assert.equal(none.code, 1)
    assert.match(oneErrorLine(none.stderr), /no daemon running/)
    await c()
  })
})

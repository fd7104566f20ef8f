// The local API's group routes (issue 5): every ParleyNodeApi group method through a real daemon's
// HTTP server and ApiClient, on the in-memory fake node (plumbing: shapes, auth, errors, events).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { GroupInfo, GroupMessageInfo, NodeEvent } from '../../src/core/api.js'
import { readToken } from '../../src/daemon/auth.js'
import { connectDaemon, type ApiClient } from '../../src/daemon/client.js'
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js'
import { RemoteApiError } from '../../src/daemon/errors.js'
import { homePaths } from '../../src/daemon/home.js'
import { FakeNode, fakePeerId } from './fake-node.js'
import { rawRequest, tmpHome } from './helpers.js'

const invite = (name: string): string => `parley1:${fakePeerId(name)}:${Buffer.from(name).toString('base64url')}`

async function rejectsWith (p: Promise<unknown>, status: number, code: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RemoteApiError, String(err))
    assert.equal(err.status, status, err.message)
    if (typeof code === 'string') assert.equal(err.code, code)
    else assert.match(err.code, code)
    return true
  })
}

describe('local API: groups', () => {
  let home: string
  let cleanup: () => Promise<void>
  let d: RunningDaemon
  let node: FakeNode
  let client: ApiClient
  let token: string

  before(async () => {
    ({ home, cleanup } = await tmpHome())
    node = new FakeNode('alice')
    d = await startDaemon({ home, node })
    token = await readToken(homePaths(home).token)
    client = (await connectDaemon(home)).client
    await node.addContact(invite('bob'))
    await node.addContact(invite('carol'))
  })
  after(async () => { await client.stop(); await d.stop(); await cleanup() })

  it('creates a group with members given by contact name or PeerId, and lists it', async () => {
    const g = await client.createGroup('team', { members: ['bob', fakePeerId('carol')] })
    assert.match(g.groupId, /^[0-9a-f]{64}$/)
    assert.equal(g.name, 'team')
    assert.equal(g.role, 'creator')
    assert.equal(g.active, true)
    assert.deepEqual(g.members.map((m) => [m.name, m.role]), [['alice', 'creator'], ['bob', 'member'], ['carol', 'member']])
    // The daemon called the node with exactly those arguments.
    assert.equal(node.groups.get(g.groupId)?.members.length, 3)
    const list = await client.listGroups()
    assert.deepEqual(list.map((x) => x.groupId), [g.groupId])
    const alone = await client.createGroup('solo')
    assert.deepEqual(alone.members.map((m) => m.peerId), [node.self.peerId])
  })

  it('adds, removes (epoch advances) and addresses a group by id or unique name', async () => {
    const g = (await client.listGroups()).find((x) => x.name === 'team') as GroupInfo
    const dave = fakePeerId('dave')
    const added = await client.addGroupMember('team', dave)
    assert.ok(added.members.some((m) => m.peerId === dave))
    const removed = await client.removeGroupMember(g.groupId, 'bob')
    assert.ok(!removed.members.some((m) => m.name === 'bob'))
    assert.equal(removed.epoch, g.epoch + 1)
    // A name that reaches the route percent-encoded (spaces, slashes) still resolves.
    const odd = await client.createGroup('a/b c?d')
    assert.equal((await client.addGroupMember('a/b c?d', 'bob')).groupId, odd.groupId)
  })

  it('sends and lists group messages oldest first (by seq, whatever order the node returns)', async () => {
    const sent: GroupMessageInfo[] = []
    for (const text of ['one', 'two', 'three']) sent.push(await client.sendGroup('team', text))
    assert.deepEqual(sent.map((m) => m.status), ['queued', 'queued', 'queued'])
    assert.equal(sent[0]?.from, node.self.peerId)
    node.receiveGroup('team', 'carol', 'from carol')
    const list = await client.groupMessages('team')
    assert.deepEqual(list.map((m) => m.text), ['one', 'two', 'three', 'from carol'])
    assert.deepEqual(list.map((m) => m.seq), [1, 2, 3, 4])
    assert.equal(list[3]?.from, fakePeerId('carol'))
    assert.equal(list[3]?.fromName, 'carol')
    assert.deepEqual((await client.groupMessages('team', { limit: 2 })).map((m) => m.text), ['three', 'from carol'])
    assert.deepEqual((await client.groupMessages('team', { before: 3 })).map((m) => m.text), ['one', 'two'])
  })

  it('marks a group read', async () => {
    assert.ok((node.groups.get(node.resolveGroup('team').groupId)?.unread ?? 0) > 0)
    await client.markGroupRead('team')
    assert.equal(node.resolveGroup('team').unread, 0)
  })

  it('maps node errors: unknown or ambiguous group 404, not an admin 403, left group 400', async () => {
    await rejectsWith(client.sendGroup('nope', 'x'), 404, 'ERR_UNKNOWN_GROUP')
    await rejectsWith(client.groupMessages('nope'), 404, 'ERR_UNKNOWN_GROUP')
    await rejectsWith(client.addGroupMember('team', 'nobody'), 404, 'ERR_UNKNOWN_CONTACT')
    const theirs = node.joinGroup('bobs', 'bob', ['carol'])
    await rejectsWith(client.removeGroupMember(theirs.groupId, 'carol'), 403, 'ERR_GROUP_PERMISSION')
    await rejectsWith(client.addGroupMember('bobs', fakePeerId('erin')), 403, 'ERR_GROUP_PERMISSION')
    await client.createGroup('twin')
    await client.createGroup('twin')
    await rejectsWith(client.sendGroup('twin', 'x'), 404, 'ERR_UNKNOWN_GROUP')
    const left = await client.leaveGroup('bobs')
    assert.equal(left.active, false)
    assert.equal(left.role, null)
    await rejectsWith(client.sendGroup('bobs', 'after leaving'), 400, 'ERR_GROUP_INACTIVE')
    // History stays readable after leaving.
    assert.deepEqual(await client.groupMessages('bobs'), [])
  })

  it('validates bodies and queries before calling the node', async () => {
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const post = async (path: string, body: unknown): Promise<{ status: number, code: string }> => {
      const r = await rawRequest(d.endpoint, { method: 'POST', path, headers: auth, body: JSON.stringify(body) })
      return { status: r.status, code: (r.json as { error?: { code: string } }).error?.code ?? '' }
    }
    const before = node.groups.size
    assert.deepEqual(await post('/v1/groups', {}), { status: 400, code: 'ERR_BAD_REQUEST' })
    assert.deepEqual(await post('/v1/groups', { name: '' }), { status: 400, code: 'ERR_BAD_REQUEST' })
    assert.deepEqual(await post('/v1/groups', { name: 'x', members: 'bob' }), { status: 400, code: 'ERR_BAD_REQUEST' })
    assert.deepEqual(await post('/v1/groups', { name: 'x', members: ['bob', 7] }), { status: 400, code: 'ERR_BAD_REQUEST' })
    assert.deepEqual(await post('/v1/groups', { name: 'x', members: Array.from({ length: 1001 }, (_, i) => `p${i}`) }), { status: 400, code: 'ERR_BAD_REQUEST' })
    assert.deepEqual(await post('/v1/groups', { name: 'n'.repeat(257) }), { status: 400, code: 'ERR_BAD_REQUEST' })
    assert.equal(node.groups.size, before, 'no group was created by a refused request')
    assert.deepEqual(await post('/v1/groups/team/messages', { text: 42 }), { status: 400, code: 'ERR_BAD_REQUEST' })
    assert.deepEqual(await post('/v1/groups/team/members', {}), { status: 400, code: 'ERR_BAD_REQUEST' })
    for (const q of ['limit=-1', 'limit=1.5', 'before=x', 'limit=']) {
      const r = await rawRequest(d.endpoint, { path: `/v1/groups/team/messages?${q}`, headers: auth })
      assert.equal(r.status, 400, q)
    }
    const wrongMethod = await rawRequest(d.endpoint, { method: 'GET', path: '/v1/groups/team/leave', headers: auth })
    assert.equal(wrongMethod.status, 405)
    // No token, no groups.
    for (const [method, path] of [['GET', '/v1/groups'], ['POST', '/v1/groups'], ['GET', '/v1/groups/team/messages'], ['POST', '/v1/groups/team/messages']] as const) {
      const r = await rawRequest(d.endpoint, { method, path, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'sneaky', text: 'sneaky' }) })
      assert.equal(r.status, 401, `${method} ${path}`)
    }
    assert.ok(![...node.groups.values()].some((g) => g.name === 'sneaky'))
  })

  it('streams group-message and group-updated events over SSE', async () => {
    const events: NodeEvent[] = []
    const ac = new AbortController()
    let wake: () => void = () => {}
    await client.events((ev) => { events.push(ev); wake() }, { signal: ac.signal })
    const waitFor = async (pred: (e: NodeEvent) => boolean): Promise<NodeEvent> => {
      const deadline = AbortSignal.timeout(10_000)
      for (;;) {
        const hit = events.find(pred)
        if (hit != null) return hit
        if (deadline.aborted) throw new Error(`no such event; got ${JSON.stringify(events.map((e) => e.type))}`)
        await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 200) })
      }
    }
    try {
      const g = await client.createGroup('live', { members: ['bob'] })
      const up = await waitFor((e) => e.type === 'group-updated' && e.group.groupId === g.groupId)
      assert.deepEqual(up.type === 'group-updated' ? up.group : null, g)
      const m = node.receiveGroup(g.groupId, 'bob', 'hello group')
      const got = await waitFor((e) => e.type === 'group-message' && e.message.id === m.id)
      assert.deepEqual(got.type === 'group-message' ? got.message : null, m)
      // Our own message is announced once published ('sent').
      const mine = await client.sendGroup(g.groupId, 'mine')
      const sent = await waitFor((e) => e.type === 'group-message' && e.message.id === mine.id)
      assert.equal(sent.type === 'group-message' ? sent.message.status : null, 'sent')
    } finally {
      ac.abort()
    }
  })
})

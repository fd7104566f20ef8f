// Group chats end to end (issue 5, Tests): five real `parley daemon` processes on 127.0.0.1, driven only
// through the compiled CLI (`parley group … --json`), with real SQLite homes and the real node.
// Only the creator (alice) knows everyone: the other members are not each other's contacts.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { befriend, childEnv, CLI_MAIN, CliCommandError, Cluster, dialAddr, nodeBuilt, runCli, sleep, waitFor } from './harness.js'
import { Intruder } from './intruder.js'

const skip = nodeBuilt() ? false : 'src/core/node.ts is not built yet'
const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin'] as const
type Name = typeof NAMES[number]

interface Member { peerId: string, name: string | null, role: string }
interface Group { groupId: string, name: string, members: Member[], role: string | null, active: boolean, epoch: number, unread: number }
interface GroupMessage { id: string, groupId: string, from: string, fromName: string | null, text: string, seq: number, status: string }

/** Polling every second keeps five daemons plus the pollers within two shared cores. */
const POLL = { timeoutMs: 180_000, intervalMs: 1000 }
/** After the others have a message, how long a removed member is given to (wrongly) receive it too. */
const SETTLE_MS = 5000

describe('group chats between five real daemons', { skip, timeout: 1_200_000 }, () => {
  let c: Cluster
  let groupId = ''
  const peerId = (n: Name): string => c.daemon(n).ready.peerId

  const groups = async (who: Name): Promise<Group[]> => await c.cli<Group[]>(who, 'group', 'list')
  const history = async (who: Name): Promise<GroupMessage[]> => await c.cli<GroupMessage[]>(who, 'group', 'messages', groupId)
  /** GROUP may be the id or the (unique) group name. */
  const send = async (who: Name, text: string, group = groupId): Promise<GroupMessage> => await c.cli<GroupMessage>(who, 'group', 'send', group, text)

  /** Waits until every one of `who` lists all `ids`; returns their histories. */
  async function allHave (who: readonly Name[], ids: readonly string[], what: string): Promise<Map<Name, GroupMessage[]>> {
    const views = new Map<Name, GroupMessage[]>()
    await Promise.all(who.map(async (n) => {
      const view = await waitFor(`${n} to have ${what}`, async () => {
        const h = await history(n)
        const have = new Set(h.map((m) => m.id))
        return ids.every((id) => have.has(id)) ? h : undefined
      }, POLL).catch((err: unknown) => { throw new Error(`${(err as Error).message}\n${c.logs()}`) })
      views.set(n, view)
    }))
    return views
  }

  /** Every view lists the same ids in the same order (the group's display order is global). */
  function sameOrder (views: Map<Name, GroupMessage[]>, ids: readonly string[]): string[] {
    const wanted = new Set(ids)
    let reference: string[] | null = null
    let first: Name | null = null
    for (const [n, view] of views) {
      const order = view.map((m) => m.id).filter((id) => wanted.has(id))
      assert.equal(order.length, ids.length, `${n} lists each message exactly once`)
      const seqs = view.map((m) => m.seq)
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${n}'s history is in seq order`)
      if (reference == null) { reference = order; first = n } else assert.deepEqual(order, reference, `${n} and ${String(first)} show the same order`)
    }
    return reference ?? []
  }

  before(async () => {
    c = await Cluster.create('groups')
    await Promise.all(NAMES.map(async (n) => await c.init(n)))
    const a = await c.start('alice')
    for (const n of NAMES.slice(1)) await c.start(n, { bootstrap: [dialAddr(a.ready)] })
    for (const n of NAMES.slice(1)) await befriend(c, 'alice', n)
  })
  after(async () => { await c.cleanup() })

  it('alice creates a 5-member group; every member learns it, with the same members and alice as creator', async () => {
    const g = await c.cli<Group>('alice', 'group', 'create', 'five', ...NAMES.slice(1).flatMap((n) => ['--member', n]))
    assert.match(g.groupId, /^[0-9a-f]+$/)
    groupId = g.groupId
    assert.equal(g.role, 'creator')
    assert.deepEqual(new Set(g.members.map((m) => m.peerId)), new Set(NAMES.map(peerId)))
    for (const n of NAMES.slice(1)) {
      const mine = await waitFor(`${n} to learn the group`, async () => (await groups(n)).find((x) => x.groupId === groupId && x.members.length === NAMES.length), POLL)
      assert.equal(mine.role, 'member')
      assert.equal(mine.active, true)
      assert.equal(mine.name, 'five')
      assert.deepEqual(new Set(mine.members.map((m) => m.peerId)), new Set(NAMES.map(peerId)))
      assert.equal(mine.members.find((m) => m.peerId === peerId('alice'))?.role, 'creator')
      // Members need not be each other's contacts: each knows only alice.
      assert.deepEqual((await c.cli<Array<{ peerId: string }>>(n, 'contact', 'list')).map((x) => x.peerId), [peerId('alice')])
    }
  })

  it('every member sends; everyone sees all messages, each attributed to its author, in the same order', async () => {
    const sent: Array<{ who: Name, m: GroupMessage }> = []
    for (let round = 1; round <= 2; round++) {
      // One message per member per round, all members at once.
      // Round 1 names the group by id, round 2 by its name.
      const r = await Promise.all(NAMES.map(async (who) => ({ who, m: await send(who, `round ${round} from ${who}`, round === 1 ? groupId : 'five') })))
      sent.push(...r)
    }
    for (const { who, m } of sent) {
      assert.equal(m.from, peerId(who))
      assert.ok(m.status === 'queued' || m.status === 'sent', m.status)
    }
    const ids = sent.map((s) => s.m.id)
    const views = await allHave(NAMES, ids, 'all 10 messages')
    sameOrder(views, ids)
    for (const [n, view] of views) {
      for (const { who, m } of sent) {
        const got = view.find((x) => x.id === m.id)
        assert.equal(got?.text, m.text, `${n} has "${m.text}"`)
        assert.equal(got?.from, peerId(who), `${n} attributes "${m.text}" to ${who}`)
      }
    }
    // Each member's own messages, in the order it sent them, keep that order for everyone (causality).
    const order = views.get('alice')?.map((m) => m.id) ?? []
    for (const who of NAMES) {
      const own = sent.filter((s) => s.who === who).map((s) => order.indexOf(s.m.id))
      assert.deepEqual(own, [...own].sort((a, b) => a - b), `${who}'s messages keep their sending order`)
    }
  })

  it('parley chat on alice\'s daemon lists the group beside contacts, shows authors, sends, and shows a live message', async () => {
    const child = spawn(process.execPath, [CLI_MAIN, '--home', c.home('alice'), 'chat'], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { resolve(code) }))
    // Piped mode draws one frame per input line: empty lines ask for frames while waiting.
    const until = async (what: string, re: RegExp): Promise<void> => {
      await waitFor(`the chat to show ${what}`, () => {
        if (child.exitCode != null) throw new Error(`chat exited: ${stderr}`)
        if (re.test(stdout)) return true
        child.stdin.write('\n')
        return undefined
      }, { timeoutMs: 120_000, intervalMs: 500 })
    }
    try {
      await until('the group list', /via daemon[\s\S]* Groups[\s\S]*# five/)
      child.stdin.write('/switch #five\n')
      await until('the group conversation with authors', /# five · 5 members[\s\S]*bob: round 1 from bob/)
      const live = await send('bob', 'live for the tui')
      await until('bob\'s live message', /bob: live for the tui/)
      child.stdin.write('typed in the tui\n')
      await until('its own message', /me: typed in the tui/)
      const views = await waitFor('bob to get the tui message', async () => {
        const h = await history('bob')
        return h.some((m) => m.text === 'typed in the tui' && m.from === peerId('alice')) ? h : undefined
      }, POLL)
      assert.ok(views.some((m) => m.id === live.id))
      await allHave(NAMES, [views.find((m) => m.text === 'typed in the tui')?.id ?? ''], 'the message typed in the tui')
      child.stdin.end('/quit\n')
      assert.equal(await exited, 0, stderr)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('a plain member cannot change membership through its own node (forged add/remove refused), and nothing changes for the others', async () => {
    const before = await groups('carol')
    for (const args of [['group', 'remove', groupId, peerId('carol')], ['group', 'add', groupId, peerId('alice')], ['group', 'remove', groupId, peerId('alice')]]) {
      const r = await runCli(['--home', c.home('bob'), ...args, '--json'])
      assert.notEqual(r.code, 0, `bob: parley ${args.join(' ')} must fail`)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      const doc = JSON.parse(r.stdout) as { error: { code: string } }
      assert.equal(doc.error.code, 'ERR_GROUP_PERMISSION', `bob: parley ${args.join(' ')}`)
    }
    // The group keeps working for everyone, with unchanged membership.
    const probe = await send('carol', 'still here after bob\'s attempts')
    await allHave(NAMES, [probe.id], 'carol\'s probe')
    const after = await groups('carol')
    assert.deepEqual(after.find((g) => g.groupId === groupId)?.members.map((m) => m.peerId).sort(),
      before.find((g) => g.groupId === groupId)?.members.map((m) => m.peerId).sort())
  })

  it('a peer that is not a member — garbage, oversized and flooded publications on the group topic — is rejected and disturbs nobody', async (t) => {
    const intruder = await Intruder.start()
    try {
      const before = await Promise.all(NAMES.map(async (n) => await history(n)))
      for (const n of ['bob', 'carol'] as const) await intruder.dial(dialAddr(c.daemon(n).ready))
      // Gossipsub announces subscriptions to every connected peer: the (opaque) group topic leaks to a
      // connected outsider, which is why the validator, not the topic, is the gate (PROTOCOL.md Part 5).
      const topics = await waitFor('bob to announce a group topic', () => {
        const t = intruder.topicsOf(peerId('bob'))
        return t.length > 0 ? t : undefined
      }, POLL)
      for (const t of topics) intruder.subscribe(t)
      let published = 0
      for (const t of topics) {
        for (let i = 0; i < 200; i++) published += await intruder.publish(t, randomBytes(1 + (i * 97) % 4000)).catch(() => 0)
        published += await intruder.publish(t, new Uint8Array(256 * 1024).fill(7)).catch(() => 0)
      }
      assert.ok(published > 0, 'the intruder reached at least one member')
      // A real member speaks; if the intruder still gets forwarded messages (usually it has been pruned
      // by now and captures nothing), it replays them under its own signature.
      const probe = await send('alice', 'still fine after the flood')
      const views = await allHave(NAMES, [probe.id], 'alice\'s probe after the flood')
      for (const cap of intruder.captured.slice(0, 50)) await intruder.publish(cap.topic, cap.data).catch(() => 0)
      t.diagnostic(`the outsider published ${published} copies; captured ${intruder.captured.length} real messages to replay`)
      const probe2 = await send('dave', 'and after the replays')
      const views2 = await allHave(NAMES, [probe2.id], 'dave\'s probe after the replays')
      for (const [i, n] of NAMES.entries()) {
        const h = views2.get(n) ?? []
        // Exactly the earlier history plus the two probes: nothing from the intruder, no duplicates.
        assert.deepEqual(h.map((m) => m.id).sort(), [...(before[i] ?? []).map((m) => m.id), probe.id, probe2.id].sort(), `${n}'s history`)
        assert.ok(h.every((m) => NAMES.some((x) => peerId(x) === m.from)), `${n}: every author is a member`)
        assert.ok(!h.some((m) => m.from === intruder.peerId))
      }
      sameOrder(views, [probe.id])
      sameOrder(views2, [probe.id, probe2.id])
    } finally {
      await intruder.stop()
    }
  })

  it('a malicious member (added by alice, then publishing garbage, floods and replays signed with its member key) is rejected and disturbs nobody', async (t) => {
    const mallory = await Intruder.start()
    try {
      // alice adds a peer that runs no Parley at all: it holds a member's place in the log but no keys.
      const g = await c.cli<Group>('alice', 'group', 'add', groupId, mallory.peerId)
      assert.ok(g.members.some((m) => m.peerId === mallory.peerId))
      for (const n of NAMES) {
        await waitFor(`${n} to list mallory as a member`, async () => (await groups(n)).find((x) => x.groupId === groupId)?.members.some((m) => m.peerId === mallory.peerId) === true ? true : undefined, POLL)
      }
      const before = await Promise.all(NAMES.map(async (n) => await history(n)))
      for (const n of ['bob', 'carol', 'dave'] as const) await mallory.dial(dialAddr(c.daemon(n).ready))
      const topics = await waitFor('bob to announce the group topic to mallory', () => {
        const ts = mallory.topicsOf(peerId('bob'))
        return ts.length > 0 ? ts : undefined
      }, POLL)
      for (const topic of topics) mallory.subscribe(topic)
      // mallory's heartbeat grafts the members it dialed (a member scoring it 0 accepts the GRAFT)
      const dialed = (['bob', 'carol', 'dave'] as const).map((n) => peerId(n))
      await waitFor('bob, carol and dave in mallory\'s mesh', () => topics.every((tp) => dialed.every((p) => mallory.meshPeers(tp).includes(p))) ? true : undefined, POLL)
      const warm = await send('carol', 'carol before mallory speaks')
      await allHave(NAMES, [warm.id], 'carol\'s message before mallory speaks')
      const out = (): boolean => topics.every((tp) => !mallory.meshPeers(tp).some((p) => dialed.includes(p)))
      const tStart = Date.now()
      let outAt = -1
      const sampler = setInterval(() => { if (outAt < 0 && out()) outAt = Date.now() - tStart }, 50)
      sampler.unref()
      let published = 0
      for (const topic of topics) {
        for (let i = 0; i < 300; i++) published += await mallory.publish(topic, randomBytes(1 + (i * 131) % 3000)).catch(() => 0)
        for (const cap of mallory.captured.slice(0, 20)) published += await mallory.publish(cap.topic, cap.data).catch(() => 0)
      }
      t.diagnostic(`mallory published ${published} copies; captured ${mallory.captured.length} real messages to replay`)
      assert.ok(published > 0, 'mallory reached at least one member')
      // peer scoring (PROTOCOL.md Part 5 §8): bob, carol and dave graylisted mallory and pruned it from the
      // topic's mesh; their PRUNEs reach mallory, whose own mesh loses them (within the 60 s PRUNE backoff,
      // before its gossipsub may GRAFT again; a GRAFT to a member that graylists it is ignored unanswered,
      // so mallory's mesh may keep such a member: the three it had grafted before are what is checked)
      const tEnd = Date.now() - tStart
      await waitFor('bob, carol and dave to prune mallory', () => out() ? true : undefined, { timeoutMs: 50_000, intervalMs: 250 })
      clearInterval(sampler)
      t.diagnostic(`bob, carol and dave had left mallory's mesh ${outAt < 0 ? Date.now() - tStart : outAt} ms after its first garbage (its publishing took ${tEnd} ms)`)
      const probe = await send('erin', 'fine after mallory')
      const views = await allHave(NAMES, [probe.id], 'erin\'s probe after mallory')
      for (const [i, n] of NAMES.entries()) {
        const h = views.get(n) ?? []
        assert.deepEqual(h.map((m) => m.id).sort(), [...(before[i] ?? []).map((m) => m.id), warm.id, probe.id].sort(), `${n}'s history: nothing from mallory, no duplicates`)
        assert.ok(!h.some((m) => m.from === mallory.peerId))
      }
      sameOrder(views, [warm.id, probe.id])
      // alice removes mallory again (the group goes on with the five of us, in a new epoch).
      const after = await c.cli<Group>('alice', 'group', 'remove', groupId, mallory.peerId)
      for (const n of NAMES) {
        await waitFor(`${n} to see mallory removed`, async () => {
          const mine = (await groups(n)).find((x) => x.groupId === groupId)
          return mine != null && mine.epoch === after.epoch && !mine.members.some((m) => m.peerId === mallory.peerId) ? true : undefined
        }, POLL)
      }
    } finally {
      await mallory.stop()
    }
  })

  it('a member offline during 50 messages catches up completely and in order after restart', async () => {
    await c.daemon('dave').stop()
    const senders: Name[] = ['alice', 'bob', 'carol', 'erin']
    const ids: string[] = []
    for (let i = 0; i < 50; i++) {
      const who = senders[i % senders.length] as Name
      ids.push((await send(who, `while dave is away #${i + 1} (${who})`)).id)
    }
    // The online members have all 50 before dave comes back.
    const online = await allHave(senders, ids, 'the 50 messages')
    await c.start('dave', { bootstrap: [dialAddr(c.daemon('alice').ready)] })
    const views = await allHave(['dave'], ids, 'the 50 messages after restart')
    for (const [n, v] of online) views.set(n, v)
    const order = sameOrder(views, ids)
    // Per sender, the order of sending is kept.
    for (const who of senders) {
      const own = ids.filter((_, i) => senders[i % senders.length] === who).map((id) => order.indexOf(id))
      assert.deepEqual(own, [...own].sort((a, b) => a - b), `${who}'s messages in sending order`)
    }
    // Nothing was skipped in between either: dave's full history equals alice's.
    const [d, a] = await Promise.all([history('dave'), history('alice')])
    assert.deepEqual(d.map((m) => m.id), a.map((m) => m.id))
  })

  it('a removed member receives nothing sent afterwards but keeps its history; its own sends reach nobody', async () => {
    const beforeRemoval = await history('erin')
    assert.ok(beforeRemoval.length >= 10)
    const g = await c.cli<Group>('alice', 'group', 'remove', groupId, 'erin')
    assert.ok(!g.members.some((m) => m.peerId === peerId('erin')))
    const remaining: Name[] = ['alice', 'bob', 'carol', 'dave']
    // The remaining members apply the removal (new epoch) before anyone speaks again.
    for (const n of remaining) {
      await waitFor(`${n} to see erin removed`, async () => {
        const mine = (await groups(n)).find((x) => x.groupId === groupId)
        return mine != null && !mine.members.some((m) => m.peerId === peerId('erin')) && mine.epoch === g.epoch ? true : undefined
      }, POLL)
    }
    const erinView = await waitFor('erin to learn it was removed', async () => {
      const mine = (await groups('erin')).find((x) => x.groupId === groupId)
      return mine?.active === false ? mine : undefined
    }, POLL)
    assert.equal(erinView.role, null)

    // erin's attempt to keep talking: refused locally, or published under a dead key — either way nobody shows it.
    let erinId: string | null = null
    try { erinId = (await send('erin', 'erin after removal')).id } catch (err) { assert.ok(err instanceof CliCommandError, String(err)) }

    const after = await Promise.all(remaining.map(async (who) => (await send(who, `after removal from ${who}`)).id))
    await allHave(remaining, after, 'the post-removal messages')
    await sleep(SETTLE_MS)
    const erinAfter = await history('erin')
    for (const id of after) assert.ok(!erinAfter.some((m) => m.id === id), 'erin must not have a message sent after its removal')
    assert.ok(!erinAfter.some((m) => m.text.startsWith('after removal')))
    // Its old history is intact.
    assert.deepEqual(erinAfter.filter((m) => beforeRemoval.some((b) => b.id === m.id)).map((m) => m.id), beforeRemoval.map((m) => m.id))
    for (const n of remaining) {
      const h = await history(n)
      assert.ok(!h.some((m) => m.text === 'erin after removal' || (erinId != null && m.id === erinId)), `${n} shows nothing erin sent after removal`)
    }
  })
})

// Mutual contacts as mailboxes (issue 4; docs/PROTOCOL.md Part 4 §9), in process: real Parley nodes
// on loopback, real SQLite stores and the hosts' real mailbox.db files. No relay anywhere.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createParleyNode, type ParleyNode } from '../../src/core/node.js'
import type { NodeEvent } from '../../src/core/api.js'
import { decodeRoute, hostTargets, mutualHint, UNREGISTERED_TAG_REASON } from '../../src/core/mailboxes.js'
import { readNodeSettings } from '../../src/core/settings.js'
import { createEphemeralMailboxClient, MailboxRefusedError, sealItem, type EphemeralMailboxClient } from '../../src/mailbox/index.js'
import { decodePublicKey } from '../../src/crypto/keys.js'
import { identityKeyOfPeer } from '../../src/core/util.js'
import { cleanup, connectPair, homeOf, startNode, statusOf, testOptions, until } from './helpers.js'

const clients: EphemeralMailboxClient[] = []
after(async () => {
  await Promise.allSettled(clients.splice(0).map(async c => { await c.stop() }))
  await cleanup()
})

const QUICK = { mailbox: { fetchIntervalMs: 1_000 } }

/** Every 'message' event of `node` from `peer`, in emission order. */
function record (node: ParleyNode, peer: string): string[] {
  const seen: string[] = []
  node.subscribe((e: NodeEvent) => { if (e.type === 'message' && e.message.direction === 'in' && e.message.peerId === peer) seen.push(e.message.text) })
  return seen
}

/** The route `node` stored from `peer` (what `peer` last told it). */
async function storedRoute (node: ParleyNode, peer: string): Promise<ReturnType<typeof decodeRoute>> {
  const conv = await node.internals.store.read(tx => tx.getConversation(peer))
  return conv != null ? decodeRoute(conv.route) : null
}

/** A message each way between two contacts (each side then holds the other's newest route). */
async function exchange (x: ParleyNode, xName: string, y: ParleyNode, yName: string): Promise<void> {
  await x.send(yName, `${xName} to ${yName}`, { wait: true, timeoutMs: 30_000 })
  await y.send(xName, `${yName} to ${xName}`, { wait: true, timeoutMs: 30_000 })
}

type NodeOptions = Parameters<typeof startNode>[1]

/**
 * alice, bob (uses contacts' mailboxes) and carol (hosts one unless `carol` says otherwise), all three
 * connected pairwise; with `introduce`, carol and bob then bob and alice exchange messages (carol's route
 * tells bob she hosts, bob's reply registers with her, bob's next route names her to alice).
 */
async function trio (opts: { carol?: NodeOptions, introduce?: boolean } = {}): Promise<[ParleyNode, ParleyNode, ParleyNode]> {
  const a = await startNode('alice', QUICK)
  const b = await startNode('bob', { ...QUICK, contactMailboxes: true })
  const c = await startNode('carol', opts.carol ?? { ...QUICK, hostMailboxes: true })
  await connectPair(a, b)
  await connectPair(a, c)
  await connectPair(b, c)
  if (opts.introduce === true) {
    await exchange(c, 'carol', b, 'bob')
    await exchange(b, 'bob', a, 'alice')
  }
  return [a, b, c]
}

async function throwaway (): Promise<EphemeralMailboxClient> {
  const c = await createEphemeralMailboxClient({ dialTimeoutMs: 10_000, readTimeoutMs: 10_000 })
  clients.push(c)
  return c
}

/** A well-formed deposit for `recipient` under `tag` (sealed to the recipient like a real one). */
async function depositInput (recipient: string, tag: Uint8Array): Promise<{ tag: Uint8Array, clientId: Uint8Array, sealed: Uint8Array }> {
  const sealed = await sealItem(decodePublicKey(identityKeyOfPeer(recipient)), 'not-a-real-sender', randomBytes(64))
  return { tag, clientId: randomBytes(16), sealed }
}

describe('mutual contacts as mailboxes (Part 4 §9)', () => {
  it('the recipient is offline: a mutual contact holds the mail; all N arrive exactly once, in order, with no relay', async () => {
    const [a, b0, c] = await trio()
    let b = b0
    assert.ok(c.internals.mailboxes!.hosted != null, 'carol hosts a mailbox')
    assert.equal(b.internals.mailboxes!.hosted, null, 'bob does not')
    // carol tells bob she hosts; bob's reply carries his registration; bob then names carol to alice
    await exchange(c, 'carol', b, 'bob')
    assert.equal((await storedRoute(b, c.peerId))?.hosting, true, 'bob knows carol hosts')
    const hostTag = (await b.internals.mailboxes!.hostKeyFor(c.peerId)).tag
    assert.deepEqual((await storedRoute(c, b.peerId))?.hostTag, hostTag, 'carol holds bob\'s registration')
    await exchange(b, 'bob', a, 'alice')
    const seen = await storedRoute(a, b.peerId)
    assert.equal(seen?.mutual?.length, 1, 'bob names one mutual host to alice')
    assert.deepEqual(seen!.mutual![0]!.hint, await mutualHint(seen!.tag, c.peerId))
    const route = await a.internals.mailboxes!.routeOf(b.peerId)
    assert.deepEqual(route?.hosts.map(h => h.peerId), [c.peerId], 'alice matched carol among her contacts')
    assert.equal(route?.relays.length, 0, 'no relay at all')

    const bHome = homeOf(b)
    const bobId = b.peerId
    await b.stop()
    await until(() => !a.internals.net.isConnected(bobId), 20_000, 'bob offline')
    const N = 25
    const texts = Array.from({ length: N }, (_, i) => `via carol ${i + 1}`)
    const ids: string[] = []
    for (const t of texts) ids.push((await a.send('bob', t)).id)
    await until(async () => {
      for (const id of ids) if (await statusOf(a, 'bob', id) !== 'stored') return false
      return true
    }, 60_000, 'all stored with carol')
    const hosted = c.internals.mailboxes!.hosted!
    assert.ok(hosted.stats().items >= N, `carol holds the ${N} items (has ${hosted.stats().items})`)
    assert.ok(a.internals.mailboxes!.stats.hostDeposits >= N)
    await a.stop()

    // bob comes back on a new port (nobody knows it); carol stays; alice is gone
    b = await createParleyNode(testOptions(bHome, QUICK))
    const shown = record(b, a.peerId)
    try {
      assert.equal((await readNodeSettings(bHome)).contactMailboxes, true, 'the choice was remembered')
      await until(async () => (await b.messages(a.peerId, { limit: 100 })).filter(m => m.direction === 'in').length >= N + 1, 60_000, 'bob got the mail from carol')
      await b.internals.mailboxes!.idle()
      const got = (await b.messages(a.peerId, { limit: 100 })).filter(m => m.direction === 'in').map(m => m.text)
      assert.deepEqual(got, ['alice to bob', ...texts], 'exactly once, in order')
      assert.deepEqual(shown, texts, 'one message event per text, in order')
      await until(() => hosted.stats().items === 0, 30_000, 'bob acknowledged: carol\'s mailbox is empty')
    } finally {
      await b.stop()
    }
  })

  it('a host stores only for tags its current contacts registered; a host the sender does not know stays hidden', async () => {
    const a = await startNode('alice', QUICK)
    const b = await startNode('bob', { ...QUICK, contactMailboxes: true })
    const c = await startNode('carol', { ...QUICK, hostMailboxes: true })
    const d = await startNode('dave', { ...QUICK, hostMailboxes: true })
    await connectPair(a, b)
    await connectPair(b, c)
    await connectPair(b, d)
    await exchange(c, 'carol', b, 'bob')
    await exchange(d, 'dave', b, 'bob')
    await exchange(b, 'bob', a, 'alice')
    // alice knows bob only: bob names two hosts, alice can use neither and learns neither
    const seen = await storedRoute(a, b.peerId)
    assert.equal(seen?.mutual?.length, 2, 'bob advertises both hosts (as hints)')
    assert.equal(await a.internals.mailboxes!.routeOf(b.peerId), null, 'no usable mailbox for bob: carol and dave are strangers to alice')
    // once alice knows carol (but not dave), carol becomes usable and only carol
    await connectPair(a, c)
    assert.deepEqual((await a.internals.mailboxes!.routeOf(b.peerId))?.hosts.map(h => h.peerId), [c.peerId])

    const cc = await throwaway()
    const targets = hostTargets(c.peerId, (await c.id()).addresses)
    // a tag nobody registered: refused, nothing stored (single deposit and batch)
    const stranger = await depositInput(b.peerId, randomBytes(32))
    await assert.rejects(cc.client.deposit(targets, stranger), (err: Error) => err instanceof MailboxRefusedError && err.message === UNREGISTERED_TAG_REASON)
    const hostTag = (await b.internals.mailboxes!.hostKeyFor(c.peerId)).tag
    const good = await depositInput(b.peerId, hostTag)
    const batch = await cc.client.depositMany(targets, [stranger, good])
    assert.equal(batch[0]!.ok, false)
    assert.ok(!batch[0]!.ok && batch[0]!.error instanceof MailboxRefusedError)
    assert.equal(batch[1]!.ok, true, 'bob\'s registered tag is accepted')
    // (counters, not items: bob fetches from carol meanwhile and acknowledges these unreadable items)
    const hosted = c.internals.mailboxes!.hosted!
    assert.equal(hosted.stats().deposits, 1)
    assert.ok(hosted.stats().refusedTag >= 2)
    // dave's tag for bob is not carol's business
    const daveTag = (await b.internals.mailboxes!.hostKeyFor(d.peerId)).tag
    await assert.rejects(cc.client.deposit(targets, await depositInput(b.peerId, daveTag)), MailboxRefusedError)
    // carol removes bob: his registration goes with him
    await c.internals.store.deleteContact(b.peerId)
    await until(async () => {
      try {
        await cc.client.deposit(targets, await depositInput(b.peerId, hostTag))
        return false
      } catch (err) {
        return err instanceof MailboxRefusedError
      }
    }, 15_000, 'deposits for a removed contact refused')
    const n = hosted.stats().deposits
    await assert.rejects(cc.client.deposit(targets, await depositInput(b.peerId, hostTag)), MailboxRefusedError)
    assert.equal(hosted.stats().deposits, n, 'nothing stored after the removal')
  })

  it('a new host reaches the other contacts with a route announcement, without a chat message', async () => {
    const [a, b, c] = await trio()
    await exchange(a, 'alice', b, 'bob') // sessions; bob knows no host yet
    assert.equal((await storedRoute(a, b.peerId))?.mutual, undefined)
    await c.send('bob', 'I host', { wait: true, timeoutMs: 30_000 }) // bob learns carol hosts
    const before = (await a.messages(b.peerId)).length
    await until(async () => (await storedRoute(a, b.peerId))?.mutual?.length === 1, 30_000, 'alice learned bob\'s new host')
    await until(async () => (await storedRoute(c, b.peerId))?.hostTag != null, 30_000, 'bob registered with carol')
    assert.deepEqual((await a.internals.mailboxes!.routeOf(b.peerId))?.hosts.map(h => h.peerId), [c.peerId])
    assert.equal((await a.messages(b.peerId)).length, before, 'no message shown for the announcement')
  })

  it('the host\'s per-contact quota: beyond it messages stay queued with "mailbox full", and all arrive later', async () => {
    const [a, b0, c] = await trio({ carol: { ...QUICK, hostMailboxes: true, mailbox: { fetchIntervalMs: 1_000, hostLimits: { maxItemsPerTag: 3 } } }, introduce: true })
    let b = b0
    const bHome = homeOf(b)
    const bobId = b.peerId
    await b.stop()
    await until(() => !a.internals.net.isConnected(bobId), 20_000, 'bob offline')
    const ids: string[] = []
    for (let i = 1; i <= 5; i++) ids.push((await a.send('bob', `quota ${i}`)).id)
    await until(async () => {
      const ms = await a.messages('bob')
      const st = ids.map(id => ms.find(m => m.id === id))
      return st.slice(0, 3).every(m => m?.status === 'stored') && st.slice(3).every(m => m?.status === 'queued' && (m.reason ?? '').startsWith('mailbox full'))
    }, 60_000, 'three stored with carol, two queued as "mailbox full"')
    assert.equal(c.internals.mailboxes!.hosted!.stats().items, 3)
    b = await createParleyNode(testOptions(bHome, QUICK))
    try {
      await until(async () => (await b.messages(a.peerId)).filter(m => m.direction === 'in' && m.text.startsWith('quota')).length === 5, 60_000, 'bob got all five')
      const got = (await b.messages(a.peerId)).filter(m => m.direction === 'in' && m.text.startsWith('quota')).map(m => m.text)
      assert.deepEqual(got, ['quota 1', 'quota 2', 'quota 3', 'quota 4', 'quota 5'])
    } finally {
      await b.stop()
    }
  })

  it('opting out withdraws: the host drops the registration and senders drop the hints', async () => {
    const [a, b0, c] = await trio({ introduce: true })
    let b = b0
    assert.ok((await storedRoute(c, b.peerId))?.hostTag != null)
    assert.equal((await storedRoute(a, b.peerId))?.mutual?.length, 1)
    const bHome = homeOf(b)
    await b.stop()
    b = await createParleyNode(testOptions(bHome, { ...QUICK, contactMailboxes: false }))
    try {
      assert.equal((await readNodeSettings(bHome)).contactMailboxes, false)
      await until(async () => (await storedRoute(c, b.peerId))?.hostTag == null, 30_000, 'carol dropped bob\'s registration')
      await until(async () => (await storedRoute(a, b.peerId))?.mutual == null, 30_000, 'alice dropped the hint')
      assert.equal(await a.internals.mailboxes!.routeOf(b.peerId), null, 'no mailbox for bob any more')
    } finally {
      await b.stop()
    }
  })

  it('opt-in on both sides: no registration with a host that does not host, no hints from a recipient that did not opt in', async () => {
    const [a, b, c] = await trio({ carol: QUICK, introduce: true }) // carol does not host
    assert.equal(c.internals.mailboxes!.hosted, null, 'carol serves no mailbox')
    assert.equal((await storedRoute(b, c.peerId))?.hosting ?? false, false)
    assert.equal((await storedRoute(c, b.peerId))?.hostTag, undefined, 'bob never registered with carol')
    assert.equal((await storedRoute(a, b.peerId))?.mutual, undefined, 'bob names no host to alice')
    assert.equal(await a.internals.mailboxes!.routeOf(b.peerId), null)

    // a recipient that did not opt in (erin), a contact that hosts (frank): no registration, no hints
    const e = await startNode('erin', QUICK)
    const f = await startNode('frank', { ...QUICK, hostMailboxes: true })
    await connectPair(e, f)
    await connectPair(e, a)
    await connectPair(a, f)
    await exchange(f, 'frank', e, 'erin')
    await exchange(e, 'erin', a, 'alice')
    assert.equal((await storedRoute(e, f.peerId))?.hosting, true, 'erin knows frank hosts')
    assert.equal((await storedRoute(f, e.peerId))?.hostTag, undefined, 'erin did not register')
    assert.equal((await storedRoute(a, e.peerId))?.mutual, undefined, 'erin names no host')
    assert.equal(await a.internals.mailboxes!.routeOf(e.peerId), null)
    assert.equal(e.internals.mailboxes!.isOwnMailbox(f.peerId), false)
  })
})

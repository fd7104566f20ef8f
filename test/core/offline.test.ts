// Sessions with peers that are offline when the first message is written: from the DHT record, or later.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createParleyNode, type ParleyNode } from '../../src/core/node.js'
import { cleanup, connectPair, homeOf, startNode, statusOf, testOptions, until } from './helpers.js'

after(cleanup)

interface Stopped { home: string, listen: string[] }

/** Stops `n`, remembering its TCP listen addresses. */
async function stopKeepingPort (n: ParleyNode): Promise<Stopped> {
  const listen = (await n.id()).addresses.map(a => a.replace(/\/p2p\/[^/]+$/, ''))
  const home = homeOf(n)
  await n.stop()
  return { home, listen }
}

/** Starts a stopped node again on the same TCP port (so that peers find it at its old address). */
async function restart (s: Stopped): Promise<ParleyNode> {
  return await createParleyNode(testOptions(s.home, { listen: s.listen }))
}

describe('first message to an offline peer', () => {
  it('starts the session from the peer\'s signed DHT record and delivers when the peer returns', async () => {
    const a = await startNode('alice')
    let b = await startNode('bob')
    const c = await startNode('carol') // a third DHT server
    await connectPair(b, c)
    await connectPair(a, c)
    await c.send('bob', 'hi bob', { wait: true, timeoutMs: 30_000 })
    await c.send('alice', 'hi alice', { wait: true, timeoutMs: 30_000 })
    // bob publishes its record (bundle without one-time prekey + addresses) to its DHT neighbours;
    // the node does this by itself ~1.5 s after new connections — here it is forced for determinism
    await b.internals.publishRecord()
    await a.addContact((await b.invite()).invite)
    const bobId = b.peerId
    const stopped = await stopKeepingPort(b)
    await until(() => !a.internals.net.isConnected(bobId), 20_000, 'bob offline')
    // the record is still served by the other DHT nodes while bob is away
    await until(async () => (await a.internals.net.findRecord(bobId).catch(() => null)) != null, 30_000, 'bob\'s record without bob')
    const m = await a.send('bob', 'from the DHT bundle')
    // the session exists already (made from the DHT bundle): the envelope waits in the outbox
    assert.notEqual(await a.internals.store.getSession(bobId), null)
    assert.notEqual(await a.internals.store.getOutbox(m.id), null)
    assert.equal(m.status, 'queued')
    b = await restart(stopped)
    try {
      await until(async () => await statusOf(a, 'bob', m.id) === 'delivered', 40_000, 'delivered after return')
      const got = await b.messages(a.peerId)
      assert.deepEqual(got.map(x => x.text), ['from the DHT bundle'])
      const r = await b.send(a.peerId, 'got it', { wait: true, timeoutMs: 30_000 })
      assert.ok(r.status === 'delivered' || r.status === 'read')
    } finally {
      await b.stop()
    }
  })

  it('keeps messages queued without a session until a bundle can be fetched, then delivers them in order', async () => {
    const a = await startNode('alice')
    let b = await startNode('bob')
    const invite = (await b.invite()).invite
    const stopped = await stopKeepingPort(b)
    await a.addContact(invite)
    const m1 = await a.send('bob', 'first')
    const m2 = await a.send('bob', 'second')
    assert.equal(await a.internals.store.getSession(b.peerId), null)
    assert.equal(await a.internals.store.getOutbox(m1.id), null)
    assert.equal(m2.status, 'queued')
    b = await restart(stopped)
    try {
      await until(async () => await statusOf(a, 'bob', m2.id) === 'delivered' && await statusOf(a, 'bob', m1.id) === 'delivered', 40_000, 'delivered')
      assert.deepEqual((await b.messages(a.peerId)).map(x => x.text), ['first', 'second'])
      const c = (await b.listContacts())[0]!
      assert.equal(c.peerId, a.peerId)
      assert.equal(c.verified, false)
    } finally {
      await b.stop()
    }
  })
})

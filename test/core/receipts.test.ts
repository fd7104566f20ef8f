// Durable receipts: delivery and read receipts are committed to the store's receipt outbox with the
// change that causes them, survive a restart of the node that owes them, and leave once acknowledged.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createParleyNode } from '../../src/core/node.js'
import { cleanup, connectPair, homeOf, startNode, statusOf, testOptions, until } from './helpers.js'

after(cleanup)

describe('durable receipts', () => {
  it('delivery and read receipts owed to an unreachable peer survive a restart and arrive later', async () => {
    let a = await startNode('alice')
    let b = await startNode('bob')
    await connectPair(a, b)
    const m1 = await a.send('bob', 'one', { wait: true, timeoutMs: 30_000 })
    assert.equal(m1.status, 'delivered')
    // alice's node cannot take anything in right now (as after a store failure): every envelope gets
    // an ERROR Ack, which tells bob to keep his receipts and try again
    a.internals.net.handleEnvelopes(async () => ({ status: 'ERROR', reason: 'test: busy' }))
    const m2 = await a.send('bob', 'two')
    await until(async () => (await b.messages('alice')).some(x => x.id === m2.id), 30_000, 'bob has two')
    // the delivery receipt of "two" was committed together with the message
    await until(async () => (await b.internals.store.receiptsFor(a.peerId)).length >= 1, 30_000, 'delivery receipt stored')
    await b.markRead('alice')
    // the read receipt (for one and two) was committed together with marking them read
    assert.equal(await b.internals.store.unreadCount(a.peerId), 0)
    // at least delivered(two) + read(one, two); a retransmission of "two" may add a re-sent delivery receipt
    const owed = (await b.internals.store.receiptsFor(a.peerId)).length
    assert.ok(owed >= 2, `owed ${owed}`)

    // bob stops (nothing in memory survives) and comes back: the receipts are still owed
    const bHome = homeOf(b)
    await b.stop()
    b = await createParleyNode(testOptions(bHome))
    try {
      // alice still answers ERROR, so none of them can have left
      assert.ok((await b.internals.store.receiptsFor(a.peerId)).length >= owed)
      // alice comes back able to receive, on her old port so that bob finds her
      const listen = (await a.id()).addresses.map(x => x.replace(/\/p2p\/[^/]+$/, ''))
      const aHome = homeOf(a)
      await a.stop()
      a = await createParleyNode(testOptions(aHome, { listen }))
      try {
        // "read" can only come from the stored read receipt (a retransmission re-sends "delivered" only)
        await until(async () => await statusOf(a, 'bob', m1.id) === 'read' && await statusOf(a, 'bob', m2.id) === 'read', 40_000, 'read receipts arrived')
        await until(async () => await b.internals.store.countReceiptOutbox() === 0, 30_000, 'receipt outbox emptied')
      } finally {
        await a.stop()
      }
    } finally {
      await b.stop()
    }
  })

  it('a read receipt leaves at once when the peer is reachable, and the outbox stays empty', async () => {
    const a = await startNode('alice')
    const b = await startNode('bob')
    await connectPair(a, b)
    const m = await a.send('bob', 'hello', { wait: true, timeoutMs: 30_000 })
    await b.markRead('alice')
    await until(async () => await statusOf(a, 'bob', m.id) === 'read', 30_000, 'read')
    await until(async () => await b.internals.store.countReceiptOutbox() === 0, 30_000, 'receipt outbox empty')
    // nothing unread: a second markRead seals nothing
    await b.markRead('alice')
    assert.equal(await b.internals.store.countReceiptOutbox(), 0)
  })
})

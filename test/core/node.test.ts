// The Parley node end to end: real stores on disk, real libp2p on 127.0.0.1 (in-process nodes).
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createParleyNode } from '../../src/core/node.js'
import { decodeEnvelope } from '../../src/wire/index.js'
import type { MessageInfo, MessageStatus, NodeEvent } from '../../src/core/api.js'
import { cleanup, connectPair, homeOf, nextEvent, percentile, startNode, statusOf, testOptions, until } from './helpers.js'

after(cleanup)

describe('two nodes', () => {
  it('exchange messages both ways via invites; statuses advance queued -> sent -> delivered -> read', async () => {
    const a = await startNode('alice')
    const b = await startNode('bob')
    const added: NodeEvent[] = []
    a.subscribe(e => { if (e.type === 'contact-added') added.push(e) })
    await connectPair(a, b)
    assert.equal(added.length, 1)
    const contacts = await a.listContacts()
    assert.equal(contacts.length, 1)
    assert.equal(contacts[0]!.name, 'bob')
    assert.equal(contacts[0]!.peerId, b.peerId)
    assert.equal(contacts[0]!.identityKey, (await b.id()).identityKey)

    const seen: MessageStatus[] = []
    let firstId = ''
    a.subscribe(e => { if (e.type === 'status' && e.id === firstId) seen.push(e.status) })
    const t0 = performance.now()
    const sent = await a.send('bob', 'hello bob')
    firstId = sent.id
    assert.equal(sent.status, 'queued')
    assert.equal(sent.direction, 'out')
    await until(async () => await statusOf(a, 'bob', sent.id) === 'delivered', 30_000, 'first message delivered')
    const firstMs = performance.now() - t0
    const inbox = await b.messages(a.peerId)
    assert.deepEqual(inbox.map(m => [m.text, m.direction, m.id]), [['hello bob', 'in', sent.id]])
    assert.equal(inbox[0]!.timestamp, sent.timestamp)
    assert.equal((await b.listContacts())[0]!.unread, 1)

    const reply = await b.send('alice', 'hi alice', { wait: true, timeoutMs: 30_000 })
    assert.ok(reply.status === 'delivered' || reply.status === 'read')
    assert.deepEqual((await a.messages('bob')).map(m => [m.text, m.direction]), [['hello bob', 'out'], ['hi alice', 'in']])

    await b.markRead('alice')
    assert.equal((await b.listContacts())[0]!.unread, 0)
    await until(async () => await statusOf(a, 'bob', sent.id) === 'read', 30_000, 'read receipt')
    assert.deepEqual(seen.filter((s, i) => seen.indexOf(s) === i), ['sent', 'delivered', 'read'])
    // delivered: the outbox entry is gone
    assert.equal(await a.internals.store.getOutbox(sent.id), null)

    // round trips (send -> encrypted delivery receipt back) on loopback
    const rtts: number[] = []
    for (let i = 0; i < 20; i++) {
      const s = performance.now()
      const m = await a.send(b.peerId, `ping ${i}`, { wait: true, timeoutMs: 30_000 })
      rtts.push(performance.now() - s)
      assert.ok(m.status === 'delivered' || m.status === 'read')
    }
    const texts = (await b.messages('alice', { limit: 100 })).filter(m => m.direction === 'in').map(m => m.text)
    assert.deepEqual(texts, ['hello bob', ...Array.from({ length: 20 }, (_, i) => `ping ${i}`)])
    const seqs = (await b.messages('alice', { limit: 100 })).map(m => m.seq)
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y))
    console.log(`# first message to a new contact (send -> delivered): ${firstMs.toFixed(1)} ms; round trip p50 ${percentile(rtts, 0.5).toFixed(2)} ms, p90 ${percentile(rtts, 0.9).toFixed(2)} ms`)

    // safety numbers agree on both sides and expose the exact inputs
    const sa = await a.safetyNumber('bob')
    const sb = await b.safetyNumber('alice')
    assert.match(sa.safetyNumber, /^\d{60}$/)
    assert.equal(sa.safetyNumber, sb.safetyNumber)
    assert.equal(sa.local.identifier, Buffer.from(a.peerId, 'utf8').toString('hex'))
    assert.equal(sa.remote.identityKey, sb.local.identityKey)
    assert.equal(sa.verified, false)
    assert.equal((await a.verifyContact('bob')).verified, true)
    assert.equal((await a.safetyNumber(b.peerId)).verified, true)

    const peers = await a.peers()
    const p = peers.find(x => x.peerId === b.peerId)
    assert.ok(p != null)
    assert.equal(p.relayed, false)
    assert.equal(p.contact, 'bob')
  })

  it('accepts a message request from a stranger and replies to it', async () => {
    const a = await startNode('alice')
    const c = await startNode('carol')
    await c.addContact((await a.invite()).invite) // only carol knows alice
    const req = nextEvent(a, e => e.type === 'contact-added')
    const msg = nextEvent(a, e => e.type === 'message' && e.message.direction === 'in')
    await c.send('alice', 'hello stranger', { wait: true, timeoutMs: 30_000 })
    const ev = await req
    assert.equal(ev.type === 'contact-added' && ev.contact.peerId, c.peerId)
    assert.equal(ev.type === 'contact-added' && ev.contact.verified, false)
    assert.equal(ev.type === 'contact-added' && ev.contact.name, 'carol') // the name travels in the first message
    assert.equal((await msg).type === 'message' && (await a.messages(c.peerId))[0]!.text, 'hello stranger')
    const r = await a.send(c.peerId, 'who are you?', { wait: true, timeoutMs: 30_000 })
    assert.ok(r.status === 'delivered' || r.status === 'read')
    assert.equal((await c.messages('alice')).at(-1)!.text, 'who are you?')
  })

  it('send --wait times out with ERR_TIMEOUT and leaves the message queued', async () => {
    const a = await startNode('alice')
    const b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'warm-up', { wait: true, timeoutMs: 30_000 })
    await b.stop()
    await until(() => !a.internals.net.isConnected(b.peerId), 20_000, 'disconnect')
    await assert.rejects(a.send('bob', 'into the void', { wait: true, timeoutMs: 800 }), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'TimeoutError')
      assert.equal(err.code, 'ERR_TIMEOUT')
      return true
    })
    const last = (await a.messages('bob')).at(-1)!
    assert.equal(last.text, 'into the void')
    assert.equal(last.status, 'queued')
    assert.notEqual(await a.internals.store.getOutbox(last.id), null)
  })
})

describe('bursts', () => {
  it('a burst of 80 messages queued while the peer is away arrives complete, once, in order', async () => {
    const a = await startNode('alice')
    let b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'start', { wait: true, timeoutMs: 30_000 })
    const home = homeOf(b)
    await b.stop()
    await until(() => !a.internals.net.isConnected(b.peerId), 20_000, 'disconnect')
    const ids = await Promise.all(Array.from({ length: 80 }, async (_, i) => (await a.send('bob', `burst ${i}`)).id))
    b = await createParleyNode(testOptions(home))
    try {
      await until(async () => (await a.messages('bob', { limit: 100 })).every(m => m.status === 'delivered'), 40_000, 'burst delivered')
      const got = (await b.messages('alice', { limit: 200 })).map(m => m.text)
      assert.deepEqual(got, ['start', ...Array.from({ length: 80 }, (_, i) => `burst ${i}`)])
      assert.equal(new Set(ids).size, 80)
    } finally {
      await b.stop()
    }
  })
})

describe('pipelined flushes', () => {
  it('sends to a connected peer leave without waiting for earlier acks; every envelope goes once, in order', async () => {
    const a = await startNode('alice')
    const b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'warm', { wait: true, timeoutMs: 30_000 })
    // watch what alice hands to the network: envelope ids per call, and how many calls overlap
    const net = a.internals.net
    const orig = net.sendEnvelopes.bind(net)
    const sent: string[] = []
    let open = 0
    let maxOpen = 0
    net.sendEnvelopes = async (peer, envs, opts) => {
      for (const e of envs) sent.push(Buffer.from(e.id).toString('hex'))
      open++
      maxOpen = Math.max(maxOpen, open)
      try {
        return await orig(peer, envs, opts)
      } finally {
        open--
      }
    }
    try {
      const n = 30
      const msgs: MessageInfo[] = []
      for (let i = 0; i < n; i++) {
        msgs.push(await a.send('bob', `pipelined ${i}`))
        if (i % 3 === 0) await new Promise(resolve => setImmediate(resolve)) // let some flushes start in between
      }
      await until(async () => (await a.messages('bob', { limit: 100 })).every(m => m.status === 'delivered'), 40_000, 'all delivered')
      const got = (await b.messages('alice', { limit: 100 })).map(m => m.text)
      assert.deepEqual(got, ['warm', ...Array.from({ length: n }, (_, i) => `pipelined ${i}`)])
      const ours = sent.filter(id => msgs.some(m => m.id === id))
      assert.deepEqual(ours, msgs.map(m => m.id), 'each message envelope was handed to the network once, in send order')
      assert.ok(maxOpen >= 2, `a flush started while an earlier one waited for its acks (max overlap ${maxOpen})`)
    } finally {
      net.sendEnvelopes = orig
    }
  })
})

describe('restarts and offline peers', () => {
  it('a restarted node (new port) resumes the session; the other learns its new address', async () => {
    const a = await startNode('alice')
    let b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'before restart', { wait: true, timeoutMs: 30_000 })
    await b.send('alice', 'ack before restart', { wait: true, timeoutMs: 30_000 })
    const oldAddrs = (await b.id()).addresses
    const home = homeOf(b)
    await b.stop()
    b = await createParleyNode(testOptions(home))
    try {
      const newAddrs = (await b.id()).addresses
      assert.notDeepEqual(newAddrs, oldAddrs)
      // bob dials alice at her last known address; alice learns bob's new one via identify
      await until(async () => (await a.listContacts())[0]!.addresses.some(x => newAddrs.some(n => n.startsWith(x))), 30_000, 'new address learned')
      const r1 = await a.send('bob', 'after restart', { wait: true, timeoutMs: 30_000 })
      assert.ok(r1.status === 'delivered' || r1.status === 'read')
      const r2 = await b.send('alice', 'bob is back', { wait: true, timeoutMs: 30_000 })
      assert.ok(r2.status === 'delivered' || r2.status === 'read')
      assert.deepEqual((await b.messages('alice')).map(m => m.text), ['before restart', 'ack before restart', 'after restart', 'bob is back'])
    } finally {
      await b.stop()
    }
  })

  it('messages to an offline peer stay queued and arrive in order, once, when it returns', async () => {
    const a = await startNode('alice')
    let b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'm0', { wait: true, timeoutMs: 30_000 })
    const home = homeOf(b)
    await b.stop()
    await until(() => !a.internals.net.isConnected(b.peerId), 20_000, 'disconnect')
    const ids: string[] = []
    for (let i = 1; i <= 4; i++) ids.push((await a.send('bob', `m${i}`)).id)
    await new Promise(resolve => setTimeout(resolve, 600)) // a few failed attempts
    for (const id of ids) assert.equal(await statusOf(a, 'bob', id), 'queued')
    const entry = (await a.internals.store.getOutbox(ids[0]!))!
    assert.ok(entry.attempts >= 1)
    b = await createParleyNode(testOptions(home))
    try {
      await until(async () => {
        for (const id of ids) if (await statusOf(a, 'bob', id) !== 'delivered') return false
        return true
      }, 40_000, 'queued messages delivered')
      const got = (await b.messages('alice')).map(m => m.text)
      assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4'])
      assert.equal(await a.internals.store.countOutbox(), 0)
      // a retransmission of an already-delivered envelope is acknowledged DUPLICATE and not shown twice
      const acks = await a.internals.net.sendEnvelopes(b.peerId, [decodeEnvelope(entry.envelope)])
      assert.equal(acks[0]!.status, 'DUPLICATE')
      assert.equal((await b.messages('alice')).length, 5)
    } finally {
      await b.stop()
    }
  })
})

describe('three nodes', () => {
  it('every pair talks', async () => {
    const [a, b, c] = [await startNode('a'), await startNode('b'), await startNode('c')]
    await connectPair(a, b)
    await connectPair(b, c)
    await connectPair(a, c)
    const sends = [
      a.send('b', 'a->b', { wait: true, timeoutMs: 30_000 }), a.send('c', 'a->c', { wait: true, timeoutMs: 30_000 }),
      b.send('a', 'b->a', { wait: true, timeoutMs: 30_000 }), b.send('c', 'b->c', { wait: true, timeoutMs: 30_000 }),
      c.send('a', 'c->a', { wait: true, timeoutMs: 30_000 }), c.send('b', 'c->b', { wait: true, timeoutMs: 30_000 })
    ]
    await Promise.all(sends)
    const inbound = async (n: typeof a, peer: string): Promise<string[]> => (await n.messages(peer)).filter(m => m.direction === 'in').map(m => m.text)
    assert.deepEqual(await inbound(a, 'b'), ['b->a'])
    assert.deepEqual(await inbound(a, 'c'), ['c->a'])
    assert.deepEqual(await inbound(b, 'a'), ['a->b'])
    assert.deepEqual(await inbound(b, 'c'), ['c->b'])
    assert.deepEqual(await inbound(c, 'a'), ['a->c'])
    assert.deepEqual(await inbound(c, 'b'), ['b->c'])
    // every pair started its session simultaneously from both sides: both keep working afterwards
    for (let round = 2; round <= 3; round++) {
      await Promise.all([
        a.send('b', `a->b ${round}`, { wait: true, timeoutMs: 30_000 }), b.send('a', `b->a ${round}`, { wait: true, timeoutMs: 30_000 }),
        c.send('a', `c->a ${round}`, { wait: true, timeoutMs: 30_000 }), a.send('c', `a->c ${round}`, { wait: true, timeoutMs: 30_000 })
      ])
    }
    assert.deepEqual(await inbound(a, 'b'), ['b->a', 'b->a 2', 'b->a 3'])
    assert.deepEqual(await inbound(b, 'a'), ['a->b', 'a->b 2', 'a->b 3'])
    assert.deepEqual(await inbound(c, 'a'), ['a->c', 'a->c 2', 'a->c 3'])
  })
})

// Offline delivery through mailboxes (issue 4), in process: real Parley nodes, a real relay
// (`startRelay`: circuit relay, DHT server, mailbox service with its SQLite file), loopback only.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createParleyNode, type ParleyNode } from '../../src/core/node.js'
import type { NodeEvent } from '../../src/core/api.js'
import { startRelay, type RunningRelay } from '../../src/relay/relay.js'
import { DEFAULT_RELAY_CONFIG, type RelayConfig } from '../../src/relay/config.js'
import { createParleyNetwork } from '../../src/net/index.js'
import { openIdentity } from '../../src/crypto/keyfile.js'
import { decodePublicKey } from '../../src/crypto/keys.js'
import { identityKeyOfPeer } from '../../src/core/util.js'
import { parseInvite } from '../../src/core/invite.js'
import { createEphemeralMailboxClient, sealItem } from '../../src/mailbox/index.js'
import { decodeEnvelope, encodeEnvelope } from '../../src/wire/index.js'
import { randomBytes } from 'node:crypto'
import { cleanup, connectPair, homeOf, startNode, statusOf, tempHome, testOptions, until } from './helpers.js'

const relays: RunningRelay[] = []
after(async () => {
  await cleanup()
  await Promise.allSettled(relays.splice(0).map(async r => { await r.stop() }))
})

async function relay (mailbox: Partial<RelayConfig['mailbox']> = {}): Promise<{ r: RunningRelay, addr: string }> {
  const config: RelayConfig = {
    ...DEFAULT_RELAY_CONFIG,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    stun: false,
    metricsIntervalMs: 0,
    mailbox: { ...DEFAULT_RELAY_CONFIG.mailbox, ...mailbox }
  }
  const r = await startRelay({ home: await tempHome(), config })
  relays.push(r)
  const addr = r.addresses().find(a => a.startsWith('/ip4/127.0.0.1/tcp/') && !a.includes('/ws'))
  assert.ok(addr != null, 'relay has a loopback TCP address')
  return { r, addr: addr.includes('/p2p/') ? addr : `${addr}/p2p/${r.peerId}` }
}

/** Node options with relays and quick mailbox fetching. */
function withRelays (addr: string): { relays: string[], mailbox: { fetchIntervalMs: number } } {
  return { relays: [addr], mailbox: { fetchIntervalMs: 2_000 } }
}

/** Every 'message' event of `node` from `peer`, in emission order. */
function record (node: ParleyNode, peer: string): string[] {
  const seen: string[] = []
  node.subscribe((e: NodeEvent) => { if (e.type === 'message' && e.message.direction === 'in' && e.message.peerId === peer) seen.push(e.message.text) })
  return seen
}

async function restartFresh (home: string, addr: string): Promise<ParleyNode> {
  // a new TCP port: peers cannot reach it at its old address
  return await createParleyNode(testOptions(home, withRelays(addr)))
}

describe('offline delivery through mailboxes', () => {
  it('both offline in turn: everything arrives exactly once, in order, and the receipts come back', async () => {
    const { addr } = await relay()
    let a = await startNode('alice', withRelays(addr))
    let b = await startNode('bob', withRelays(addr))
    await connectPair(a, b)
    // one exchange each way: the sessions carry each side's mailbox route
    await a.send('bob', 'hello', { wait: true, timeoutMs: 30_000 })
    await b.send('alice', 'hi', { wait: true, timeoutMs: 30_000 })
    const aliceId = a.peerId
    const bobId = b.peerId
    const bHome = homeOf(b)
    await b.stop()
    await until(() => !a.internals.net.isConnected(bobId), 20_000, 'bob offline')
    const texts = Array.from({ length: 40 }, (_, i) => `offline ${i + 1}`)
    const ids: string[] = []
    for (const t of texts) ids.push((await a.send('bob', t)).id)
    await until(async () => {
      for (const id of ids) if (await statusOf(a, 'bob', id) !== 'stored') return false
      return true
    }, 60_000, 'all stored in bob\'s mailbox')
    const aHome = homeOf(a)
    await a.stop()
    b = await restartFresh(bHome, addr)
    const shown = record(b, aliceId)
    try {
      await until(async () => (await b.messages(aliceId, { limit: 100 })).length >= texts.length + 2, 60_000, 'bob got the mail')
      await b.internals.mailboxes!.idle()
      const got = (await b.messages(aliceId, { limit: 100 })).filter(m => m.direction === 'in').map(m => m.text)
      assert.deepEqual(got, ['hello', ...texts], 'exactly once, in order')
      assert.deepEqual(shown, texts, 'one message event per text, in order')
      // bob's delivery receipts went to alice's mailbox (alice is offline)
      await until(() => (b.internals.mailboxes!.stats.deposited) > 0, 30_000, 'receipts deposited for alice')
      a = await restartFresh(aHome, addr)
      await until(async () => {
        for (const id of ids) if (await statusOf(a, 'bob', id) !== 'delivered') return false
        return true
      }, 60_000, 'alice saw the receipts')
    } finally {
      await b.stop()
      await a.stop()
    }
  })

  it('a first message to an offline new contact: bundle from the DHT, deposit under the invite\'s introduction tag', async () => {
    const { addr } = await relay()
    const a = await startNode('alice', withRelays(addr))
    let b = await startNode('bob', withRelays(addr))
    const invite = (await b.invite()).invite
    assert.match(invite, /[?&]mbox=/)
    await until(() => b.internals.net.isConnected(addr.split('/p2p/')[1]!), 20_000, 'bob connected to the relay')
    await b.internals.publishRecord()
    const bHome = homeOf(b)
    const bobId = b.peerId
    await b.stop()
    await a.addContact(invite)
    const m = await a.send('bob', 'nice to meet you')
    await until(async () => await statusOf(a, 'bob', m.id) === 'stored', 60_000, 'deposited for the new contact')
    b = await restartFresh(bHome, addr)
    try {
      await until(async () => (await b.messages(a.peerId)).length === 1, 60_000, 'bob got the first message')
      const [got] = await b.messages(a.peerId)
      assert.equal(got!.text, 'nice to meet you')
      const c = (await b.listContacts()).find(x => x.peerId === a.peerId)
      assert.ok(c != null && c.verified === false, 'a message request: an unverified contact')
      await until(async () => await statusOf(a, 'bob', m.id) === 'delivered', 60_000, 'receipt back to alice')
      assert.equal(bobId, b.peerId)
    } finally {
      await b.stop()
    }
  })

  it('a full mailbox: the message stays queued with the reason, and is delivered later', async () => {
    const { addr } = await relay({ quotaItems: 3 })
    const a = await startNode('alice', withRelays(addr))
    let b = await startNode('bob', withRelays(addr))
    await connectPair(a, b)
    await a.send('bob', 'hello', { wait: true, timeoutMs: 30_000 })
    await b.send('alice', 'hi', { wait: true, timeoutMs: 30_000 })
    const bHome = homeOf(b)
    const bobId = b.peerId
    await b.stop()
    await until(() => !a.internals.net.isConnected(bobId), 20_000, 'bob offline')
    const ids: string[] = []
    for (let i = 1; i <= 5; i++) ids.push((await a.send('bob', `m${i}`)).id)
    await until(async () => {
      const ms = await a.messages('bob')
      return ms.filter(m => ids.includes(m.id) && m.status === 'stored').length === 3 &&
        ms.some(m => m.id === ids[4] && m.status === 'queued' && /mailbox full/.test(m.reason ?? ''))
    }, 60_000, 'three stored, the rest queued with "mailbox full"')
    const m4 = (await a.messages('bob')).find(m => m.id === ids[3])!
    assert.equal(m4.status, 'queued')
    assert.match(m4.reason ?? '', /mailbox full/)
    b = await restartFresh(bHome, addr)
    try {
      await until(async () => {
        for (const id of ids) if (await statusOf(a, 'bob', id) !== 'delivered') return false
        return true
      }, 60_000, 'all five delivered')
      const got = (await b.messages(a.peerId)).filter(m => m.direction === 'in').map(m => m.text)
      assert.deepEqual(got, ['hello', 'm1', 'm2', 'm3', 'm4', 'm5'])
    } finally {
      await b.stop()
    }
  })

  it('gap detection: a text that overtakes earlier ones is held (ERROR "gap") until they arrive', async () => {
    // no relays at all: the envelopes stay in alice's outbox, and are then replayed by hand, out of order
    const a = await startNode('alice')
    let b = await startNode('bob')
    await connectPair(a, b)
    await a.send('bob', 'hello', { wait: true, timeoutMs: 30_000 })
    await b.send('alice', 'hi', { wait: true, timeoutMs: 30_000 })
    const bHome = homeOf(b)
    const bobId = b.peerId
    await b.stop()
    const ids: string[] = []
    for (const t of ['early 1', 'early 2', 'late']) ids.push((await a.send('bob', t)).id)
    const envs = await Promise.all(ids.map(async id => decodeEnvelope((await a.internals.store.getOutbox(id))!.envelope)))
    const stored = await a.internals.store.getIdentity()
    const seed = (await openIdentity(stored!.sealed, null)).seed
    await a.stop()
    b = await createParleyNode(testOptions(bHome))
    const shown = record(b, a.peerId)
    // alice's identity on a bare network node (no outbox that could re-send in order by itself)
    const net = await createParleyNetwork({ seed, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, allowLoopbackFlood: true })
    await net.start()
    try {
      const addrs = (await b.id()).addresses
      const [late] = await net.sendEnvelopes(bobId, [envs[2]!], { addrs })
      assert.equal(late!.status, 'ERROR')
      assert.match(late!.reason ?? '', /^gap/)
      const [early2] = await net.sendEnvelopes(bobId, [envs[1]!], { addrs })
      assert.equal(early2!.status, 'ERROR', 'early 2 still misses early 1')
      assert.deepEqual((await b.messages(a.peerId)).filter(m => m.direction === 'in').map(m => m.text), ['hello'], 'nothing shown out of order')
      const acks = await net.sendEnvelopes(bobId, envs, { addrs })
      assert.deepEqual(acks.map(x => x.status), ['OK', 'OK', 'OK'])
      assert.deepEqual((await b.messages(a.peerId)).filter(m => m.direction === 'in').map(m => m.text), ['hello', 'early 1', 'early 2', 'late'])
      assert.deepEqual(shown, ['early 1', 'early 2', 'late'])
      const again = await net.sendEnvelopes(bobId, envs, { addrs })
      assert.deepEqual(again.map(x => x.status), ['DUPLICATE', 'DUPLICATE', 'DUPLICATE'], 'exactly once')
    } finally {
      await net.stop()
      await b.stop()
    }
  })

  it('forged mailbox items (claiming alice, or not opening at all) are dropped: nothing shown, no gap opened', async () => {
    const { addr } = await relay()
    const a = await startNode('alice', withRelays(addr))
    const b = await startNode('bob', withRelays(addr))
    await connectPair(a, b)
    await a.send('bob', 'hello', { wait: true, timeoutMs: 30_000 })
    // mallory knows bob's invite (his introduction tag and relay) and alice's PeerId
    const inv = parseInvite((await b.invite()).invite)
    const bobKey = decodePublicKey(identityKeyOfPeer(b.peerId))
    const forged = encodeEnvelope({ id: new Uint8Array(randomBytes(16)), timestamp: Date.now(), type: 'WHISPER', body: new Uint8Array(randomBytes(120)) })
    const forgedPreKey = encodeEnvelope({ id: new Uint8Array(randomBytes(16)), timestamp: Date.now(), type: 'PREKEY', body: new Uint8Array(randomBytes(300)) })
    const mallory = await createEphemeralMailboxClient()
    try {
      const items = await Promise.all([forged, forgedPreKey].map(async (env) => ({
        tag: inv.mailboxTag!, clientId: new Uint8Array(randomBytes(16)), sealed: await sealItem(bobKey, a.peerId, env)
      })))
      // plus bytes that do not open at all
      items.push({ tag: inv.mailboxTag!, clientId: new Uint8Array(randomBytes(16)), sealed: new Uint8Array(randomBytes(200)) })
      const res = await mallory.client.depositMany(mallory.target(addr), items)
      assert.ok(res.every(r => r.ok), 'a mailbox cannot tell forged items from real ones')
    } finally {
      await mallory.stop()
    }
    const mb = b.internals.mailboxes!
    const before = { ...mb.stats }
    await mb.fetchAll()
    assert.equal(mb.stats.fetched - before.fetched, 3)
    assert.equal(mb.stats.garbage - before.garbage, 1, 'the item that does not open')
    assert.equal(mb.stats.acked - before.acked, 3, 'all three acknowledged (dropped): none can ever be read')
    await mb.fetchAll()
    assert.equal(mb.stats.fetched - before.fetched, 3, 'the mailbox holds nothing more')
    assert.deepEqual((await b.messages(a.peerId)).map(m => m.text), ['hello'])
    // the forged refusals opened no gap for alice: her next text is shown normally, in order
    const conv = await b.internals.store.read(tx => tx.getConversation(a.peerId))
    assert.equal(conv?.skips ?? 0, 0)
    await a.send('bob', 'still me', { wait: true, timeoutMs: 30_000 })
    assert.deepEqual((await b.messages(a.peerId)).map(m => m.text), ['hello', 'still me'])
  })
})

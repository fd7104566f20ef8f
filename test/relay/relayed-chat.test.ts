// Chat over a relayed connection, in process: a real relay (`startRelay`: circuit relay v2, DHT server,
// mailbox) and two real Parley nodes on loopback that listen ONLY on the relay (listen /p2p-circuit)
// and never try the WebRTC upgrade, so every byte between them crosses the relay. Also: the contact's
// relays come from the invite, and from the contact's signed DHT record (format 2) when fetched.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ParleyNode } from '../../src/core/node.js'
import { parseInvite } from '../../src/core/invite.js'
import { startRelay, type RunningRelay } from '../../src/relay/relay.js'
import { DEFAULT_RELAY_CONFIG, type RelayConfig } from '../../src/relay/config.js'
import { cleanup, startNode, tempHome, until } from '../core/helpers.js'

const relays: RunningRelay[] = []
after(async () => {
  await cleanup()
  await Promise.allSettled(relays.splice(0).map(async r => { await r.stop() }))
})

async function relay (): Promise<{ r: RunningRelay, addr: string }> {
  const config: RelayConfig = { ...structuredClone(DEFAULT_RELAY_CONFIG) as RelayConfig, listen: ['/ip4/127.0.0.1/tcp/0'], stun: { host: '127.0.0.1', port: 0 }, metricsIntervalMs: 0 }
  const r = await startRelay({ home: await tempHome(), config })
  relays.push(r)
  const addr = r.addresses().find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))
  assert.ok(addr != null, 'relay has a loopback TCP address')
  return { r, addr }
}

/** A node reachable only through `addr`'s relay, with no WebRTC upgrade. */
async function relayOnly (name: string, addr: string): Promise<ParleyNode> {
  return await startNode(name, { listen: ['/p2p-circuit'], relays: [addr], network: { webrtcUpgrade: false, iceServers: [] } })
}

test('two nodes that can only reach each other through a relay chat over it', async () => {
  const { r, addr } = await relay()
  const alice = await relayOnly('alice', addr)
  const bob = await relayOnly('bob', addr)
  for (const n of [alice, bob]) await until(() => n.internals.net.reservations().includes(r.peerId), 30_000, 'reservation')
  await until(() => r.metrics().reservations === 2, 10_000, 'relay counts both reservations')
  assert.ok((await bob.id()).addresses.every(a => a.includes('/p2p-circuit/')), 'bob has no direct address')

  const inv = (await bob.invite()).invite
  assert.deepEqual(parseInvite(inv).relays, [addr])
  const c = await alice.addContact(inv)
  assert.deepEqual(c.relays, [addr], 'the contact gets the invite\'s relays')

  const sent = await alice.send('bob', 'hello via relay', { wait: true, timeoutMs: 60_000 })
  assert.equal(sent.status, 'delivered')
  const atBob = await bob.messages(alice.peerId)
  assert.deepEqual(atBob.map(m => m.text), ['hello via relay'])
  const back = await bob.send(alice.peerId, 'and back', { wait: true, timeoutMs: 60_000 })
  assert.equal(back.status, 'delivered')
  const conns = alice.internals.net.connections().filter(x => x.peerId === bob.peerId)
  assert.ok(conns.length > 0 && conns.every(x => x.relayed), `only relayed connections: ${JSON.stringify(conns)}`)
  assert.ok((await alice.peers()).some(p => p.peerId === bob.peerId && p.relayed))
})

test('a contact\'s relays are taken from its signed DHT record (format 2 or 3) when the record is fetched', async () => {
  const { r, addr } = await relay()
  const carol = await relayOnly('carol', addr)
  const dave = await startNode('dave', { bootstrap: [addr] })
  await until(() => carol.internals.net.reservations().includes(r.peerId), 30_000, 'reservation')
  await until(() => dave.internals.net.isConnected(r.peerId), 30_000, 'dave connected to the relay')
  // an invite without relay= (an older client's): the contact starts with none
  const inv = parseInvite((await carol.invite()).invite)
  const url = new URL((await carol.invite()).invite.replace('parley://', 'http://x/'))
  url.searchParams.delete('relay')
  const oldStyle = `parley://invite?${url.searchParams.toString()}`
  assert.deepEqual(parseInvite(oldStyle).relays, [])
  const c = await dave.addContact(oldStyle)
  assert.deepEqual(c.relays, [])
  assert.deepEqual(inv.relays, [addr])

  await until(async () => { try { await carol.internals.publishRecord(); return true } catch { return false } }, 30_000, 'carol publishes her record')
  const rec = await dave.internals.net.findRecord(carol.peerId)
  assert.ok(rec != null, 'dave finds carol\'s record on the relay\'s DHT')
  assert.deepEqual(rec.relays, [addr])
  assert.deepEqual(rec.introTag, inv.mailboxTag, 'a node with relays publishes format 3: its introduction tag')
  await until(async () => (await dave.listContacts()).find(x => x.peerId === carol.peerId)?.relays.length === 1, 10_000, 'contact relays from the record')
  assert.deepEqual((await dave.listContacts()).find(x => x.peerId === carol.peerId)?.relays, [addr])
})

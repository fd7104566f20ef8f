// The introduction tag in the DHT record (issue 4; PROTOCOL.md Part 3 §4 format 3, Part 4 §7.1). A real
// relay (`startRelay`: circuit relay v2, DHT server, mailbox) and real Parley nodes on loopback. Bob has
// the relay and publishes his record; alice knows bob from an invite WITHOUT relay= and mbox= (an older
// client's), so all she can learn of his mailboxes is his signed DHT record. Bob goes offline; alice's
// first message must still reach him: session from the record's bundle, deposit under the record's
// introduction tag at the record's relays, and bob reads it when he is back.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { parseInvite } from '../../src/core/invite.js'
import { decodeRoute } from '../../src/core/mailboxes.js'
import { startRelay, type RunningRelay } from '../../src/relay/relay.js'
import { DEFAULT_RELAY_CONFIG, type RelayConfig } from '../../src/relay/config.js'
import { cleanup, homeOf, startNode, tempHome, until } from '../core/helpers.js'

const relays: RunningRelay[] = []
after(async () => {
  await cleanup()
  await Promise.allSettled(relays.splice(0).map(async r => { await r.stop() }))
})

/** An invite as a client from before issue 4 wrote it: no relay=, no mbox=. */
function withoutMailboxes (invite: string): string {
  const url = new URL(invite.replace('parley://', 'http://x/'))
  url.searchParams.delete('relay')
  url.searchParams.delete('mbox')
  return `parley://invite?${url.searchParams.toString()}`
}

test('a first message to an offline peer known only from its DHT record is deposited under the record\'s introduction tag', { timeout: 240_000 }, async () => {
  const config: RelayConfig = { ...structuredClone(DEFAULT_RELAY_CONFIG) as RelayConfig, listen: ['/ip4/127.0.0.1/tcp/0'], stun: { host: '127.0.0.1', port: 0 }, metricsIntervalMs: 0 }
  const r = await startRelay({ home: await tempHome(), config })
  relays.push(r)
  const addr = r.addresses().find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))
  assert.ok(addr != null)
  const net = { webrtcUpgrade: false, iceServers: [] }
  let bob = await startNode('bob', { relays: [addr], network: net })
  const alice = await startNode('alice', { bootstrap: [addr] })
  await until(() => bob.internals.net.reservations().includes(r.peerId), 30_000, 'bob reserved on the relay')
  await until(() => alice.internals.net.isConnected(r.peerId), 30_000, 'alice connected to the relay')

  const invite = (await bob.invite()).invite
  const introTag = parseInvite(invite).mailboxTag
  assert.ok(introTag != null && introTag.length === 32)
  await until(async () => { try { await bob.internals.publishRecord(); return true } catch { return false } }, 30_000, 'bob publishes his record')
  const rec = await alice.internals.net.findRecord(bob.peerId)
  assert.ok(rec != null, 'alice finds bob\'s record on the relay\'s DHT')
  assert.deepEqual(rec.relays, [addr])
  assert.deepEqual(rec.introTag, introTag, 'the record (format 3) carries bob\'s introduction tag')

  const old = withoutMailboxes(invite)
  assert.equal(parseInvite(old).mailboxTag, undefined)
  assert.deepEqual(parseInvite(old).relays, [])
  await alice.addContact(old)
  assert.equal(await alice.internals.mailboxes!.routeOf(bob.peerId), null, 'no route from the invite')

  // bob goes offline; alice writes first (no session yet)
  const bobHome = homeOf(bob)
  await bob.stop()
  const depositsBefore = r.metrics().mailbox?.deposits ?? 0
  const sent = await alice.send(bob.peerId, 'hello while you were away')
  await until(async () => (await alice.messages(bob.peerId)).find(m => m.id === sent.id)?.status === 'stored', 90_000, 'alice\'s first message stored in bob\'s mailbox')
  assert.ok((r.metrics().mailbox?.deposits ?? 0) > depositsBefore, 'deposited at the relay')
  const route = await alice.internals.mailboxes!.routeOf(bob.peerId)
  assert.ok(route != null)
  assert.deepEqual(route.tag, introTag, 'under the record\'s introduction tag')
  assert.deepEqual(route.relays, [addr], 'at the record\'s relays')
  const conv = await alice.internals.store.read(tx => tx.getConversation(bob.peerId))
  assert.deepEqual(decodeRoute(conv!.route)?.tag, introTag)

  // bob comes back: his mailbox fetch brings the message; alice gets the delivery receipt
  bob = await startNode('bob', { home: bobHome, relays: [addr], network: net })
  await until(async () => (await bob.messages(alice.peerId)).some(m => m.text === 'hello while you were away'), 60_000, 'bob reads the message from his mailbox')
  await until(async () => (await alice.messages(bob.peerId)).find(m => m.id === sent.id)?.status === 'delivered', 60_000, 'alice sees it delivered')
})

test('a record\'s introduction tag never replaces a route already known; a record without one (format 2) sets none', async () => {
  const alice = await startNode('alice2', { listen: ['/ip4/127.0.0.1/tcp/0'] })
  const bob = await startNode('bob2', { listen: ['/ip4/127.0.0.1/tcp/0'] })
  const carol = await startNode('carol2', { listen: ['/ip4/127.0.0.1/tcp/0'] })
  const mb = alice.internals.mailboxes!
  const relayA = `/ip4/127.0.0.1/tcp/4001/p2p/${carol.peerId}`
  const tag = new Uint8Array(32).fill(7)
  const other = new Uint8Array(32).fill(9)
  // not a contact: nothing is stored
  assert.equal(await mb.noteRecordRoute(bob.peerId, tag, [relayA]), false)
  await alice.addContact(withoutMailboxes((await bob.invite()).invite))
  // format 2 (no tag), a malformed tag, or no usable relay: nothing
  assert.equal(await mb.noteRecordRoute(bob.peerId, null, [relayA]), false)
  assert.equal(await mb.noteRecordRoute(bob.peerId, new Uint8Array(31), [relayA]), false)
  assert.equal(await mb.noteRecordRoute(bob.peerId, tag, ['/ip4/127.0.0.1/tcp/1']), false)
  assert.equal(await mb.routeOf(bob.peerId), null)
  // the first usable one is taken; a later record does not replace it (a session route would)
  assert.equal(await mb.noteRecordRoute(bob.peerId, tag, [relayA]), true)
  assert.deepEqual((await mb.routeOf(bob.peerId))?.tag, tag)
  assert.equal(await mb.noteRecordRoute(bob.peerId, other, [relayA]), false)
  assert.deepEqual((await mb.routeOf(bob.peerId))?.tag, tag)
})

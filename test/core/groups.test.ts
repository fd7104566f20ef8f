// Group chats on real in-process nodes (issue 5): real libp2p + gossipsub on 127.0.0.1, real SQLite
// homes, mDNS off. The creator is the only node that knows everyone (members are not each other's
// contacts): sessions between members come from the addresses in the invitation.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cleanup, connectPair, homeOf, startNode, until } from './helpers.js'
import type { ParleyNode } from '../../src/core/node.js'
import type { GroupInfo } from '../../src/core/api.js'
import { openIdentity } from '../../src/crypto/keyfile.js'
import type { IdentityKeyPair } from '../../src/crypto/identity.js'
import { signWithIdentity } from '../../src/crypto/keys.js'
import { concatBytes, fromHex } from '../../src/crypto/bytes.js'
import * as mpb from '../../src/groups/gen/membership.js'
import { ed25519PublicKeyOfPeerId, GROUP_SCORE_THRESHOLDS } from '../../src/net/index.js'

const FAST = { groups: { syncMs: 1000, tickMs: 200, retryBaseMs: 200, retryMaxMs: 2000 } }

async function identityOf (node: ParleyNode): Promise<IdentityKeyPair> {
  const stored = await node.internals.store.getIdentity()
  return await openIdentity(stored!.sealed, null)
}

async function groupAt (node: ParleyNode, gid: string): Promise<GroupInfo | undefined> {
  return (await node.listGroups()).find(g => g.groupId === gid)
}

async function ids (node: ParleyNode, gid: string): Promise<string[]> {
  return (await node.groupMessages(gid)).map(m => m.id)
}

/** A membership entry built by hand (what a malicious member could send), signed by `signer`. */
async function forgeEntry (signer: IdentityKeyPair, author: Uint8Array, state: { groupId: string, head: string, height: number }, op: mpb.MembershipEntryBody.Op, target?: Uint8Array): Promise<Uint8Array> {
  const body = mpb.MembershipEntryBody.encode({
    version: 1,
    groupId: fromHex(state.groupId) as Uint8Array<ArrayBuffer>,
    prev: fromHex(state.head) as Uint8Array<ArrayBuffer>,
    height: state.height + 1,
    author: author as Uint8Array<ArrayBuffer>,
    timestamp: BigInt(Date.now()),
    op,
    members: target != null ? [target as Uint8Array<ArrayBuffer>] : [],
    name: '',
    nonce: new Uint8Array(0)
  })
  const sig = await signWithIdentity(signer, concatBytes(new TextEncoder().encode('ParleyGroupEntry\0'), body))
  return mpb.SignedMembershipEntry.encode({ body, signature: sig as Uint8Array<ArrayBuffer> })
}

/** The node's gossipsub itself, below Parley's transport (what a modified client could publish with). */
function rawPubsub (node: ParleyNode): { publish: (topic: string, data: Uint8Array) => Promise<unknown> } {
  return (node.internals.net.groups as unknown as { ps: { publish: (topic: string, data: Uint8Array) => Promise<unknown> } }).ps
}

describe('groups on real nodes', { timeout: 600_000 }, () => {
  const names = ['ana', 'bo', 'cy', 'di', 'ed']
  let nodes: ParleyNode[] = []

  before(async () => {
    nodes = []
    for (const n of names) nodes.push(await startNode(n, FAST))
    // only the creator (ana) knows everybody
    for (const n of nodes.slice(1)) await connectPair(nodes[0]!, n)
  })
  after(async () => { await cleanup() })

  it('a 5-member group: every member sends, everyone gets everything in the same order', async () => {
    const [a] = nodes as [ParleyNode]
    const g = await a.createGroup('five', { members: nodes.slice(1).map(n => n.peerId) })
    assert.equal(g.members.length, 5)
    assert.equal(g.role, 'creator')
    for (const n of nodes) await until(async () => (await groupAt(n, g.groupId))?.members.length === 5, 60_000, `group at ${n.peerId}`)
    for (const [i, n] of nodes.entries()) await n.sendGroup(g.groupId, `hello from ${names[i]!}`)
    for (const n of nodes) await until(async () => (await n.groupMessages(g.groupId)).length === 5, 90_000, 'all 5 messages everywhere')
    const order = await ids(a, g.groupId)
    for (const n of nodes) assert.deepEqual(await ids(n, g.groupId), order, 'same display order at every member')
    const texts = (await a.groupMessages(g.groupId)).map(m => m.text).sort()
    assert.deepEqual(texts, names.map(x => `hello from ${x}`).sort())
    const msgs = await nodes[1]!.groupMessages(g.groupId)
    assert.deepEqual(msgs.map(m => m.seq), [1, 2, 3, 4, 5])
    const fromAna = msgs.find(m => m.text === 'hello from ana')!
    assert.equal(fromAna.from, a.peerId)
    assert.equal(fromAna.status, 'delivered')
    const mine = (await a.groupMessages(g.groupId)).find(m => m.text === 'hello from ana')!
    assert.equal(mine.status, 'sent')
    // a non-admin cannot add or remove
    await assert.rejects(nodes[2]!.removeGroupMember(g.groupId, nodes[1]!.peerId), { code: 'ERR_GROUP_PERMISSION' })
  })

  it('a backlog: a member publishing 150 messages at once is paced under the rate limit and never charged', async () => {
    const [a, , , d, e] = nodes as [ParleyNode, ParleyNode, ParleyNode, ParleyNode, ParleyNode]
    const g = await a.createGroup('busy', { members: [d.peerId, e.peerId] })
    for (const n of [a, d, e]) await until(async () => (await groupAt(n, g.groupId))?.members.length === 3, 60_000, 'group everywhere')
    const limitedBefore = [a, e].map(n => n.internals.net.groups.stats().rateLimited)
    // every publication d's transport is asked for: a message still waiting for its paced turn must not be
    // handed over again by the periodic re-publication of queued messages (a copy would take a turn too)
    const transport = d.internals.net.groups as unknown as { publish: (...args: unknown[]) => Promise<unknown> }
    const publishOnce = transport.publish.bind(transport)
    let publications = 0
    transport.publish = async (...args: unknown[]) => { publications++; return await publishOnce(...args) }
    const t0 = Date.now()
    try {
      await Promise.all(Array.from({ length: 150 }, async (_, i) => await d.sendGroup(g.groupId, `backlog ${i}`)))
      for (const n of [a, e]) await until(async () => (await n.groupMessages(g.groupId)).length === 150, 120_000, 'all 150 at a and e')
    } finally {
      transport.publish = publishOnce
    }
    console.log(`# 150 messages published and received in ${Date.now() - t0} ms, ${publications} publications`)
    // (a few more than 150 only if a publication found nobody subscribed and was retried)
    assert.ok(publications >= 150 && publications <= 155, `publications: ${publications}`)
    assert.deepEqual(await ids(a, g.groupId), await ids(e, g.groupId), 'same order at a and e')
    assert.deepEqual((await e.groupMessages(g.groupId)).map(m => m.text).filter(t => t.startsWith('backlog')).length, 150)
    for (const [i, n] of [a, e].entries()) {
      assert.equal(n.internals.net.groups.stats().rateLimited, limitedBefore[i], 'no message of the backlog hit the rate limit')
      assert.equal(n.internals.net.groups.penalty(d.peerId), 0, 'the busy member owes nothing')
      assert.ok(n.internals.net.groups.score(d.peerId) >= 0, 'the busy member scores >= 0')
    }
  })

  it('malicious members: forgeries and a flood are refused; the flooder and a garbage publisher are graylisted and pruned; the others go on', async () => {
    const [a, b, c] = nodes as [ParleyNode, ParleyNode, ParleyNode]
    // mo publishes garbage; a node of its own (stopped at the end) so that its graylisting stays here
    const mo = await startNode('mo', FAST)
    await connectPair(a, mo)
    const g = await a.createGroup('guarded', { members: [b.peerId, c.peerId, mo.peerId] })
    const all = [a, b, c, mo]
    for (const n of all) await until(async () => (await groupAt(n, g.groupId))?.members.length === 4, 60_000)
    await b.sendGroup(g.groupId, 'before')
    for (const n of all) await until(async () => (await n.groupMessages(g.groupId)).length === 1, 60_000)
    const topic = c.internals.groups!.topicOf(g.groupId)
    assert.ok(topic != null)
    // both offenders talk to both honest members directly (so each honest member judges them itself)
    for (const bad of [c, mo]) await until(() => [a.peerId, b.peerId].every(p => bad.internals.net.groups.subscribers(topic).includes(p)), 60_000, 'offender connected to a and b')
    const rejectedBefore = a.internals.net.groups.stats().rejected + b.internals.net.groups.stats().rejected
    // gossipsub scoring (issue 5): at an honest member `n`, `bad` went below the graylist threshold (its
    // RPCs are ignored while it is: a flooder then earns nothing more and floats back up from just below
    // the threshold within seconds, so the crossing is recorded when seen) and is out of the group
    // topic's mesh (the heartbeat prunes a negative score; P5 keeps it negative for minutes)
    const graylisted = new Set<string>()
    const judged = (n: ParleyNode, bad: ParleyNode): boolean => {
      if (n.internals.net.groups.score(bad.peerId) < GROUP_SCORE_THRESHOLDS.graylistThreshold) graylisted.add(`${n.peerId} ${bad.peerId}`)
      return graylisted.has(`${n.peerId} ${bad.peerId}`) && !n.internals.net.groups.meshPeers(topic).includes(bad.peerId)
    }
    // 1. forged membership changes sent over c's real pairwise sessions
    const ci = await identityOf(c)
    const log = await c.internals.store.read(tx => tx.groups.listLog(g.groupId))
    const st = { groupId: g.groupId, head: '', height: log.length - 1 }
    const { decodeEntry } = await import('../../src/groups/index.js')
    st.head = (await decodeEntry(log[log.length - 1]!)).id
    const promote = await forgeEntry(ci, ci.edPublicKey, st, mpb.MembershipEntryBody.Op.PROMOTE, ci.edPublicKey)
    const removeB = await forgeEntry(ci, ci.edPublicKey, st, mpb.MembershipEntryBody.Op.REMOVE, ed25519PublicKeyOfPeerId(b.peerId))
    const asAna = await forgeEntry(ci, ed25519PublicKeyOfPeerId(a.peerId), st, mpb.MembershipEntryBody.Op.REMOVE, ed25519PublicKeyOfPeerId(b.peerId))
    for (const entry of [promote, removeB, asAna]) {
      for (const p of [a.peerId, b.peerId]) await c.internals.groups!.sendRawControl(p, g.groupId, { entry: { entry, addrs: [] } })
    }
    // 2. c floods: 150 valid messages through its node (on a loaded machine these may trickle out
    // slower than the rate limit), then bursts of its own published messages straight on the topic,
    // signed and sequenced afresh by its gossipsub (the rate limit comes before any validation), until
    // both honest members have judged it
    const flood = Array.from({ length: 150 }, async (_, i) => await c.sendGroup(g.groupId, `flood ${i}`))
    await Promise.all(flood)
    let t0 = Date.now()
    const wires = (await c.internals.store.read(tx => tx.groups.listGroupMessages(g.groupId))).filter(m => m.sender === c.internals.groups!.me).map(m => m.wire)
    assert.ok(wires.length >= 150)
    let bursts = 0
    await until(async () => {
      if (judged(a, c) && judged(b, c)) return true
      if (bursts < 40) {
        bursts++
        // straight on c's gossipsub: a modified client that skips our own publication pacing
        await Promise.all(wires.slice(0, 100).map(async w => await rawPubsub(c).publish(topic, w)))
      }
      return false
    }, 60_000, 'the flooder graylisted and pruned at a and b')
    const tFlood = Date.now() - t0
    assert.ok(a.internals.net.groups.stats().rateLimited > 0 && b.internals.net.groups.stats().rateLimited > 0, 'the flood hit the rate limit at a and b')
    // 3. mo publishes garbage on the topic, signed with its libp2p key (a member's), until judged
    let garbage = 0
    t0 = Date.now()
    await until(async () => {
      if (judged(a, mo) && judged(b, mo)) return true
      if (garbage < 40) { garbage++; await mo.internals.net.groups.publish(topic, crypto.getRandomValues(new Uint8Array(200))) }
      return false
    }, 60_000, 'the garbage publisher graylisted and pruned at a and b')
    const tGarbage = Date.now() - t0
    // the PRUNEs reached the offenders: neither keeps an honest member in its mesh
    for (const bad of [c, mo]) await until(() => !bad.internals.net.groups.meshPeers(topic).some(p => p === a.peerId || p === b.peerId), 60_000, 'offender told it was pruned')
    const show = (bad: ParleyNode): string => [a, b].map(n => Math.round(n.internals.net.groups.score(bad.peerId))).join(' / ')
    console.log(`# flooder judged ${tFlood} ms after its flood, ${bursts} extra bursts of 100 (score at a / b ${show(c)}); garbage publisher after ${garbage} messages, ${tGarbage} ms (score ${show(mo)})`)
    // the honest members go on, and score each other well
    await a.sendGroup(g.groupId, 'still here')
    await b.sendGroup(g.groupId, 'me too')
    await until(async () => (await b.groupMessages(g.groupId)).some(m => m.text === 'still here'), 60_000, 'honest message at b')
    await until(async () => (await a.groupMessages(g.groupId)).some(m => m.text === 'me too'), 60_000, 'honest message at a')
    // and the mesh is theirs: a and b graft each other (the heartbeat fills the mesh from peers scored >= 0)
    await until(() => a.internals.net.groups.meshPeers(topic).includes(b.peerId) && b.internals.net.groups.meshPeers(topic).includes(a.peerId), 60_000, 'a and b in each other\'s mesh')
    // the c's outbox has drained (the forged entries reached a and b and were refused)
    await until(async () => (await c.internals.store.read(tx => tx.groups.groupOutboxFor(a.peerId, 10))).length === 0, 60_000, 'forged entries delivered')
    for (const n of [a, b]) {
      const info = (await groupAt(n, g.groupId))!
      assert.equal(info.members.length, 4, 'nobody was removed')
      assert.ok(info.members.some(m => m.peerId === b.peerId))
      assert.equal(info.members.find(m => m.peerId === c.peerId)!.role, 'member', 'c did not become admin')
      assert.equal(info.epoch, 0)
      assert.equal((await n.internals.store.read(tx => tx.groups.listLog(g.groupId))).length, 1, 'log unchanged')
      assert.ok(!(await n.groupMessages(g.groupId)).some(m => m.text.length === 0), 'no garbage shown')
    }
    const rejectedAfter = a.internals.net.groups.stats().rejected + b.internals.net.groups.stats().rejected
    assert.ok(rejectedAfter - rejectedBefore >= 5, 'garbage rejected by the validator')
    // both offenders are charged (P5, half-life 60 s) and stay out of the mesh (a negative score is never
    // grafted); the honest members owe nothing and score each other >= 0
    for (const [n, other] of [[a, b], [b, a]] as const) {
      for (const bad of [c, mo]) {
        assert.ok(n.internals.net.groups.penalty(bad.peerId) > 0, 'offender penalised')
        assert.ok(n.internals.net.groups.score(bad.peerId) < 0, 'offender still scored negative')
        assert.ok(!n.internals.net.groups.meshPeers(topic).includes(bad.peerId), 'offender still out of the mesh')
      }
      assert.equal(n.internals.net.groups.penalty(other.peerId), 0, 'no penalty for an honest member')
      assert.ok(n.internals.net.groups.score(other.peerId) >= 0, `honest member scored ${n.internals.net.groups.score(other.peerId)}`)
    }
    await mo.stop()
  })

  it('removal: the removed member keeps its history and can read nothing new', async () => {
    const [a, b, c, d, e] = nodes as [ParleyNode, ParleyNode, ParleyNode, ParleyNode, ParleyNode]
    const g = await a.createGroup('shrinking', { members: [b.peerId, c.peerId, d.peerId, e.peerId] })
    for (const n of nodes) await until(async () => (await groupAt(n, g.groupId))?.members.length === 5, 60_000)
    for (const n of nodes) await n.sendGroup(g.groupId, `old ${n.peerId.slice(-4)}`)
    for (const n of nodes) await until(async () => (await n.groupMessages(g.groupId)).length === 5, 90_000)
    const eOldTopic = e.internals.groups!.topicOf(g.groupId)
    const after = await a.removeGroupMember(g.groupId, e.peerId)
    assert.equal(after.members.length, 4)
    assert.equal(after.epoch, 1)
    await until(async () => (await groupAt(e, g.groupId))?.active === false, 60_000, 'e sees its removal')
    for (const n of [a, b, c, d]) await until(async () => (await groupAt(n, g.groupId))?.epoch === 1 && n.internals.groups!.topicOf(g.groupId) != null, 60_000, 'new epoch everywhere')
    const newTopic = a.internals.groups!.topicOf(g.groupId)
    assert.notEqual(newTopic, eOldTopic, 'the topic changed with the epoch')
    for (const n of [a, b, c, d]) await n.sendGroup(g.groupId, `new ${n.peerId.slice(-4)}`)
    for (const n of [a, b, c, d]) await until(async () => (await n.groupMessages(g.groupId)).length === 9, 90_000, 'new messages at the remaining members')
    // e: still running, history intact, nothing new
    const eMsgs = await e.groupMessages(g.groupId)
    assert.equal(eMsgs.length, 5)
    assert.ok(eMsgs.every(m => m.text.startsWith('old ')))
    await assert.rejects(e.sendGroup(g.groupId, 'am I still here?'), { code: 'ERR_GROUP_INACTIVE' })
    // captured ciphertext of the new epoch: e cannot decrypt it with what it holds
    const rows = await a.internals.store.read(tx => tx.groups.listGroupMessages(g.groupId))
    const fresh = rows.filter(r => new TextDecoder().decode(r.body).startsWith('new '))
    assert.equal(fresh.length, 4)
    for (const r of fresh) assert.equal(await e.internals.groups!.canDecrypt(g.groupId, r.wire), false)
    assert.equal((await e.internals.store.read(tx => tx.groups.listSenderKeys(g.groupId))).length, 0, 'e forgot every chain')
  })

  it('add: a newcomer gets no earlier history and talks with everyone; leave: the leaver gets nothing new', async () => {
    const [a, b, c, d] = nodes as [ParleyNode, ParleyNode, ParleyNode, ParleyNode]
    const g = await a.createGroup('growing', { members: [b.peerId, c.peerId] })
    for (const n of [a, b, c]) await until(async () => (await groupAt(n, g.groupId))?.members.length === 3, 60_000)
    for (const n of [a, b, c]) await n.sendGroup(g.groupId, `early ${n.peerId.slice(-4)}`)
    for (const n of [a, b, c]) await until(async () => (await n.groupMessages(g.groupId)).length === 3, 60_000)
    const added = await a.addGroupMember(g.groupId, d.peerId)
    assert.equal(added.members.length, 4)
    assert.equal(added.epoch, 0, 'an ADD does not start an epoch')
    for (const n of [a, b, c, d]) await until(async () => (await groupAt(n, g.groupId))?.members.length === 4, 60_000, 'everyone sees the newcomer')
    await d.sendGroup(g.groupId, 'hi, new here')
    for (const n of [b, c]) await n.sendGroup(g.groupId, `welcome ${n.peerId.slice(-4)}`)
    for (const n of [a, b, c]) await until(async () => (await n.groupMessages(g.groupId)).length === 6, 60_000, 'everyone has 6')
    await until(async () => (await d.groupMessages(g.groupId)).length === 3, 60_000, 'newcomer has the 3 messages since it joined')
    assert.ok((await d.groupMessages(g.groupId)).every(m => !m.text.startsWith('early ')), 'no history from before joining')
    // the newcomer's position and the others agree on the order of what they share
    const shared = new Set(await ids(d, g.groupId))
    assert.deepEqual((await ids(a, g.groupId)).filter(x => shared.has(x)), await ids(d, g.groupId))
    // b leaves: the others go on in a new epoch (secret from the rotator), b gets nothing new
    const left = await b.leaveGroup(g.groupId)
    assert.equal(left.active, false)
    assert.equal(left.role, null)
    for (const n of [a, c, d]) await until(async () => (await groupAt(n, g.groupId))?.members.length === 3 && n.internals.groups!.topicOf(g.groupId) != null && (await groupAt(n, g.groupId))?.epoch === 1, 60_000, 'new epoch after leave')
    for (const n of [a, c, d]) await n.sendGroup(g.groupId, `after leave ${n.peerId.slice(-4)}`)
    for (const n of [a, c]) await until(async () => (await n.groupMessages(g.groupId)).length === 9, 60_000, 'messages after the leave')
    await until(async () => (await d.groupMessages(g.groupId)).length === 6, 60_000)
    assert.equal((await b.groupMessages(g.groupId)).length, 6, 'b keeps its history and gets nothing new')
    await assert.rejects(b.sendGroup(g.groupId, 'x'), { code: 'ERR_GROUP_INACTIVE' })
    // re-added, b joins the current epoch: new messages again, still nothing from while it was away
    await a.addGroupMember(g.groupId, b.peerId)
    await until(async () => (await groupAt(b, g.groupId))?.active === true, 60_000, 'b re-added')
    for (const n of [a, c, d]) await until(async () => (await groupAt(n, g.groupId))?.members.length === 4, 60_000)
    await b.sendGroup(g.groupId, 'b is back')
    await c.sendGroup(g.groupId, 'welcome back')
    for (const n of [a, c, d]) await until(async () => (await n.groupMessages(g.groupId)).some(m => m.text === 'b is back'), 60_000)
    await until(async () => (await b.groupMessages(g.groupId)).some(m => m.text === 'welcome back'), 60_000, 'b reads new messages')
    assert.ok(!(await b.groupMessages(g.groupId)).some(m => m.text.startsWith('after leave')), 'nothing from while b was out')
  })

  it('a member offline during 50 messages catches up completely and in order', async () => {
    const [a, b, c, d] = nodes as [ParleyNode, ParleyNode, ParleyNode, ParleyNode]
    const g = await a.createGroup('catch-up', { members: [b.peerId, c.peerId, d.peerId] })
    for (const n of [a, b, c, d]) await until(async () => (await groupAt(n, g.groupId))?.members.length === 4, 60_000)
    await d.sendGroup(g.groupId, 'd before going away')
    for (const n of [a, b, c, d]) await until(async () => (await n.groupMessages(g.groupId)).length === 1, 60_000)
    const home = homeOf(d)
    await d.stop()
    const senders = [a, b, c]
    for (let i = 0; i < 50; i++) await senders[i % 3]!.sendGroup(g.groupId, `while away ${i}`)
    for (const n of senders) await until(async () => (await n.groupMessages(g.groupId)).length === 51, 90_000, 'the 50 at the online members')
    const d2 = await startNode('di', { ...FAST, home })
    nodes[3] = d2
    await until(async () => (await d2.groupMessages(g.groupId)).length === 51, 120_000, 'd caught up')
    assert.deepEqual(await ids(d2, g.groupId), await ids(a, g.groupId), 'same order as the others')
    const texts = (await d2.groupMessages(g.groupId)).filter(m => m.text.startsWith('while away')).map(m => m.text)
    assert.equal(new Set(texts).size, 50)
    // per sender, in sending order
    for (const s of senders) {
      const mine = (await d2.groupMessages(g.groupId)).filter(m => m.from === s.peerId).map(m => Number(m.text.split(' ').pop()))
      assert.deepEqual(mine, [...mine].sort((x, y) => x - y))
    }
    // and d can talk again
    await d2.sendGroup(g.groupId, 'back')
    await until(async () => (await a.groupMessages(g.groupId)).some(m => m.text === 'back'), 60_000)
  })
})

/**
 * Membership and sender keys together (no network): a removed member cannot read anything sent after
 * its removal, a newcomer cannot read anything sent before it joined, and the wire topic moves on.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createGroup, deriveTopic, newGroupSecret, signChange, type GroupState } from '../../src/groups/membership.js'
import { distributionTargets, membershipDelta } from '../../src/groups/group.js'
import {
  UnknownSenderChainError, createSenderKey, decodeSenderKeyDistribution, encodeSenderKeyDistribution, processSenderKeyDistribution,
  rotateSenderKey, senderKeyDecrypt, senderKeyDistribution, senderKeyEncrypt, type SenderKeyRecord, type SenderKeyState
} from '../../src/crypto/sender-keys.js'
import { DuplicateMessageError } from '../../src/crypto/errors.js'
import { generateIdentity, type IdentityKeyPair } from '../../src/crypto/identity.js'
import { fromHex, toHex } from '../../src/crypto/bytes.js'

const te = (s: string): Uint8Array => new TextEncoder().encode(s)
const td = (b: Uint8Array): string => new TextDecoder().decode(b)

interface Member {
  identity: IdentityKeyPair
  id: string
  sending?: SenderKeyState
  /** sender id → record */
  records: Map<string, SenderKeyRecord>
  /** what this member has read */
  read: string[]
}

describe('group keys across membership changes', () => {
  it('removal rotates every remaining sender key; the removed member reads nothing new; newcomers read nothing old', async () => {
    const people = await Promise.all(['carol', 'alice', 'bob', 'mallory', 'nina'].map(async () => await generateIdentity()))
    const m = new Map<string, Member>()
    for (const identity of people) m.set(toHex(identity.edPublicKey), { identity, id: toHex(identity.edPublicKey), records: new Map(), read: [] })
    const [carol, alice, bob, mallory, nina] = [...m.values()] as [Member, Member, Member, Member, Member]
    let { state } = await createGroup(carol.identity, { name: 'team', members: [alice.id, bob.id, mallory.id] })
    let secret = newGroupSecret()
    const topic0 = await deriveTopic(secret, state.epoch)
    const gid = fromHex(state.groupId)

    /** Each member in `senders` sends its distribution to the given targets (over the pairwise sessions, simulated). */
    const distribute = (from: Member, targets: readonly string[]): void => {
      const wire = encodeSenderKeyDistribution(senderKeyDistribution(from.sending!))
      for (const t of targets) {
        const to = m.get(t)!
        to.records.set(from.id, processSenderKeyDistribution(to.records.get(from.id), decodeSenderKeyDistribution(wire), from.identity.edPublicKey))
      }
    }
    /** `from` sends one group message; everyone in `audience` tries to read it. Returns who could. */
    const broadcast = async (from: Member, text: string, audience: Member[]): Promise<Map<string, unknown>> => {
      const r = await senderKeyEncrypt(from.sending!, te(text))
      from.sending = r.state
      const outcome = new Map<string, unknown>()
      for (const to of audience) {
        if (to === from) continue
        const rec = to.records.get(from.id)
        if (rec === undefined) { outcome.set(to.id, new UnknownSenderChainError('no record')); continue }
        try {
          const d = await senderKeyDecrypt(rec, r.message)
          to.records.set(from.id, d.record)
          to.read.push(td(d.plaintext))
          outcome.set(to.id, true)
        } catch (err) {
          outcome.set(to.id, err)
        }
      }
      return outcome
    }

    const members = (s: GroupState): Member[] => s.members.map(id => m.get(id)!)
    for (const x of members(state)) x.sending = await createSenderKey(gid, x.identity.edPublicKey)
    for (const x of members(state)) distribute(x, state.members.filter(id => id !== x.id))
    for (const x of members(state)) {
      const out = await broadcast(x, `before from ${x.id.slice(0, 4)}`, [...m.values()])
      for (const y of members(state)) if (y !== x) assert.equal(out.get(y.id), true)
    }
    assert.equal(mallory.read.length, 3)

    // Carol removes Mallory.
    const before = state
    state = (await signChange(carol.identity, state, { op: 'remove', target: mallory.id })).state
    const delta = membershipDelta(before, state)
    assert.deepEqual(delta.removed, [mallory.id])
    assert.equal(delta.rotate, true)
    assert.equal(state.epoch, 1)
    for (const x of members(state)) {
      x.sending = await rotateSenderKey(x.sending!)
      const targets = distributionTargets(x.id, delta, state)
      assert.ok(!targets.includes(mallory.id))
      distribute(x, targets)
    }
    assert.deepEqual(distributionTargets(mallory.id, delta, state), [])
    secret = newGroupSecret() // sent pairwise to the remaining members only
    const topic1 = await deriveTopic(secret, state.epoch)
    assert.notEqual(topic1, topic0)
    const malloryRead = mallory.read.length
    for (const x of members(state)) {
      const out = await broadcast(x, `after from ${x.id.slice(0, 4)}`, [...m.values()])
      assert.ok(out.get(mallory.id) instanceof UnknownSenderChainError, 'removed member cannot decrypt')
      for (const y of members(state)) if (y !== x) assert.equal(out.get(y.id), true)
    }
    assert.equal(mallory.read.length, malloryRead, 'mallory read nothing new but keeps her history')

    // Carol adds Nina: no rotation, only Nina gets distributions.
    const beforeAdd = state
    state = (await signChange(carol.identity, state, { op: 'add', target: nina.id })).state
    const add = membershipDelta(beforeAdd, state)
    assert.equal(add.rotate, false)
    assert.deepEqual(add.added, [nina.id])
    nina.sending = await createSenderKey(gid, nina.identity.edPublicKey)
    for (const x of members(state)) distribute(x, distributionTargets(x.id, add, state))
    // Nina holds chains only from their current iteration: an earlier message of the same chain is refused.
    const old = await senderKeyEncrypt({ ...carol.sending!, iteration: carol.sending!.iteration - 1, chainKey: new Uint8Array(32) }, te('replayed'))
    await assert.rejects(senderKeyDecrypt(nina.records.get(carol.id)!, old.message), DuplicateMessageError)
    for (const x of members(state)) {
      const out = await broadcast(x, `with nina from ${x.id.slice(0, 4)}`, [...m.values()])
      for (const y of members(state)) if (y !== x) assert.equal(out.get(y.id), true)
      assert.notEqual(out.get(mallory.id), true)
    }
    assert.ok(nina.read.every(t => t.startsWith('with nina')))
    assert.equal(nina.read.length, 3)
  })
})

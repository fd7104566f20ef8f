/**
 * The signed membership log (src/groups/membership.ts): permissions, forgery, chaining, forks,
 * replay, size caps, and the topic derivation. Real identities and signatures throughout.
 */
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  MAX_ENTRY_BYTES, MAX_GROUP_MEMBERS, appendToLog, applyEntry, createGroup, decodeEntry, deriveTopic, forkWinner, newGroupSecret,
  replay, signChange, startLog, type GroupState, type MembershipLog
} from '../../src/groups/membership.js'
import {
  BrokenChainError, EntrySignatureError, ForkError, InvalidOperationError, MalformedEntryError, NotAuthorizedError, ParleyGroupError, UnknownParentError
} from '../../src/groups/errors.js'
import * as pb from '../../src/groups/gen/membership.js'
import { generateIdentity, type IdentityKeyPair } from '../../src/crypto/identity.js'
import { signWithIdentity } from '../../src/crypto/keys.js'
import { concatBytes, toHex, fromHex } from '../../src/crypto/bytes.js'

const T0 = 1_700_000_000_000
const id = (k: IdentityKeyPair): string => toHex(k.edPublicKey)
let creator: IdentityKeyPair, admin: IdentityKeyPair, admin2: IdentityKeyPair, alice: IdentityKeyPair, bob: IdentityKeyPair, outsider: IdentityKeyPair

before(async () => {
  const ks = await Promise.all(Array.from({ length: 6 }, async () => await generateIdentity()))
  creator = ks[0]!; admin = ks[1]!; admin2 = ks[2]!; alice = ks[3]!; bob = ks[4]!; outsider = ks[5]!
})

/** A group with creator, admin, admin2 (both promoted), alice and bob; returns the log bytes too. */
async function baseGroup (): Promise<{ state: GroupState, log: Uint8Array[] }> {
  const log: Uint8Array[] = []
  let { entry, state } = await createGroup(creator, { name: 'book club', members: [admin.edPublicKey, admin2.edPublicKey, id(alice)], now: T0 })
  log.push(entry)
  for (const m of [admin, admin2]) {
    ({ entry, state } = await signChange(creator, state, { op: 'promote', target: m.edPublicKey, now: T0 + log.length }))
    log.push(entry)
  }
  ({ entry, state } = await signChange(admin, state, { op: 'add', target: bob.edPublicKey, now: T0 + log.length }))
  log.push(entry)
  return { state, log }
}

/** Signs an arbitrary body as `signer` (for forgeries and malformed entries). */
async function craft (signer: IdentityKeyPair, body: Partial<pb.MembershipEntryBody>): Promise<Uint8Array> {
  const b = pb.MembershipEntryBody.encode({ version: 1, ...body })
  const sig = await signWithIdentity(signer, concatBytes(new TextEncoder().encode('ParleyGroupEntry\0'), b))
  return pb.SignedMembershipEntry.encode({ body: b, signature: new Uint8Array(sig) })
}

function onHead (s: GroupState, author: IdentityKeyPair, op: pb.MembershipEntryBody.Op, target?: IdentityKeyPair): Partial<pb.MembershipEntryBody> {
  return {
    groupId: new Uint8Array(fromHex(s.groupId)),
    prev: new Uint8Array(fromHex(s.head)),
    height: s.height + 1,
    author: new Uint8Array(author.edPublicKey),
    timestamp: BigInt(s.lastTimestamp + 1),
    op,
    members: target === undefined ? [] : [new Uint8Array(target.edPublicKey)]
  }
}

describe('membership log', () => {
  it('create, promote, add, remove, leave: state, epochs, and replay agree', async () => {
    const { state, log } = await baseGroup()
    assert.equal(state.groupId, (await decodeEntry(log[0]!)).id)
    assert.equal(state.creator, id(creator))
    assert.deepEqual(state.members, [creator, admin, admin2, alice, bob].map(id).sort())
    assert.deepEqual(state.admins, [creator, admin, admin2].map(id).sort())
    assert.equal(state.epoch, 0)
    const r = await signChange(admin, state, { op: 'remove', target: bob.edPublicKey, now: T0 + 10 })
    assert.equal(r.state.epoch, 1)
    assert.ok(!r.state.members.includes(id(bob)))
    const l = await signChange(alice, r.state, { op: 'leave', now: T0 + 11 })
    assert.equal(l.state.epoch, 2)
    assert.ok(!l.state.members.includes(id(alice)))
    const replayed = await replay([...log, r.entry, l.entry], { now: T0 + 20 })
    assert.deepEqual(replayed, l.state)
    assert.deepEqual(JSON.parse(JSON.stringify(replayed)), replayed, 'state is plain serialisable data')
  })

  it('enforces who may do what', async () => {
    const { state } = await baseGroup()
    const now = T0 + 100
    // A plain member cannot add, remove, promote (even itself) or demote.
    await assert.rejects(signChange(alice, state, { op: 'add', target: outsider.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(alice, state, { op: 'remove', target: bob.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(alice, state, { op: 'promote', target: alice.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(alice, state, { op: 'demote', target: admin.edPublicKey, now }), NotAuthorizedError)
    // Admins may add and remove members, but not promote/demote, remove another admin, or remove the creator.
    await assert.rejects(signChange(admin, state, { op: 'promote', target: alice.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(admin, state, { op: 'demote', target: admin2.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(admin, state, { op: 'remove', target: admin2.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(admin, state, { op: 'remove', target: creator.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(creator, state, { op: 'remove', target: creator.edPublicKey, now }), NotAuthorizedError)
    // Outsiders cannot do anything; nonsense operations are refused.
    await assert.rejects(signChange(outsider, state, { op: 'add', target: outsider.edPublicKey, now }), NotAuthorizedError)
    await assert.rejects(signChange(outsider, state, { op: 'leave', now }), NotAuthorizedError)
    await assert.rejects(signChange(admin, state, { op: 'add', target: alice.edPublicKey, now }), InvalidOperationError)
    await assert.rejects(signChange(admin, state, { op: 'remove', target: outsider.edPublicKey, now }), InvalidOperationError)
    await assert.rejects(signChange(creator, state, { op: 'promote', target: admin.edPublicKey, now }), InvalidOperationError)
    // The creator may remove an admin and demote one.
    const d = await signChange(creator, state, { op: 'demote', target: admin2.edPublicKey, now })
    assert.ok(!d.state.admins.includes(id(admin2)))
    const rm = await signChange(creator, state, { op: 'remove', target: admin.edPublicKey, now })
    assert.ok(!rm.state.admins.includes(id(admin)) && !rm.state.members.includes(id(admin)))
    // A removed admin can no longer change anything.
    await assert.rejects(signChange(admin, rm.state, { op: 'add', target: outsider.edPublicKey, now }), NotAuthorizedError)
  })

  it('refuses forged authorship, tampering, wrong chaining and replays', async () => {
    const { state } = await baseGroup()
    // Alice signs an entry that claims the creator promoted her.
    const forged = await craft(alice, onHead(state, creator, pb.MembershipEntryBody.Op.PROMOTE, alice))
    await assert.rejects(applyEntry(state, forged, { now: T0 + 100 }), EntrySignatureError)
    // A genuine entry with the wrong prev, the wrong height, or for another group.
    const good = await craft(admin, onHead(state, admin, pb.MembershipEntryBody.Op.ADD, outsider))
    const next = await applyEntry(state, good, { now: T0 + 100 })
    await assert.rejects(applyEntry(next, good, { now: T0 + 100 }), BrokenChainError, 'replayed entry')
    await assert.rejects(applyEntry(state, await craft(admin, { ...onHead(state, admin, pb.MembershipEntryBody.Op.ADD, outsider), height: state.height + 2 }), { now: T0 + 100 }), BrokenChainError)
    const other = await createGroup(creator, { name: 'other', members: [alice.edPublicKey], now: T0 })
    await assert.rejects(applyEntry(other.state, good, { now: T0 + 100 }), BrokenChainError)
    // Timestamps: not backwards, not far in the future.
    await assert.rejects(applyEntry(state, await craft(admin, { ...onHead(state, admin, pb.MembershipEntryBody.Op.ADD, outsider), timestamp: BigInt(state.lastTimestamp - 1) }), { now: T0 + 100 }), BrokenChainError)
    await assert.rejects(applyEntry(state, good, { now: T0 - 3_600_000 }), BrokenChainError)
    // Property: any flipped bit of a valid entry is refused with a typed group error.
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: good.length * 8 - 1 }), async (bit) => {
      const bad = good.slice()
      bad[bit >> 3]! ^= 1 << (bit & 7)
      await assert.rejects(applyEntry(state, bad, { now: T0 + 100 }), ParleyGroupError)
    }), { numRuns: 150 })
  })

  it('size caps and structural checks', async () => {
    await assert.rejects(decodeEntry(new Uint8Array(MAX_ENTRY_BYTES + 1)), MalformedEntryError)
    // The member count is checked before any key is examined, so cheap random bytes suffice here.
    const many = Array.from({ length: MAX_GROUP_MEMBERS }, () => globalThis.crypto.getRandomValues(new Uint8Array(32)))
    await assert.rejects(createGroup(creator, { name: 'huge', members: many, now: T0 }), MalformedEntryError)
    await assert.rejects(createGroup(creator, { name: '', members: [], now: T0 }), MalformedEntryError)
    await assert.rejects(createGroup(creator, { name: 'x', members: [new Uint8Array(32)], now: T0 }), MalformedEntryError, 'not a valid point')
    await assert.rejects(createGroup(creator, { name: 'x', members: [alice.edPublicKey, alice.edPublicKey], now: T0 }), MalformedEntryError)
    const { state } = await baseGroup()
    await assert.rejects(applyEntry(state, await craft(admin, { ...onHead(state, admin, pb.MembershipEntryBody.Op.ADD), members: [] }), { now: T0 + 100 }), MalformedEntryError)
    await assert.rejects(applyEntry(state, await craft(admin, { ...onHead(state, admin, pb.MembershipEntryBody.Op.ADD, outsider), name: 'sneaky' }), { now: T0 + 100 }), MalformedEntryError)
    await assert.rejects(replay([]), MalformedEntryError)
  })

  it('a depth-1 fork is resolved the same way whatever the arrival order; deeper forks and orphans are refused', async () => {
    const { state, log: base } = await baseGroup()
    let log: MembershipLog = await startLog(base[0]!, { now: T0 + 100 })
    for (const e of base.slice(1)) log = (await appendToLog(log, e, { now: T0 + 100 })).log
    assert.deepEqual(log.state, state)
    const x = (await signChange(admin, state, { op: 'add', target: outsider.edPublicKey, now: T0 + 50 })).entry
    const y = (await signChange(admin2, state, { op: 'remove', target: alice.edPublicKey, now: T0 + 50 })).entry
    const a1 = await appendToLog(log, x, { now: T0 + 100 })
    const b1 = await appendToLog(log, y, { now: T0 + 100 })
    const ends: MembershipLog[] = []
    for (const [first, second] of [[a1, y], [b1, x]] as const) {
      try {
        const r = await appendToLog(first.log, second, { now: T0 + 100 })
        assert.equal(r.outcome, 'replaced-head')
        assert.ok(r.displaced !== undefined)
        ends.push(r.log)
      } catch (err) {
        assert.ok(err instanceof ForkError)
        ends.push(first.log)
      }
    }
    assert.equal(ends[0]!.state.head, ends[1]!.state.head, 'converged')
    assert.deepEqual(ends[0]!.state, ends[1]!.state)
    // The same entry again is a no-op.
    assert.equal((await appendToLog(ends[0]!, base[2]!, { now: T0 + 100 })).outcome, 'duplicate')
    // An entry on top of a displaced or unknown entry: UnknownParentError.
    const loserHead = ends[0]!.state.head === (await decodeEntry(x)).id ? b1 : a1
    const onLoser = (await signChange(creator, loserHead.log.state, { op: 'add', target: (await generateIdentity()).edPublicKey, now: T0 + 60 })).entry
    await assert.rejects(appendToLog(ends[0]!, onLoser, { now: T0 + 100 }), UnknownParentError)
    // A fork two entries behind the head is refused.
    const grown = (await appendToLog(ends[0]!, (await signChange(creator, ends[0]!.state, { op: 'promote', target: bob.edPublicKey, now: T0 + 70 })).entry, { now: T0 + 100 })).log
    const deep = (await signChange(creator, state, { op: 'demote', target: admin.edPublicKey, now: T0 + 70 })).entry
    await assert.rejects(appendToLog(grown, deep, { now: T0 + 100 }), ForkError)
  })

  it('a member being removed cannot escape by racing its own change against the removal', async () => {
    const { state, log: base } = await baseGroup()
    let log = await startLog(base[0]!, { now: T0 + 100 })
    for (const e of base.slice(1)) log = (await appendToLog(log, e, { now: T0 + 100 })).log
    const removal = (await signChange(creator, state, { op: 'remove', target: admin.edPublicKey, now: T0 + 50 })).entry
    // The admin grinds many concurrent entries (different timestamps give different ids); none may win.
    for (let i = 0; i < 8; i++) {
      const race = (await signChange(admin, state, { op: 'add', target: (await generateIdentity()).edPublicKey, now: T0 + 50 + i })).entry
      const afterRemoval = (await appendToLog(log, removal, { now: T0 + 100 })).log
      await assert.rejects(appendToLog(afterRemoval, race, { now: T0 + 100 }), ForkError)
      const afterRace = (await appendToLog(log, race, { now: T0 + 100 })).log
      const r = await appendToLog(afterRace, removal, { now: T0 + 100 })
      assert.equal(r.outcome, 'replaced-head')
      assert.ok(!r.log.state.members.includes(id(admin)))
    }
  })

  it('forkWinner is a strict order on concurrent adds (ids decide among equals)', async () => {
    const { state } = await baseGroup()
    const xs = await Promise.all([admin, admin2, creator].map(async (a, i) => await decodeEntry((await signChange(a, state, { op: 'add', target: outsider.edPublicKey, now: T0 + 50 + i })).entry)))
    for (const a of xs) {
      for (const b of xs) {
        if (a === b) continue
        assert.notEqual(forkWinner(state, a, b), forkWinner(state, b, a))
      }
    }
    // The creator outranks admins.
    assert.equal(forkWinner(state, xs[2]!, xs[0]!), true)
  })

  it('property: random change attempts are accepted exactly when an independent model allows them; replay agrees', async () => {
    const cast = [creator, admin, admin2, alice, bob, outsider]
    const ops = ['add', 'remove', 'promote', 'demote', 'leave'] as const
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat(5), fc.nat(4), fc.nat(5)), { minLength: 5, maxLength: 25 }), async (script) => {
      let { entry, state } = await createGroup(creator, { name: 'model', members: [admin.edPublicKey, alice.edPublicKey], now: T0 })
      const log = [entry]
      // The model: plain sets, written independently of membership.ts.
      const members = new Set([id(creator), id(admin), id(alice)])
      const admins = new Set([id(creator)])
      let epoch = 0
      for (const [a, o, t] of script) {
        const author = cast[a]!
        const target = cast[t]!
        const op = ops[o]!
        const A = id(author)
        const T = id(target)
        const isAdm = members.has(A) && admins.has(A)
        const isCreator = A === id(creator) && members.has(A)
        const allowed = members.has(A) && (
          op === 'add' ? isAdm && !members.has(T)
            : op === 'remove' ? isAdm && members.has(T) && T !== id(creator) && T !== A && (!admins.has(T) || isCreator)
              : op === 'promote' ? isCreator && members.has(T) && !admins.has(T)
                : op === 'demote' ? isCreator && admins.has(T) && T !== id(creator)
                  : true)
        try {
          ({ entry, state } = await signChange(author, state, { op, target: op === 'leave' ? undefined : target.edPublicKey, now: T0 + log.length }))
          log.push(entry)
          assert.ok(allowed, `model refuses ${op} by ${a} on ${t}`)
          if (op === 'add') { members.add(T); if (T === id(creator)) admins.add(T) }
          if (op === 'remove') { members.delete(T); admins.delete(T); epoch++ }
          if (op === 'leave') { members.delete(A); admins.delete(A); epoch++ }
          if (op === 'promote') admins.add(T)
          if (op === 'demote') admins.delete(T)
        } catch (err) {
          assert.ok(err instanceof ParleyGroupError, String(err))
          assert.ok(!allowed, `model allows ${op} by ${a} on ${t}: ${String(err)}`)
        }
        assert.deepEqual(state.members, [...members].sort())
        assert.deepEqual(state.admins, [...admins].filter(x => members.has(x)).sort())
        assert.equal(state.epoch, epoch)
      }
      assert.deepEqual(await replay(log, { now: T0 + 1000 }), state)
    }), { numRuns: 40 })
  })

  it('deriveTopic: deterministic, distinct per secret and epoch, reveals nothing of the group', async () => {
    const s1 = newGroupSecret()
    const s2 = newGroupSecret()
    const t = await deriveTopic(s1, 0)
    assert.match(t, /^\/parley\/g\/1\/[0-9a-f]{32}$/)
    assert.equal(await deriveTopic(s1, 0), t)
    assert.notEqual(await deriveTopic(s1, 1), t)
    assert.notEqual(await deriveTopic(s2, 0), t)
    await assert.rejects(deriveTopic(new Uint8Array(16), 0), MalformedEntryError)
    await assert.rejects(deriveTopic(s1, -1), MalformedEntryError)
  })
})

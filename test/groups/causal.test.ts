/**
 * Causal ordering (src/groups/causal.ts): gap detection, equivocation and clock checks, caps, and a
 * simulation of many members with random delivery orders, duplicates and drops repaired by asking
 * other members — every member must end with the identical display order, and no member may ever
 * deliver a sender's messages out of sequence (nothing silently skipped).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  MAX_PENDING, createCausalState, findGaps, gapsAgainst, nextMeta, receive, stableLength, summary,
  type CausalEvent, type CausalMessage, type CausalState, type MissingReport
} from '../../src/groups/causal.js'
import { CausalBufferFullError, CausalViolationError } from '../../src/groups/errors.js'

type Msg = CausalMessage<string>

function send (st: CausalState<string>, text: string): { state: CausalState<string>, msg: Msg } {
  const meta = nextMeta(st)
  const msg: Msg = { ...meta, id: `${meta.sender}:${meta.seq}`, payload: text }
  const r = receive(st, msg)
  assert.equal(r.events[0]?.type, 'delivered')
  return { state: r.state, msg }
}

const missingOf = (events: Array<CausalEvent<string>>): MissingReport | undefined => {
  const e = events.find(x => x.type === 'missing')
  return e?.type === 'missing' ? e.missing : undefined
}

/** A deterministic PRNG (mulberry32) so a fast-check seed replays a whole simulation. */
function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('causal ordering', () => {
  it('buffers out-of-order messages, reports exactly what is missing, releases when repaired', () => {
    let a = createCausalState<string>('alice')
    let b = createCausalState<string>('bob')
    const sent: Msg[] = []
    for (let i = 0; i < 4; i++) { const r = send(a, `a${i}`); a = r.state; sent.push(r.msg) }
    // Bob gets 1 and 4 only.
    let r = receive(b, sent[0]!); b = r.state
    assert.deepEqual(r.events.map(e => e.type), ['delivered'])
    r = receive(b, sent[3]!); b = r.state
    // Both views of the same hole: the seq range, and alice:4's causal history (alice:2, alice:3 by id).
    assert.deepEqual(missingOf(r.events), { seqs: [{ sender: 'alice', from: 2, to: 3 }], ids: ['alice:2', 'alice:3'] })
    assert.equal(b.order.length, 1)
    // A duplicate is recognised, not delivered twice.
    assert.deepEqual(receive(b, sent[0]!).events, [{ type: 'duplicate', id: 'alice:1' }])
    assert.deepEqual(receive(b, sent[3]!).events, [{ type: 'duplicate', id: 'alice:4' }])
    r = receive(b, sent[2]!); b = r.state
    assert.deepEqual(missingOf(r.events), { seqs: [{ sender: 'alice', from: 2, to: 2 }], ids: ['alice:2'] })
    r = receive(b, sent[1]!); b = r.state
    assert.deepEqual(r.events.filter(e => e.type === 'delivered').map(e => e.type === 'delivered' ? e.message.id : ''), ['alice:2', 'alice:3', 'alice:4'])
    assert.equal(missingOf(r.events), undefined)
    assert.deepEqual(b.order.map(e => e.id), a.order.map(e => e.id))
  })

  it('waits for referenced ids it has not seen and asks for them', () => {
    const a = createCausalState<string>('alice')
    let b = createCausalState<string>('bob')
    let c = createCausalState<string>('carol')
    const m1 = send(a, 'hi')
    b = receive(b, m1.msg).state
    const m2 = send(b, 'reply')
    assert.deepEqual(m2.msg.deps, [{ id: 'alice:1', sender: 'alice', seq: 1 }])
    let r = receive(c, m2.msg); c = r.state
    assert.deepEqual(missingOf(r.events), { seqs: [{ sender: 'alice', from: 1, to: 1 }], ids: ['alice:1'] })
    assert.deepEqual(findGaps(c), { seqs: [{ sender: 'alice', from: 1, to: 1 }], ids: ['alice:1'] })
    r = receive(c, m1.msg); c = r.state
    assert.deepEqual(c.order.map(e => e.id), ['alice:1', 'bob:1'])
    assert.ok(m2.msg.lamport > m1.msg.lamport)
  })

  it('refuses equivocation, clocks that do not advance, malformed metadata; caps the buffer', () => {
    const a = createCausalState<string>('alice')
    let b = createCausalState<string>('bob')
    const m = send(a, 'x')
    b = receive(b, m.msg).state
    assert.throws(() => receive(b, { ...m.msg, id: 'other', payload: 'y' }), CausalViolationError)
    // Alice's second message claims a lamport not above her first: refused, and her seq 2 stays open.
    const bad: Msg = { id: 'alice:2', sender: 'alice', seq: 2, lamport: m.msg.lamport, deps: [], payload: 'z' }
    const r = receive(b, bad)
    assert.deepEqual(r.events.map(e => e.type), ['rejected'])
    assert.equal(r.state.delivered.alice, 1)
    assert.throws(() => receive(b, { ...bad, seq: 0 }), CausalViolationError)
    assert.throws(() => receive(b, { ...bad, deps: Array.from({ length: 17 }, (_, i) => ({ id: `d${i}`, sender: 'x', seq: i + 1 })) }), CausalViolationError)
    assert.throws(() => receive(b, { ...bad, id: 'x'.repeat(200) }), CausalViolationError)
    assert.throws(() => receive(b, { ...bad, deps: [{ id: 'alice:2', sender: 'alice', seq: 1 }] }), CausalViolationError, 'depends on itself')
    assert.throws(() => receive(b, { ...bad, deps: [{ id: 'alice:9', sender: 'alice', seq: 9 }] }), CausalViolationError, 'depends on its own future')
    // A dep that names a delivered slot with a different id is refused when released.
    const lie = receive(b, { id: 'carl:1', sender: 'carl', seq: 1, lamport: 50, deps: [{ id: 'forged', sender: 'alice', seq: 1 }], payload: '' })
    assert.deepEqual(lie.events.map(e => e.type), ['rejected'])
    // A claimed huge seq costs nothing and is reported as one range.
    const huge = receive(b, { id: 'dave:big', sender: 'dave', seq: 2 ** 50, lamport: 2, deps: [], payload: '' })
    assert.deepEqual(findGaps(huge.state).seqs, [{ sender: 'dave', from: 1, to: 2 ** 50 - 1 }])
    // The buffer is bounded (default and configured cap).
    assert.ok(MAX_PENDING >= 1000)
    let c = createCausalState<string>('carol')
    for (let q = 2; q < 52; q++) c = receive(c, { id: `m${q}`, sender: 'mallory', seq: q, lamport: q, deps: [], payload: '' }, { maxPending: 50 }).state
    assert.equal(c.pending.length, 50)
    assert.deepEqual(findGaps(c).seqs, [{ sender: 'mallory', from: 1, to: 1 }])
    assert.throws(() => receive(c, { id: 'last', sender: 'mallory', seq: 60, lamport: 1, deps: [], payload: '' }, { maxPending: 50 }), CausalBufferFullError)
    // One sender cannot take the whole buffer: its own cap trips first, others still get in.
    const opts = { maxPending: 50, maxPendingPerSender: 10 }
    let d = createCausalState<string>('dan')
    for (let q = 2; q < 12; q++) d = receive(d, { id: `x${q}`, sender: 'mallory', seq: q, lamport: q, deps: [], payload: '' }, opts).state
    assert.throws(() => receive(d, { id: 'x99', sender: 'mallory', seq: 99, lamport: 99, deps: [], payload: '' }, opts), CausalBufferFullError)
    assert.equal(receive(d, { id: 'e1', sender: 'erin', seq: 1, lamport: 1, deps: [], payload: '' }, opts).events[0]?.type, 'delivered')
  })

  it('never mutates its input state', () => {
    const a0 = createCausalState<string>('alice')
    const snap = JSON.stringify(a0)
    const { state: a1 } = send(a0, 'x')
    assert.equal(JSON.stringify(a0), snap)
    const snap1 = JSON.stringify(a1)
    receive(a1, { id: 'bob:2', sender: 'bob', seq: 2, lamport: 9, deps: [{ id: 'zzz', sender: 'carl', seq: 1 }], payload: '' })
    assert.equal(JSON.stringify(a1), snap1)
  })

  it('gapsAgainst finds trailing losses that nobody referenced; stableLength marks what is final', () => {
    let a = createCausalState<string>('alice')
    let b = createCausalState<string>('bob')
    const m1 = send(a, '1'); a = m1.state
    const m2 = send(a, '2'); a = m2.state
    b = receive(b, m1.msg).state
    assert.deepEqual(findGaps(b), { seqs: [], ids: [] }, 'the loss of the last message is invisible locally')
    assert.deepEqual(gapsAgainst(b, summary(a)), { seqs: [{ sender: 'alice', from: 2, to: 2 }], ids: [] })
    assert.equal(stableLength(b, ['alice', 'bob']), 0, 'bob has not spoken: anything could still come before')
    const m3 = send(b, 'b1'); b = m3.state
    assert.equal(stableLength(b, ['alice', 'bob']), 1)
  })

  it('simulation: members with random delivery, duplicates and drops converge to one display order', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 3, max: 12 }), fc.integer({ min: 20, max: 120 }), (seed, nMembers, nSends) => {
      const rand = rng(seed)
      const names = Array.from({ length: nMembers }, (_, i) => `m${i}`)
      const states = new Map(names.map(n => [n, createCausalState<string>(n)]))
      // Every member keeps what it received (delivered or buffered) so it can answer repair requests.
      const stores = new Map(names.map(n => [n, new Map<string, Msg>()]))
      const bySlot = new Map<string, Msg>()
      const inFlight: Array<{ to: string, msg: Msg }> = []
      const deliveredSeqs = new Map(names.map(n => [n, new Map<string, number>()]))
      let sent = 0
      let drops = 0

      const take = (who: string, msg: Msg): void => {
        stores.get(who)!.set(msg.id, msg)
        const r = receive(states.get(who)!, msg)
        states.set(who, r.state)
        for (const e of r.events) {
          if (e.type === 'rejected') assert.fail(`honest message rejected: ${e.id}`)
          if (e.type !== 'delivered') continue
          // Never a skipped seq: each sender's messages are delivered 1, 2, 3, … at every member.
          const seen = deliveredSeqs.get(who)!
          assert.equal(e.message.seq, (seen.get(e.message.sender) ?? 0) + 1, 'sender sequence delivered in order')
          seen.set(e.message.sender, e.message.seq)
          for (const d of e.message.deps) assert.ok((r.state.delivered[d.sender] ?? 0) >= d.seq, 'deps delivered first')
        }
      }
      const repair = (who: string, report: MissingReport): void => {
        // Ask the other members (in a random order) for what is missing.
        const wanted: string[] = [...report.ids]
        for (const g of report.seqs) for (let q = g.from; q <= g.to; q++) wanted.push(`${g.sender}:${q}`)
        for (const w of wanted) {
          const holders = names.filter(n => n !== who && stores.get(n)!.has(w))
          if (holders.length === 0) continue
          const from = holders[Math.floor(rand() * holders.length)]!
          if (rand() < 0.2) continue // the repair itself may be lost; later rounds retry
          take(who, stores.get(from)!.get(w)!)
        }
      }

      while (sent < nSends || inFlight.length > 0) {
        if (sent < nSends && (inFlight.length === 0 || rand() < 0.35)) {
          const who = names[Math.floor(rand() * nMembers)]!
          const r = send(states.get(who)!, `text ${sent}`)
          states.set(who, r.state)
          stores.get(who)!.set(r.msg.id, r.msg)
          bySlot.set(r.msg.id, r.msg)
          deliveredSeqs.get(who)!.set(who, r.msg.seq)
          sent++
          for (const to of names) {
            if (to === who) continue
            if (rand() < 0.15) { drops++; continue }
            inFlight.push({ to, msg: r.msg })
            if (rand() < 0.1) inFlight.push({ to, msg: r.msg }) // duplicate
          }
        } else {
          const k = Math.floor(rand() * inFlight.length)
          const [f] = inFlight.splice(k, 1)
          take(f!.to, f!.msg)
          if (rand() < 0.3) repair(f!.to, findGaps(states.get(f!.to)!))
        }
      }
      // Final anti-entropy: each member repairs what buffered messages reveal and what others' summaries reveal.
      for (let round = 0; round < 50; round++) {
        let open = 0
        for (const who of names) {
          const st = states.get(who)!
          const gaps = findGaps(st)
          const reports = [gaps, ...names.filter(n => n !== who).map(n => gapsAgainst(st, summary(states.get(n)!)))]
          for (const rep of reports) {
            if (rep.seqs.length + rep.ids.length === 0) continue
            open++
            repair(who, rep)
          }
        }
        if (open === 0) break
      }
      const ref = states.get(names[0]!)!.order.map(e => e.id)
      assert.equal(ref.length, sent, `all ${sent} messages delivered (drops: ${drops})`)
      assert.equal(new Set(ref).size, sent)
      for (const n of names) {
        assert.deepEqual(states.get(n)!.order.map(e => e.id), ref, `member ${n} has the same order`)
        assert.equal(states.get(n)!.pending.length, 0)
        assert.equal(stableLength(states.get(n)!, []), sent)
      }
      // The order respects causality: every dep comes earlier.
      const pos = new Map(ref.map((id, i) => [id, i]))
      for (const id of ref) for (const d of bySlot.get(id)!.deps) assert.ok(pos.get(d.id)! < pos.get(id)!)
    }), { numRuns: 40 })
  })
})

describe('causal ordering in place (large groups)', () => {
  it('inPlace gives the same states and events as copying, and a throwing receive changes nothing', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 5, maxLength: 40 }), fc.integer({ min: 0, max: 1_000_000 }), (who, seed) => {
      // four members write in the order `who`; a receiver takes the messages in a shuffled order
      let senders = ['a', 'b', 'c', 'd'].map(s => createCausalState<string>(s))
      const msgs: Msg[] = []
      for (const [i, w] of who.entries()) {
        const r = send(senders[w]!, `m${i}`)
        msgs.push(r.msg)
        senders = senders.map(s => receive(s, r.msg).state)
      }
      let x = seed
      const shuffled = [...msgs].sort(() => ((x = (x * 1103515245 + 12345) % 2 ** 31) % 3) - 1)
      let copy = createCausalState<string>('z')
      let inPlace = createCausalState<string>('z')
      for (const m of shuffled) {
        const c = receive(copy, m)
        const p = receive(inPlace, m, { inPlace: true })
        assert.equal(p.state, inPlace, 'the same object comes back')
        assert.deepEqual(p.events, c.events)
        assert.deepEqual(JSON.parse(JSON.stringify(p.state)), JSON.parse(JSON.stringify(c.state)))
        copy = c.state
        inPlace = p.state
      }
      assert.equal(inPlace.order.length, msgs.length)
      // equivocation throws before anything changes
      const forged = { ...msgs[0]!, id: 'forged' }
      const snapshot = JSON.stringify(inPlace)
      assert.throws(() => receive(inPlace, forged, { inPlace: true }), CausalViolationError)
      assert.equal(JSON.stringify(inPlace), snapshot)
    }), { numRuns: 30 })
  })
})

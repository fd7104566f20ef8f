// issue 3 (first message to a new contact): addContact is one deferred store unit — the contact and the
// invite's introduction route together, no fsync of its own — and the first message's unit after it is
// full (its fsync makes the contact durable too; src/store/README.md, "Durability per unit").
// Real nodes, real SQLite files, real libp2p on 127.0.0.1.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { formatInvite, parseInvite } from '../../src/core/invite.js'
import { decodeRoute } from '../../src/core/mailboxes.js'
import type { ParleyNode } from '../../src/core/node.js'
import { cleanup, startNode } from './helpers.js'

after(cleanup)

/** Records the durability of every store unit of `node` while `on()` is true. */
function recordUnits (node: ParleyNode): { units: string[], on: (v: boolean) => void } {
  const store = node.internals.store
  const orig = store.write.bind(store)
  const units: string[] = []
  let active = false
  store.write = (async (fn: Parameters<typeof orig>[0], opts?: Parameters<typeof orig>[1]) => {
    if (active) units.push(opts?.durability ?? 'full')
    return await orig(fn, opts)
  }) as typeof store.write
  return { units, on: (v) => { active = v } }
}

test('addContact: one deferred unit with the contact and the invite route; the first message unit is full', async () => {
  const a = await startNode('alice')
  const b = await startNode('bob')
  const tag = new Uint8Array(randomBytes(32))
  const inv = parseInvite((await b.invite()).invite)
  const invite = formatInvite({ ...inv, mailboxTag: tag })
  const rec = recordUnits(a)

  rec.on(true)
  const info = await a.addContact(invite, { name: 'bob' })
  rec.on(false)
  assert.equal(info.peerId, b.peerId)
  // the contact's unit (and any bookkeeping that raced it, e.g. lastSeen on connect) is deferred
  assert.ok(rec.units.length >= 1, 'addContact wrote')
  assert.deepEqual(rec.units.filter(u => u !== 'deferred'), [], `no full unit in addContact: ${rec.units.join(',')}`)
  // both the contact and the invite's introduction route landed
  const c = await a.internals.store.getContact(b.peerId)
  assert.equal(c?.name, 'bob')
  const conv = await a.internals.store.getConversation(b.peerId)
  assert.ok(conv != null && conv.route.length > 0)
  assert.deepEqual(decodeRoute(conv.route)?.tag, tag)

  // the first message: sealed and committed in a full unit before it goes out, then delivered
  rec.units.length = 0
  rec.on(true)
  const m = await a.send(b.peerId, 'hello bob', { wait: true, timeoutMs: 30_000 })
  rec.on(false)
  assert.equal(m.status, 'delivered')
  assert.ok(rec.units.includes('full'), `the send unit is full: ${rec.units.join(',')}`)
})

test('addContact of a known contact keeps an existing route and updates in one deferred unit', async () => {
  const a = await startNode('carol')
  const b = await startNode('dave')
  const inv = parseInvite((await b.invite()).invite)
  const first = new Uint8Array(randomBytes(32))
  await a.addContact(formatInvite({ ...inv, mailboxTag: first }))
  const rec = recordUnits(a)
  rec.on(true)
  await a.addContact(formatInvite({ ...inv, mailboxTag: new Uint8Array(randomBytes(32)) }), { name: 'dave2' })
  rec.on(false)
  assert.deepEqual(rec.units.filter(u => u !== 'deferred'), [])
  assert.equal((await a.internals.store.getContact(b.peerId))?.name, 'dave2')
  // a route already known is never replaced by an invite's tag (PROTOCOL Part 4 §7.1)
  assert.deepEqual(decodeRoute((await a.internals.store.getConversation(b.peerId))!.route)?.tag, first)
})

// The store's fast paths (issue 3 latency work) behave exactly like the general ones, on real SQLite
// files: updateContact({ lastSeen }) as one UPDATE, cached BEGIN/COMMIT/ROLLBACK statements, and
// secret columns read with at most one copy (plain and encrypted stores).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openStore } from '../../src/store/index.js'
import { StoreInputError, StoreUsageError } from '../../src/store/errors.js'
import type { Contact } from '../../src/store/types.js'
import { FAST_SCRYPT, str, tempHome, utf8 } from './helpers.js'

function contact (peerId: string, name: string): Contact {
  return {
    peerId,
    name,
    identityKey: utf8(`${name}-key`),
    verified: true,
    keyChange: { newKey: utf8(`${name}-new`), seenAt: 5 },
    addresses: ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2/ws'],
    relays: ['/ip4/10.0.0.1/tcp/4001/p2p/relay'],
    lastSeen: null,
    createdAt: 1000
  }
}

test('updateContact({ lastSeen }) changes only last_seen and returns the same contact the general path would', async () => {
  const { home, cleanup } = tempHome('perf-contact')
  const s = await openStore({ home })
  try {
    await s.putContact(contact('bob', 'Bob'))
    await s.putContact(contact('carol', 'Carol'))
    const fast = await s.updateContact('bob', { lastSeen: 42 })
    // the general path (two fields) as the reference
    const general = await s.updateContact('carol', { lastSeen: 42, verified: true })
    assert.ok(fast != null && general != null)
    assert.deepEqual({ ...fast, peerId: 'x', name: 'x', identityKey: null, keyChange: null }, { ...general, peerId: 'x', name: 'x', identityKey: null, keyChange: null })
    assert.equal(fast.lastSeen, 42)
    assert.equal(fast.verified, true)
    assert.equal(fast.createdAt, 1000)
    assert.deepEqual(fast.addresses, ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2/ws'])
    assert.equal(str(fast.keyChange?.newKey), 'Bob-new')
    assert.deepEqual(await s.getContact('bob'), fast)
    // null clears it; an unknown contact gives null and creates nothing
    assert.equal((await s.updateContact('bob', { lastSeen: null }))?.lastSeen, null)
    assert.equal(await s.updateContact('nobody', { lastSeen: 7 }), null)
    assert.equal(await s.getContact('nobody'), null)
    // input checks as before
    await assert.rejects(s.updateContact('bob', { lastSeen: -1 }), StoreInputError)
    await assert.rejects(s.updateContact('bob', { lastSeen: 1.5 }), StoreInputError)
    await assert.rejects(s.updateContact('', { lastSeen: 1 }), StoreInputError)
    // inside a unit that fails, the fast update rolls back with everything else
    await assert.rejects(s.write((tx) => {
      tx.updateContact('bob', { lastSeen: 99 })
      throw new Error('boom')
    }))
    assert.equal((await s.getContact('bob'))?.lastSeen, null)
    // an explicit undefined is the general path (the patch names the field): last_seen becomes NULL
    await s.updateContact('bob', { lastSeen: 3 })
    assert.equal((await s.updateContact('bob', { lastSeen: undefined }))?.lastSeen, null)
  } finally {
    await s.close()
    cleanup()
  }
})

test('cached transaction statements: units commit, roll back, refuse nesting and survive a passphrase change (VACUUM)', async () => {
  const { home, cleanup } = tempHome('perf-tx')
  const s = await openStore({ home, scrypt: FAST_SCRYPT })
  try {
    for (let i = 0; i < 50; i++) {
      await s.write((tx) => { tx.putSession(`p${i}`, utf8(`rec${i}`)) })
      await assert.rejects(s.write((tx) => { tx.putSession(`p${i}`, utf8('lost')); throw new Error('no') }))
      assert.equal(str(await s.getSession(`p${i}`)), `rec${i}`)
    }
    let inner: unknown
    await s.write(() => { s.write(() => {}).catch((err: unknown) => { inner = err }) })
    await new Promise(resolve => setImmediate(resolve))
    assert.ok(inner instanceof StoreUsageError, 'a nested unit is refused')
    assert.equal(await s.read(tx => tx.listSessionPeers().length), 50)
    // plain -> encrypted re-encodes every value and VACUUMs; the cached statements are re-prepared
    await s.changePassphrase({ current: null, next: 'pw' })
    await s.write((tx) => { tx.putSession('after', utf8('sealed')) })
    assert.equal(str(await s.getSession('after')), 'sealed')
    assert.equal(str(await s.getSession('p7')), 'rec7')
  } finally {
    await s.close()
  }
  // reopen with the passphrase: every value decrypts (AEAD open result returned without another copy)
  const again = await openStore({ home, passphrase: 'pw' })
  try {
    assert.equal(str(await again.getSession('p49')), 'rec49')
    const a = await again.getSession('p1')
    const b = await again.getSession('p1')
    assert.ok(a != null && b != null && a !== b && a.buffer !== b.buffer, 'each read returns its own bytes')
    a.fill(0)
    assert.equal(str(await again.getSession('p1')), 'rec1', 'changing a returned value changes nothing stored')
  } finally {
    await again.close()
    cleanup()
  }
})

test('plain store: a returned BLOB value is a plain, independent Uint8Array', async () => {
  const { home, cleanup } = tempHome('perf-blob')
  const s = await openStore({ home })
  try {
    await s.putSession('p', utf8('record'))
    const a = await s.getSession('p')
    const b = await s.getSession('p')
    assert.ok(a != null && b != null)
    assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype)
    assert.notEqual(a.buffer, b.buffer)
    a.fill(0)
    assert.equal(str(await s.getSession('p')), 'record')
  } finally {
    await s.close()
    cleanup()
  }
})

// Second latency pass (issue 3): the write-tx shortcuts of the hot path return what the general
// methods plus a re-read would have shown, and refuse what the general ones refuse.
test('touchContact, applyReceipt, promoteStatus, getConversation and the duplicate insert match the general paths', async () => {
  const { home, cleanup } = tempHome('perf-hot')
  const s = await openStore({ home })
  try {
    await s.putContact(contact('bob', 'Bob'))
    // touchContact = updateContact({ lastSeen }) without the read back; false when there is no contact
    assert.equal(await s.write(tx => tx.touchContact('bob', 77)), true)
    assert.deepEqual(await s.getContact('bob'), { ...contact('bob', 'Bob'), lastSeen: 77 })
    assert.equal(await s.write(tx => tx.touchContact('nobody', 77)), false)
    await assert.rejects(s.write(tx => tx.touchContact('bob', -1)), StoreInputError)
    await assert.rejects(s.read(tx => (tx as unknown as { touchContact: (p: string, n: number) => boolean }).touchContact('bob', 1)), StoreUsageError)

    // insertMessage: a duplicate id (same or another peer) changes nothing and reports the stored row
    const first = await s.insertMessage({ id: 'm1', peerId: 'bob', direction: 'out', body: utf8('hi'), sentAt: 1, status: 'queued' })
    assert.deepEqual(first, { result: 'inserted', seq: 1 })
    assert.deepEqual(await s.insertMessage({ id: 'm1', peerId: 'bob', direction: 'out', body: utf8('other'), sentAt: 2, status: 'sent' }), { result: 'duplicate', seq: 1, peerId: 'bob' })
    assert.deepEqual(await s.insertMessage({ id: 'm1', peerId: 'carol', direction: 'in', body: utf8('x'), sentAt: 3, status: 'delivered' }), { result: 'duplicate', seq: 1, peerId: 'bob' })
    const m1 = await s.getMessage('m1')
    assert.equal(str(m1!.body), 'hi')
    assert.equal(m1!.status, 'queued')
    assert.deepEqual(await s.insertMessage({ id: 'm2', peerId: 'bob', direction: 'out', body: utf8('two'), sentAt: 4, status: 'queued' }), { result: 'inserted', seq: 2 })

    // promoteStatus: only a queued/failed message moves; true exactly when it changed
    assert.equal(await s.write(tx => tx.promoteStatus('m1', 'sent')), true)
    assert.equal((await s.getMessage('m1'))!.status, 'sent')
    assert.equal(await s.write(tx => tx.promoteStatus('m1', 'stored')), false)
    assert.equal((await s.getMessage('m1'))!.status, 'sent')
    assert.equal(await s.write(tx => tx.promoteStatus('nope', 'sent')), false)
    await s.setStatus('m2', 'failed')
    assert.equal(await s.write(tx => tx.promoteStatus('m2', 'stored')), true)
    assert.equal((await s.getMessage('m2'))!.status, 'stored')
    await assert.rejects(s.write(tx => tx.promoteStatus('m1', 'bogus' as never)), StoreInputError)

    // applyReceipt: the status before and after (never backwards), null where addReceipt says false
    await s.enqueueOutbox({ messageId: 'm1', peerId: 'bob', envelope: utf8('env') })
    assert.equal(await s.write(tx => tx.applyReceipt({ messageId: 'm1', kind: 'delivered', at: 10, fromPeerId: 'carol' })), null)
    assert.equal(await s.write(tx => tx.applyReceipt({ messageId: 'zz', kind: 'delivered', at: 10, fromPeerId: 'bob' })), null)
    assert.notEqual(await s.getOutbox('m1'), null)
    assert.deepEqual(await s.write(tx => tx.applyReceipt({ messageId: 'm1', kind: 'delivered', at: 10, fromPeerId: 'bob' })), { before: 'sent', after: 'delivered' })
    assert.equal(await s.getOutbox('m1'), null)
    assert.deepEqual(await s.write(tx => tx.applyReceipt({ messageId: 'm1', kind: 'read', at: 11, fromPeerId: 'bob' })), { before: 'delivered', after: 'read' })
    assert.deepEqual(await s.write(tx => tx.applyReceipt({ messageId: 'm1', kind: 'delivered', at: 12, fromPeerId: 'bob' })), { before: 'read', after: 'read' })
    assert.equal((await s.getMessage('m1'))!.status, 'read')
    assert.deepEqual((await s.listReceipts('m1')).map(r => [r.kind, r.at]), [['delivered', 10], ['read', 11]])
    // an incoming message is never acknowledged by a receipt
    await s.insertMessage({ id: 'in1', peerId: 'bob', direction: 'in', body: utf8('yo'), sentAt: 5, receivedAt: 6, status: 'delivered' })
    assert.equal(await s.write(tx => tx.applyReceipt({ messageId: 'in1', kind: 'read', at: 13, fromPeerId: 'bob' })), null)

    // getConversation outside a unit = the unit's own view
    assert.equal(await s.getConversation('bob'), null)
    await s.write(tx => { tx.putConversation({ peerId: 'bob', sendSeq: 3, recvSeq: 2, skips: 1, route: utf8('r') }) })
    const conv = await s.getConversation('bob')
    assert.deepEqual({ ...conv, route: str(conv!.route) }, { peerId: 'bob', sendSeq: 3, recvSeq: 2, skips: 1, route: 'r' })
    assert.deepEqual(conv, await s.read(tx => tx.getConversation('bob')))
  } finally {
    await s.close()
    cleanup()
  }
})

// Third latency pass (issue 3): the de-duplication look-up without the body, send_seq as one UPDATE.
for (const passphrase of [null, 'pass phrase']) {
  test(`messageOrigin and bumpSendSeq match the general paths (${passphrase == null ? 'plain' : 'encrypted'})`, async () => {
    const { home, cleanup } = tempHome('perf-third')
    const s = await openStore({ home, passphrase, scrypt: FAST_SCRYPT })
    try {
      await s.insertMessage({ id: 'o1', peerId: 'bob', direction: 'out', body: utf8('hi'), sentAt: 1, status: 'queued' })
      await s.insertMessage({ id: 'i1', peerId: 'carol', direction: 'in', body: utf8('yo'), sentAt: 2, receivedAt: 3, status: 'delivered' })
      for (const id of ['o1', 'i1']) {
        const m = await s.getMessage(id)
        assert.deepEqual(await s.messageOrigin(id), { peerId: m!.peerId, direction: m!.direction })
        assert.deepEqual(await s.read(tx => tx.messageOrigin(id)), { peerId: m!.peerId, direction: m!.direction })
      }
      assert.equal(await s.messageOrigin('nope'), null)
      await assert.rejects(s.messageOrigin(''), StoreInputError)

      // bumpSendSeq: false without a row (the caller takes the general path), then one UPDATE that
      // changes send_seq only, never backwards
      assert.equal(await s.write(tx => tx.bumpSendSeq('bob', 1)), false)
      assert.equal(await s.getConversation('bob'), null)
      await s.write(tx => { tx.putConversation({ peerId: 'bob', sendSeq: 1, recvSeq: 4, skips: 2, route: utf8('route') }) })
      assert.equal(await s.write(tx => tx.bumpSendSeq('bob', 5)), true)
      let c = await s.getConversation('bob')
      assert.deepEqual({ ...c, route: str(c!.route) }, { peerId: 'bob', sendSeq: 5, recvSeq: 4, skips: 2, route: 'route' })
      assert.equal(await s.write(tx => tx.bumpSendSeq('bob', 5)), false)
      assert.equal(await s.write(tx => tx.bumpSendSeq('bob', 3)), false)
      c = await s.getConversation('bob')
      assert.equal(c!.sendSeq, 5)
      await assert.rejects(s.write(tx => tx.bumpSendSeq('bob', -1)), StoreInputError)
      await assert.rejects(s.read(tx => (tx as unknown as { bumpSendSeq: (p: string, n: number) => boolean }).bumpSendSeq('bob', 9)), StoreUsageError)
    } finally {
      await s.close()
      cleanup()
    }
  })
}

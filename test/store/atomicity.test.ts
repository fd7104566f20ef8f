// Units of work: all-or-nothing, misuse refused, and a full database (SQLITE_FULL via the size cap)
// surfaces as StoreFullError with the database left consistent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DatabaseSync } from 'node:sqlite'
import { openStore, StoreBusyError, StoreError, StoreFullError, StoreUsageError, type WriteTx } from '../../src/store/index.js'
import { FAST_SCRYPT, str, tempHome, utf8 } from './helpers.js'

test('a write callback that throws after several puts leaves nothing behind', async (t) => {
  const { home, cleanup } = tempHome('atomic')
  t.after(cleanup)
  const s = await openStore({ home, passphrase: 'pw', scrypt: FAST_SCRYPT })
  t.after(async () => await s.close())
  await s.putSession('peerA', utf8('state 0'))
  await s.putPreKey('onetime', 1, utf8('otk'))

  class Boom extends Error {}
  await assert.rejects(s.write(tx => {
    tx.putSession('peerA', utf8('state 1'))
    tx.insertMessage({ id: 'm1', peerId: 'peerA', direction: 'in', body: utf8('hi'), sentAt: 1, receivedAt: 2, status: 'delivered' })
    tx.removePreKey('onetime', 1)
    tx.putContact({ peerId: 'peerA', name: 'A', identityKey: utf8('k'), verified: false, keyChange: null, addresses: [], relays: [], lastSeen: null, createdAt: 1 })
    tx.nextPreKeyId('signed')
    throw new Boom('decrypt failed after the puts')
  }), Boom, 'the callback\'s own error comes back unchanged')

  assert.equal(str(await s.getSession('peerA')), 'state 0')
  assert.equal(await s.getMessage('m1'), null)
  assert.notEqual(await s.getPreKey('onetime', 1), null)
  assert.equal(await s.getContact('peerA'), null)
  assert.equal(await s.nextPreKeyId('signed'), 1, 'the id counter rolled back too')

  // A constraint failure in the middle is also all-or-nothing (and typed).
  await assert.rejects(s.write(tx => {
    tx.putSession('peerA', utf8('state 2'))
    tx.insertMessage({ id: 'm2', peerId: 'peerA', direction: 'out', body: utf8('x'), sentAt: 1, status: 'queued' })
    tx.enqueueOutbox({ messageId: 'does-not-exist', peerId: 'peerA', envelope: utf8('e') })
  }), StoreError)
  assert.equal(str(await s.getSession('peerA')), 'state 0')
  assert.equal(await s.getMessage('m2'), null)

  // A successful unit commits everything together and returns the callback's value.
  const r = await s.write(tx => {
    tx.putSession('peerA', utf8('state 3'))
    return tx.insertMessage({ id: 'm3', peerId: 'peerA', direction: 'in', body: utf8('ok'), sentAt: 1, status: 'delivered' })
  })
  assert.deepEqual(r, { result: 'inserted', seq: 1 })
  assert.equal(str(await s.getSession('peerA')), 'state 3')
})

test('misuse is refused: async callbacks, nested units, a leaked tx used outside its unit', async (t) => {
  const { home, cleanup } = tempHome('misuse')
  t.after(cleanup)
  const s = await openStore({ home })
  t.after(async () => await s.close())

  await assert.rejects(s.write(async tx => { tx.putSession('p', utf8('x')) }), StoreUsageError)
  assert.equal(await s.getSession('p'), null, 'the async callback\'s synchronous part was rolled back')

  let nested: Promise<unknown> | undefined
  await s.write(tx => {
    nested = s.write(tx2 => tx2.putSession('q', utf8('y')))
    tx.putSession('p', utf8('outer'))
  })
  await assert.rejects(nested!, StoreUsageError)
  assert.equal(str(await s.getSession('p')), 'outer')
  assert.equal(await s.getSession('q'), null)

  let leaked: WriteTx | undefined
  await s.write(tx => { leaked = tx })
  assert.throws(() => leaked!.putSession('p', utf8('late')), StoreUsageError)
  assert.equal(str(await s.getSession('p')), 'outer')
})

test('a full database fails with StoreFullError, rolls back the unit, and stays usable', async (t) => {
  const { home, cleanup } = tempHome('full')
  t.after(cleanup)
  // 256 KiB cap: the same code path as a full disk (SQLITE_FULL), reproducibly.
  const s = await openStore({ home, passphrase: 'pw', scrypt: FAST_SCRYPT, maxSizeBytes: 256 * 1024 })
  t.after(async () => await s.close())

  const body = new Uint8Array(6000).fill(0x61)
  let committed = 0
  let failure: unknown
  for (let n = 1; n <= 200; n++) {
    try {
      await s.write(tx => {
        tx.insertMessage({ id: `m${n}`, peerId: 'peerA', direction: 'in', body, sentAt: n, status: 'delivered' })
        tx.putSession('peerA', utf8(String(n)))
      })
      committed = n
    } catch (err) {
      failure = err
      break
    }
  }
  assert.ok(failure instanceof StoreFullError, `expected StoreFullError, got ${String(failure)}`)
  assert.ok(failure instanceof StoreError)
  assert.equal(failure.code, 'ERR_STORE_FULL')
  assert.ok(committed > 5, 'several units fitted before the cap')

  // Consistent: the failed unit left nothing, the session matches the last committed message.
  assert.equal(str(await s.getSession('peerA')), String(committed))
  assert.equal(await s.getMessage(`m${committed + 1}`), null)
  const msgs = await s.listMessages('peerA', { afterSeq: 0, limit: 1000 })
  assert.equal(msgs.length, committed)
  assert.deepEqual(msgs.map(m => m.seq), Array.from({ length: committed }, (_, i) => i + 1))

  // Small writes still fit; freeing space lets big ones through again.
  await s.putSession('peerB', utf8('small'))
  for (let n = 1; n <= 10; n++) await s.deleteMessage(`m${n}`)
  await s.write(tx => {
    tx.insertMessage({ id: 'after', peerId: 'peerA', direction: 'in', body, sentAt: 1, status: 'delivered' })
  })
  assert.notEqual(await s.getMessage('after'), null)
})

test('a write lock held by another connection past busy_timeout is a StoreBusyError; nothing half-done', async (t) => {
  const { home, cleanup } = tempHome('busy')
  t.after(cleanup)
  const s = await openStore({ home, busyTimeoutMs: 50 })
  t.after(async () => await s.close())
  await s.putSession('p', utf8('before'))
  const other = new DatabaseSync(s.path)
  other.exec('BEGIN IMMEDIATE')
  try {
    await assert.rejects(s.write(tx => tx.putSession('p', utf8('during'))), (err: unknown) => {
      assert.ok(err instanceof StoreBusyError)
      assert.equal(err.code, 'ERR_STORE_BUSY')
      return true
    })
    assert.equal(str(await s.getSession('p')), 'before', 'reads still work (WAL)')
  } finally {
    other.exec('COMMIT')
    other.close()
  }
  await s.putSession('p', utf8('after'))
  assert.equal(str(await s.getSession('p')), 'after')
})

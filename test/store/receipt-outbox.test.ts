// Receipt outbox (schema v2): our sealed receipts survive a restart, commit atomically with the change
// that causes them, are encrypted at rest, and a v1 database upgrades in place.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { DB_FILE, LATEST_SCHEMA_VERSION, MIGRATIONS, openStore, StoreInputError, type ParleyStore } from '../../src/store/index.js'
import { FAST_SCRYPT, str, tempHome, utf8 } from './helpers.js'

const configs = [
  { label: 'plain', passphrase: null },
  { label: 'encrypted', passphrase: 'receipt outbox passphrase' }
] as const

for (const cfg of configs) {
  describe(`receipt outbox (${cfg.label})`, () => {
    let clock = 1_700_000_000_000
    const now = (): number => clock
    const open = async (home: string): Promise<ParleyStore> =>
      await openStore({ home, passphrase: cfg.passphrase, scrypt: FAST_SCRYPT, now })

    test('enqueue, list per peer oldest first, survive re-open, remove', async (t) => {
      const { home, cleanup } = tempHome(`rcpt-${cfg.label}`)
      let s = await open(home)
      t.after(async () => { await s.close(); cleanup() })
      // no message row is needed: a receipt is not a shown message
      await s.write((tx) => {
        tx.enqueueReceipt({ id: 'r1', peerId: 'bob', envelope: utf8('env-1') })
        clock++
        tx.enqueueReceipt({ id: 'r2', peerId: 'bob', envelope: utf8('env-2') })
        tx.enqueueReceipt({ id: 'r3', peerId: 'carol', envelope: utf8('env-3') })
      })
      await s.close()
      s = await open(home)
      const bob = await s.receiptsFor('bob')
      assert.deepEqual(bob.map(e => [e.id, e.peerId, str(e.envelope)]), [['r1', 'bob', 'env-1'], ['r2', 'bob', 'env-2']])
      assert.deepEqual(await s.receiptPeers(), ['bob', 'carol'])
      assert.equal(await s.countReceiptOutbox(), 3)
      assert.equal(await s.removeReceipt('r1'), true)
      assert.equal(await s.removeReceipt('r1'), false)
      assert.deepEqual((await s.receiptsFor('bob')).map(e => e.id), ['r2'])
      assert.deepEqual((await s.receiptsFor('bob', { limit: 1 })).length, 1)
    })

    test('atomic with the change that causes it: a throwing unit leaves neither', async (t) => {
      const { home, cleanup } = tempHome(`rcpt-atom-${cfg.label}`)
      const s = await open(home)
      t.after(async () => { await s.close(); cleanup() })
      await s.write((tx) => {
        tx.insertMessage({ id: 'm1', peerId: 'bob', direction: 'in', body: utf8('hi'), sentAt: 1, receivedAt: 2, status: 'delivered' })
      })
      await assert.rejects(s.write((tx) => {
        tx.markRead('bob')
        tx.putSession('bob', utf8('ratchet-advanced'))
        tx.enqueueReceipt({ id: 'read-1', peerId: 'bob', envelope: utf8('read receipt') })
        throw new Error('crash before commit')
      }), /crash before commit/)
      assert.equal(await s.countReceiptOutbox(), 0)
      assert.equal(await s.getSession('bob'), null)
      assert.equal(await s.unreadCount('bob'), 1)
      await s.write((tx) => {
        tx.markRead('bob')
        tx.putSession('bob', utf8('ratchet-advanced'))
        tx.enqueueReceipt({ id: 'read-1', peerId: 'bob', envelope: utf8('read receipt') })
      })
      assert.equal(await s.countReceiptOutbox(), 1)
      assert.equal(await s.unreadCount('bob'), 0)
    })

    test('trim keeps the newest per peer; input checks', async (t) => {
      const { home, cleanup } = tempHome(`rcpt-trim-${cfg.label}`)
      const s = await open(home)
      t.after(async () => { await s.close(); cleanup() })
      await s.write((tx) => {
        for (let i = 0; i < 6; i++) { clock++; tx.enqueueReceipt({ id: `b${i}`, peerId: 'bob', envelope: utf8(`e${i}`) }) }
        tx.enqueueReceipt({ id: 'c0', peerId: 'carol', envelope: utf8('c') })
      })
      // at or under the cap nothing goes (the fast path), above it the oldest go
      assert.equal(await s.trimReceipts('bob', 6), 0)
      assert.equal(await s.trimReceipts('bob', 7), 0)
      assert.equal((await s.receiptsFor('bob')).length, 6)
      assert.equal(await s.trimReceipts('bob', 2), 4)
      assert.deepEqual((await s.receiptsFor('bob')).map(e => e.id), ['b4', 'b5'])
      assert.equal((await s.receiptsFor('carol')).length, 1)
      await assert.rejects(s.enqueueReceipt({ id: '', peerId: 'bob', envelope: utf8('x') }), StoreInputError)
      await assert.rejects(s.trimReceipts('bob', -1), StoreInputError)
    })

    if (cfg.passphrase != null) {
      test('envelopes are encrypted at rest and re-encoded when the passphrase is removed', async (t) => {
        const { home, cleanup } = tempHome('rcpt-enc')
        let s = await open(home)
        t.after(async () => { await s.close(); cleanup() })
        const marker = 'RECEIPT-MARKER-0123456789'
        await s.enqueueReceipt({ id: 'r1', peerId: 'bob', envelope: utf8(marker) })
        await s.close()
        assert.equal(readFileSync(join(home, DB_FILE)).includes(Buffer.from(marker)), false)
        s = await open(home)
        await s.changePassphrase({ current: cfg.passphrase, next: null })
        await s.close()
        s = await openStore({ home, passphrase: null, scrypt: FAST_SCRYPT, now })
        assert.equal(str((await s.receiptsFor('bob'))[0]?.envelope), marker)
      })
    }
  })
}

test('a version 1 database upgrades to the receipt outbox in place, keeping its data', async (t) => {
  const { home, cleanup } = tempHome('rcpt-upgrade')
  t.after(cleanup)
  const v1 = await openStore({ home, migrations: MIGRATIONS.filter(m => m.version === 1) })
  assert.equal(v1.schemaVersion, 1)
  await v1.insertMessage({ id: 'm1', peerId: 'bob', direction: 'out', body: utf8('kept'), sentAt: 1, status: 'sent' })
  await v1.close()
  const probe = new DatabaseSync(join(home, DB_FILE))
  assert.equal(probe.prepare("SELECT name FROM sqlite_schema WHERE name = 'receipt_outbox'").get(), undefined)
  probe.close()
  const s = await openStore({ home })
  t.after(async () => { await s.close() })
  assert.equal(s.schemaVersion, LATEST_SCHEMA_VERSION)
  assert.ok(LATEST_SCHEMA_VERSION >= 2)
  assert.equal(str((await s.getMessage('m1'))?.body), 'kept')
  await s.enqueueReceipt({ id: 'r1', peerId: 'bob', envelope: utf8('e') })
  assert.equal(await s.countReceiptOutbox(), 1)
})

// Compliance suite: the behaviour every ParleyStore must show, run against the SQLite store with and
// without encryption at rest (real files under os.tmpdir()).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  ContactNameTakenError, MAX_PREKEY_ID, openStore, StoreInputError, type Contact, type ParleyStore
} from '../../src/store/index.js'
import { DatabaseSync } from 'node:sqlite'
import { FAST_SCRYPT, str, tempHome, utf8 } from './helpers.js'

interface Config { label: string, passphrase: string | null }
const configs: Config[] = [
  { label: 'plain', passphrase: null },
  { label: 'encrypted', passphrase: 'correct horse battery staple' }
]

for (const cfg of configs) {
  describe(`ParleyStore compliance (${cfg.label})`, () => {
    let clock = 1_700_000_000_000
    const now = (): number => clock
    const open = async (home: string): Promise<ParleyStore> =>
      await openStore({ home, passphrase: cfg.passphrase, scrypt: FAST_SCRYPT, now })

    const withStore = (name: string, fn: (s: ParleyStore, reopen: () => Promise<ParleyStore>) => Promise<void>): void => {
      test(name, async (t) => {
        const { home, cleanup } = tempHome(cfg.label)
        let s = await open(home)
        t.after(async () => { await s.close(); cleanup() })
        const reopen = async (): Promise<ParleyStore> => { await s.close(); s = await open(home); return s }
        // close() is idempotent, so a test may close the store itself before reopen().
        assert.equal(s.encrypted, cfg.passphrase !== null)
        await fn(s, reopen)
      })
    }

    withStore('identity: put, get, rename, survives re-open', async (s, reopen) => {
      assert.equal(await s.getIdentity(), null)
      await assert.rejects(s.setProfileName('x'), StoreInputError)
      await s.putIdentity({ sealed: utf8('identity-bytes'), profileName: 'alice' })
      await s.setProfileName('Alice L.')
      s = await reopen()
      const id = await s.getIdentity()
      assert.equal(str(id?.sealed), 'identity-bytes')
      assert.equal(id?.profileName, 'Alice L.')
    })

    withStore('prekeys: put/get/remove/count per kind; ids are allocated without reuse of live ids', async (s) => {
      await s.putPreKey('onetime', 1, utf8('otk-1'))
      await s.putPreKey('onetime', 2, utf8('otk-2'))
      await s.putPreKey('signed', 1, utf8('spk-1'))
      await s.putPreKey('kyber', 7, utf8('kyb-7'))
      assert.equal(await s.countPreKeys('onetime'), 2)
      assert.equal(await s.countPreKeys('signed'), 1)
      assert.equal(str((await s.getPreKey('kyber', 7))?.record), 'kyb-7')
      assert.equal((await s.getPreKey('onetime', 1))?.createdAt, clock)
      assert.equal(await s.getPreKey('signed', 2), null)
      assert.equal(await s.removePreKey('onetime', 1), true)
      assert.equal(await s.removePreKey('onetime', 1), false)
      assert.equal(await s.getPreKey('onetime', 1), null)
      assert.deepEqual(await s.listPreKeyIds('onetime'), [2])
      // Allocation is monotonic from the counter (starting at 1) and skips live ids (2).
      assert.equal(await s.nextPreKeyId('onetime'), 1)
      assert.equal(await s.nextPreKeyId('onetime'), 3)
      assert.equal(await s.nextPreKeyId('onetime'), 4)
      assert.equal(await s.nextPreKeyId('signed'), 2)
      await assert.rejects(s.putPreKey('onetime', 0, utf8('x')), StoreInputError)
      await assert.rejects(s.putPreKey('onetime', MAX_PREKEY_ID + 1, utf8('x')), StoreInputError)
    })

    withStore('prekeys: id allocation wraps after MAX_PREKEY_ID, skipping live ids', async (s, reopen) => {
      await s.putPreKey('kyber', MAX_PREKEY_ID, utf8('last'))
      await s.putPreKey('kyber', 1, utf8('first'))
      const path = s.path
      await s.close()
      const raw = new DatabaseSync(path)
      raw.prepare("INSERT INTO prekey_counters (kind, last_id) VALUES ('kyber', ?)").run(MAX_PREKEY_ID - 1)
      raw.close()
      s = await reopen()
      assert.equal(await s.nextPreKeyId('kyber'), 2, 'MAX and 1 are live: wraps to 2')
      assert.equal(await s.nextPreKeyId('kyber'), 3)
    })

    withStore('sessions: get/put/delete by peer', async (s, reopen) => {
      assert.equal(await s.getSession('peerA'), null)
      await s.putSession('peerA', utf8('s1'))
      await s.putSession('peerA', utf8('s2'))
      await s.putSession('peerB', utf8('b1'))
      s = await reopen()
      assert.equal(str(await s.getSession('peerA')), 's2')
      assert.deepEqual(await s.listSessionPeers(), ['peerA', 'peerB'])
      // The crypto core allows session records up to ~1.5 MB (11 states x 2000 skipped keys).
      const big = new Uint8Array(1_600_000).map((_, i) => i & 0xff)
      await s.putSession('peerBig', big)
      assert.deepEqual(await s.getSession('peerBig'), big)
      assert.equal(await s.deleteSession('peerBig'), true)
      assert.equal(await s.deleteSession('peerB'), true)
      assert.equal(await s.deleteSession('peerB'), false)
      assert.deepEqual(await s.listSessionPeers(), ['peerA'])
    })

    withStore('contacts: unique names (case-insensitive), key change, addresses, update', async (s) => {
      const bob: Contact = {
        peerId: '12D3KooWBob', name: 'Bob', identityKey: utf8('bob-key'), verified: false, keyChange: null,
        addresses: ['/ip4/127.0.0.1/tcp/4001'], relays: ['/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWRelay'], lastSeen: null, createdAt: 100
      }
      await s.putContact(bob)
      assert.deepEqual((await s.getContact(bob.peerId))?.relays, ['/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWRelay'])
      await assert.rejects(s.putContact({ ...bob, peerId: '12D3KooWOther', name: 'bob' }), ContactNameTakenError)
      assert.equal(await s.suggestContactName('BOB'), 'BOB-2')
      await s.putContact({ ...bob, peerId: '12D3KooWOther', name: await s.suggestContactName('bob') })
      assert.equal((await s.getContactByName('BOB-2'))?.peerId, '12D3KooWOther')
      const updated = await s.updateContact(bob.peerId, {
        verified: true, keyChange: { newKey: utf8('bob-key-2'), seenAt: 200 }, lastSeen: 300, createdAt: 999
      } as Partial<Contact>)
      assert.equal(updated?.verified, true)
      assert.equal(str(updated?.keyChange?.newKey ?? null), 'bob-key-2')
      assert.equal(updated?.keyChange?.seenAt, 200)
      assert.equal(updated?.createdAt, 100, 'createdAt never changes')
      assert.deepEqual(updated?.addresses, ['/ip4/127.0.0.1/tcp/4001'])
      assert.deepEqual(updated?.relays, ['/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWRelay'], 'a patch without relays keeps them')
      assert.deepEqual((await s.updateContact(bob.peerId, { relays: [] }))?.relays, [])
      await assert.rejects(s.updateContact(bob.peerId, { relays: Array.from({ length: 65 }, (_, i) => `/r${i}`) }), StoreInputError)
      // Accepting the change: new key, pending cleared, unverified.
      const accepted = await s.updateContact(bob.peerId, { identityKey: utf8('bob-key-2'), keyChange: null, verified: false })
      assert.equal(str(accepted?.identityKey ?? null), 'bob-key-2')
      assert.equal(accepted?.keyChange, null)
      assert.equal(await s.updateContact('nobody', { verified: true }), null)
      assert.deepEqual((await s.listContacts()).map(c => c.name), ['Bob', 'bob-2'])
      assert.equal(await s.deleteContact('12D3KooWOther'), true)
      assert.equal(await s.getContact('12D3KooWOther'), null)
    })

    withStore('messages: idempotent insert by id, per-conversation seq, oldest-first paging', async (s) => {
      const base = { peerId: 'peerA', direction: 'in' as const, sentAt: 10, receivedAt: 11, status: 'delivered' as const }
      for (let i = 1; i <= 7; i++) {
        const r = await s.insertMessage({ ...base, id: `a${i}`, body: utf8(`hello ${i}`), sentAt: 100 - i })
        assert.deepEqual(r, { result: 'inserted', seq: i })
      }
      const other = await s.insertMessage({ ...base, peerId: 'peerB', id: 'b1', body: utf8('b') })
      assert.deepEqual(other, { result: 'inserted', seq: 1 }, 'seq is per conversation')
      // Duplicate id: reported, nothing changes (even with a different body).
      const dup = await s.insertMessage({ ...base, id: 'a3', body: utf8('REPLACED') })
      assert.deepEqual(dup, { result: 'duplicate', seq: 3, peerId: 'peerA' })
      assert.equal(str((await s.getMessage('a3'))?.body), 'hello 3')
      assert.equal((await s.listMessages('peerA', { limit: 100 })).length, 7)

      // Order is seq (arrival), not the sender's clock (sentAt decreases here).
      const latest = await s.listMessages('peerA', { limit: 3 })
      assert.deepEqual(latest.map(m => m.seq), [5, 6, 7])
      const before = await s.listMessages('peerA', { limit: 3, beforeSeq: 5 })
      assert.deepEqual(before.map(m => m.id), ['a2', 'a3', 'a4'])
      const after = await s.listMessages('peerA', { limit: 2, afterSeq: 5 })
      assert.deepEqual(after.map(m => m.id), ['a6', 'a7'])
      const m1 = (await s.listMessages('peerA', { afterSeq: 0, limit: 1 }))[0]!
      assert.equal(str(m1.body), 'hello 1')
      assert.equal(m1.direction, 'in')
      assert.equal(m1.receivedAt, 11)
      assert.equal(m1.readAt, null)
      await assert.rejects(s.listMessages('peerA', { limit: 0 }), StoreInputError)
    })

    withStore('messages: status, unread counts, markRead, delete', async (s) => {
      for (let i = 1; i <= 4; i++) {
        await s.insertMessage({ id: `in${i}`, peerId: 'p', direction: 'in', body: utf8('x'), sentAt: i, receivedAt: i, status: 'delivered' })
      }
      await s.insertMessage({ id: 'out1', peerId: 'p', direction: 'out', body: utf8('y'), sentAt: 5, status: 'queued' })
      await s.insertMessage({ id: 'q1', peerId: 'q', direction: 'in', body: utf8('z'), sentAt: 5, status: 'delivered' })
      assert.equal(await s.unreadCount('p'), 4)
      assert.deepEqual(await s.unreadCounts(), { p: 4, q: 1 })
      assert.equal(await s.markRead('p', { upToSeq: 2, at: 77 }), 2)
      assert.equal(await s.unreadCount('p'), 2)
      assert.equal((await s.getMessage('in1'))?.readAt, 77)
      assert.equal(await s.markRead('p'), 2)
      assert.deepEqual(await s.unreadCounts(), { q: 1 })
      assert.equal(await s.setStatus('out1', 'sent'), true)
      assert.equal((await s.getMessage('out1'))?.status, 'sent')
      assert.equal(await s.setStatus('nope', 'sent'), false)
      await assert.rejects(s.setStatus('out1', 'bogus' as 'sent'), StoreInputError)
      assert.equal(await s.deleteMessage('q1'), true)
      assert.equal(await s.getMessage('q1'), null)
    })

    withStore('outbox: enqueue, due, attempts, survives close/re-open; receipts remove it and advance status', async (s, reopen) => {
      await s.write(tx => {
        for (let i = 1; i <= 3; i++) {
          tx.insertMessage({ id: `m${i}`, peerId: 'peerA', direction: 'out', body: utf8(`msg ${i}`), sentAt: i, status: 'queued' })
          tx.enqueueOutbox({ messageId: `m${i}`, peerId: 'peerA', envelope: utf8(`envelope ${i}`), nextAttemptAt: 1000 + i })
        }
      })
      await assert.rejects(s.enqueueOutbox({ messageId: 'nope', peerId: 'peerA', envelope: utf8('e') }), StoreInputError)
      await assert.rejects(s.enqueueOutbox({ messageId: 'm1', peerId: 'peerB', envelope: utf8('e') }), StoreInputError)
      assert.equal(await s.recordOutboxAttempt('m1', { error: 'dial timeout', nextAttemptAt: 5000 }), true)

      s = await reopen()
      assert.equal(await s.countOutbox(), 3)
      const due = await s.dueOutbox(2000)
      assert.deepEqual(due.map(e => e.messageId), ['m2', 'm3'])
      assert.equal(str(due[0]!.envelope), 'envelope 2')
      const m1 = await s.getOutbox('m1')
      assert.equal(m1?.attempts, 1)
      assert.equal(m1?.lastError, 'dial timeout')
      assert.equal(m1?.nextAttemptAt, 5000)
      assert.deepEqual((await s.outboxFor('peerA')).map(e => e.messageId), ['m1', 'm2', 'm3'])

      // A delivery receipt: receipt stored, status forward, outbox entry gone — one unit.
      // Receipts from the wrong peer, or for an incoming message, are ignored (and keep the outbox entry).
      await s.insertMessage({ id: 'in1', peerId: 'peerA', direction: 'in', body: utf8('hi'), sentAt: 1, status: 'delivered' })
      assert.equal(await s.addReceipt({ fromPeerId: 'peerB', messageId: 'm2', kind: 'delivered', at: 2999 }), false)
      assert.equal(await s.addReceipt({ fromPeerId: 'peerA', messageId: 'in1', kind: 'read', at: 2999 }), false)
      assert.notEqual(await s.getOutbox('m2'), null)
      assert.deepEqual(await s.listReceipts('m2'), [])
      assert.equal(await s.addReceipt({ fromPeerId: 'peerA', messageId: 'm2', kind: 'delivered', at: 3000 }), true)
      assert.equal(await s.getOutbox('m2'), null)
      assert.equal((await s.getMessage('m2'))?.status, 'delivered')
      await s.addReceipt({ fromPeerId: 'peerA', messageId: 'm2', kind: 'read', at: 3100 })
      await s.addReceipt({ fromPeerId: 'peerA', messageId: 'm2', kind: 'delivered', at: 3200 }) // late and duplicate: no effect
      assert.equal((await s.getMessage('m2'))?.status, 'read', 'status never moves backwards')
      assert.deepEqual(await s.listReceipts('m2'), [
        { messageId: 'm2', kind: 'delivered', at: 3000 },
        { messageId: 'm2', kind: 'read', at: 3100 }
      ])
      assert.equal(await s.addReceipt({ fromPeerId: 'peerA', messageId: 'unknown', kind: 'read', at: 1 }), false)
      // Deleting a message takes its outbox entry and receipts along (foreign keys, cascade).
      assert.equal(await s.deleteMessage('m2'), true)
      assert.deepEqual(await s.listReceipts('m2'), [])
      assert.equal(await s.deleteMessage('m3'), true)
      assert.equal(await s.countOutbox(), 1)
      assert.equal(await s.removeOutbox('m1'), true)
      assert.equal(await s.countOutbox(), 0)
    })

    withStore('read(): one consistent snapshot; injectable clock stamps writes', async (s) => {
      clock = 42_000
      await s.putPreKey('signed', 9, utf8('k'))
      const snap = await s.read(tx => ({ n: tx.countPreKeys('signed'), k: tx.getPreKey('signed', 9) }))
      assert.equal(snap.n, 1)
      assert.equal(snap.k?.createdAt, 42_000)
    })
  })
}

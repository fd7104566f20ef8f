// The group tables (store schema version 5, src/store/sqlite/groups.ts) on real SQLite files: secrets
// never in the raw files when a passphrase is set, values survive a passphrase change (re-encoding of
// the group columns), display order and positions, the wire cap, outbox order kept when sealing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { openStore, StoreInputError, LATEST_SCHEMA_VERSION, type ParleyStore } from '../../src/store/index.js'
import { FAST_SCRYPT, str, tempHome, utf8 } from '../store/helpers.js'

const MARK = {
  secret: 'GROUP-SECRET-0a1b2c3d4e5f-thirty2by',
  own: 'GROUP-OWN-CHAIN-77aa-signing-seed',
  causal: 'GROUP-CAUSAL-PENDING-text-in-buffer',
  record: 'GROUP-RECORD-c0ffee-chain-keys',
  body: 'GROUP-BODY-meet-at-the-old-mill',
  envelope: 'GROUP-CONTROL-ENVELOPE-9911'
}
const GID = 'ab'.repeat(32)

async function fill (s: ParleyStore): Promise<void> {
  await s.write(tx => {
    tx.groups.putGroup({ groupId: GID, name: 'team', active: true, epoch: 2, secret: utf8(MARK.secret), ownKey: utf8(MARK.own), causal: utf8(MARK.causal), addrs: { aa: ['/ip4/127.0.0.1/tcp/1'] }, createdAt: 1, joinedAt: 2 })
    tx.groups.putLogEntry(GID, 0, utf8('entry0'))
    tx.groups.putLogEntry(GID, 1, utf8('entry1'))
    tx.groups.putSenderKey(GID, 'cc', utf8(MARK.record))
    // inserted out of display order on purpose
    tx.groups.insertGroupMessage({ id: 'm2', groupId: GID, sender: 'bb', senderSeq: 1, lamport: 5, body: utf8(MARK.body), sentAt: 3, receivedAt: 4, status: 'delivered', wire: utf8('wire2') })
    tx.groups.insertGroupMessage({ id: 'm1', groupId: GID, sender: 'aa', senderSeq: 1, lamport: 5, body: utf8('first'), sentAt: 3, receivedAt: 4, status: 'delivered', wire: utf8('wire1') })
    tx.groups.insertGroupMessage({ id: 'm0', groupId: GID, sender: 'cc', senderSeq: 1, lamport: 1, body: utf8('zero'), sentAt: 1, receivedAt: null, status: 'queued', wire: utf8('wire0') })
    tx.groups.enqueueGroupOutbox({ id: 'o1', peerId: 'peerA', envelope: utf8(MARK.envelope) })
    tx.groups.enqueueGroupOutbox({ id: 'o2', peerId: 'peerA', envelope: utf8('second') })
  })
}

async function check (s: ParleyStore): Promise<void> {
  const g = await s.read(tx => tx.groups.getGroup(GID))
  assert.ok(g != null)
  assert.equal(str(g.secret), MARK.secret)
  assert.equal(str(g.ownKey), MARK.own)
  assert.equal(str(g.causal), MARK.causal)
  assert.deepEqual(g.addrs, { aa: ['/ip4/127.0.0.1/tcp/1'] })
  assert.deepEqual((await s.read(tx => tx.groups.listLog(GID))).map(str), ['entry0', 'entry1'])
  assert.equal(str((await s.read(tx => tx.groups.listSenderKeys(GID)))[0]!.record), MARK.record)
  const msgs = await s.read(tx => tx.groups.listGroupMessages(GID))
  assert.deepEqual(msgs.map(m => m.id), ['m0', 'm1', 'm2'], 'display order (lamport, sender, seq)')
  assert.equal(str(msgs[2]!.body), MARK.body)
  assert.equal(await s.read(tx => tx.groups.groupPosition(GID, 5, 'bb', 1)), 3)
  assert.deepEqual((await s.read(tx => tx.groups.groupOutboxFor('peerA', 10))).map(e => str(e.envelope)), [MARK.envelope, 'second'])
}

function markersIn (path: string): string[] {
  const blobs = [path, path + '-wal'].filter(p => existsSync(p)).map(p => readFileSync(p))
  return Object.values(MARK).filter(m => blobs.some(b => b.includes(Buffer.from(m))))
}

test('group tables: encrypted at rest, readable after a passphrase change, ordered', async () => {
  const t = tempHome('groups-enc')
  try {
    const s = await openStore({ home: t.home, passphrase: 'pw one', scrypt: FAST_SCRYPT })
    assert.equal(s.schemaVersion, LATEST_SCHEMA_VERSION)
    await fill(s)
    await check(s)
    await s.close()
    assert.deepEqual(markersIn(s.path), [], 'no group secret in the raw files')
    const s2 = await openStore({ home: t.home, passphrase: 'pw one', scrypt: FAST_SCRYPT })
    await s2.changePassphrase({ current: 'pw one', next: null })
    await check(s2)
    await s2.changePassphrase({ current: null, next: 'pw two' })
    await check(s2)
    await s2.close()
    assert.deepEqual(markersIn(s2.path), [])
    const s3 = await openStore({ home: t.home, passphrase: 'pw two', scrypt: FAST_SCRYPT })
    await check(s3)
    // sealing rewrites an outbox entry in place: the order stays
    await s3.write(tx => { tx.groups.setGroupOutboxEnvelope('o1', utf8('sealed-1')) })
    assert.deepEqual((await s3.read(tx => tx.groups.groupOutboxFor('peerA', 10))).map(e => str(e.envelope)), ['sealed-1', 'second'])
    // caps and the unit-of-work rule
    await assert.rejects(s3.write(tx => tx.groups.insertGroupMessage({ id: 'big', groupId: GID, sender: 'aa', senderSeq: 9, lamport: 9, body: utf8('x'), sentAt: 1, receivedAt: null, status: 'queued', wire: new Uint8Array(300 * 1024) })), StoreInputError)
    await assert.rejects(s3.read(tx => { tx.groups.putLogEntry(GID, 2, utf8('x')) }), /only be used inside store.write/)
    assert.equal(await s3.write(tx => tx.groups.insertGroupMessage({ id: 'm1', groupId: GID, sender: 'aa', senderSeq: 1, lamport: 5, body: utf8('again'), sentAt: 3, receivedAt: 4, status: 'delivered', wire: utf8('w') })), 'duplicate')
    assert.equal(await s3.write(tx => tx.groups.pruneGroupWires(GID, 1)), 2)
    assert.equal((await s3.read(tx => tx.groups.groupWires(GID, 'bb', 1, 1, 10))).length, 1, 'the newest ciphertext is kept')
    assert.equal(await s3.write(tx => tx.groups.markGroupRead(GID, 10)), 2)
    assert.equal(await s3.read(tx => tx.groups.groupUnread(GID)), 0)
    await s3.close()
  } finally {
    t.cleanup()
  }
})

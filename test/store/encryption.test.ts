// Encryption at rest: wrong / missing / unexpected passphrase, no plaintext in the raw files,
// values bound to their row (swapping is detected), passphrase change (re-wrap, plain <-> encrypted).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { DatabaseSync } from 'node:sqlite'
import { WrongPassphraseError } from '../../src/crypto/errors.js'
import {
  openStore, StoreCorruptError, StoreNotEncryptedError, StorePassphraseRequiredError, type ParleyStore
} from '../../src/store/index.js'
import { FAST_SCRYPT, str, tempHome, utf8 } from './helpers.js'

const MARK = {
  body: 'PLAINTEXT-BODY-7f3a9c-the-eagle-lands-at-noon',
  session: 'PLAINTEXT-SESSION-4b1e-ratchet-chain-key',
  prekey: 'PLAINTEXT-PREKEY-91dd-one-time-secret',
  identity: 'PLAINTEXT-IDENTITY-2c77-private-key',
  envelope: 'PLAINTEXT-ENVELOPE-5e10-wire-bytes'
}

async function fill (s: ParleyStore): Promise<void> {
  await s.write(tx => {
    tx.putIdentity({ sealed: utf8(MARK.identity), profileName: 'alice' })
    tx.putPreKey('onetime', 5, utf8(MARK.prekey))
    tx.putSession('peerA', utf8(MARK.session))
    tx.insertMessage({ id: 'm1', peerId: 'peerA', direction: 'out', body: utf8(MARK.body), sentAt: 1, status: 'queued' })
    tx.enqueueOutbox({ messageId: 'm1', peerId: 'peerA', envelope: utf8(MARK.envelope) })
  })
}

/** Which markers appear in the raw bytes of parley.db and its -wal (read as the OS stores them). */
function markersInFiles (path: string): string[] {
  const blobs = [path, path + '-wal'].filter(p => existsSync(p)).map(p => readFileSync(p))
  return Object.values(MARK).filter(m => blobs.some(b => b.includes(Buffer.from(m))))
}

async function checkContents (s: ParleyStore): Promise<void> {
  assert.equal(str((await s.getIdentity())?.sealed), MARK.identity)
  assert.equal(str((await s.getPreKey('onetime', 5))?.record), MARK.prekey)
  assert.equal(str(await s.getSession('peerA')), MARK.session)
  assert.equal(str((await s.getMessage('m1'))?.body), MARK.body)
  assert.equal(str((await s.getOutbox('m1'))?.envelope), MARK.envelope)
}

test('encrypted store: no secret in plaintext in the files (while open and after close); plain store: all of them', async (t) => {
  const enc = tempHome('enc')
  const plain = tempHome('plain')
  t.after(() => { enc.cleanup(); plain.cleanup() })

  const s = await openStore({ home: enc.home, passphrase: 'pass one', scrypt: FAST_SCRYPT })
  assert.equal(s.encrypted, true)
  await fill(s)
  assert.deepEqual(markersInFiles(s.path), [], 'nothing readable in db + WAL while open')
  await s.close()
  assert.deepEqual(markersInFiles(s.path), [], 'nothing readable after checkpoint')

  // Positive control: the same data without a passphrase is visible, so the grep can fail.
  const p = await openStore({ home: plain.home })
  await fill(p)
  await p.close()
  assert.deepEqual(markersInFiles(p.path).sort(), Object.values(MARK).sort())

  const again = await openStore({ home: enc.home, passphrase: 'pass one' })
  await checkContents(again)
  await again.close()
})

test('wrong passphrase, missing passphrase and a passphrase for a plain store are typed errors', async (t) => {
  const { home, cleanup } = tempHome('wrong')
  const plain = tempHome('plain2')
  t.after(() => { cleanup(); plain.cleanup() })
  const s = await openStore({ home, passphrase: 'right', scrypt: FAST_SCRYPT })
  await fill(s)
  await s.close()
  await assert.rejects(openStore({ home, passphrase: 'wrong' }), WrongPassphraseError)
  await assert.rejects(openStore({ home }), StorePassphraseRequiredError)
  await assert.rejects(openStore({ home, passphrase: '' }), StorePassphraseRequiredError)
  const ok = await openStore({ home, passphrase: 'right' })
  await checkContents(ok)
  await ok.close()

  const p = await openStore({ home: plain.home })
  await p.close()
  await assert.rejects(openStore({ home: plain.home, passphrase: 'x' }), StoreNotEncryptedError)
})

test('a sealed value moved to another row fails authentication (AAD binds table and row key)', async (t) => {
  const { home, cleanup } = tempHome('swap')
  t.after(cleanup)
  const s = await openStore({ home, passphrase: 'pw', scrypt: FAST_SCRYPT })
  await s.putSession('peerA', utf8('session of A'))
  await s.putSession('peerB', utf8('session of B'))
  await s.close()
  const raw = new DatabaseSync(s.path)
  raw.exec("UPDATE sessions SET record = (SELECT record FROM sessions WHERE peer_id = 'peerB') WHERE peer_id = 'peerA'")
  raw.close()
  const s2 = await openStore({ home, passphrase: 'pw' })
  t.after(async () => await s2.close())
  assert.equal(str(await s2.getSession('peerB')), 'session of B')
  await assert.rejects(s2.getSession('peerA'), StoreCorruptError)
})

test('changing the passphrase re-wraps the data key only; old passphrase stops working', async (t) => {
  const { home, cleanup } = tempHome('rewrap')
  t.after(cleanup)
  const s = await openStore({ home, passphrase: 'old pw', scrypt: FAST_SCRYPT })
  await fill(s)
  await s.close()
  const raw = new DatabaseSync(s.path)
  const before = raw.prepare("SELECT record FROM sessions WHERE peer_id = 'peerA'").get() as { record: Uint8Array }
  raw.close()

  const s2 = await openStore({ home, passphrase: 'old pw', scrypt: FAST_SCRYPT })
  await assert.rejects(s2.changePassphrase({ current: 'not it', next: 'new pw' }), WrongPassphraseError)
  await s2.changePassphrase({ current: 'old pw', next: 'new pw' })
  await checkContents(s2)
  await s2.close()

  const raw2 = new DatabaseSync(s.path)
  const after = raw2.prepare("SELECT record FROM sessions WHERE peer_id = 'peerA'").get() as { record: Uint8Array }
  raw2.close()
  assert.deepEqual(after.record, before.record, 'values are not re-encrypted')
  await assert.rejects(openStore({ home, passphrase: 'old pw' }), WrongPassphraseError)
  const s3 = await openStore({ home, passphrase: 'new pw' })
  await checkContents(s3)
  await s3.close()
})

test('setting a passphrase on a plain store encrypts everything (no plaintext left); removing it decrypts', async (t) => {
  const { home, cleanup } = tempHome('toggle')
  t.after(cleanup)
  const s = await openStore({ home, scrypt: FAST_SCRYPT })
  await fill(s)
  // Enough extra rows to span several pages and recode batches.
  await s.write(tx => {
    for (let i = 0; i < 600; i++) tx.insertMessage({ id: `x${i}`, peerId: `peer${i % 7}`, direction: 'in', body: utf8(`filler ${i} `.repeat(20)), sentAt: i, status: 'delivered' })
  })
  assert.ok(markersInFiles(s.path).length > 0)
  await assert.rejects(s.changePassphrase({ current: 'something', next: 'pw' }), StoreNotEncryptedError)
  await s.changePassphrase({ current: null, next: 'pw' })
  assert.equal(s.encrypted, true)
  await checkContents(s)
  assert.equal(str((await s.getMessage('x599'))?.body), 'filler 599 '.repeat(20))
  assert.deepEqual(markersInFiles(s.path), [], 'old plaintext purged from db and WAL')
  await s.close()
  await assert.rejects(openStore({ home }), StorePassphraseRequiredError)

  const s2 = await openStore({ home, passphrase: 'pw' })
  await checkContents(s2)
  await s2.changePassphrase({ current: 'pw', next: null })
  assert.equal(s2.encrypted, false)
  await checkContents(s2)
  await s2.close()
  const s3 = await openStore({ home })
  await checkContents(s3)
  assert.equal((await s3.listMessages('peer3', { limit: 1000 })).length, 86)
  await s3.close()
})

test('deleted secrets are overwritten in the file (secure_delete): a used one-time prekey is really gone', async (t) => {
  const { home, cleanup } = tempHome('securedelete')
  t.after(cleanup)
  const s = await openStore({ home })
  await s.putPreKey('onetime', 1, utf8(MARK.prekey))
  await s.putSession('peerA', utf8(MARK.session))
  await s.close()
  assert.deepEqual(markersInFiles(s.path).sort(), [MARK.prekey, MARK.session].sort(), 'control: stored plain')
  const s2 = await openStore({ home })
  await s2.write(tx => {
    tx.removePreKey('onetime', 1)
    tx.putSession('peerA', utf8('next ratchet state'))
  })
  await s2.close()
  assert.deepEqual(markersInFiles(s.path), [], 'neither the removed prekey nor the old session state remain')
})

test('a tampered key record is refused: altered wrap -> WrongPassphraseError, absurd scrypt cost -> StoreCorruptError', async (t) => {
  const { home, cleanup } = tempHome('keywrap')
  t.after(cleanup)
  const s = await openStore({ home, passphrase: 'pw', scrypt: FAST_SCRYPT })
  await s.close()
  const raw = new DatabaseSync(s.path)
  const rec = JSON.parse((raw.prepare("SELECT value FROM meta WHERE key = 'keywrap'").get() as { value: string }).value) as Record<string, unknown>
  const set = (v: unknown): void => { raw.prepare("UPDATE meta SET value = ? WHERE key = 'keywrap'").run(JSON.stringify(v)) }
  try {
    const flipped = String(rec.wrapped).replace(/^./, c => c === '0' ? '1' : '0')
    set({ ...rec, wrapped: flipped })
    await assert.rejects(openStore({ home, passphrase: 'pw' }), WrongPassphraseError)
    set({ ...rec, N: 2 ** 30 })
    await assert.rejects(openStore({ home, passphrase: 'pw' }), StoreCorruptError)
    set({ ...rec, N: rec.N, r: 8, p: 1, salt: 'zz' })
    await assert.rejects(openStore({ home, passphrase: 'pw' }), StoreCorruptError)
    set(rec)
    const ok = await openStore({ home, passphrase: 'pw' })
    await ok.close()
  } finally {
    raw.close()
  }
})

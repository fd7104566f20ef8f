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

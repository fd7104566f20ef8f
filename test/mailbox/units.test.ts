// Unit tests of the mailbox's parts: tag/owner-key derivation (cross-checked against node:crypto),
// the auth transcript, the token bucket (injected clock) and the SQLite file (mode, WAL, foreign files).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createPrivateKey, createPublicKey, hkdfSync, verify } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import {
  AuthOp, MailboxDb, MailboxMalformedError, MailboxStorageError, TokenBuckets, authTranscript, deriveMailboxKey, epochOf,
  newMailboxSecret, signAuth, tagOfOwnerKey
} from '../../src/mailbox/index.js'
import { clientId, sealed, tempHome } from './helpers.js'

// RFC 8410 §7 PKCS#8 / SPKI prefixes for raw Ed25519 keys, so node:crypto can check our derivation.
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex')

describe('mailbox keys', () => {
  it('derives owner key and tag as specified (independent node:crypto computation)', async () => {
    const secret = newMailboxSecret()
    const k = await deriveMailboxKey(secret, '12D3KooWcontact', 42)
    const info = Buffer.concat([Buffer.from('parley/mailbox/owner/v1'), Buffer.from([0, 0, 0, 0, 42]), Buffer.from('12D3KooWcontact')])
    const seed = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32))
    assert.deepEqual(Buffer.from(k.ownerSeed), seed)
    const pub = createPublicKey(createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' }))
      .export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length)
    assert.deepEqual(Buffer.from(k.ownerPublicKey), pub)
    const tag = createHash('sha256').update('parley/mailbox/tag/v1').update(pub).digest()
    assert.deepEqual(Buffer.from(k.tag), tag)
    assert.deepEqual(await tagOfOwnerKey(k.ownerPublicKey), k.tag)
  })

  it('tags differ per label, epoch and secret; the same inputs give the same tag', async () => {
    const s = newMailboxSecret()
    const tags = [
      await deriveMailboxKey(s, 'alice', 1), await deriveMailboxKey(s, 'bob', 1), await deriveMailboxKey(s, 'alice', 2),
      await deriveMailboxKey(newMailboxSecret(), 'alice', 1)
    ].map(k => Buffer.from(k.tag).toString('hex'))
    assert.equal(new Set(tags).size, 4)
    assert.deepEqual((await deriveMailboxKey(s, 'alice', 1)).tag, (await deriveMailboxKey(s, 'alice', 1)).tag)
    assert.equal(epochOf(7 * 86_400_000 * 3 + 5, 7 * 86_400_000), 3)
    await assert.rejects(deriveMailboxKey(new Uint8Array(31), 'a', 1), MailboxMalformedError)
    await assert.rejects(deriveMailboxKey(s, 'a', -1), MailboxMalformedError)
  })

  it('an auth signature is bound to op, timestamp and both PeerIds', async () => {
    const k = await deriveMailboxKey(newMailboxSecret(), 'x', 1)
    const p = await signAuth(k, AuthOp.fetch, 1000n, 'mailbox', 'me')
    const spki = createPublicKey({ key: Buffer.concat([SPKI_ED25519, k.ownerPublicKey]), format: 'der', type: 'spki' })
    const ok = (op: AuthOp, ts: bigint, mb: string, me: string): boolean => verify(null, authTranscript(op, ts, mb, me, k.ownerPublicKey), spki, p.signature)
    assert.equal(ok(AuthOp.fetch, 1000n, 'mailbox', 'me'), true)
    assert.equal(ok(AuthOp.ack, 1000n, 'mailbox', 'me'), false)
    assert.equal(ok(AuthOp.fetch, 1001n, 'mailbox', 'me'), false)
    assert.equal(ok(AuthOp.fetch, 1000n, 'other', 'me'), false)
    assert.equal(ok(AuthOp.fetch, 1000n, 'mailbox', 'thief'), false)
    // length prefixes keep ("ab","c") and ("a","bc") apart
    assert.notDeepEqual(authTranscript(1, 0n, 'ab', 'c', k.ownerPublicKey), authTranscript(1, 0n, 'a', 'bc', k.ownerPublicKey))
  })
})

describe('token buckets', () => {
  it('allows a burst, then refills at the configured rate (injected clock)', () => {
    let t = 0
    const b = new TokenBuckets({ burst: 3, perSecond: 2 }, () => t)
    assert.deepEqual([b.take('a'), b.take('a'), b.take('a')], [0, 0, 0])
    assert.equal(b.take('a'), 500)
    assert.equal(b.take('b'), 0, 'another sender has its own bucket')
    t += 499
    assert.ok(b.take('a') > 0)
    t += 2
    assert.equal(b.take('a'), 0)
    t += 10_000
    assert.deepEqual([b.take('a'), b.take('a'), b.take('a')], [0, 0, 0])
    assert.ok(b.take('a') > 0, 'refill is capped at the burst')
  })

  it('forgets idle buckets instead of growing without bound', () => {
    let t = 0
    const b = new TokenBuckets({ burst: 2, perSecond: 1, maxTracked: 100 }, () => t)
    for (let i = 0; i < 1000; i++) b.take(`peer${i}`)
    t += 5_000
    for (let i = 0; i < 1000; i++) b.take(`other${i}`)
    assert.ok((b as unknown as { buckets: Map<string, unknown> }).buckets.size <= 100)
  })
})

describe('mailbox database', () => {
  it('creates mailbox.db 0600 in a 0700 home, in WAL mode, and reopens it', () => {
    const home = join(tempHome(), 'nested')
    const db = MailboxDb.open({ home })
    const tag = new Uint8Array(32).fill(7)
    const r = db.deposit(tag, clientId(), sealed(10), 1000)
    assert.equal(r.kind, 'stored')
    db.close()
    assert.equal(statSync(home).mode & 0o777, 0o700)
    assert.equal(statSync(join(home, 'mailbox.db')).mode & 0o777, 0o600)
    const raw = new DatabaseSync(join(home, 'mailbox.db'))
    assert.equal((raw.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal')
    assert.equal((raw.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number }).v, 1)
    raw.close()
    const again = MailboxDb.open({ home })
    assert.deepEqual(again.stats(), { items: 1, bytes: 10 })
    assert.equal(again.fetch([tag], 0, 10, 1 << 20, 2000).items.length, 1)
    again.close()
  })

  it('refuses a file that is not a mailbox database', () => {
    const home = tempHome()
    const other = new DatabaseSync(join(home, 'mailbox.db'))
    other.exec('CREATE TABLE t (x)')
    other.close()
    assert.throws(() => MailboxDb.open({ home }), MailboxStorageError)
    const home2 = tempHome()
    writeFileSync(join(home2, 'mailbox.db'), 'not sqlite at all, just text padding the file out to a page...'.repeat(100))
    assert.throws(() => MailboxDb.open({ home: home2 }), MailboxStorageError)
  })

  it('pages by bytes: a page stops before exceeding maxBytes but always holds one item', () => {
    const db = MailboxDb.open({ home: tempHome() })
    const tag = new Uint8Array(32).fill(1)
    for (let i = 0; i < 5; i++) db.deposit(tag, clientId(), sealed(400), 1000 + i)
    const p = db.fetch([tag], 0, 100, 1000, 2000)
    assert.equal(p.items.length, 2)
    assert.equal(p.more, true)
    const one = db.fetch([tag], 0, 100, 10, 2000)
    assert.equal(one.items.length, 1)
    db.close()
  })
})

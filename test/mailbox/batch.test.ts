// Batched deposits (one stream, one mailbox transaction for many items) and sealed items (the sender
// and the envelope hidden from the mailbox), over real libp2p nodes on 127.0.0.1 with real SQLite files.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import {
  MailboxFullError, MailboxMalformedError, MailboxRateLimitedError, MAILBOX_LIMITS, MAILBOX_PROTOCOL, openItem, sealItem
} from '../../src/mailbox/index.js'
import { MailboxFrames } from '../../src/mailbox/frames.js'
import { MailboxRequest, MailboxResponse, Status } from '../../src/mailbox/gen/mailbox.js'
import { primitives } from '../../src/crypto/primitives/index.js'
import { clientId, harness, recipientKey, sealed, type Harness } from './helpers.js'

describe('mailbox: batched deposits', () => {
  let h: Harness
  before(async () => { h = await harness({ limits: { maxItemsPerTag: 300 } }) })
  after(async () => { await h.close() })

  it('many items in one request: stored in order, idempotent per client id, fetched in deposit order', async () => {
    const sender = await h.client()
    const recipient = await h.client()
    const key = await recipientKey()
    const items = Array.from({ length: 260 }, (_, i) => ({ tag: key.tag, clientId: clientId(), sealed: sealed(20 + i) }))
    const res = await sender.depositMany(h.addr, items) // 256 + 4: two requests
    assert.equal(res.length, 260)
    assert.ok(res.every(r => r.ok && !r.duplicate))
    const ids = res.map(r => (r as { serverId: number }).serverId)
    assert.deepEqual([...ids].sort((a, b) => a - b), ids, 'server ids follow the request order')
    // a retry of the same items is answered "duplicate" with the same ids, nothing stored twice
    const again = await sender.depositMany(h.addr, items.slice(0, 10))
    assert.deepEqual(again.map(r => r.ok && r.duplicate), Array(10).fill(true))
    assert.deepEqual(again.map(r => (r as { serverId: number }).serverId), ids.slice(0, 10))
    const got = await recipient.fetchAll(h.addr, [key])
    assert.deepEqual(got.map(g => g.sealed), items.map(i => i.sealed))
    assert.equal(await recipient.ack(h.addr, [key], got.map(g => g.id)), 260)
  })

  it('a full tag refuses the rest of the batch (a prefix is kept); other tags are unaffected', async () => {
    const sender = await h.client()
    const key = await recipientKey()
    const other = await recipientKey('other')
    const items = Array.from({ length: 310 }, (_, i) => ({ tag: i % 61 === 60 ? other.tag : key.tag, clientId: clientId(), sealed: sealed(10) }))
    const res = await sender.depositMany(h.addr, items)
    const mine = res.filter((_, i) => items[i]!.tag === key.tag)
    const firstFull = mine.findIndex(r => !r.ok)
    assert.equal(firstFull, 300, 'the quota of 300 items is used up, in order')
    assert.ok(mine.slice(firstFull).every(r => !r.ok && r.error instanceof MailboxFullError && /mailbox full/.test(r.error.message)))
    assert.ok(res.filter((_, i) => items[i]!.tag === other.tag).every(r => r.ok), 'another recipient still gets its mail')
  })

  it('malformed items are refused one by one; an oversize or empty batch as a whole', async () => {
    const sender = await h.client()
    const key = await recipientKey()
    const res = await sender.depositMany(h.addr, [
      { tag: key.tag, clientId: clientId(), sealed: sealed(5) },
      { tag: key.tag.subarray(1), clientId: clientId(), sealed: sealed(5) },
      { tag: key.tag, clientId: clientId(), sealed: sealed(5) }
    ])
    assert.equal(res[0]!.ok, true)
    assert.ok(!res[1]!.ok && res[1]!.error instanceof MailboxMalformedError)
    assert.equal(res[2]!.ok, true)
    // raw frames: an empty batch and one with too many items
    for (const n of [0, MAILBOX_LIMITS.maxBatchItems + 1]) {
      const node = h.clients[0]!
      const stream = await node.dialProtocol(h.addr, MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
      const f = new MailboxFrames(stream, 2 * 1024 * 1024)
      const items = Array.from({ length: n }, () => ({ tag: key.tag, clientId: clientId(), sealed: sealed(1) }))
      try {
        await f.write(MailboxRequest.encode({ batch: { items: items as Array<{ tag: Uint8Array<ArrayBuffer>, clientId: Uint8Array<ArrayBuffer>, sealed: Uint8Array<ArrayBuffer> }> } }), 10_000)
        const r = MailboxResponse.decode(await f.read(10_000))
        // more than 256 repeated items is undecodable (protons limits): the stream is reset instead
        assert.equal(r.status, Status.MALFORMED)
        assert.equal(n, 0)
      } catch (err) {
        assert.notEqual(n, 0, `an empty batch is answered, not reset: ${String(err)}`)
      }
    }
  })
})

describe('mailbox: batch rate limit', () => {
  let h: Harness
  before(async () => { h = await harness({ rateLimit: { burst: 10, perSecond: 1 } }) })
  after(async () => { await h.close() })

  it('a batch costs 1 + items/32 tokens', async () => {
    const sender = await h.client()
    const key = await recipientKey()
    const items = Array.from({ length: 256 }, () => ({ tag: key.tag, clientId: clientId(), sealed: sealed(4) }))
    // 1 + 8 = 9 tokens: the first batch passes, the second is refused with a wait
    assert.ok((await sender.depositMany(h.addr, items)).every(r => r.ok))
    await assert.rejects(sender.depositMany(h.addr, items.map(i => ({ ...i, clientId: clientId() }))), MailboxRateLimitedError)
  })
})

describe('sealed mailbox items', () => {
  it('only the recipient opens them; the sender and envelope come out intact; tampering is refused', async () => {
    const r = await primitives.x25519Generate()
    const other = await primitives.x25519Generate()
    const env = sealed(300)
    const s = await sealItem(r.publicKey, '12D3KooWSender', env)
    assert.equal(s[0], 1)
    // neither the sender's name nor the envelope appear in the sealed bytes
    assert.equal(Buffer.from(s).indexOf(Buffer.from('12D3KooWSender')), -1)
    assert.equal(Buffer.from(s).indexOf(Buffer.from(env.subarray(0, 32))), -1)
    const o = await openItem(r.privateKey, r.publicKey, s)
    assert.equal(o.sender, '12D3KooWSender')
    assert.deepEqual(o.envelope, env)
    await assert.rejects(openItem(other.privateKey, other.publicKey, s), MailboxMalformedError)
    for (const i of [0, 1, 40, s.length - 1]) {
      const t = s.slice()
      t[i]! ^= 1
      await assert.rejects(openItem(r.privateKey, r.publicKey, t), MailboxMalformedError)
    }
    await assert.rejects(openItem(r.privateKey, r.publicKey, s.subarray(0, 40)), MailboxMalformedError)
    // a fresh ephemeral key per item: two seals of the same input differ
    const s2 = await sealItem(r.publicKey, '12D3KooWSender', env)
    assert.notDeepEqual(s2, s)
  })
})

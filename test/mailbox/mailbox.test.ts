// The mailbox over real libp2p nodes on 127.0.0.1 with real SQLite files.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import {
  MailboxFullError, MailboxMalformedError, MailboxProtocolError, MailboxRateLimitedError, MailboxRefusedError,
  MAILBOX_PROTOCOL, MAX_REQUEST_BYTES, AuthOp, signAuth, deriveMailboxKey, newMailboxSecret, type MailboxKey
} from '../../src/mailbox/index.js'
import { MailboxFrames } from '../../src/mailbox/frames.js'
import { MailboxRequest, MailboxResponse, Status } from '../../src/mailbox/gen/mailbox.js'
import { clientId, harness, recipientKey, sealed, type Harness } from './helpers.js'

const DAY = 24 * 60 * 60 * 1000

async function rawStream (h: Harness): Promise<Stream> {
  const n = h.clients[0] ?? (await h.client(), h.clients[0]!)
  return await n.dialProtocol(h.addr, MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
}

describe('mailbox: deposit, fetch, ack', () => {
  let h: Harness
  before(async () => { h = await harness() })
  after(async () => { await h.close() })

  it('deposit → fetch → ack → gone, in deposit order with depositedAt', async () => {
    const sender = await h.client()
    const recipient = await h.client()
    const key = await recipientKey()
    const other = await recipientKey('other')
    const bodies = [sealed(10), sealed(2000), sealed(1)]
    const ids: number[] = []
    for (const b of bodies) {
      const r = await sender.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: b })
      assert.equal(r.duplicate, false)
      ids.push(r.serverId)
    }
    await sender.deposit(h.addr, { tag: other.tag, clientId: clientId(), sealed: sealed(5) })
    const before = Date.now()
    const page = await recipient.fetch(h.addr, [key])
    assert.equal(page.more, false)
    assert.deepEqual(page.items.map(i => i.id), ids)
    assert.deepEqual(page.items.map(i => i.sealed), bodies)
    for (const i of page.items) {
      assert.deepEqual(i.tag, key.tag)
      assert.ok(i.depositedAt <= before && i.depositedAt > before - 60_000)
    }
    assert.equal(await recipient.ack(h.addr, [key], ids), 3)
    assert.deepEqual((await recipient.fetch(h.addr, [key])).items, [])
    // the other recipient's item is untouched
    assert.equal((await recipient.fetch(h.addr, [other])).items.length, 1)
    // acking again deletes nothing
    assert.equal(await recipient.ack(h.addr, [key], ids), 0)
  })

  it('paged fetch follows the cursor', async () => {
    const c = await h.client()
    const key = await recipientKey()
    const sent: Uint8Array[] = []
    for (let i = 0; i < 7; i++) {
      sent.push(sealed(50))
      await c.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: sent[i]! })
    }
    const p1 = await c.fetch(h.addr, [key], { limit: 3 })
    assert.equal(p1.items.length, 3)
    assert.equal(p1.more, true)
    const p2 = await c.fetch(h.addr, [key], { limit: 3, after: p1.next })
    const p3 = await c.fetch(h.addr, [key], { limit: 3, after: p2.next })
    assert.equal(p3.more, false)
    assert.deepEqual([...p1.items, ...p2.items, ...p3.items].map(i => i.sealed), sent)
    assert.deepEqual((await c.fetchAll(h.addr, [key])).map(i => i.sealed), sent)
  })

  it('idempotent deposit: the same client id twice is stored once, also after ack', async () => {
    const c = await h.client()
    const key = await recipientKey()
    const id = clientId()
    const body = sealed(64)
    const a = await c.deposit(h.addr, { tag: key.tag, clientId: id, sealed: body })
    const b = await c.deposit(h.addr, { tag: key.tag, clientId: id, sealed: body })
    assert.equal(b.duplicate, true)
    assert.equal(b.serverId, a.serverId)
    const items = await c.fetchAll(h.addr, [key])
    assert.equal(items.length, 1)
    await c.ack(h.addr, [key], [a.serverId])
    // a retry arriving after the recipient acknowledged is not stored again (tombstone until retention)
    const again = await c.deposit(h.addr, { tag: key.tag, clientId: id, sealed: body })
    assert.equal(again.duplicate, true)
    assert.deepEqual(await c.fetchAll(h.addr, [key]), [])
  })

  it('refuses wrong proofs and requests for someone else\'s mail', async () => {
    const sender = await h.client()
    const victim = await recipientKey('victim')
    const dep = await sender.deposit(h.addr, { tag: victim.tag, clientId: clientId(), sealed: sealed(30) })
    const attacker = await h.client()
    const mine = await recipientKey('attacker')
    // claims the victim's owner key but signs with its own seed
    const forged: MailboxKey = { tag: victim.tag, ownerPublicKey: victim.ownerPublicKey, ownerSeed: mine.ownerSeed }
    await assert.rejects(attacker.fetch(h.addr, [forged]), MailboxRefusedError)
    await assert.rejects(attacker.ack(h.addr, [forged], [dep.serverId]), MailboxRefusedError)
    // one bad proof among good ones refuses the whole request
    await assert.rejects(attacker.fetch(h.addr, [mine, forged]), MailboxRefusedError)
    // its own valid key cannot fetch or ack the victim's items
    assert.deepEqual((await attacker.fetch(h.addr, [mine])).items, [])
    assert.equal(await attacker.ack(h.addr, [mine], [dep.serverId]), 0)
    // stale timestamp (outside the ±5 min window)
    const stale = await h.client({ now: () => Date.now() - 10 * 60_000 })
    await assert.rejects(stale.fetch(h.addr, [victim]), MailboxRefusedError)
    // a proof the victim made for its own connection, replayed from another PeerId
    const victimNode = h.clients[0]!
    const ts = BigInt(Date.now())
    const proof = await signAuth(victim, AuthOp.fetch, ts, h.host.peerId.toString(), victimNode.peerId.toString())
    const thief = await h.client()
    const thiefNode = h.clients[h.clients.length - 1]!
    void thief
    const s = await thiefNode.dialProtocol(h.addr, MAILBOX_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const f = new MailboxFrames(s, 1 << 20)
    await f.write(MailboxRequest.encode({ fetch: { auth: { timestamp: ts, proofs: [{ ownerKey: proof.ownerKey as Uint8Array<ArrayBuffer>, signature: proof.signature as Uint8Array<ArrayBuffer> }] }, after: 0n, limit: 0 } }), 5_000)
    const res = MailboxResponse.decode(await f.read(5_000))
    assert.equal(res.status, Status.REFUSED)
    assert.equal(res.items.length, 0)
    // the victim itself still gets its item
    const own = await (await h.client()).fetch(h.addr, [victim]).catch(() => null)
    assert.equal(own?.items.length, 1)
    assert.ok(h.service.stats().refusedAuth >= 5)
  })

  it('malformed frames reset the stream; the mailbox stays healthy for others', async () => {
    const good = await h.client()
    const key = await recipientKey()
    const violationsBefore = h.service.stats().violations
    // 1. undecodable protobuf
    {
      const f = new MailboxFrames(await rawStream(h), 1 << 20)
      await f.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 0x01), 5_000)
      await assert.rejects(f.read(10_000), MailboxProtocolError)
    }
    // 2. announced length above the cap (only the prefix and a few bytes are sent)
    {
      const s = await rawStream(h)
      const len = MAX_REQUEST_BYTES + 1
      const prefix = [(len & 0x7f) | 0x80, ((len >> 7) & 0x7f) | 0x80, (len >> 14) & 0x7f]
      s.send(Uint8Array.from([...prefix, 1, 2, 3]))
      await assert.rejects(new MailboxFrames(s, 1 << 20).read(10_000), MailboxProtocolError)
    }
    // 3. two operations in one request
    {
      const f = new MailboxFrames(await rawStream(h), 1 << 20)
      const dep = { tag: key.tag as Uint8Array<ArrayBuffer>, clientId: clientId() as Uint8Array<ArrayBuffer>, sealed: sealed(4) as Uint8Array<ArrayBuffer> }
      await f.write(MailboxRequest.encode({ deposit: dep, ack: { ids: [1n] } }), 5_000)
      await assert.rejects(f.read(10_000), MailboxProtocolError)
    }
    // 4. an empty request (no operation)
    {
      const f = new MailboxFrames(await rawStream(h), 1 << 20)
      await f.write(new Uint8Array(0), 5_000)
      await assert.rejects(f.read(10_000), MailboxProtocolError)
    }
    // 5. field-level problems are answered MALFORMED (not a reset): a 5-byte tag
    await assert.rejects(
      (async () => {
        const f = new MailboxFrames(await rawStream(h), 1 << 20)
        await f.write(MailboxRequest.encode({ deposit: { tag: Uint8Array.of(1, 2, 3, 4, 5) as Uint8Array<ArrayBuffer>, clientId: clientId() as Uint8Array<ArrayBuffer>, sealed: sealed(4) as Uint8Array<ArrayBuffer> } }), 5_000)
        const r = MailboxResponse.decode(await f.read(10_000))
        if (r.status === Status.MALFORMED) throw new MailboxMalformedError(r.reason ?? '')
      })(),
      MailboxMalformedError
    )
    // the client refuses to send malformed deposits itself
    await assert.rejects(good.deposit(h.addr, { tag: key.tag, clientId: new Uint8Array(3), sealed: sealed(4) }), MailboxMalformedError)
    assert.equal(h.service.stats().violations, violationsBefore + 4)
    // healthy: another client deposits and fetches normally
    const r = await good.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: sealed(8) })
    assert.deepEqual((await good.fetch(h.addr, [key])).items.map(i => i.id), [r.serverId])
  })

  it('a stream that never sends its request is reset after the read timeout', async () => {
    const h2 = await harness({ readTimeoutMs: 500 })
    try {
      const c = await h2.client()
      const s = await rawStream(h2)
      await assert.rejects(new MailboxFrames(s, 1 << 20).read(20_000), MailboxProtocolError)
      assert.equal(h2.service.stats().violations, 1)
      const key = await recipientKey()
      await c.deposit(h2.addr, { tag: key.tag, clientId: clientId(), sealed: sealed(8) })
      assert.equal((await c.fetch(h2.addr, [key])).items.length, 1)
    } finally {
      await h2.close()
    }
  })
})

describe('mailbox: quota, rate limit, retention, restart', () => {
  it('quota full → typed "mailbox full" refusal; nothing lost for others', async () => {
    const h = await harness({ limits: { maxItemsPerTag: 3, maxBytesPerTag: 1000 } })
    try {
      const c = await h.client()
      const full = await recipientKey('full')
      const fine = await recipientKey('fine')
      const kept: Uint8Array[] = []
      for (let i = 0; i < 3; i++) {
        kept.push(sealed(100))
        await c.deposit(h.addr, { tag: full.tag, clientId: clientId(), sealed: kept[i]! })
      }
      const err = await c.deposit(h.addr, { tag: full.tag, clientId: clientId(), sealed: sealed(10) }).then(() => null, (e: unknown) => e)
      assert.ok(err instanceof MailboxFullError)
      assert.equal(err.code, 'ERR_MAILBOX_FULL')
      assert.match(err.message, /mailbox full/)
      // byte quota for another tag
      await c.deposit(h.addr, { tag: fine.tag, clientId: clientId(), sealed: sealed(900) })
      await assert.rejects(c.deposit(h.addr, { tag: fine.tag, clientId: clientId(), sealed: sealed(101) }), MailboxFullError)
      await c.deposit(h.addr, { tag: fine.tag, clientId: clientId(), sealed: sealed(100) })
      assert.deepEqual((await c.fetchAll(h.addr, [full])).map(i => i.sealed), kept)
      assert.equal((await c.fetchAll(h.addr, [fine])).length, 2)
      // acknowledging frees the quota
      const ids = (await c.fetchAll(h.addr, [full])).map(i => i.id)
      await c.ack(h.addr, [full], ids.slice(0, 1))
      await c.deposit(h.addr, { tag: full.tag, clientId: clientId(), sealed: sealed(10) })
      assert.equal(h.service.stats().refusedFull, 2)
    } finally {
      await h.close()
    }
  })

  it('total capacity full → refusal', async () => {
    const h = await harness({ limits: { maxTotalBytes: 500 } })
    try {
      const c = await h.client()
      await c.deposit(h.addr, { tag: (await recipientKey()).tag, clientId: clientId(), sealed: sealed(400) })
      await assert.rejects(c.deposit(h.addr, { tag: (await recipientKey()).tag, clientId: clientId(), sealed: sealed(101) }), /mailbox full: total capacity/)
    } finally {
      await h.close()
    }
  })

  it('a flood from one sender is rate limited while another sender still deposits', async () => {
    const t = 1_700_000_000_000
    // frozen clock: the bucket never refills during the test, so the outcome is deterministic
    const h = await harness({ now: () => t, rateLimit: { burst: 10, perSecond: 1 } })
    try {
      const flooder = await h.client({ now: () => t })
      const polite = await h.client({ now: () => t })
      const key = await recipientKey()
      const results = []
      for (let i = 0; i < 30; i++) {
        results.push(await flooder.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: sealed(20) }).then(() => 'ok', (e: unknown) => e))
      }
      assert.equal(results.filter(r => r === 'ok').length, 10)
      const limited = results.filter(r => r instanceof MailboxRateLimitedError) as MailboxRateLimitedError[]
      assert.equal(limited.length, 20)
      assert.ok(limited.every(e => e.retryAfterMs > 0 && e.retryAfterMs <= 1000))
      // the other sender is unaffected
      for (let i = 0; i < 5; i++) await polite.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: sealed(20) })
      assert.equal((await polite.fetchAll(h.addr, [key])).length, 15)
      assert.equal(h.service.stats().rateLimited, 20)
    } finally {
      await h.close()
    }
  })

  it('restart of the mailbox keeps mail', async () => {
    const h = await harness()
    try {
      const c = await h.client()
      const key = await recipientKey()
      const bodies = [sealed(10), sealed(20), sealed(30)]
      const ids = []
      for (const b of bodies) ids.push((await c.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: b })).serverId)
      await c.ack(h.addr, [key], [ids[1]!])
      await h.restart()
      const items = await c.fetchAll(h.addr, [key])
      assert.deepEqual(items.map(i => i.sealed), [bodies[0], bodies[2]])
      assert.deepEqual(h.service.stats().items, 2)
      // ids keep growing after a restart (deposit order survives)
      const next = await c.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: sealed(5) })
      assert.ok(next.serverId > ids[2]!)
    } finally {
      await h.close()
    }
  })

  it('retention: items expire after 30 days (injected clock) and are swept', async () => {
    let t = 1_700_000_000_000
    const h = await harness({ now: () => t })
    try {
      const c = await h.client({ now: () => t })
      const key = await recipientKey()
      await c.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: sealed(10) })
      t += 10 * DAY
      await c.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: sealed(10) })
      t += 20 * DAY - 1
      assert.equal((await c.fetch(h.addr, [key])).items.length, 2)
      t += 1 // the first is now exactly 30 days old
      const left = await c.fetch(h.addr, [key])
      assert.equal(left.items.length, 1)
      assert.equal(left.items[0]!.depositedAt, t - 20 * DAY)
      assert.equal(h.service.sweep(), 1)
      assert.equal(h.service.stats().items, 1)
      t += 10 * DAY
      assert.equal((await c.fetch(h.addr, [key])).items.length, 0)
      assert.equal(h.service.sweep(), 1)
      assert.deepEqual({ items: h.service.stats().items, bytes: h.service.stats().bytes }, { items: 0, bytes: 0 })
    } finally {
      await h.close()
    }
  })
})

describe('mailbox: volume', () => {
  it('1,000 deposits, then a fetch returns all in order', async () => {
    const h = await harness({ rateLimit: { burst: 5000 } })
    try {
      const sender = await h.client()
      const recipient = await h.client()
      const secret = newMailboxSecret()
      const key = await deriveMailboxKey(secret, 'bulk', 7)
      const sent: Uint8Array[] = []
      const t0 = performance.now()
      for (let i = 0; i < 1000; i++) {
        const b = sealed(200)
        sent.push(b)
        await sender.deposit(h.addr, { tag: key.tag, clientId: clientId(), sealed: b })
      }
      const t1 = performance.now()
      const items = await recipient.fetchAll(h.addr, [key])
      const t2 = performance.now()
      const acked = await recipient.ack(h.addr, [key], items.map(i => i.id))
      const t3 = performance.now()
      assert.equal(items.length, 1000)
      assert.deepEqual(items.map(i => i.sealed), sent)
      for (let i = 1; i < items.length; i++) assert.ok(items[i]!.id > items[i - 1]!.id)
      assert.equal(acked, 1000)
      console.log(`# mailbox 1000 x 200 B: deposits ${(t1 - t0).toFixed(0)} ms (sequential, one stream each), fetchAll ${(t2 - t1).toFixed(0)} ms, ack ${(t3 - t2).toFixed(0)} ms`)
    } finally {
      await h.close()
    }
  })
})

// Our prekeys at rest: record encodings, issuing (a one-time prekey at most once), rotation, replenishment.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { openStore, type ParleyStore } from '../../src/store/index.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { verifyPreKeyBundle } from '../../src/crypto/prekeys.js'
import { MalformedInputError } from '../../src/crypto/errors.js'
import {
  DEFAULT_PREKEY_POLICY, PreKeyManager, decodeKyberRecord, decodeOneTimeRecord, decodeSignedRecord, encodeKyberRecord,
  encodeOneTimeRecord, encodeSignedRecord, registrationIdFor, type PreKeyPolicy
} from '../../src/core/prekey-store.js'
import { cleanup, tempHome } from './helpers.js'

after(cleanup)

const DAY = 24 * 3600 * 1000

async function setup (policy: Partial<PreKeyPolicy> = {}): Promise<{ store: ParleyStore, mgr: PreKeyManager, clock: { t: number } }> {
  const store = await openStore({ home: await tempHome() })
  const identity = await generateIdentity()
  const clock = { t: 1_700_000_000_000 }
  const mgr = new PreKeyManager(store, identity, await registrationIdFor(identity), { ...DEFAULT_PREKEY_POLICY, oneTimeTarget: 6, oneTimeLowWater: 3, kyberTarget: 2, kyberLowWater: 1, ...policy }, () => clock.t)
  await mgr.generateInitial()
  return { store, mgr, clock }
}

describe('prekey records', () => {
  it('round-trip and refuse malformed input', async () => {
    const { store, mgr } = await setup()
    try {
      const lookup = mgr.lookup()
      const signedId = (await store.listPreKeyIds('signed'))[0]!
      const signed = (await lookup.signedPreKey(signedId))!
      assert.deepEqual(decodeSignedRecord(encodeSignedRecord(signed)), signed)
      const otId = (await store.listPreKeyIds('onetime'))[0]!
      const ot = decodeOneTimeRecord((await store.getPreKey('onetime', otId))!.record)
      assert.equal(ot.issuedAt, null)
      assert.deepEqual(decodeOneTimeRecord(encodeOneTimeRecord({ ...ot, issuedAt: 42 })), { ...ot, issuedAt: 42 })
      const kyId = (await store.listPreKeyIds('kyber'))[0]!
      const ky = decodeKyberRecord((await store.getPreKey('kyber', kyId))!.record)
      assert.deepEqual(decodeKyberRecord(encodeKyberRecord(ky)), ky)
      assert.throws(() => decodeSignedRecord(new Uint8Array(10)), MalformedInputError)
      const bad = encodeOneTimeRecord(ot)
      bad[0] = 9
      assert.throws(() => decodeOneTimeRecord(bad), MalformedInputError)
      assert.throws(() => decodeKyberRecord(new Uint8Array(5000)), MalformedInputError)
    } finally {
      await store.close()
    }
  })

  it('registration ids are stable and in libsignal range', async () => {
    const id = await generateIdentity()
    const r = await registrationIdFor(id)
    assert.ok(r >= 1 && r <= 16380)
    assert.equal(await registrationIdFor(id), r)
  })
})

describe('PreKeyManager', () => {
  it('never hands out a one-time prekey twice, then falls back to no OTPK and the last-resort Kyber key', async () => {
    const { store, mgr } = await setup()
    try {
      assert.deepEqual(await mgr.counts(), { signed: 1, oneTime: 6, oneTimeUnissued: 6, kyber: 3, kyberUnissued: 2 })
      const otIds = new Set<number>()
      const kyIds = new Set<number>()
      for (let i = 0; i < 6; i++) {
        const b = await mgr.issueBundle({ oneTime: true })
        await verifyPreKeyBundle(b)
        assert.ok(b.oneTimePreKeyId != null && !otIds.has(b.oneTimePreKeyId))
        otIds.add(b.oneTimePreKeyId)
        kyIds.add(b.kyberPreKeyId!)
      }
      const last = await mgr.issueBundle({ oneTime: true })
      assert.equal(last.oneTimePreKeyId, undefined)
      const lastResort = decodeKyberRecord((await store.getPreKey('kyber', last.kyberPreKeyId!))!.record)
      assert.equal(lastResort.record.lastResort, true)
      // two one-time Kyber keys, then the last-resort one for everybody else
      assert.equal(kyIds.size, 3)
      assert.ok(kyIds.has(last.kyberPreKeyId!))
      // a bundle for the DHT never carries a one-time prekey
      const pub = await mgr.issueBundle({ oneTime: false })
      assert.equal(pub.oneTimePreKeyId, undefined)
      assert.equal(pub.kyberPreKeyId, last.kyberPreKeyId)
      assert.equal((await mgr.counts()).oneTimeUnissued, 0)
      const r = await mgr.maintain()
      assert.equal(r.addedOneTime, 6)
      assert.equal(r.addedKyber, 2)
      const c = await mgr.counts()
      assert.equal(c.oneTimeUnissued, 6)
      assert.equal(c.oneTime, 12) // handed-out ones stay until used or expired
    } finally {
      await store.close()
    }
  })

  it('a reserved bundle is marked issued before it is handed out, goes once, and is dropped when the signed prekey rotated', async () => {
    const { store, mgr, clock } = await setup()
    try {
      await mgr.reserve()
      // on disk already: the reserved one-time prekeys count as issued before anybody asked
      assert.deepEqual(await mgr.counts(), { signed: 1, oneTime: 6, oneTimeUnissued: 5, kyber: 3, kyberUnissued: 1 })
      await mgr.reserve() // no-op while one is held
      assert.equal((await mgr.counts()).oneTimeUnissued, 5)
      // handing it out writes nothing (the counts stay) and verifies like any bundle
      const b1 = await mgr.issueBundle({ oneTime: true })
      await verifyPreKeyBundle(b1)
      assert.ok(b1.oneTimePreKeyId != null && b1.kyberPreKeyId != null)
      assert.equal((await mgr.counts()).oneTimeUnissued, 5)
      const otRec = decodeOneTimeRecord((await store.getPreKey('onetime', b1.oneTimePreKeyId))!.record)
      assert.equal(otRec.issuedAt, clock.t)
      // the next request takes the write path: another one-time prekey
      const b2 = await mgr.issueBundle({ oneTime: true })
      assert.notEqual(b2.oneTimePreKeyId, b1.oneTimePreKeyId)
      assert.equal((await mgr.counts()).oneTimeUnissued, 4)
      // a reservation made before a rotation is not handed out with the old signed prekey
      await mgr.reserve()
      clock.t += 7 * DAY
      assert.equal((await mgr.maintain()).rotated, true)
      const b3 = await mgr.issueBundle({ oneTime: true })
      await verifyPreKeyBundle(b3)
      const newest = (await store.listPreKeyIds('signed')).map(async id => decodeSignedRecord((await store.getPreKey('signed', id))!.record))
      const signed = (await Promise.all(newest)).sort((x, y) => y.createdAt - x.createdAt)[0]!
      assert.equal(b3.signedPreKeyId, signed.id, 'the bundle carries the newest signed prekey')
      for (const b of [b1, b2]) assert.notEqual(b3.oneTimePreKeyId, b.oneTimePreKeyId)
    } finally {
      await store.close()
    }
  })

  it('rotates the signed prekey weekly, keeps the previous one for the grace period, expires stale handed-out keys', async () => {
    const { store, mgr, clock } = await setup()
    try {
      const first = (await mgr.issueBundle({ oneTime: true }))
      assert.equal((await mgr.maintain()).rotated, false)
      clock.t += 7 * DAY
      assert.equal((await mgr.maintain()).rotated, true)
      const ids = await store.listPreKeyIds('signed')
      assert.equal(ids.length, 2)
      const second = await mgr.issueBundle({ oneTime: false })
      assert.notEqual(second.signedPreKeyId, first.signedPreKeyId)
      // the previous key still decrypts late session starts
      assert.notEqual(await mgr.lookup().signedPreKey(first.signedPreKeyId), undefined)
      clock.t += 7 * DAY
      assert.equal((await mgr.maintain()).rotated, true)
      const after2 = await store.listPreKeyIds('signed')
      assert.equal(after2.length, 2)
      assert.equal(await mgr.lookup().signedPreKey(first.signedPreKeyId), undefined)
      // the one-time prekey handed out 14 days ago is still kept; after 30 days it goes
      assert.notEqual(await mgr.lookup().oneTimePreKey(first.oneTimePreKeyId!), undefined)
      clock.t += 17 * DAY
      await mgr.maintain()
      assert.equal(await mgr.lookup().oneTimePreKey(first.oneTimePreKeyId!), undefined)
      // the grace period over, only the newest signed prekey remains... until the next rotation adds one
      assert.equal((await store.listPreKeyIds('signed')).length, 2)
    } finally {
      await store.close()
    }
  })
})

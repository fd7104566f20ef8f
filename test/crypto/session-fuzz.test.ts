/**
 * Fuzzing every decoder of the session layer: garbage, truncated, oversized and mutated input must
 * produce a typed ParleyCryptoError (mostly MalformedInputError), never an untyped exception.
 */
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ParleyCryptoError, MalformedInputError } from '../../src/crypto/errors.js'
import {
  MAX_PREKEY_MESSAGE_BYTES, MAX_SIGNAL_MESSAGE_BYTES, parsePreKeySignalMessage, parseSignalMessage
} from '../../src/crypto/message.js'
import {
  MAX_SESSION_RECORD_BYTES, decryptMessage, deserializeSessionRecord, encryptMessage, initiateSession, serializeSessionRecord,
  type CiphertextMessage, type SessionRecord
} from '../../src/crypto/session.js'
import { makePeer, type TestPeer } from './session-fixtures.js'

const typed = (err: unknown): boolean => err instanceof ParleyCryptoError

async function expectTypedOrOk (f: () => unknown): Promise<void> {
  try {
    await f()
  } catch (err) {
    assert.ok(typed(err), `untyped error: ${String(err)} ${(err as Error)?.stack ?? ''}`)
  }
}

describe('decoder fuzzing', () => {
  let alice: TestPeer
  let bob: TestPeer
  let aRecord: SessionRecord
  let bRecord: SessionRecord
  let prekeyMsg: CiphertextMessage
  let whisperMsg: CiphertextMessage
  let classicPrekey: CiphertextMessage

  before(async () => {
    alice = await makePeer(1)
    bob = await makePeer(2, { oneTimeCount: 5, lastResortKyber: true })
    let a = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle() })
    const m1 = await encryptMessage(a, new TextEncoder().encode('hello')); a = m1.record
    prekeyMsg = m1.message
    let b = (await decryptMessage({ identity: bob.identity, message: m1.message, preKeys: bob.lookup })).record
    const r = await encryptMessage(b, new TextEncoder().encode('reply')); b = r.record
    a = (await decryptMessage({ identity: alice.identity, record: a, message: r.message })).record
    const m2 = await encryptMessage(a, new TextEncoder().encode('whisper')); a = m2.record
    whisperMsg = m2.message
    aRecord = a
    bRecord = b
    const c = await initiateSession({ identity: alice.identity, registrationId: 1, bundle: bob.bundle(), mode: 'classic' })
    classicPrekey = (await encryptMessage(c, new TextEncoder().encode('classic'))).message
  })

  it('random bytes into every decoder give MalformedInputError or another typed error', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 400 }), async (bytes) => {
      for (const f of [() => parseSignalMessage(bytes), () => parsePreKeySignalMessage(bytes), () => deserializeSessionRecord(bytes)]) {
        assert.throws(f, (e: unknown) => typed(e))
      }
      await expectTypedOrOk(async () => await decryptMessage({ identity: bob.identity, record: bRecord, message: { type: 'whisper', body: bytes } }))
      await expectTypedOrOk(async () => await decryptMessage({ identity: bob.identity, record: bRecord, message: { type: 'prekey', body: bytes }, preKeys: bob.lookup }))
    }), { numRuns: 300 })
  })

  it('protobuf-shaped garbage (valid version byte, random fields) is refused with typed errors', async () => {
    const field = fc.oneof(
      fc.tuple(fc.integer({ min: 1, max: 9 }), fc.constant(0), fc.nat()).map(([f, , v]) => [f << 3, ...varint(v)]),
      fc.tuple(fc.integer({ min: 1, max: 9 }), fc.uint8Array({ maxLength: 40 })).map(([f, b]) => [(f << 3) | 2, ...varint(b.length), ...b]),
      fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 7 })).map(([f, w]) => [(f << 3) | w, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
    )
    await fc.assert(fc.asyncProperty(fc.constantFrom(0x33, 0x44, 0x34, 0x43, 0x23, 0x55), fc.array(field, { maxLength: 8 }), async (v, fields) => {
      const bytes = new Uint8Array([v, ...fields.flat(), ...new Array(8).fill(1)])
      for (const f of [() => parseSignalMessage(bytes), () => parsePreKeySignalMessage(bytes)]) {
        try { f() } catch (e) { assert.ok(typed(e), String(e)) }
      }
      await expectTypedOrOk(async () => await decryptMessage({ identity: bob.identity, record: bRecord, message: { type: 'prekey', body: bytes }, preKeys: bob.lookup }))
    }), { numRuns: 300 })
  })

  it('every truncation and many bit flips/insertions of real messages are refused with typed errors', async () => {
    for (const m of [prekeyMsg, whisperMsg, classicPrekey]) {
      for (let len = 0; len < m.body.length; len += (len < 200 ? 1 : 97)) {
        const body = m.body.subarray(0, len)
        await assert.rejects(decryptMessage({ identity: bob.identity, record: bRecord, message: { type: m.type, body }, preKeys: bob.lookup }), (e: unknown) => typed(e))
      }
    }
    await fc.assert(fc.asyncProperty(fc.constantFrom(prekeyMsg, whisperMsg, classicPrekey), fc.nat(), fc.nat({ max: 255 }), fc.boolean(), async (m, pos, val, insert) => {
      const p = pos % m.body.length
      const body = insert
        ? new Uint8Array([...m.body.subarray(0, p), val, ...m.body.subarray(p)])
        : (() => { const c = m.body.slice(); c[p] = val; return c })()
      await expectTypedOrOk(async () => await decryptMessage({ identity: bob.identity, record: bRecord, message: { type: m.type, body }, preKeys: bob.lookup }))
    }), { numRuns: 200 })
  })

  it('oversized inputs are refused before parsing', async () => {
    assert.throws(() => parseSignalMessage(new Uint8Array(MAX_SIGNAL_MESSAGE_BYTES + 1)), MalformedInputError)
    assert.throws(() => parsePreKeySignalMessage(new Uint8Array(MAX_PREKEY_MESSAGE_BYTES + 1)), MalformedInputError)
    assert.throws(() => deserializeSessionRecord(new Uint8Array(MAX_SESSION_RECORD_BYTES + 1)), MalformedInputError)
    await assert.rejects(encryptMessage(aRecord, new Uint8Array(1024 * 1024 + 1)), MalformedInputError)
    await assert.rejects(decryptMessage({ identity: bob.identity, message: { type: 'other' as 'whisper', body: new Uint8Array(3) } }), MalformedInputError)
    await assert.rejects(decryptMessage({ identity: bob.identity, message: null as unknown as CiphertextMessage }), MalformedInputError)
  })

  it('truncated and mutated session records are refused or still behave (typed errors only)', async () => {
    const blob = serializeSessionRecord(aRecord)
    for (let len = 0; len < blob.length; len++) {
      assert.throws(() => deserializeSessionRecord(blob.subarray(0, len)), MalformedInputError)
    }
    assert.throws(() => deserializeSessionRecord(new Uint8Array([...blob, 0])), MalformedInputError)
    await fc.assert(fc.asyncProperty(fc.nat({ max: blob.length - 1 }), fc.nat({ max: 255 }), async (pos, val) => {
      const c = blob.slice(); c[pos] = val
      let rec: SessionRecord
      try { rec = deserializeSessionRecord(c) } catch (e) { assert.ok(e instanceof MalformedInputError); return }
      await expectTypedOrOk(async () => await encryptMessage(rec, new Uint8Array(5)))
      await expectTypedOrOk(async () => await decryptMessage({ identity: alice.identity, record: rec, message: whisperMsg }))
    }), { numRuns: 200 })
  })
})

function varint (v: number): number[] {
  const out: number[] = []
  while (v > 0x7f) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128) }
  out.push(v)
  return out
}

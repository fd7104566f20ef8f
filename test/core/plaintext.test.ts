// The authenticated plaintext wrapper (id + timestamp + Content [+ profile name]) and its caps.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { decodePlaintext, encodePlaintext, MAX_PLAINTEXT_BYTES } from '../../src/core/plaintext.js'
import { Plaintext as Pb } from '../../src/core/gen/plaintext.js'
import { encodeContent, MalformedFrameError, OversizeFrameError } from '../../src/wire/index.js'

const id = (): Uint8Array => new Uint8Array(randomBytes(16))

describe('plaintext', () => {
  it('round-trips text and receipts', () => {
    const a = { id: id(), timestamp: 1_795_000_000_000, content: { text: 'héllo 👋' } }
    assert.deepEqual(decodePlaintext(encodePlaintext(a)), a)
    const b = { id: id(), timestamp: 1, content: { receipt: { kind: 'READ' as const, ids: [id(), id()] } }, profileName: 'Alice' }
    assert.deepEqual(decodePlaintext(encodePlaintext(b)), b)
  })

  it('refuses bad ids, versions, sizes and names', () => {
    assert.throws(() => encodePlaintext({ id: new Uint8Array(15), timestamp: 1, content: { text: 'x' } }), MalformedFrameError)
    assert.throws(() => encodePlaintext({ id: id(), timestamp: -1, content: { text: 'x' } }), MalformedFrameError)
    assert.throws(() => encodePlaintext({ id: id(), timestamp: 1, content: { text: 'x' }, profileName: 'n'.repeat(65) }), OversizeFrameError)
    const content = encodeContent({ text: 'x' }) as Uint8Array<ArrayBuffer>
    const raw = (over: Partial<Pb>): Uint8Array => Pb.encode({ version: 1, id: id() as Uint8Array<ArrayBuffer>, timestamp: 5n, content, ...over })
    assert.equal(decodePlaintext(raw({})).content.text, 'x')
    assert.throws(() => decodePlaintext(raw({ version: 2 })), MalformedFrameError)
    assert.throws(() => decodePlaintext(raw({ id: new Uint8Array(3) })), MalformedFrameError)
    assert.throws(() => decodePlaintext(raw({ timestamp: 2n ** 60n })), MalformedFrameError)
    assert.throws(() => decodePlaintext(raw({ content: new Uint8Array([0xff, 0xff]) })), MalformedFrameError)
    assert.throws(() => decodePlaintext(new Uint8Array(MAX_PLAINTEXT_BYTES + 1)), OversizeFrameError)
    assert.throws(() => decodePlaintext(new Uint8Array([0x0a, 0xff])), MalformedFrameError)
  })
})

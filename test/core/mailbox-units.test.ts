// Units of offline delivery (issue 4): the conversation state in a real SQLite store (sealed at rest),
// the plaintext's sequence number and mailbox route, the invite's introduction tag.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { openStore } from '../../src/store/index.js'
import { decodePlaintext, encodePlaintext } from '../../src/core/plaintext.js'
import { conversationOf, decodeRoute, encodeRoute, inOrder, noteReceived, noteRefused, noteSentSeq } from '../../src/core/mailboxes.js'
import { formatInvite, parseInvite, InvalidInviteError } from '../../src/core/invite.js'
import { cleanup, tempHome } from './helpers.js'

after(cleanup)

const PEER = '12D3KooWQzhGb1pPuXemv4qdE8aUVydTJpxCsDL7TRXn1tbox53J'
const RELAY = '/ip4/198.18.0.10/tcp/4001/p2p/12D3KooWF8iFRhUaHBFrErz3C5pseBa3inW43j6JjLVzJaVXVphH'

describe('conversation state', () => {
  it('sequence numbers only grow, the route is kept, and the route is sealed at rest', async () => {
    const home = await tempHome()
    const store = await openStore({ home, passphrase: 'correct horse' })
    const tag = new Uint8Array(32).fill(0xab)
    await store.write((tx) => {
      tx.putContact({ peerId: PEER, name: 'p', identityKey: new Uint8Array(33).fill(5), verified: false, keyChange: null, addresses: [], relays: [], lastSeen: null, createdAt: 1 })
      noteSentSeq(tx, PEER, 3)
      noteSentSeq(tx, PEER, 2) // never backwards
      noteReceived(tx, PEER, 7, { tag, relays: [RELAY, 'not a relay'] })
      noteReceived(tx, PEER, 5, undefined)
    })
    const c = await store.read(tx => conversationOf(tx, PEER))
    assert.equal(c.sendSeq, 3)
    assert.equal(c.recvSeq, 7)
    assert.deepEqual(decodeRoute(c.route), { tag, relays: [RELAY] })
    assert.deepEqual((await store.getContact(PEER))!.relays, [RELAY], 'the route\'s relays become the contact\'s')
    await store.close()
    // the tag never appears in the database files in clear
    for (const f of (await readdir(home)).filter(n => n.startsWith('parley.db'))) {
      const bytes = await readFile(join(home, f))
      assert.equal(bytes.indexOf(Buffer.from(tag)), -1, `${f} holds the route in clear`)
    }
    const again = await openStore({ home, passphrase: 'correct horse' })
    assert.equal((await again.read(tx => conversationOf(tx, PEER))).recvSeq, 7)
    await again.close()
  })
})

describe('gap rule', () => {
  it('holds a text after a gap, unless that many envelopes of the peer were refused for good', async () => {
    const store = await openStore({ home: await tempHome(), passphrase: null })
    try {
      await store.write((tx) => { noteReceived(tx, PEER, 4, undefined) })
      let c = await store.read(tx => conversationOf(tx, PEER))
      assert.equal(inOrder(c, 5), true)
      assert.equal(inOrder(c, 3), true, 'already-shown numbers are the id dedup\'s business')
      assert.equal(inOrder(c, undefined), true, 'unsequenced')
      assert.equal(inOrder(c, 6), false, 'text 5 is missing')
      await store.write((tx) => { noteRefused(tx, PEER) })
      c = await store.read(tx => conversationOf(tx, PEER))
      assert.equal(c.skips, 1)
      assert.equal(inOrder(c, 6), true, 'one refused envelope may have been text 5')
      assert.equal(inOrder(c, 7), false)
      await store.write((tx) => { noteReceived(tx, PEER, 6, undefined) })
      c = await store.read(tx => conversationOf(tx, PEER))
      assert.deepEqual([c.recvSeq, c.skips], [6, 0], 'skipping text 5 used the refusal up')
    } finally {
      await store.close()
    }
  })
})

describe('plaintext seq and route', () => {
  const id = new Uint8Array(16).fill(1)
  it('round-trips and bounds them', () => {
    const route = { tag: new Uint8Array(32).fill(2), relays: [RELAY] }
    const p = decodePlaintext(encodePlaintext({ id, timestamp: 5, content: { text: 'x' }, seq: 42, route }))
    assert.equal(p.seq, 42)
    assert.deepEqual(p.route, route)
    const q = decodePlaintext(encodePlaintext({ id, timestamp: 5, content: { text: 'x' } }))
    assert.equal(q.seq, undefined)
    assert.equal(q.route, undefined)
    assert.throws(() => encodePlaintext({ id, timestamp: 5, content: { text: 'x' }, route: { tag: new Uint8Array(31), relays: [] } }))
    assert.throws(() => encodePlaintext({ id, timestamp: 5, content: { text: 'x' }, route: { tag: new Uint8Array(32), relays: Array(9).fill(RELAY) } }))
    assert.throws(() => encodePlaintext({ id, timestamp: 5, content: { text: 'x' }, seq: -1 }))
    assert.equal(decodeRoute(new Uint8Array([1, 2, 3])), null)
    assert.deepEqual(decodeRoute(encodeRoute(route)), route)
  })
})

describe('invite introduction tag', () => {
  it('mbox= carries 32 bytes; anything else refuses the invite', () => {
    const base = { peerId: PEER, fingerprint: new Uint8Array(16), addresses: [], relays: [RELAY] }
    const tag = new Uint8Array(32).fill(9)
    const inv = parseInvite(formatInvite({ ...base, mailboxTag: tag }))
    assert.deepEqual(inv.mailboxTag, tag)
    assert.equal(parseInvite(formatInvite(base)).mailboxTag, undefined)
    assert.throws(() => parseInvite(formatInvite(base) + '&mbox=AAAA'), InvalidInviteError)
  })
})

// Mutual contacts as mailboxes (Part 4 §9): the new MailboxRoute fields and their caps, the hint,
// host targets, and the two settings.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodePlaintext, encodePlaintext } from '../../src/core/plaintext.js'
import { MailboxRoute as PbRoute, Plaintext as Pb } from '../../src/core/gen/plaintext.js'
import { conversationOf, decodeRoute, encodeRoute, hostTargets, mutualHint, noteReceived, routeGeneration } from '../../src/core/mailboxes.js'
import { openStore } from '../../src/store/index.js'
import { readNodeSettings, resolveContactMailboxSettings, SettingsFileError, SETTINGS_FILE } from '../../src/core/settings.js'
import { encodeContent, MalformedFrameError, OversizeFrameError } from '../../src/wire/index.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { tempHome, cleanup } from './helpers.js'

after(async () => { await cleanup() })

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n))
const HOST = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'
const OTHER = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'

describe('MailboxRoute: mutual hosts, hosting, host tag', () => {
  it('round-trip inside a plaintext and in the stored form', () => {
    const route = { tag: bytes(32), relays: [], mutual: [{ hint: bytes(16), tag: bytes(32) }, { hint: bytes(16), tag: bytes(32) }], hosting: true, hostTag: bytes(32) }
    const pt = { id: bytes(16), timestamp: 5, content: { text: 'x' }, route }
    assert.deepEqual(decodePlaintext(encodePlaintext(pt)).route, route)
    assert.deepEqual(decodeRoute(encodeRoute(route)), route)
    // absent fields stay absent (an older sender's route decodes as before)
    const plain = { tag: bytes(32), relays: [] }
    assert.deepEqual(decodePlaintext(encodePlaintext({ ...pt, route: plain })).route, plain)
  })

  it('caps and lengths: refused with typed errors, never half-applied', () => {
    const base = { id: bytes(16), timestamp: 5, content: { text: 'x' } }
    const nine = Array.from({ length: 9 }, () => ({ hint: bytes(16), tag: bytes(32) }))
    assert.throws(() => encodePlaintext({ ...base, route: { tag: bytes(32), relays: [], mutual: nine } }), OversizeFrameError)
    assert.throws(() => encodePlaintext({ ...base, route: { tag: bytes(32), relays: [], mutual: [{ hint: bytes(15), tag: bytes(32) }] } }), MalformedFrameError)
    assert.throws(() => encodePlaintext({ ...base, route: { tag: bytes(32), relays: [], hostTag: bytes(31) } }), MalformedFrameError)
    const content = encodeContent({ text: 'x' }) as Uint8Array<ArrayBuffer>
    const raw = (route: Pb['route']): Uint8Array => Pb.encode({ version: 1, id: bytes(16) as Uint8Array<ArrayBuffer>, timestamp: 5n, content, seq: 0n, ...(route != null ? { route } : {}) })
    const r = (over: Partial<NonNullable<Pb['route']>>): NonNullable<Pb['route']> => ({ tag: bytes(32) as Uint8Array<ArrayBuffer>, relays: [], mutual: [], hosting: false, ...over })
    // more than 8 mutual entries: undecodable (the decoder stops at the cap)
    assert.throws(() => decodePlaintext(raw(r({ mutual: nine as Array<{ hint: Uint8Array<ArrayBuffer>, tag: Uint8Array<ArrayBuffer> }> }))), MalformedFrameError)
    assert.throws(() => decodePlaintext(raw(r({ mutual: [{ hint: bytes(16) as Uint8Array<ArrayBuffer>, tag: bytes(8) as Uint8Array<ArrayBuffer> }] }))), MalformedFrameError)
    assert.throws(() => decodePlaintext(raw(r({ hostTag: bytes(33) as Uint8Array<ArrayBuffer> }))), MalformedFrameError)
    const stored = PbRoute.encode({ tag: bytes(32) as Uint8Array<ArrayBuffer>, relays: [], mutual: [{ hint: bytes(16) as Uint8Array<ArrayBuffer>, tag: bytes(31) as Uint8Array<ArrayBuffer> }], hosting: true })
    assert.equal(decodeRoute(stored), null, 'a stored route with a bad entry reads as none')
  })

  it('the hint is SHA-256("parley/mailbox/mutual/v1" || tag || hostPeerId)[0..16], per receiver', async () => {
    const tag = bytes(32)
    const want = sha256(new Uint8Array([...new TextEncoder().encode('parley/mailbox/mutual/v1'), ...tag, ...new TextEncoder().encode(HOST)])).subarray(0, 16)
    assert.deepEqual(await mutualHint(tag, HOST), want)
    assert.notDeepEqual(await mutualHint(bytes(32), HOST), want, 'another receiver (another tag) sees another hint')
    assert.notDeepEqual(await mutualHint(tag, OTHER), want)
  })

  it('host targets: direct addresses of that host only, /p2p/ appended, relayed and foreign ones dropped', () => {
    const t = hostTargets(HOST, [
      '/ip4/127.0.0.1/tcp/4001',
      `/ip4/127.0.0.1/tcp/4002/p2p/${HOST}`,
      `/ip4/127.0.0.1/tcp/4003/p2p/${OTHER}`,
      `/ip4/127.0.0.1/tcp/4004/p2p/${OTHER}/p2p-circuit/p2p/${HOST}`,
      'not a multiaddr',
      `/ip4/127.0.0.1/tcp/4001/p2p/${HOST}`
    ]).map(m => m.toString())
    assert.deepEqual(t, [`/ip4/127.0.0.1/tcp/4001/p2p/${HOST}`, `/ip4/127.0.0.1/tcp/4002/p2p/${HOST}`])
  })
})

describe('stored routes', () => {
  it('the hosting flag and host tag are kept with the route; the route generation moves only when a route changes', async () => {
    const store = await openStore({ home: await tempHome() })
    try {
      await store.write(tx => { tx.putContact({ peerId: HOST, name: 'h', identityKey: new Uint8Array(33).fill(5), verified: false, keyChange: null, addresses: [], relays: [], lastSeen: null, createdAt: 1 }) })
      const g0 = await store.read(tx => routeGeneration(tx))
      const route = { tag: bytes(32), relays: [], hosting: true, hostTag: bytes(32) }
      await store.write(tx => { noteReceived(tx, HOST, 1, route) })
      const g1 = await store.read(tx => routeGeneration(tx))
      assert.equal(g1, g0 + 1)
      assert.deepEqual(decodeRoute((await store.read(tx => conversationOf(tx, HOST))).route), route)
      await store.write(tx => { noteReceived(tx, HOST, 2, route) }) // the same route again
      assert.equal(await store.read(tx => routeGeneration(tx)), g1)
      await store.write(tx => { noteReceived(tx, HOST, 3, { tag: route.tag, relays: [] }) }) // hosting withdrawn
      assert.equal(await store.read(tx => routeGeneration(tx)), g1 + 1)
      assert.equal(decodeRoute((await store.read(tx => conversationOf(tx, HOST))).route)?.hosting, undefined)
    } finally {
      await store.close()
    }
  })
})

describe('settings: hostMailboxes / contactMailboxes', () => {
  it('explicit values are stored, absent ones come from the file, a change is reported', async () => {
    const home = await tempHome()
    assert.deepEqual(await resolveContactMailboxSettings(home, {}), { hostMailboxes: false, contactMailboxes: false, changed: false })
    assert.deepEqual(await resolveContactMailboxSettings(home, { hostMailboxes: true }), { hostMailboxes: true, contactMailboxes: false, changed: true })
    assert.deepEqual(await resolveContactMailboxSettings(home, {}), { hostMailboxes: true, contactMailboxes: false, changed: false })
    assert.deepEqual(await resolveContactMailboxSettings(home, { contactMailboxes: true, hostMailboxes: false }), { hostMailboxes: false, contactMailboxes: true, changed: true })
    assert.deepEqual(await readNodeSettings(home), { hostMailboxes: false, contactMailboxes: true })
  })

  it('a non-boolean value is a typed error', async () => {
    const home = await tempHome()
    await writeFile(join(home, SETTINGS_FILE), JSON.stringify({ hostMailboxes: 'yes' }))
    await assert.rejects(readNodeSettings(home), SettingsFileError)
    await assert.rejects(resolveContactMailboxSettings(home, { hostMailboxes: true }), SettingsFileError)
  })
})

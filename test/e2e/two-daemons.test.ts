// Two real daemons on 127.0.0.1 (issue 3, Tests): contacts via invites, messages both ways through the
// CLI with --wait, safety numbers recomputed with @signalapp/libsignal-client's Fingerprint (an
// independent oracle), contact verify, peers --json, and the local API's token check.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Fingerprint, PublicKey } from '@signalapp/libsignal-client'
import { befriend, Cluster, dialAddr, messages, nodeBuilt, rawApiRequest, type MessageRow } from './harness.js'

const skip = nodeBuilt() ? false : 'src/core/node.ts is not built yet'

interface SafetyNumberDoc {
  safetyNumber: string
  local: { identifier: string, identityKey: string }
  remote: { identifier: string, identityKey: string }
  verified?: boolean
}

/** A Signal public key as libsignal wants it: 33 bytes, 0x05 type prefix (accepts the bare 32 bytes too). */
function signalKey (hexKey: string): PublicKey {
  const b = Buffer.from(hexKey, 'hex')
  return PublicKey.deserialize(new Uint8Array(b.length === 32 ? Buffer.concat([Buffer.from([5]), b]) : b))
}

/** The 32-byte X25519 part of a key given as 32 or 33 bytes of hex. */
function bareKey (hexKey: string): string {
  return hexKey.length === 66 ? hexKey.slice(2) : hexKey
}

const DELIVERED = new Set(['delivered', 'read'])

describe('two daemons talking through the CLI', { skip, timeout: 240_000 }, () => {
  let c: Cluster
  let alice: string
  let bob: string

  before(async () => {
    c = await Cluster.create('two')
    await Promise.all([c.init('alice'), c.init('bob')])
    const a = await c.start('alice')
    await c.start('bob', { bootstrap: [dialAddr(a.ready)] })
    alice = c.daemon('alice').ready.peerId
    bob = c.daemon('bob').ready.peerId
    await befriend(c, 'alice', 'bob')
  })
  after(async () => { await c.cleanup() })

  it('contact list shows the other side under the given name', async () => {
    type Row = { peerId: string, name: string, verified: boolean }
    const [la, lb] = await Promise.all([c.cli<Row[]>('alice', 'contact', 'list'), c.cli<Row[]>('bob', 'contact', 'list')])
    assert.deepEqual(la.map((x) => [x.peerId, x.name, x.verified]), [[bob, 'bob', false]])
    assert.deepEqual(lb.map((x) => [x.peerId, x.name, x.verified]), [[alice, 'alice', false]])
  })

  it('messages flow both ways with send --wait; messages lists them oldest first with statuses on both sides', async () => {
    const script: Array<[string, string, string]> = [
      ['alice', 'bob', 'hello bob'],
      ['bob', 'alice', 'hi alice — ünïcödé ✓'],
      ['alice', 'bob', 'second from alice'],
      ['bob', 'alice', 'second from bob'],
      ['bob', 'alice', 'third from bob']
    ]
    const ids: string[] = []
    for (const [from, to, text] of script) {
      const r = await c.cli<{ id: string, status: string }>(from, 'send', to, text, '--wait', '--timeout', '90')
      assert.equal(typeof r.id, 'string')
      assert.ok(DELIVERED.has(r.status), `send --wait returned status ${r.status}`)
      ids.push(r.id)
    }
    assert.equal(new Set(ids).size, ids.length, 'message ids are unique')
    const [viewA, viewB] = await Promise.all([messages(c, 'alice', 'bob'), messages(c, 'bob', 'alice')])
    const expectA = script.map(([from, , text], i) => ({ id: ids[i], direction: from === 'alice' ? 'out' : 'in', text }))
    const expectB = script.map(([from, , text], i) => ({ id: ids[i], direction: from === 'bob' ? 'out' : 'in', text }))
    const shape = (m: MessageRow): { id: string, direction: string, text: string } => ({ id: m.id, direction: m.direction, text: m.text })
    assert.deepEqual(viewA.map(shape), expectA, c.logs())
    assert.deepEqual(viewB.map(shape), expectB, c.logs())
    for (const view of [viewA, viewB]) {
      for (const m of view) {
        assert.equal(typeof m.timestamp, 'number')
        assert.ok(m.timestamp > Date.now() - 3_600_000 && m.timestamp <= Date.now() + 60_000, `plausible timestamp ${m.timestamp}`)
        if (m.direction === 'out') assert.ok(DELIVERED.has(m.status), `outgoing status ${m.status}`)
        else assert.equal(typeof m.status, 'string')
      }
    }
    // Sender's timestamp travels with the message: both sides show the same one.
    assert.deepEqual(viewA.map((m) => m.timestamp), viewB.map((m) => m.timestamp))
  })

  it('safety numbers are equal on both sides and recompute with libsignal-client Fingerprint; contact verify marks it', async () => {
    const [sa, sb] = await Promise.all([c.cli<SafetyNumberDoc>('alice', 'safety-number', 'bob'), c.cli<SafetyNumberDoc>('bob', 'safety-number', alice)])
    assert.match(sa.safetyNumber, /^\d{60}$/)
    assert.equal(sa.safetyNumber, sb.safetyNumber)
    assert.deepEqual(sa.local, sb.remote)
    assert.deepEqual(sa.remote, sb.local)
    // The keys fed to the fingerprint are the identities the nodes report for themselves.
    const [idA, idB] = await Promise.all([c.cli<{ identityKey?: string }>('alice', 'id'), c.cli<{ identityKey?: string }>('bob', 'id')])
    if (idA.identityKey != null) assert.equal(bareKey(sa.local.identityKey), bareKey(idA.identityKey))
    if (idB.identityKey != null) assert.equal(bareKey(sa.remote.identityKey), bareKey(idB.identityKey))
    assert.notEqual(bareKey(sa.local.identityKey), bareKey(sa.remote.identityKey))
    // Independent oracle: Signal's own implementation (version 2, 5200 iterations).
    for (const s of [sa, sb]) {
      const ref = Fingerprint.new(5200, 2,
        new Uint8Array(Buffer.from(s.local.identifier, 'hex')), signalKey(s.local.identityKey),
        new Uint8Array(Buffer.from(s.remote.identifier, 'hex')), signalKey(s.remote.identityKey))
      assert.equal(ref.displayableFingerprint().toString(), s.safetyNumber)
    }

    const v = await c.cli<{ peerId: string, verified: boolean }>('alice', 'contact', 'verify', 'bob')
    assert.equal(v.peerId, bob)
    assert.equal(v.verified, true)
    const list = await c.cli<Array<{ peerId: string, verified: boolean }>>('alice', 'contact', 'list')
    assert.equal(list.find((x) => x.peerId === bob)?.verified, true)
    // Verification is one-sided: bob has not verified alice.
    const listB = await c.cli<Array<{ peerId: string, verified: boolean }>>('bob', 'contact', 'list')
    assert.equal(listB.find((x) => x.peerId === alice)?.verified, false)
  })

  it('peers --json shows the other daemon over a direct loopback connection (relayed=false)', async () => {
    for (const [who, other] of [['alice', bob], ['bob', alice]] as const) {
      const peers = await c.cli<Array<{ peerId: string, remoteAddr: string, relayed: boolean }>>(who, 'peers')
      const p = peers.find((x) => x.peerId === other)
      assert.ok(p != null, `${who} has a connection to the other daemon: ${JSON.stringify(peers)}`)
      assert.equal(p.relayed, false)
      assert.match(p.remoteAddr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
      assert.doesNotMatch(p.remoteAddr, /p2p-circuit/)
    }
  })

  it('the local API refuses a missing or wrong token and accepts the right one', async () => {
    const home = c.home('alice')
    const token = (await readFile(join(home, 'api.token'), 'utf8')).trim()
    assert.match(token, /^[0-9a-f]{64}$/)
    const wrongSameLength = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0')
    const countBefore = (await messages(c, 'alice', 'bob')).length
    const attempts: Array<[string, Record<string, string>]> = [
      ['missing', {}],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['wrong token', { authorization: `Bearer ${'0'.repeat(64)}` }],
      ['one character off', { authorization: `Bearer ${wrongSameLength}` }],
      ['token as basic auth', { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` }],
      ['token as a prefix', { authorization: `Bearer ${token}0` }]
    ]
    for (const [what, headers] of attempts) {
      for (const [method, path] of [['GET', '/v1/status'], ['GET', '/v1/id'], ['GET', '/v1/messages/bob'], ['POST', '/v1/messages/bob']] as const) {
        const r = await rawApiRequest(home, path, headers, method)
        assert.equal(r.status, 401, `${what}: ${method} ${path} answered ${r.status} ${r.text}`)
        assert.ok(!r.text.includes(token), 'the answer never echoes the token')
        assert.ok(!r.text.includes(alice), `${what}: a refused request learns nothing (no peerId)`)
      }
    }
    // Nothing was sent by the refused POSTs.
    assert.equal((await messages(c, 'alice', 'bob')).length, countBefore)
    // The right token works (so the refusals above are about the token, not the request).
    const ok = await rawApiRequest(home, '/v1/id', { authorization: `Bearer ${token}` })
    assert.equal(ok.status, 200, ok.text)
    assert.equal((JSON.parse(ok.text) as { peerId: string }).peerId, alice)
  })
})

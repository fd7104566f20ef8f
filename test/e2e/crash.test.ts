// A daemon killed with SIGKILL mid-conversation loses nothing (issue 3, Tests): while alice sends a burst
// of 50 messages and bob sends his own burst, bob is killed with SIGKILL; bob restarts (on a new port) and
// eventually every message whose send was accepted — and every message either side's store holds — is in
// both sides' histories exactly once, in send order, delivered; and the session still works afterwards.
// The bursts go through the daemons' local API client (the same one the CLI uses) so they are fast
// enough for the kill to land mid-burst; the final histories are read with `parley messages --json`.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connectDaemon, type ApiClient } from '../../src/daemon/client.js'
import type { MessageInfo } from '../../src/core/api.js'
import { befriend, Cluster, messages, nodeBuilt, waitFor, type MessageRow } from './harness.js'

const skip = nodeBuilt() ? false : 'src/core/node.ts is not built yet'
const DELIVERED = new Set(['delivered', 'read'])
const BURST = 50

interface Burst { accepted: MessageInfo[], failed: unknown }

/** Sends texts one after the other (no --wait) until done or the daemon stops answering. */
async function burst (client: ApiClient, peer: string, texts: string[], onAccepted: (n: number) => void): Promise<Burst> {
  const accepted: MessageInfo[] = []
  for (const t of texts) {
    try {
      accepted.push(await client.send(peer, t))
      onAccepted(accepted.length)
    } catch (err) {
      return { accepted, failed: err }
    }
  }
  return { accepted, failed: null }
}

function assertOnce (view: MessageRow[], who: string): void {
  const ids = view.map((m) => m.id)
  assert.equal(new Set(ids).size, ids.length, `${who}: a message id appears twice`)
}

describe('SIGKILL mid-conversation loses nothing', { skip, timeout: 300_000 }, () => {
  let c: Cluster
  const clients: ApiClient[] = []

  before(async () => {
    c = await Cluster.create('crash')
    await Promise.all([c.init('alice'), c.init('bob')])
    await Promise.all([c.start('alice'), c.start('bob')])
    await befriend(c, 'alice', 'bob')
    // Sessions exist both ways before the crash.
    for (const [from, to] of [['alice', 'bob'], ['bob', 'alice']] as const) {
      const r = await c.cli<{ status: string }>(from, 'send', to, `warm-up ${from}`, '--wait', '--timeout', '90')
      assert.ok(DELIVERED.has(r.status))
    }
  })
  after(async () => {
    for (const cl of clients) await cl.stop().catch(() => {})
    await c.cleanup()
  })

  it('bob is SIGKILLed while both send bursts; after his restart both histories hold every message exactly once, in order', async (t) => {
    const a = (await connectDaemon(c.home('alice'))).client
    const b = (await connectDaemon(c.home('bob'))).client
    clients.push(a, b)
    const aTexts = Array.from({ length: BURST }, (_, i) => `alice burst ${i}`)
    const bTexts = Array.from({ length: BURST }, (_, i) => `bob burst ${i}`)
    let killing: Promise<void> | null = null
    const killBob = (): void => { killing ??= c.daemon('bob').kill() }
    // Kill bob once alice is 15 messages in or bob 20 messages in, whichever comes first: mid-burst on both sides.
    const [ra, rb] = await Promise.all([
      burst(a, 'bob', aTexts, (n) => { if (n === 15) killBob() }),
      burst(b, 'alice', bTexts, (n) => { if (n === 20) killBob() })
    ])
    killBob()
    await killing
    assert.equal(c.daemon('bob').child.signalCode, 'SIGKILL')
    assert.equal(ra.failed, null, `alice's daemon accepted every send: ${String(ra.failed)}`)
    assert.equal(ra.accepted.length, BURST)
    assert.ok(rb.accepted.length < BURST, 'bob was killed before the end of his burst')
    const bobAccepted = rb.accepted.map((m) => m.text)
    const deliveredBeforeKill = (await a.messages('bob', { limit: 1000 })).filter((m) => m.direction === 'out' && DELIVERED.has(m.status)).length
    t.diagnostic(`bob accepted ${bobAccepted.length}/${BURST} sends before the kill; when the bursts ended alice had ${deliveredBeforeKill - 1}/${BURST} of hers delivered`)
    assert.deepEqual(bobAccepted, bTexts.slice(0, bobAccepted.length))

    await c.start('bob')
    const b2 = (await connectDaemon(c.home('bob'))).client
    clients.push(b2)

    // Converge: every outgoing message on either side delivered, and each side's incoming equals the other's outgoing.
    const outIn = (mine: MessageInfo[], theirs: MessageInfo[]): boolean => {
      const out = mine.filter((m) => m.direction === 'out')
      const inc = theirs.filter((m) => m.direction === 'in')
      return out.every((m) => DELIVERED.has(m.status)) && out.length === inc.length && out.every((m, i) => m.id === inc[i]?.id)
    }
    await waitFor('both histories to converge with every message delivered', async () => {
      const va = await a.messages('bob', { limit: 1000 })
      const vb = await b2.messages('alice', { limit: 1000 })
      return outIn(va, vb) && outIn(vb, va) ? true : undefined
    }, { timeoutMs: 180_000, intervalMs: 1000 })

    // The contract's view (parley messages --json), checked in full.
    const [va, vb] = await Promise.all([messages(c, 'alice', 'bob'), messages(c, 'bob', 'alice')])
    assertOnce(va, 'alice')
    assertOnce(vb, 'bob')
    const texts = (v: MessageRow[], dir: 'in' | 'out'): string[] => v.filter((m) => m.direction === dir).map((m) => m.text)
    // alice: everything she sent, once, in order; bob got exactly that.
    assert.deepEqual(texts(va, 'out'), ['warm-up alice', ...aTexts])
    assert.deepEqual(texts(vb, 'in'), ['warm-up alice', ...aTexts], c.logs())
    // bob: what his store holds is a prefix of his burst that contains every accepted send (a send in
    // flight at the kill may or may not have been committed) — and alice got exactly that.
    const bobOut = texts(vb, 'out')
    assert.deepEqual(bobOut, ['warm-up bob', ...bTexts.slice(0, bobOut.length - 1)])
    assert.ok(bobOut.length - 1 >= bobAccepted.length, `bob's store lost accepted sends: has ${bobOut.length - 1}, accepted ${bobAccepted.length}`)
    assert.deepEqual(texts(va, 'in'), bobOut, c.logs())
    t.diagnostic(`bob's store held ${bobOut.length - 1} of his burst after the restart (accepted before the kill: ${bobAccepted.length})`)
    // Same ids on both sides.
    assert.deepEqual(va.filter((m) => m.direction === 'out').map((m) => m.id), vb.filter((m) => m.direction === 'in').map((m) => m.id))
    assert.deepEqual(vb.filter((m) => m.direction === 'out').map((m) => m.id), va.filter((m) => m.direction === 'in').map((m) => m.id))

    // The session survived the crash: both directions still deliver.
    for (const [from, to] of [['alice', 'bob'], ['bob', 'alice']] as const) {
      const r = await c.cli<{ status: string }>(from, 'send', to, `after the crash: ${from}`, '--wait', '--timeout', '90')
      assert.ok(DELIVERED.has(r.status), `${from} after the crash: ${r.status}`)
    }
  })

  it('alice is SIGKILLed in the middle of her own burst; after her restart her outbox delivers the rest exactly once, in order', async (t) => {
    const a = (await connectDaemon(c.home('alice'))).client
    clients.push(a)
    const earlier = await messages(c, 'alice', 'bob')
    const texts = Array.from({ length: BURST }, (_, i) => `second burst ${i}`)
    let killing: Promise<void> | null = null
    const r = await burst(a, 'bob', texts, (n) => { if (n === 25) killing ??= c.daemon('alice').kill() })
    await killing
    assert.equal(c.daemon('alice').child.signalCode, 'SIGKILL')
    assert.ok(r.accepted.length >= 25 && r.accepted.length < BURST, `killed mid-burst (accepted ${r.accepted.length})`)
    await c.start('alice')
    const a2 = (await connectDaemon(c.home('alice'))).client
    clients.push(a2)
    const b = (await connectDaemon(c.home('bob'))).client
    clients.push(b)
    const stored = (await a2.messages('bob', { limit: 1000 })).filter((m) => m.direction === 'out').slice(earlier.filter((m) => m.direction === 'out').length)
    t.diagnostic(`alice accepted ${r.accepted.length}/${BURST} before the kill; her store holds ${stored.length}`)
    assert.ok(stored.length >= r.accepted.length, 'no accepted send was lost by the crash')
    assert.deepEqual(stored.map((m) => m.text), texts.slice(0, stored.length))
    await waitFor('bob to receive all of alice\'s stored burst, and alice to see it delivered', async () => {
      const va = (await a2.messages('bob', { limit: 1000 })).filter((m) => m.direction === 'out')
      const vb = (await b.messages('alice', { limit: 1000 })).filter((m) => m.direction === 'in')
      return va.every((m) => DELIVERED.has(m.status)) && va.length === vb.length ? true : undefined
    }, { timeoutMs: 180_000, intervalMs: 1000 })
    const va = await messages(c, 'alice', 'bob')
    const vb = await messages(c, 'bob', 'alice')
    assertOnce(va, 'alice')
    assertOnce(vb, 'bob')
    assert.deepEqual(vb.filter((m) => m.direction === 'in').map((m) => m.id), va.filter((m) => m.direction === 'out').map((m) => m.id))
    assert.deepEqual(vb.filter((m) => m.direction === 'in').slice(-stored.length).map((m) => m.text), stored.map((m) => m.text))
    const last = await c.cli<{ status: string }>('bob', 'send', 'alice', 'still there?', '--wait', '--timeout', '90')
    assert.ok(DELIVERED.has(last.status))
  })
})

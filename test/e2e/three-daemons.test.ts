// Three real daemons on 127.0.0.1, every pair talking both ways (issue 3, Tests).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { befriend, Cluster, dialAddr, messages, nodeBuilt } from './harness.js'

const skip = nodeBuilt() ? false : 'src/core/node.ts is not built yet'
const NAMES = ['alice', 'bob', 'carol'] as const
const DELIVERED = new Set(['delivered', 'read'])

describe('three daemons, all pairs talking', { skip, timeout: 240_000 }, () => {
  let c: Cluster

  before(async () => {
    c = await Cluster.create('three')
    await Promise.all(NAMES.map(async (n) => await c.init(n)))
    const a = await c.start('alice')
    // bob and carol bootstrap from alice only: carol and bob reach each other through their invites.
    await Promise.all([c.start('bob', { bootstrap: [dialAddr(a.ready)] }), c.start('carol', { bootstrap: [dialAddr(a.ready)] })])
    await befriend(c, 'alice', 'bob')
    await befriend(c, 'alice', 'carol')
    await befriend(c, 'bob', 'carol')
  })
  after(async () => { await c.cleanup() })

  it('each of the six directions delivers (send --wait), and every conversation lists exactly its own messages in order', async () => {
    const sent: Array<{ from: string, to: string, text: string, id: string }> = []
    // Two rounds of two waves; a wave holds one message per conversation, so its sends run concurrently
    // while each conversation's order stays fixed (a -> b before b -> a, etc.).
    const waves: Array<Array<readonly [string, string]>> = [
      [['alice', 'bob'], ['bob', 'carol'], ['carol', 'alice']],
      [['bob', 'alice'], ['carol', 'bob'], ['alice', 'carol']]
    ]
    for (let round = 1; round <= 2; round++) {
      for (const wave of waves) {
        const results = await Promise.all(wave.map(async ([from, to]) => {
          const text = `round ${round}: ${from} -> ${to}`
          const r = await c.cli<{ id: string, status: string }>(from, 'send', to, text, '--wait', '--timeout', '90')
          assert.ok(DELIVERED.has(r.status), `${text}: status ${r.status}`)
          return { from, to, text, id: r.id }
        }))
        sent.push(...results)
      }
    }
    const pairs = NAMES.flatMap((me) => NAMES.filter((o) => o !== me).map((other) => [me, other] as const))
    const views = await Promise.all(pairs.map(async ([me, other]) => await messages(c, me, other)))
    pairs.forEach(([me, other], i) => {
      const view = views[i]!
      const expected = sent
        .filter((m) => (m.from === me && m.to === other) || (m.from === other && m.to === me))
        .map((m) => ({ id: m.id, text: m.text, direction: m.from === me ? 'out' : 'in' }))
      assert.deepEqual(view.map((m) => ({ id: m.id, text: m.text, direction: m.direction })), expected, `${me}'s view of ${other}\n${c.logs()}`)
      for (const m of view) if (m.direction === 'out') assert.ok(DELIVERED.has(m.status), `${me} -> ${other}: ${m.status}`)
    })
  })

  it('every daemon has a direct connection to both others', async () => {
    const all = await Promise.all(NAMES.map(async (me) => await c.cli<Array<{ peerId: string, relayed: boolean }>>(me, 'peers')))
    NAMES.forEach((me, i) => {
      const peers = all[i]!
      for (const other of NAMES) {
        if (other === me) continue
        const id = c.daemon(other).ready.peerId
        const p = peers.find((x) => x.peerId === id)
        assert.ok(p != null, `${me} is connected to ${other}: ${JSON.stringify(peers)}`)
        assert.equal(p.relayed, false)
      }
    })
  })
})

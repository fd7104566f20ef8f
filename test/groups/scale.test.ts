// 32 nodes in one process (issue 5: "a larger in-process test (30+ nodes) checks delivery ratio and
// order"): real libp2p + gossipsub on 127.0.0.1 with the real group crypto and causal delivery; the
// lighter harness of test/groups/mesh.ts (no SQLite, distributions in memory, repair requests as
// function calls — see there why). What gossip alone delivered is logged (it depends on the machine's
// load); the assertion is Parley's: everything delivered, in one order, after repair.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { bindPeers, createMesh, publishGroup, startRepair, type Mesh } from './mesh.js'

const NODES = 32
const MESSAGES = 160

describe('a 32-node group', { timeout: 600_000 }, () => {
  let mesh: Mesh
  let stopRepair = (): void => {}
  before(async () => {
    mesh = await createMesh(NODES, { extra: 3 })
    bindPeers(mesh)
    stopRepair = startRepair(mesh)
  })
  after(async () => { stopRepair(); await mesh?.stop() })

  it('delivers every message to every member, in the same order everywhere', async () => {
    const ids: string[] = []
    for (let i = 0; i < MESSAGES; i++) {
      const from = mesh.nodes[(i * 7) % NODES]!
      ids.push(await publishGroup(mesh, from, `message ${i}`))
      if (i % 8 === 7) await new Promise(resolve => setTimeout(resolve, 20))
    }
    const expected = MESSAGES * (NODES - 1)
    const got = (): number => ids.reduce((n, id) => n + (mesh.latencies.get(id)?.length ?? 0), 0)
    const end = Date.now() + 120_000
    while (got() < expected && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 100))
    const repaired = mesh.nodes.reduce((n, x) => n + x.repaired, 0)
    console.log(`# delivered ${got()}/${expected}; by gossip ${got() - repaired}, by repair ${repaired}`)
    assert.equal(got() / expected, 1, `delivery ratio ${got()}/${expected}`)
    for (const n of mesh.nodes) {
      assert.equal(n.delivered.length, MESSAGES)
      assert.equal(n.causal.pending.length, 0)
      assert.equal(n.rejected, 0)
    }
    const order = mesh.nodes[0]!.causal.order.map(e => e.id)
    assert.equal(order.length, MESSAGES)
    for (const n of mesh.nodes) assert.deepEqual(n.causal.order.map(e => e.id), order, 'same display order at every node')
    // causal: each sender's messages appear in its sending order
    const pos = new Map(order.map((id, i) => [id, i]))
    for (let s = 0; s < NODES; s++) {
      const mine = ids.filter((_, i) => (i * 7) % NODES === s).map(id => pos.get(id)!)
      assert.deepEqual(mine, [...mine].sort((x, y) => x - y))
    }
  })
})

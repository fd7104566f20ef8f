// The node benchmark group (bench/groups/node.ts) as a smoke run: real nodes, real figures, the right
// shape — so the group cannot rot unnoticed. Not a measurement (quick sizes, loaded test machine).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import group, { percentile } from '../../bench/groups/node.js'
import { isBenchGroup } from '../../bench/types.js'

test('percentile is nearest-rank', () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i) // 100..1, unsorted
  assert.equal(percentile(xs, 50), 50)
  assert.equal(percentile(xs, 99), 99)
  assert.equal(percentile(xs, 100), 100)
  assert.equal(percentile([7], 99), 7)
  assert.throws(() => percentile([], 50), RangeError)
})

test('the node group runs quick and returns its figures, the round trip\'s floor among them', { timeout: 180_000 }, async () => {
  assert.ok(isBenchGroup(group))
  assert.equal(group.name, 'node')
  const lines: string[] = []
  const figs = await group.run({ quick: true, log: (l) => { lines.push(l) } })
  assert.deepEqual(figs.map((f) => f.name), ['node.rtt-p50', 'node.rtt-p99', 'node.rtt-floor', 'node.first-message'])
  for (const f of figs) {
    assert.equal(f.unit, 'ms')
    assert.equal(f.better, 'lower')
    assert.ok(f.parley != null && Number.isFinite(f.parley) && f.parley > 0, `${f.name} parley ${String(f.parley)}`)
    assert.ok(f.baseline != null && Number.isFinite(f.baseline) && f.baseline > 0, `${f.name} baseline ${String(f.baseline)}`)
    assert.ok(f.ratio != null && Math.abs(f.ratio - f.parley / f.baseline) < 1e-9)
    if (f.name === 'node.rtt-floor') continue // informational: no target of its own
    assert.ok(f.target != null && typeof f.meetsTarget === 'boolean')
  }
  // The floor is a lower bound made of measured parts: it exceeds the echo it includes, and stays below
  // what the real round trip measured in the same run.
  const floor = figs.find((f) => f.name === 'node.rtt-floor')!
  assert.ok(floor.parley! > floor.baseline!, 'floor > echo')
  assert.ok(floor.parley! < figs[0]!.parley!, `floor ${String(floor.parley)} < measured p50 ${String(figs[0]!.parley)}`)
  assert.match(floor.note ?? '', /durable SQLite commit/)
  const [p50, p99] = figs
  assert.ok(p99!.parley! >= p50!.parley!, 'p99 >= p50')
  assert.ok(lines.some((l) => l.includes('breakdown')), 'the breakdown is logged')
})

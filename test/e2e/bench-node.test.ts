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

test('the node group runs quick and returns its three figures with targets', { timeout: 180_000 }, async () => {
  assert.ok(isBenchGroup(group))
  assert.equal(group.name, 'node')
  const lines: string[] = []
  const figs = await group.run({ quick: true, log: (l) => { lines.push(l) } })
  assert.deepEqual(figs.map((f) => f.name), ['node.rtt-p50', 'node.rtt-p99', 'node.first-message'])
  for (const f of figs) {
    assert.equal(f.unit, 'ms')
    assert.equal(f.better, 'lower')
    assert.ok(f.parley != null && Number.isFinite(f.parley) && f.parley > 0, `${f.name} parley ${String(f.parley)}`)
    assert.ok(f.baseline != null && Number.isFinite(f.baseline) && f.baseline > 0, `${f.name} baseline ${String(f.baseline)}`)
    assert.ok(f.ratio != null && Math.abs(f.ratio - f.parley / f.baseline) < 1e-9)
    assert.ok(f.target != null && typeof f.meetsTarget === 'boolean')
  }
  const [p50, p99] = figs
  assert.ok(p99!.parley! >= p50!.parley!, 'p99 >= p50')
  assert.ok(lines.some((l) => l.includes('breakdown')), 'the breakdown is logged')
})

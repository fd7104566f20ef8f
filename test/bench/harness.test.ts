// The benchmark harness: its pure helpers, group discovery, and a tiny real `--json --quick` run whose
// output must be one well-formed JSON object per line and nothing else. Nothing here asserts speed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadGroups, parseArgs, selectGroups } from '../../bench/index.js'
import { calibrate, median, meets, ratioOf, sideBySide } from '../../bench/measure.js'
import { formatNumber, jsonLine, table } from '../../bench/format.js'
import { BenchUsageError, isBenchGroup, type Figure } from '../../bench/types.js'

const run = promisify(execFile)
const benchMain = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'index.js')

test('median, ratio, target and calibration helpers', () => {
  assert.equal(median([3, 1, 2]), 2)
  assert.equal(median([4, 1, 3, 2]), 2.5)
  assert.throws(() => median([]), RangeError)
  assert.equal(ratioOf(30, 10), 3)
  assert.equal(ratioOf(null, 10), null)
  assert.equal(ratioOf(5, 0), null)
  assert.equal(meets(3, { ratio: 3, better: 'higher' }), true)
  assert.equal(meets(2.9, { ratio: 3, better: 'higher' }), false)
  assert.equal(meets(1.5, { ratio: 2, better: 'lower' }), true)
  assert.equal(meets(2.5, { ratio: 2, better: 'lower' }), false)
  // 10 ops took 20 ms -> 2 ms/op -> 500 ms rounds need 250 ops, clamped to [min, max]
  assert.equal(calibrate(10, 20, 500, 1, 1000), 250)
  assert.equal(calibrate(10, 20, 500, 300, 1000), 300)
  assert.equal(calibrate(10, 20, 500, 1, 100), 100)
  assert.equal(calibrate(10, 0, 500, 1, 1000), 1000)
})

test('parseArgs accepts the documented flags and refuses the rest with BenchUsageError', () => {
  assert.deepEqual(parseArgs([]), { json: false, quick: false, list: false, help: false, only: null })
  assert.deepEqual(parseArgs(['--json', '--quick', '--only', 'crypto,net', '--only=groups']),
    { json: true, quick: true, list: false, help: false, only: ['crypto', 'net', 'groups'] })
  assert.throws(() => parseArgs(['--fast']), BenchUsageError)
  assert.throws(() => parseArgs(['--only']), BenchUsageError)
  assert.throws(() => parseArgs(['--only', '--json']), BenchUsageError)
})

test('group discovery finds the crypto group; a broken group file is reported, not fatal', async () => {
  const { groups, errors } = await loadGroups()
  assert.deepEqual(errors, [])
  assert.ok(groups.some(g => g.name === 'crypto'))
  assert.throws(() => selectGroups(groups, ['no-such-group']), BenchUsageError)
  assert.deepEqual(selectGroups(groups, ['crypto']).map(g => g.name), ['crypto'])

  const dir = await mkdtemp(join(tmpdir(), 'parley-bench-'))
  try {
    await writeFile(join(dir, 'a-good.js'), 'export default { name: "good", run: async () => [] }\n')
    await writeFile(join(dir, 'b-bad.js'), 'export default { name: 42 }\n')
    await writeFile(join(dir, 'c-throws.js'), 'throw new Error("boom")\n')
    await writeFile(join(dir, 'd-good.d.ts'), 'ignored\n')
    const r = await loadGroups(dir)
    assert.deepEqual(r.groups.map(g => g.name), ['good'])
    assert.equal(r.errors.length, 2)
    assert.ok(r.errors.every(e => e.name === 'BenchGroupLoadError'))
    // --only loads just the matching file when the file name is the group name
    const o = await loadGroups(dir, ['a-good', 'good'])
    assert.deepEqual(o.groups.map(g => g.name), ['good'])
    assert.equal(o.errors.length, 2) // 'a-good' is no group name, so the other files were loaded too
    await writeFile(join(dir, 'good.js'), 'export default { name: "good", run: async () => [] }\n')
    await rm(join(dir, 'a-good.js'))
    const p = await loadGroups(dir, ['good'])
    assert.deepEqual(p.groups.map(g => g.name), ['good'])
    assert.deepEqual(p.errors, [])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  assert.equal(isBenchGroup({ name: 'Bad Name', run: async () => [] }), false)
})

test('sideBySide runs both sides the requested rounds and marks a missing Parley side', async () => {
  let calls = 0
  const busy = { run: async (n: number) => { for (let i = 0; i < n; i++) calls++ } }
  const fig = await sideBySide({
    name: 't.x', kind: 'rate', better: 'higher', baselineName: 'b', parley: busy, baseline: busy,
    rounds: 3, warmupOps: 5, roundMs: 1, minOps: 2, maxOps: 7, target: { ratio: 1, better: 'higher' }
  })
  assert.equal(fig.rounds, 3)
  assert.ok(fig.opsPerRound.parley >= 2 && fig.opsPerRound.parley <= 7)
  assert.equal(calls, 2 * 5 + 3 * (fig.opsPerRound.parley + fig.opsPerRound.baseline))
  assert.ok(fig.parley !== null && fig.parley > 0 && fig.baseline !== null && fig.baseline > 0)
  assert.equal(fig.ratio, fig.parley / fig.baseline)
  assert.ok(fig.pairedRatio !== null && fig.pairedRatio > 0)
  assert.ok(fig.cpu.parley !== null && fig.cpu.parley > 0 && fig.cpu.baseline !== null && fig.cpu.baseline > 0)
  assert.equal(fig.cpu.ratio, fig.cpu.parley / fig.cpu.baseline)
  assert.equal(typeof fig.meetsTarget, 'boolean')

  const pending = await sideBySide({
    name: 't.y', kind: 'latency', better: 'lower', baselineName: 'b', parley: null, parleyMissing: 'not yet',
    baseline: busy, rounds: 1, warmupOps: 1, roundMs: 1, minOps: 1, maxOps: 1
  })
  assert.equal(pending.parley, null)
  assert.equal(pending.ratio, null)
  assert.equal(pending.meetsTarget, undefined)
  assert.equal(pending.pairedRatio, null)
  assert.equal(pending.cpu.ratio, null)
  assert.match(pending.note ?? '', /pending: not yet/)
  assert.equal(pending.unit, 'ms')
  await assert.rejects(sideBySide({ name: 't.z', kind: 'rate', better: 'higher', baselineName: 'b', parley: busy, baseline: busy,
    rounds: 0, warmupOps: 1, roundMs: 1, minOps: 1, maxOps: 1 }), RangeError)
})

test('human table shows ratios and targets', () => {
  const f: Figure = {
    name: 'g.a', unit: 'msg/s', parley: 12345.6, baseline: 4115.2, ratio: 3, better: 'higher', baselineName: 'lib 1',
    pairedRatio: 2.9, cpu: { parley: 2, baseline: 1, ratio: 2 },
    rounds: 1, opsPerRound: { parley: 1, baseline: 1 }, spread: { parley: null, baseline: null },
    target: { ratio: 3, better: 'higher' }, meetsTarget: true
  }
  const t = table([f])
  assert.match(t, /g\.a\s+msg\/s\s+12,346\s+4,115\s+3\.00x\s+2\.90x\s+2\.00x\s+>= 3x\s+yes/)
  assert.equal(formatNumber(1.23456), '1.23')
  assert.equal(formatNumber(null), '-')
  assert.deepEqual(JSON.parse(jsonLine(f, { quick: true, node: '24', cpus: 2 })).ratio, 3)
})

test('`bench --json --quick --only crypto,primitives` prints one well-formed JSON figure per line and nothing else', async () => {
  const { stdout } = await run(process.execPath, [benchMain, '--json', '--quick', '--only', 'crypto,primitives'],
    { timeout: 180_000, maxBuffer: 1 << 20 })
  const lines = stdout.split('\n').filter(l => l !== '')
  assert.ok(stdout.endsWith('\n'))
  const figs = lines.map(l => JSON.parse(l) as Record<string, unknown>)
  const names = figs.map(f => f.name)
  assert.deepEqual(names.slice(0, 3), ['crypto.one-way', 'crypto.ping-pong', 'crypto.pqxdh-setup'])
  assert.ok(names.slice(3).length >= 3 && names.slice(3).every(n => typeof n === 'string' && n.startsWith('primitives.')), names.join())
  for (const f of figs) {
    assert.equal(typeof f.unit, 'string')
    assert.ok(f.better === 'higher' || f.better === 'lower')
    assert.ok(typeof f.baseline === 'number' && f.baseline > 0 && Number.isFinite(f.baseline), `${String(f.name)} baseline`)
    assert.ok(f.parley === null || (typeof f.parley === 'number' && f.parley > 0 && Number.isFinite(f.parley)))
    const cpu = f.cpu as { parley: number | null, baseline: number, ratio: number | null }
    assert.ok(cpu.baseline > 0)
    if (f.parley === null) {
      assert.equal(f.ratio, null)
      assert.equal(f.pairedRatio, null)
    } else {
      assert.ok(Math.abs((f.ratio as number) - (f.parley as number) / (f.baseline as number)) < 1e-9)
      assert.ok(typeof f.pairedRatio === 'number' && f.pairedRatio > 0)
      assert.ok(typeof cpu.ratio === 'number' && cpu.ratio > 0)
    }
    assert.equal(f.quick, true)
  }
  assert.equal(figs[2]!.unit, 'ms')
  assert.equal(figs[2]!.better, 'lower')
})

test('bench refuses an unknown group with exit code 2 and prints nothing on stdout', async () => {
  await assert.rejects(run(process.execPath, [benchMain, '--json', '--only', 'nope'], { timeout: 60_000 }),
    (e: { code?: number, stdout?: string }) => e.code === 2 && e.stdout === '')
})

/**
 * Side-by-side measurement: Parley and its baseline are warmed up, calibrated to the same round
 * length, then run in alternating order (P B, B P, P B, …) so drift on a loaded machine (thermal,
 * other processes, JIT tiers) hits both sides alike. Each side reports the median of its rounds.
 */
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Better, Figure } from './types.js'

/** One side of a figure. `run(n)` performs n operations; only `run` is timed. */
export interface Contestant {
  /** Untimed preparation for the next `run(n)` (e.g. building n prekey bundles). */
  prepare?: (n: number) => Promise<void>
  run: (n: number, signal?: AbortSignal) => Promise<void>
}

export interface SideBySideSpec {
  name: string
  better: Better
  /** `rate`: the figure is operations per second; `latency`: milliseconds per operation. */
  kind: 'rate' | 'latency'
  /** Unit label; defaults to `ops/s` or `ms`. */
  unit?: string
  baselineName: string
  parley: Contestant | null
  /** Why the Parley side is missing, when `parley` is null. */
  parleyMissing?: string
  baseline: Contestant
  rounds: number
  /** Operations each side runs before timing starts (also used to calibrate). */
  warmupOps: number
  /** Target duration of one timed round per side, in ms. */
  roundMs: number
  minOps: number
  maxOps: number
  target?: { ratio: number, better: Better }
  note?: string
  signal?: AbortSignal
  log?: (line: string) => void
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median (values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list')
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** parley / baseline, or null when either is missing or the baseline is zero. */
export function ratioOf (parley: number | null, baseline: number | null): number | null {
  if (parley === null || baseline === null || baseline === 0) return null
  return parley / baseline
}

/** Whether a ratio meets its target in the target's direction. */
export function meets (ratio: number, target: { ratio: number, better: Better }): boolean {
  return target.better === 'higher' ? ratio >= target.ratio : ratio <= target.ratio
}

/** Operations per round so that a round lasts about `roundMs`, from a measured warm-up rate. */
export function calibrate (warmupOps: number, warmupMs: number, roundMs: number, minOps: number, maxOps: number): number {
  const perOpMs = Math.max(warmupMs, 1e-3) / Math.max(warmupOps, 1)
  return Math.min(maxOps, Math.max(minOps, Math.round(roundMs / perOpMs)))
}

let gcFn: (() => void) | null | undefined
/** Full garbage collection between rounds (so one side does not pay for the other's garbage). */
export function collectGarbage (): void {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc')
      gcFn = runInNewContext('gc') as () => void
    } catch {
      gcFn = null
    }
  }
  gcFn?.()
}

/** Wall-clock and CPU milliseconds of one `run(n)` (preparation and GC of earlier garbage excluded). */
async function timed (c: Contestant, n: number, signal?: AbortSignal): Promise<{ wall: number, cpu: number }> {
  if (c.prepare !== undefined) await c.prepare(n)
  collectGarbage()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await c.run(n, signal)
  const wall = performance.now() - t0
  const c1 = process.cpuUsage(c0)
  return { wall, cpu: (c1.user + c1.system) / 1000 }
}

function value (kind: 'rate' | 'latency', n: number, ms: number): number {
  return kind === 'rate' ? n / (ms / 1000) : ms / n
}

/** Measures one figure, both sides in this process, interleaved. */
export async function sideBySide (spec: SideBySideSpec): Promise<Figure> {
  const { signal, log } = spec
  for (const k of ['rounds', 'warmupOps', 'minOps', 'maxOps', 'roundMs'] as const) {
    if (!Number.isInteger(spec[k]) || spec[k] < 1) throw new RangeError(`${spec.name}: ${k} must be a positive integer`)
  }
  if (spec.maxOps < spec.minOps) throw new RangeError(`${spec.name}: maxOps < minOps`)
  const sides: Array<['parley' | 'baseline', Contestant | null]> = [['parley', spec.parley], ['baseline', spec.baseline]]
  const ops = { parley: 0, baseline: 0 }
  const results: { parley: number[], baseline: number[] } = { parley: [], baseline: [] }
  const cpuResults: { parley: number[], baseline: number[] } = { parley: [], baseline: [] }
  // Warm up (JIT, native library caches) and calibrate each side.
  for (const [who, c] of sides) {
    if (c === null) continue
    signal?.throwIfAborted()
    const t = await timed(c, spec.warmupOps, signal)
    ops[who] = calibrate(spec.warmupOps, t.wall, spec.roundMs, spec.minOps, spec.maxOps)
  }
  for (let r = 0; r < spec.rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse()
    for (const [who, c] of order) {
      if (c === null) continue
      signal?.throwIfAborted()
      const t = await timed(c, ops[who], signal)
      results[who].push(value(spec.kind, ops[who], t.wall))
      cpuResults[who].push(value(spec.kind, ops[who], Math.max(t.cpu, 1e-3)))
    }
    log?.(`  ${spec.name}: round ${r + 1}/${spec.rounds}`)
  }
  const parley = results.parley.length > 0 ? median(results.parley) : null
  const baseline = median(results.baseline)
  const ratio = ratioOf(parley, baseline)
  const paired = results.parley.map((p, i) => p / results.baseline[i]!)
  const cpuParley = cpuResults.parley.length > 0 ? median(cpuResults.parley) : null
  const cpuBaseline = median(cpuResults.baseline)
  const spread = (xs: number[]): [number, number] | null => xs.length > 0 ? [Math.min(...xs), Math.max(...xs)] : null
  const fig: Figure = {
    name: spec.name,
    unit: spec.unit ?? (spec.kind === 'rate' ? 'ops/s' : 'ms'),
    parley,
    baseline,
    ratio,
    better: spec.better,
    pairedRatio: paired.length > 0 ? median(paired) : null,
    cpu: { parley: cpuParley, baseline: cpuBaseline, ratio: ratioOf(cpuParley, cpuBaseline) },
    baselineName: spec.baselineName,
    rounds: spec.rounds,
    opsPerRound: ops,
    spread: { parley: spread(results.parley), baseline: spread(results.baseline) }
  }
  if (spec.target !== undefined) {
    fig.target = spec.target
    if (ratio !== null) fig.meetsTarget = meets(ratio, spec.target)
  }
  const notes = [spec.note, spec.parley === null ? `Parley side pending: ${spec.parleyMissing ?? 'not available'}` : undefined].filter((x): x is string => x !== undefined)
  if (notes.length > 0) fig.note = notes.join('; ')
  return fig
}

/**
 * A latency figure (ms, lower is better) from per-round samples of both sides: medians, their ratio, the
 * median of per-round ratios when the rounds pair up, and the spread. No CPU figure (the samples are wall time).
 */
export function latencyFigure (name: string, p: number[], b: number[], baselineName: string, note: string): Figure {
  const mp = p.length > 0 ? median(p) : null
  const mb = b.length > 0 ? median(b) : null
  const paired = p.length > 0 && p.length === b.length ? median(p.map((x, i) => x / b[i]!)) : null
  return {
    name,
    unit: 'ms',
    parley: mp,
    baseline: mb,
    ratio: mp != null && mb != null && mb > 0 ? mp / mb : null,
    better: 'lower',
    baselineName,
    rounds: Math.max(p.length, b.length),
    opsPerRound: { parley: 1, baseline: 1 },
    pairedRatio: paired,
    cpu: { parley: null, baseline: null, ratio: null },
    spread: { parley: p.length > 0 ? [Math.min(...p), Math.max(...p)] : null, baseline: b.length > 0 ? [Math.min(...b), Math.max(...b)] : null },
    note
  }
}

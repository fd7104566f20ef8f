/**
 * The benchmark harness's vocabulary. A group measures Parley against a baseline, side by side in one
 * run, and returns figures; bench/index.ts finds the groups and prints their figures.
 *
 * To add a group, add ONE file `bench/groups/<name>.ts` whose default export is a {@link BenchGroup};
 * bench/index.ts discovers it at run time (no other file changes).
 */

/** Options every group receives. */
export interface BenchOptions {
  /** Fewer rounds and operations: a smoke run (used by the tests), not a measurement. */
  quick: boolean
  /** Aborts the run between operations (Ctrl-C, test time-outs). */
  signal?: AbortSignal
  /** Progress lines (the CLI sends them to stderr so stdout carries only results). */
  log?: (line: string) => void
}

/** Which direction of `ratio` (parley / baseline) is good. */
export type Better = 'higher' | 'lower'

/** One measured figure: Parley and its baseline, measured in the same run. */
export interface Figure {
  /** `<group>.<figure>`, e.g. `crypto.one-way`. */
  name: string
  /** Unit of `parley` and `baseline`, e.g. `msg/s`, `ms`. */
  unit: string
  /** Median over rounds; null when the Parley side could not run (see `note`). */
  parley: number | null
  /** Median over rounds; null when the baseline could not run (see `note`). */
  baseline: number | null
  /** parley / baseline; null when either side is missing. */
  ratio: number | null
  better: Better
  /** What the baseline is (package and version). */
  baselineName: string
  /** Rounds each side ran (after warm-up). */
  rounds: number
  /** Operations each side ran per round. */
  opsPerRound: { parley: number, baseline: number }
  /**
   * Median over rounds of the per-round ratio (each round runs both sides back to back, so load
   * from other processes hits a pair alike): steadier than `ratio` on a busy machine.
   */
  pairedRatio: number | null
  /**
   * The same figure computed from this process's CPU time (process.cpuUsage, all threads) instead
   * of wall-clock time: insensitive to other processes competing for the cores.
   */
  cpu: { parley: number | null, baseline: number | null, ratio: number | null }
  /** Smallest and largest per-round value of each side: the spread behind the median. */
  spread: { parley: [number, number] | null, baseline: [number, number] | null }
  /** The goal for `ratio`, when the issue states one (e.g. `>= 3`). */
  target?: { ratio: number, better: Better }
  /** Whether `ratio` meets `target` (absent without a target or a ratio). */
  meetsTarget?: boolean
  note?: string
}

/** A named set of figures; `run` measures them all. */
export interface BenchGroup {
  /** Short lower-case name used by `--only` and as the figure-name prefix. */
  name: string
  /** One line for `--list` and the human table. */
  description?: string
  run: (opts: BenchOptions) => Promise<Figure[]>
}

/** The harness was used wrongly (unknown group, bad flag). */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError'
  readonly code = 'ERR_BENCH_USAGE'
}

/** A contender produced a wrong result during a benchmark (e.g. decrypted text differs). */
export class BenchIntegrityError extends Error {
  override readonly name = 'BenchIntegrityError'
  readonly code = 'ERR_BENCH_INTEGRITY'
}

/** A group file under bench/groups does not export a usable BenchGroup. */
export class BenchGroupLoadError extends Error {
  override readonly name = 'BenchGroupLoadError'
  readonly code = 'ERR_BENCH_GROUP_LOAD'
}

export function isBenchGroup (x: unknown): x is BenchGroup {
  if (typeof x !== 'object' || x === null) return false
  const g = x as Record<string, unknown>
  return typeof g.name === 'string' && /^[a-z][a-z0-9-]*$/.test(g.name) && typeof g.run === 'function'
}

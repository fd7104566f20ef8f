/** Output of the harness: one JSON object per figure per line, or a human-readable table. */
import type { Figure } from './types.js'

/** Extra context stamped on every JSON line. */
export interface RunMeta {
  quick: boolean
  node: string
  cpus: number
  /** One-minute load average when the figure was finished (0 where the OS does not report it). */
  load1?: number
}

/** One line of `--json` output (no trailing newline). */
export function jsonLine (fig: Figure, meta: RunMeta): string {
  return JSON.stringify({ ...fig, ...meta })
}

/** A number for humans: integers with thousands separators from 100 up, else 3 significant digits. */
export function formatNumber (x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '-'
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US')
  return x.toPrecision(3)
}

function targetText (f: Figure): string {
  if (f.target === undefined) return ''
  return `${f.target.better === 'higher' ? '>=' : '<='} ${f.target.ratio}x`
}

/** The human table: one row per figure, columns padded to width. */
export function table (figures: readonly Figure[]): string {
  const head = ['figure', 'unit', 'parley', 'baseline', 'ratio', 'paired', 'cpu', 'target', 'met']
  const x = (r: number | null): string => r === null ? '-' : `${r.toFixed(2)}x`
  const rows = figures.map(f => [
    f.name,
    f.unit,
    formatNumber(f.parley),
    formatNumber(f.baseline),
    x(f.ratio),
    x(f.pairedRatio),
    x(f.cpu.ratio),
    targetText(f),
    f.meetsTarget === undefined ? '' : f.meetsTarget ? 'yes' : 'NO'
  ])
  const all = [head, ...rows]
  const width = head.map((_, c) => Math.max(...all.map(r => r[c]!.length)))
  const right = new Set([2, 3, 4, 5, 6])
  const line = (r: string[]): string => r.map((cell, c) => right.has(c) ? cell.padStart(width[c]!) : cell.padEnd(width[c]!)).join('  ').trimEnd()
  const out = [line(head), width.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)]
  const notes = figures.filter(f => f.note !== undefined).map(f => `  ${f.name}: ${f.note!}`)
  const base = [...new Set(figures.map(f => f.baselineName))].join(', ')
  return [...out, '', `ratio = parley / baseline (baseline: ${base}); paired = median of per-round ratios;`,
    'cpu = ratio of the same figure measured in process CPU time (robust to other load)', ...(notes.length > 0 ? ['notes:', ...notes] : [])].join('\n')
}

/**
 * `npm run bench` — measures Parley against its baselines, side by side in one run.
 *
 *   node dist/bench/index.js [--json] [--quick] [--only <group>[,<group>…]] [--list]
 *
 * --json prints one JSON object per figure per line on stdout and nothing else (progress goes to
 * stderr). Use `npm run -s bench -- --json` (or node directly): without -s, npm itself prints a banner
 * on stdout.
 *
 * The registry: every `groups/<name>.js` next to this file whose default export is a BenchGroup.
 * Adding a group is adding one file.
 */
import { readdir } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { jsonLine, table, type RunMeta } from './format.js'
import { BenchGroupLoadError, BenchUsageError, isBenchGroup, type BenchGroup, type Figure } from './types.js'

export interface CliArgs {
  json: boolean
  quick: boolean
  list: boolean
  help: boolean
  only: string[] | null
}

/** Parses the command line (without node and script). Throws BenchUsageError on bad input. */
export function parseArgs (argv: readonly string[]): CliArgs {
  const args: CliArgs = { json: false, quick: false, list: false, help: false, only: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--json') args.json = true
    else if (a === '--quick') args.quick = true
    else if (a === '--list') args.list = true
    else if (a === '--help' || a === '-h') args.help = true
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length)
      if (v === undefined || v === '' || v.startsWith('--')) throw new BenchUsageError('--only needs a group name')
      args.only = [...(args.only ?? []), ...v.split(',').filter(s => s !== '')]
    } else throw new BenchUsageError(`unknown argument: ${a}`)
  }
  return args
}

export const USAGE = 'usage: node dist/bench/index.js [--json] [--quick] [--only <group>[,<group>...]] [--list]'

/** The folder the group files are discovered in (next to this compiled file). */
export const GROUPS_DIR = fileURLToPath(new URL('./groups/', import.meta.url))

/**
 * Loads the group files in `dir` (default: GROUPS_DIR), sorted by group name. With `only`, files named
 * `<group>.js` are loaded first and the rest only if some group was not found that way (a group's
 * name is normally its file name), so `--only crypto` does not pay for importing the network stack.
 * A file that fails to load is reported in `errors` and does not stop the others.
 */
export async function loadGroups (dir = GROUPS_DIR, only: readonly string[] | null = null): Promise<{ groups: BenchGroup[], errors: BenchGroupLoadError[] }> {
  const files = (await readdir(dir)).filter(f => f.endsWith('.js')).sort()
  const groups: BenchGroup[] = []
  const errors: BenchGroupLoadError[] = []
  const load = async (f: string): Promise<void> => {
    try {
      const mod = await import(pathToFileURL(resolve(dir, f)).href) as { default?: unknown }
      if (!isBenchGroup(mod.default)) throw new Error('default export is not a BenchGroup')
      if (groups.some(g => g.name === (mod.default as BenchGroup).name)) throw new Error(`duplicate group name ${mod.default.name}`)
      groups.push(mod.default)
    } catch (err) {
      errors.push(new BenchGroupLoadError(`bench group file ${f}: ${(err as Error).message}`, { cause: err }))
    }
  }
  const first = only === null ? files : files.filter(f => only.includes(f.slice(0, -'.js'.length)))
  for (const f of first) await load(f)
  if (only !== null && !only.every(name => groups.some(g => g.name === name))) {
    for (const f of files) if (!first.includes(f)) await load(f)
  }
  groups.sort((a, b) => a.name.localeCompare(b.name))
  return { groups, errors }
}

/** Picks the groups named by --only (all when null). Throws BenchUsageError for an unknown name. */
export function selectGroups (groups: readonly BenchGroup[], only: readonly string[] | null): BenchGroup[] {
  if (only === null) return [...groups]
  for (const name of only) {
    if (!groups.some(g => g.name === name)) throw new BenchUsageError(`unknown group "${name}" (have: ${groups.map(g => g.name).join(', ')})`)
  }
  return groups.filter(g => only.includes(g.name))
}

async function main (argv: readonly string[]): Promise<number> {
  const err = (s: string): void => { process.stderr.write(s + '\n') }
  let args: CliArgs
  try {
    args = parseArgs(argv)
  } catch (e) {
    err(`bench: ${(e as Error).message}\n${USAGE}`)
    return 2
  }
  if (args.help) { err(USAGE); return 0 }
  const { groups, errors } = await loadGroups(GROUPS_DIR, args.list ? null : args.only)
  for (const e of errors) err(`bench: ${e.message}`)
  if (args.list) {
    for (const g of groups) process.stdout.write(`${g.name}\t${g.description ?? ''}\n`)
    return errors.length > 0 ? 1 : 0
  }
  let selected: BenchGroup[]
  try {
    selected = selectGroups(groups, args.only)
  } catch (e) {
    err(`bench: ${(e as Error).message}`)
    return 2
  }
  const ac = new AbortController()
  const onSigint = (): void => {
    if (ac.signal.aborted) process.exit(130)
    err('bench: interrupted, stopping after the current operation (Ctrl-C again to quit now)')
    ac.abort(new Error('interrupted'))
  }
  process.on('SIGINT', onSigint)
  const meta: RunMeta = { quick: args.quick, node: process.versions.node, cpus: cpus().length }
  err(`bench: node ${meta.node}, ${meta.cpus} cpus${args.quick ? ', quick run (not a measurement)' : ''}; groups: ${selected.map(g => g.name).join(', ')}`)
  const figures: Figure[] = []
  let failed = errors.length > 0
  for (const g of selected) {
    try {
      const figs = await g.run({ quick: args.quick, signal: ac.signal, log: err })
      for (const f of figs) {
        figures.push(f)
        if (args.json) process.stdout.write(jsonLine(f, { ...meta, load1: Math.round(loadavg()[0]! * 100) / 100 }) + '\n')
      }
    } catch (e) {
      failed = true
      err(`bench: group ${g.name} failed: ${(e as Error).stack ?? String(e)}`)
      if (ac.signal.aborted) break
    }
  }
  process.off('SIGINT', onSigint)
  const load = loadavg()[0]!
  if (load > meta.cpus) err(`bench: the machine was busy (load average ${load.toFixed(1)} on ${meta.cpus} cpus): trust the paired and cpu ratios, not absolute figures`)
  if (!args.json) process.stdout.write(table(figures) + '\n')
  return failed ? 1 : 0
}

const invokedAs = process.argv[1]
if (invokedAs !== undefined && resolve(invokedAs) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(code => {
    process.exitCode = code
    // A group that leaves a socket or timer open must not keep the run alive forever.
    setTimeout(() => {
      process.stderr.write('bench: handles still open 10 s after the run; exiting\n')
      process.exit(code)
    }, 10_000).unref()
  }, (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`)
    process.exitCode = 1
  })
}

/**
 * The `parley` argument parser (no dependencies): global flags are accepted before or after the
 * subcommand, `--flag value` and `--flag=value` both work, repeated list flags accumulate, `--` ends
 * the options. Unknown flags and missing arguments are UsageErrors (exit 2).
 */
import { UsageError } from './errors.js'

export type FlagType = 'boolean' | 'string' | 'list'

export interface FlagSpec {
  type: FlagType
  help: string
  /** Placeholder in help text, e.g. MULTIADDR. */
  value?: string
}

export interface ArgSpec {
  name: string
  /** The last argument may take all remaining words (joined by one space). */
  rest?: boolean
  optional?: boolean
}

export interface CommandSpec {
  /** Space-separated words: 'contact add'. */
  name: string
  summary: string
  args: ArgSpec[]
  flags: Record<string, FlagSpec>
  /** Extra paragraphs for `--help`. */
  details?: string
}

export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  home: { type: 'string', value: 'DIR', help: 'Parley home (default: $PARLEY_HOME, else $XDG_DATA_HOME/parley, else ~/.local/share/parley)' },
  json: { type: 'boolean', help: 'machine-readable output: exactly one JSON document on stdout' },
  'passphrase-file': { type: 'string', value: 'FILE', help: 'read the identity passphrase from FILE (or set env PARLEY_PASSPHRASE)' },
  help: { type: 'boolean', help: 'show help' },
  version: { type: 'boolean', help: 'print the version' }
}

export interface ParsedArgs {
  /** The resolved command, or null (bare `parley`, or `parley --help`). */
  command: CommandSpec | null
  /** Words typed so far when no command matched fully (`parley contact`). */
  group: string[]
  args: Record<string, string | undefined>
  flags: Record<string, string | boolean | string[] | undefined>
  global: { home?: string, json: boolean, passphraseFile?: string, help: boolean, version: boolean }
}

export function parseArgs (argv: readonly string[], commands: readonly CommandSpec[]): ParsedArgs {
  const words: string[] = []
  const positionals: string[] = []
  const flags: ParsedArgs['flags'] = {}
  let command: CommandSpec | null = null
  let onlyPositionals = false

  const specFor = (name: string): FlagSpec | undefined =>
    GLOBAL_FLAGS[name] ?? (command != null ? command.flags[name] : undefined)

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (!onlyPositionals && a === '--') { onlyPositionals = true; continue }
    if (!onlyPositionals && a.startsWith('-') && a !== '-') {
      if (a === '-h') { flags.help = true; continue }
      if (!a.startsWith('--')) throw new UsageError(`unknown option ${a}`, command?.name)
      const eq = a.indexOf('=')
      const name = a.slice(2, eq < 0 ? undefined : eq)
      const spec = specFor(name)
      if (spec == null) {
        const hint = command == null && commands.some((c) => c.flags[name] != null) ? ' (command options go after the command)' : ''
        throw new UsageError(`unknown option --${name}${hint}`, command?.name)
      }
      if (spec.type === 'boolean') {
        if (eq >= 0) {
          const v = a.slice(eq + 1)
          if (v !== 'true' && v !== 'false') throw new UsageError(`--${name} takes no value`, command?.name)
          flags[name] = v === 'true'
        } else flags[name] = true
        continue
      }
      let value: string | undefined
      if (eq >= 0) value = a.slice(eq + 1)
      else {
        value = argv[i + 1]
        if (value == null || (value.startsWith('--') && value.length > 2)) throw new UsageError(`--${name} needs a value${spec.value != null ? ` (${spec.value})` : ''}`, command?.name)
        i++
      }
      if (spec.type === 'list') {
        const prev = flags[name]
        flags[name] = [...(Array.isArray(prev) ? prev : []), value]
      } else {
        if (flags[name] != null && flags[name] !== value) throw new UsageError(`--${name} given twice`, command?.name)
        flags[name] = value
      }
      continue
    }
    if (command == null) {
      words.push(a)
      const joined = words.join(' ')
      const exact = commands.find((c) => c.name === joined)
      if (exact != null) { command = exact; continue }
      if (commands.some((c) => c.name.startsWith(joined + ' '))) continue
      throw new UsageError(`unknown command "${joined}" (see parley --help)`)
    }
    positionals.push(a)
  }

  const g = {
    json: flags.json === true,
    help: flags.help === true,
    version: flags.version === true,
    ...(typeof flags.home === 'string' ? { home: flags.home } : {}),
    ...(typeof flags['passphrase-file'] === 'string' ? { passphraseFile: flags['passphrase-file'] } : {})
  }
  const args: Record<string, string | undefined> = {}
  if (command != null && !g.help) {
    const specs = command.args
    for (let j = 0; j < specs.length; j++) {
      const s = specs[j] as ArgSpec
      if (s.rest === true) {
        const rest = positionals.slice(j)
        args[s.name] = rest.length > 0 ? rest.join(' ') : undefined
        positionals.length = Math.min(positionals.length, j)
      } else args[s.name] = positionals[j]
      if (args[s.name] == null && s.optional !== true) throw new UsageError(`missing argument ${s.name}`, command.name)
    }
    if (positionals.length > specs.length) throw new UsageError(`unexpected argument "${positionals[specs.length] ?? ''}"`, command.name)
  }
  return { command, group: command == null ? words : [], args, flags, global: g }
}

function flagLine (name: string, f: FlagSpec): string {
  const left = `  --${name}${f.value != null ? ' ' + f.value : ''}${f.type === 'list' ? ' (repeatable)' : ''}`
  return left.padEnd(34) + ' ' + f.help
}

export function usageLine (c: CommandSpec): string {
  const args = c.args.map((a) => a.optional === true ? `[${a.name}]` : a.name).join(' ')
  const fl = Object.entries(c.flags).map(([n, f]) => `[--${n}${f.value != null ? ' ' + f.value : ''}]${f.type === 'list' ? '...' : ''}`).join(' ')
  return ['parley', c.name, args, fl].filter((s) => s !== '').join(' ')
}

export function commandHelp (c: CommandSpec): string {
  const lines = [`Usage: ${usageLine(c)}`, '', c.summary]
  if (c.details != null) lines.push('', c.details)
  if (Object.keys(c.flags).length > 0) {
    lines.push('', 'Options:')
    for (const [n, f] of Object.entries(c.flags)) lines.push(flagLine(n, f))
  }
  lines.push('', 'Global options (before or after the command):')
  for (const [n, f] of Object.entries(GLOBAL_FLAGS)) lines.push(flagLine(n, f))
  return lines.join('\n') + '\n'
}

export function generalHelp (commands: readonly CommandSpec[], prefix: string[] = []): string {
  const p = prefix.join(' ')
  const shown = commands.filter((c) => p === '' || c.name.startsWith(p + ' '))
  const width = Math.max(...shown.map((c) => c.name.length)) + 2
  const lines = [
    'parley — peer-to-peer, end-to-end-encrypted chat',
    '',
    `Usage: parley ${p === '' ? '<command>' : p + ' <subcommand>'} [options]   (parley <command> --help for details)`,
    '',
    'Commands:'
  ]
  for (const c of shown) lines.push(`  ${c.name.padEnd(width)}${c.summary}`)
  lines.push('', 'Global options (before or after the command):')
  for (const [n, f] of Object.entries(GLOBAL_FLAGS)) lines.push(flagLine(n, f))
  return lines.join('\n') + '\n'
}

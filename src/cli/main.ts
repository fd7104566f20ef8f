/**
 * `parley` — the command line. `main(argv, io)` is the whole program as a function returning the exit
 * status (0 ok, 1 operational failure, 2 bad usage, 3 `status`: no daemon); `run()` wires it to the
 * process. Errors are one line on stderr (and, with --json, one error document on stdout).
 */
import { readFileSync, realpathSync } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { ParleyNodeApi } from '../core/api.js'
import { connectDaemon } from '../daemon/client.js'
import { startDaemon } from '../daemon/daemon.js'
import { NoDaemonError } from '../daemon/errors.js'
import { ensureHome, readPassphrase, resolveHome } from '../daemon/home.js'
import { describeEndpoint, readDaemonInfo } from '../daemon/info.js'
import { loadNodeModule, NO_IDENTITY_CODES } from '../daemon/node-module.js'
import { parseApiAddress } from '../daemon/server.js'
import { commandHelp, generalHelp, parseArgs, type ParsedArgs } from './args.js'
import { COMMANDS, STANDALONE } from './commands.js'
import { isGroupCommand, runGroupCommand } from './groups.js'
import { UsageError } from './errors.js'
import { formatContacts, formatId, formatMessages, formatPeers, formatSafetyNumber, KEY_CHANGE_WARNING, sanitize, STATUS_MARK } from './format.js'

export interface CliIo {
  stdout: Writable & { isTTY?: boolean, columns?: number, rows?: number }
  stderr: Writable
  stdin: Readable & { isTTY?: boolean, setRawMode?: (raw: boolean) => unknown }
  env: NodeJS.ProcessEnv
  /** Ends long-running commands (daemon, chat); run() aborts it on SIGTERM/SIGINT. */
  signal?: AbortSignal
}

export interface CliContext {
  io: CliIo
  parsed: ParsedArgs
  home: string
  json: boolean
  print: (value: unknown, human: string) => void
  passphrase: () => Promise<string | undefined>
}

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_RUNNING: 3,
  /** Not an exit status: work continues in the background (a module that runs on import); run() does not exit. */
  RUNS_ON: -1
} as const

function version (): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function oneLine (s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}

export async function main (argv: readonly string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json') || argv.includes('--json=true')
  let parsed: ParsedArgs | null = null
  try {
    parsed = parseArgs(argv, COMMANDS)
    json = parsed.global.json
    const p = parsed
    if (p.global.version) {
      io.stdout.write(json ? JSON.stringify({ version: version() }) + '\n' : `parley ${version()}\n`)
      return EXIT.OK
    }
    if (p.command == null) {
      if (p.global.help) { io.stdout.write(generalHelp(COMMANDS, p.group)); return EXIT.OK }
      if (p.group.length > 0) { io.stderr.write(generalHelp(COMMANDS, p.group)); return EXIT.USAGE }
      io.stderr.write(generalHelp(COMMANDS))
      return EXIT.USAGE
    }
    if (p.global.help) { io.stdout.write(commandHelp(p.command)); return EXIT.OK }
    const ctx: CliContext = {
      io,
      parsed: p,
      home: resolveHome({ flag: p.global.home, env: io.env }),
      json,
      print: (value, human) => { io.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : human) },
      passphrase: async () => await readPassphrase({ file: p.global.passphraseFile, env: io.env })
    }
    return await dispatch(ctx)
  } catch (err) {
    return reportError(io, json, err, parsed?.command?.name ?? (err instanceof UsageError ? err.command : undefined))
  }
}

function reportError (io: CliIo, json: boolean, err: unknown, command?: string): number {
  const e = err as { code?: unknown, message?: unknown }
  const code = typeof e?.code === 'string' ? e.code : 'ERR_INTERNAL'
  let message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err)
  if (NO_IDENTITY_CODES.has(code) && !message.includes('parley init')) message = `${message} — run \`parley init\` first`
  const usage = err instanceof UsageError || code === 'ERR_USAGE'
  const hint = usage ? ` (see parley ${command ?? ''}${command != null ? ' ' : ''}--help)` : ''
  io.stderr.write(`parley: ${oneLine(message)}${hint}\n`)
  if (json) io.stdout.write(JSON.stringify({ error: { code, message: oneLine(message) } }) + '\n')
  return usage ? EXIT.USAGE : EXIT.FAILURE
}

function str (v: unknown): string | undefined { return typeof v === 'string' ? v : undefined }
function list (v: unknown): string[] | undefined { return Array.isArray(v) ? v as string[] : undefined }

function positiveNumber (v: string | undefined, flag: string, max: number): number | undefined {
  if (v == null) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`--${flag} must be a positive number (at most ${max})`)
  return n
}

async function withDaemon<T> (ctx: CliContext, fn: (node: ParleyNodeApi) => Promise<T>): Promise<T> {
  const { client } = await connectDaemon(ctx.home)
  try {
    return await fn(client)
  } finally {
    await client.stop()
  }
}

async function dispatch (ctx: CliContext): Promise<number> {
  const { parsed: p } = ctx
  const cmd = p.command?.name ?? ''
  const a = p.args
  const f = p.flags
  if (!STANDALONE.has(cmd)) return await daemonCommand(ctx, cmd, a, f)
  switch (cmd) {
    case 'help': {
      const target = COMMANDS.find((c) => c.name === a.COMMAND)
      if (a.COMMAND != null && target == null && !COMMANDS.some((c) => c.name.startsWith((a.COMMAND ?? '') + ' '))) throw new UsageError(`unknown command "${a.COMMAND}"`)
      ctx.io.stdout.write(target != null ? commandHelp(target) : generalHelp(COMMANDS, a.COMMAND != null ? [a.COMMAND] : []))
      return EXIT.OK
    }
    case 'init': {
      await ensureHome(ctx.home)
      const mod = await loadNodeModule(ctx.io.env)
      const passphrase = await ctx.passphrase()
      const name = str(f.name)
      const r = await mod.initIdentity({ home: ctx.home, ...(name != null ? { name } : {}), ...(passphrase != null ? { passphrase } : {}) })
      const info = r != null && typeof r === 'object' ? r as Record<string, unknown> : {}
      ctx.print({ home: ctx.home, ...info }, `Created a new identity in ${ctx.home}${typeof info.peerId === 'string' ? `\nPeerId: ${info.peerId}` : ''}\n` +
        (passphrase == null ? 'Note: no passphrase set (use --passphrase-file or PARLEY_PASSPHRASE to encrypt the keys at rest).\n' : ''))
      return EXIT.OK
    }
    case 'status': {
      const info = await readDaemonInfo(ctx.home)
      if (info != null) {
        try {
          const { client } = await connectDaemon(ctx.home)
          const s = await client.status()
          await client.stop()
          ctx.print({ ...s, running: true, home: ctx.home, api: describeEndpoint(info.api), pid: info.pid },
            `daemon running for home ${ctx.home} (pid ${info.pid}, ${info.mode}, API ${describeEndpoint(info.api)})\n`)
          return EXIT.OK
        } catch (err) {
          if (!(err instanceof NoDaemonError)) throw err
        }
      }
      ctx.print({ running: false, home: ctx.home }, `no daemon running for home ${ctx.home}\n`)
      return EXIT.NOT_RUNNING
    }
    case 'daemon': return await runDaemonCommand(ctx)
    // -- relay (issue 4): src/relay/cli.ts, loaded lazily like the node --
    case 'relay': {
      const { runRelayCommand } = await import('../relay/cli.js')
      return await runRelayCommand({
        home: ctx.home,
        json: ctx.json,
        flags: p.flags,
        stdout: ctx.io.stdout,
        stderr: ctx.io.stderr,
        passphrase: ctx.passphrase,
        ...(ctx.io.signal != null ? { signal: ctx.io.signal } : {})
      })
    }
    case 'chat': {
      if (ctx.json) throw new UsageError('chat is interactive and has no --json output', 'chat')
      const { runChat } = await import('./tui/chat.js')
      return await runChat(ctx)
    }
    case 'demo': {
      // Two real local nodes chatting (src/cli/node-demo.ts); loaded lazily, like the node itself.
      const { runNodeDemo } = await import('./node-demo.js')
      return await runNodeDemo({ out: ctx.io.stdout, json: ctx.json, ...(ctx.io.signal != null ? { signal: ctx.io.signal } : {}) })
    }
  }
  throw new UsageError(`unknown command "${cmd}"`)
}

async function daemonCommand (ctx: CliContext, cmd: string, a: ParsedArgs['args'], f: ParsedArgs['flags']): Promise<number> {
  const peer = a.PEER ?? ''
  return await withDaemon(ctx, async (node) => {
    // -- groups (issue 5): src/cli/groups.ts --
    if (isGroupCommand(cmd)) { await runGroupCommand(ctx, node, cmd, a, f); return EXIT.OK }
    switch (cmd) {
      case 'id': {
        const id = await node.id()
        ctx.print(id, formatId(id))
        break
      }
      case 'invite': {
        const inv = await node.invite()
        if (ctx.json) ctx.print(inv, '')
        else {
          const QRCode = (await import('qrcode')).default
          // A long invite (many addresses) may not fit a QR code; the text form always works.
          const qr = await QRCode.toString(inv.invite, { type: 'terminal', small: true, errorCorrectionLevel: 'L' }).catch(() => '(too long for a QR code)\n')
          ctx.print(inv, `${qr}\n${inv.invite}\n\nShare this invite; your contact runs: parley contact add '<invite>'  (quote it: it contains &)\n`)
        }
        break
      }
      case 'contact add': {
        const name = str(f.name)
        const c = await node.addContact(a.INVITE ?? '', name != null ? { name } : {})
        ctx.print(c, `Added contact ${sanitize(c.name)} (${c.peerId}).\nCompare safety numbers: parley safety-number ${sanitize(c.name)}\n`)
        break
      }
      case 'contact list': {
        const l = await node.listContacts()
        ctx.print(l, formatContacts(l))
        break
      }
      case 'contact verify': {
        const c = await node.verifyContact(peer)
        ctx.print(c, `Marked ${sanitize(c.name)} (${c.peerId}) as verified.\n`)
        break
      }
      case 'contact accept-key': {
        const c = await node.acceptKeyChange(peer)
        ctx.print(c, `${KEY_CHANGE_WARNING}\n\nAccepted the new identity key of ${sanitize(c.name)} (${c.peerId}); the contact is UNVERIFIED.\n`)
        if (!ctx.json) ctx.io.stderr.write('parley: WARNING: accepted a changed identity key — verify the new safety number\n')
        break
      }
      case 'safety-number': {
        const s = await node.safetyNumber(peer)
        ctx.print(s, formatSafetyNumber(peer, s))
        break
      }
      case 'send': {
        const timeout = positiveNumber(str(f.timeout), 'timeout', 86_400)
        const wait = f.wait === true
        if (timeout != null && !wait) throw new UsageError('--timeout only applies with --wait')
        const m = await node.send(peer, a.TEXT ?? '', { wait, timeoutMs: (timeout ?? 60) * 1000 })
        ctx.print(m, `${STATUS_MARK[m.status]} ${m.status}  ${m.id}\n`)
        break
      }
      case 'messages': {
        const limit = positiveNumber(str(f.limit), 'limit', 1_000_000)
        const l = await node.messages(peer, limit != null ? { limit: Math.floor(limit) } : {})
        const sorted = [...l].sort((x, y) => x.seq - y.seq)
        const name = ctx.json ? peer : ((await node.listContacts()).find((c) => c.peerId === peer || c.name === peer)?.name ?? peer)
        ctx.print(sorted, formatMessages(sorted, name))
        break
      }
      case 'peers': {
        const l = await node.peers()
        ctx.print(l, formatPeers(l))
        break
      }
      default: throw new UsageError(`unknown command "${cmd}"`)
    }
    return EXIT.OK
  })
}

/** A `--NAME` / `--no-NAME` pair: true, false, or undefined when neither was given (both: a usage error). */
function onOff (f: Record<string, unknown>, name: string): boolean | undefined {
  const on = f[name] === true
  const off = f[`no-${name}`] === true
  if (on && off) throw new UsageError(`--${name} and --no-${name} exclude each other`, 'daemon')
  return on ? true : off ? false : undefined
}

async function runDaemonCommand (ctx: CliContext): Promise<number> {
  const f = ctx.parsed.flags
  const api = str(f.api)
  const listen = list(f.listen)
  const bootstrap = list(f.bootstrap)
  // issue 4: --relay (repeatable) replaces the stored relays; --no-relay forgets them; neither: stored ones
  const relayFlag = list(f.relay)
  if (relayFlag != null && f['no-relay'] === true) throw new UsageError('--relay and --no-relay exclude each other', 'daemon')
  const relays = f['no-relay'] === true ? [] : relayFlag
  // issue 4, PROTOCOL.md Part 4 §9: mutual contacts as mailboxes; absent: the stored choice
  const hostMailboxes = onOff(f, 'host-mail')
  const contactMailboxes = onOff(f, 'contact-mailboxes')
  const passphrase = await ctx.passphrase()
  const mod = await loadNodeModule(ctx.io.env)
  const d = await startDaemon({
    home: ctx.home,
    createNode: mod.createParleyNode,
    mdns: f['no-mdns'] !== true,
    ...(api != null ? { api: parseApiAddress(api) } : {}),
    ...(listen != null ? { listen } : {}),
    ...(bootstrap != null ? { bootstrap } : {}),
    ...(relays != null ? { relays } : {}),
    ...(hostMailboxes != null ? { hostMailboxes } : {}),
    ...(contactMailboxes != null ? { contactMailboxes } : {}),
    ...(passphrase != null ? { passphrase } : {})
  })
  const ready = { peerId: d.identity.peerId, name: d.identity.name, addresses: d.identity.addresses, api: describeEndpoint(d.endpoint), pid: process.pid, home: ctx.home }
  if (ctx.json) ctx.io.stdout.write(JSON.stringify(ready) + '\n')
  else {
    ctx.io.stdout.write(`parley daemon ready ${JSON.stringify(ready)}\n`)
    for (const addr of d.identity.addresses) ctx.io.stdout.write(`listening on ${addr}\n`)
    ctx.io.stdout.write(`local API on ${describeEndpoint(d.endpoint)}; stop with Ctrl-C or SIGTERM\n`)
  }
  await new Promise<void>((resolve) => {
    if (ctx.io.signal == null) return // runs until the process is killed
    if (ctx.io.signal.aborted) { resolve(); return }
    ctx.io.signal.addEventListener('abort', () => { resolve() }, { once: true })
  })
  if (!ctx.json) ctx.io.stderr.write('parley: stopping daemon\n')
  await d.stop()
  return EXIT.OK
}

/** Runs the CLI on this process: argv, stdio, SIGTERM/SIGINT, exit status. */
export async function run (): Promise<void> {
  const ac = new AbortController()
  let signals = 0
  const onSignal = (): void => {
    signals++
    if (signals > 1) process.exit(130) // a second Ctrl-C: give up on the clean stop
    ac.abort()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onSignal) // the terminal went away: stop cleanly too
  // A closed pipe (`parley … | head`) ends long-running commands cleanly instead of crashing them.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') ac.abort(); else throw err })
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: ac.signal })
  if (code === EXIT.RUNS_ON) {
    process.off('SIGTERM', onSignal); process.off('SIGINT', onSignal); process.off('SIGHUP', onSignal)
    return
  }
  // Let stdout drain (a pipe), then exit even if a library left a timer running.
  await new Promise<void>((resolve) => { process.stdout.write('', () => { resolve() }) })
  process.exit(code)
}

function isEntryPoint (): boolean {
  const entry = process.argv[1]
  if (entry == null) return false
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isEntryPoint()) void run()

/**
 * End-to-end harness: real `parley` processes (the compiled CLI) on 127.0.0.1 with real SQLite files in
 * temporary homes. Nothing here substitutes a part of Parley: PARLEY_NODE_MODULE is removed from every
 * child's environment so the daemons run the real node (src/core/node.ts).
 *
 * Every spawned process is registered; `Cluster.cleanup()` (call it in `after`) stops them with SIGTERM,
 * then SIGKILL after a grace period, and removes the temporary directory. A process-exit hook SIGKILLs
 * anything still alive if a test run dies without reaching `after`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The compiled CLI next to this compiled test (<outDir>/src/cli/main.js).
export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

/** A wait or a child process did not finish in time. */
export class E2eTimeoutError extends Error {
  override readonly name = 'E2eTimeoutError'
  readonly code = 'ERR_E2E_TIMEOUT'
}

/** A CLI command exited non-zero or printed something that is not the expected JSON document. */
export class CliCommandError extends Error {
  override readonly name = 'CliCommandError'
  readonly code = 'ERR_E2E_CLI'
  constructor (message: string, readonly result: CliResult) {
    super(message)
  }
}

/** A daemon exited (or printed no ready line) before it became ready. */
export class DaemonStartError extends Error {
  override readonly name = 'DaemonStartError'
  readonly code = 'ERR_E2E_DAEMON_START'
}

export interface CliResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** What `parley daemon` prints after `parley daemon ready `. */
export interface ReadyInfo {
  peerId: string
  name: string
  addresses: string[]
  api: string
  pid: number
  home: string
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of live) {
    try { c.kill('SIGKILL') } catch { /* already gone */ }
  }
})

/** The environment of every child: the parent's, minus every PARLEY_* variable (no fake node, no stray home). */
export function childEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PARLEY_') && k !== 'NODE_OPTIONS' && k !== 'NODE_TEST_CONTEXT') env[k] = v
  }
  return { ...env, ...extra }
}

/** Keeps the last `max` characters of a growing log (diagnostics on failure). */
function appendCapped (buf: string, more: string, max = 64 * 1024): string {
  const s = buf + more
  return s.length > max ? s.slice(s.length - max) : s
}

/** Runs `parley ...args` to completion; never throws for a non-zero exit (see `cliJson`). */
export async function runCli (args: readonly string[], opts: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(child)
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout = appendCapped(stdout, d, 8 * 1024 * 1024) })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = appendCapped(stderr, d) })
    // Longer than any --timeout the tests pass to `send --wait` (90 s), so the CLI reports its own timeout.
    const timeoutMs = opts.timeoutMs ?? 150_000
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
    const onAbort = (): void => { child.kill('SIGKILL') }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    child.on('error', (err) => { clearTimeout(timer); live.delete(child); reject(err) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      opts.signal?.removeEventListener('abort', onAbort)
      if (timedOut) reject(new E2eTimeoutError(`parley ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr.trim()}`))
      else resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Runs `parley --home HOME ...args --json` and parses its one JSON document; throws CliCommandError on failure. */
export async function cliJson<T = unknown> (home: string, args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<T> {
  const r = await runCli(['--home', home, ...args, '--json'], opts)
  if (r.code !== 0) throw new CliCommandError(`parley ${args.join(' ')} exited ${String(r.code ?? r.signal)}: ${r.stderr.trim()}`, r)
  try {
    return JSON.parse(r.stdout) as T
  } catch {
    throw new CliCommandError(`parley ${args.join(' ')} printed no JSON: ${r.stdout.slice(0, 500)}`, r)
  }
}

/** Polls `check` until it returns a non-undefined value; throws E2eTimeoutError with `what` (and the last error) after timeoutMs. */
export async function waitFor<T> (what: string, check: () => Promise<T | undefined> | T | undefined, opts: { timeoutMs?: number, intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
      last = undefined
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new E2eTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${last != null ? `: ${(last as Error).message}` : ''}`, { cause: last })
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 250))
  }
}

export interface DaemonStartOptions {
  /** @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  bootstrap?: string[]
  /** How long to wait for the ready line. @default 60000 */
  readyTimeoutMs?: number
  /** Further `parley daemon` flags (e.g. --host-mail). */
  extra?: string[]
}

/** One running `parley daemon` process. */
export class DaemonProcess {
  stdout = ''
  stderr = ''
  exit: { code: number | null, signal: NodeJS.Signals | null } | null = null
  readonly exited: Promise<void>

  constructor (readonly home: string, readonly child: ChildProcess, readonly ready: ReadyInfo) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode != null || child.signalCode != null) resolve()
      else child.once('exit', () => { resolve() })
    })
  }

  get alive (): boolean { return this.exit == null && this.child.exitCode == null && this.child.signalCode == null }

  /** SIGTERM (a clean stop), SIGKILL after `graceMs`. Resolves with how it ended. */
  async stop (graceMs = 15_000): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    if (this.alive) {
      this.child.kill('SIGTERM')
      const t = setTimeout(() => { this.child.kill('SIGKILL') }, graceMs)
      await this.exited
      clearTimeout(t)
    }
    await this.exited
    return { code: this.child.exitCode, signal: this.child.signalCode }
  }

  /** SIGKILL: the process gets no chance to clean up (a crash). */
  async kill (): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL')
    await this.exited
  }

  /** Diagnostics for assertion messages. */
  logs (): string {
    return `--- ${this.home} stdout ---\n${this.stdout.slice(-4000)}\n--- stderr ---\n${this.stderr.slice(-4000)}`
  }
}

/** Starts `parley --home HOME daemon --no-mdns --listen ...` and resolves once it printed its ready line. */
export async function startDaemon (home: string, opts: DaemonStartOptions = {}): Promise<DaemonProcess> {
  const args = [CLI_MAIN, '--home', home, 'daemon', '--no-mdns']
  for (const l of opts.listen ?? ['/ip4/127.0.0.1/tcp/0']) args.push('--listen', l)
  for (const b of opts.bootstrap ?? []) args.push('--bootstrap', b)
  args.push(...(opts.extra ?? []))
  const child = spawn(process.execPath, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let stdout = ''
  let stderr = ''
  let proc: DaemonProcess | null = null
  child.stdout?.setEncoding('utf8')
  child.stderr?.setEncoding('utf8')
  const timeoutMs = opts.readyTimeoutMs ?? 60_000
  return await new Promise<DaemonProcess>((resolve, reject) => {
    let settled = false
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    const timer = setTimeout(() => { fail(new E2eTimeoutError(`daemon for ${home} printed no ready line within ${timeoutMs} ms; stderr: ${stderr.trim().slice(-2000)}`)) }, timeoutMs)
    child.stdout?.on('data', (d: string) => {
      stdout = appendCapped(stdout, d)
      if (proc != null) { proc.stdout = appendCapped(proc.stdout, d); return }
      const m = /^parley daemon ready (\{.*\})\r?\n/m.exec(stdout)
      if (m?.[1] == null || settled) return
      let info: ReadyInfo
      try {
        info = JSON.parse(m[1]) as ReadyInfo
      } catch {
        fail(new DaemonStartError(`unparsable ready line: ${m[0]}`))
        return
      }
      if (typeof info.peerId !== 'string' || !Array.isArray(info.addresses)) {
        fail(new DaemonStartError(`ready line lacks peerId/addresses: ${m[0]}`))
        return
      }
      settled = true
      clearTimeout(timer)
      proc = new DaemonProcess(home, child, info)
      proc.stdout = stdout
      proc.stderr = stderr
      resolve(proc)
    })
    child.stderr?.on('data', (d: string) => {
      stderr = appendCapped(stderr, d)
      if (proc != null) proc.stderr = appendCapped(proc.stderr, d)
    })
    child.on('error', (err) => { fail(err) })
    child.on('exit', (code, signal) => {
      live.delete(child)
      if (proc != null) proc.exit = { code, signal }
      fail(new DaemonStartError(`daemon for ${home} exited (${String(code ?? signal)}) before it was ready; stderr: ${stderr.trim().slice(-2000)}`))
    })
  })
}

/** A set of homes and daemons under one temporary directory, cleaned up together. */
export class Cluster {
  readonly daemons = new Map<string, DaemonProcess>()
  private constructor (readonly dir: string) {}

  static async create (label: string): Promise<Cluster> {
    // Short paths: the API socket lives in the home and sun_path is ~104 bytes.
    return new Cluster(await mkdtemp(join(tmpdir(), `parley-e2e-${label}-`)))
  }

  home (name: string): string {
    return join(this.dir, name)
  }

  /** `parley init --name NAME` in a fresh home; returns its JSON answer. */
  async init (name: string): Promise<Record<string, unknown>> {
    return await cliJson<Record<string, unknown>>(this.home(name), ['init', '--name', name])
  }

  /** Starts (or restarts) the daemon of `name`'s home. */
  async start (name: string, opts: DaemonStartOptions = {}): Promise<DaemonProcess> {
    const old = this.daemons.get(name)
    if (old?.alive === true) throw new DaemonStartError(`daemon ${name} is already running`)
    const d = await startDaemon(this.home(name), opts)
    this.daemons.set(name, d)
    return d
  }

  daemon (name: string): DaemonProcess {
    const d = this.daemons.get(name)
    if (d == null) throw new DaemonStartError(`no daemon ${name}`)
    return d
  }

  /** Runs a --json command in `name`'s home. */
  async cli<T = unknown> (name: string, ...args: string[]): Promise<T> {
    return await cliJson<T>(this.home(name), args)
  }

  /** All daemons' logs (for assertion messages). */
  logs (): string {
    return [...this.daemons.values()].map((d) => d.logs()).join('\n')
  }

  /** Stops every daemon (SIGTERM, then SIGKILL) and removes the directory. Never throws. */
  async cleanup (): Promise<void> {
    await Promise.all([...this.daemons.values()].map(async (d) => { await d.stop(10_000).catch(() => {}) }))
    for (const c of live) {
      try { c.kill('SIGKILL') } catch { /* gone */ }
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => {})
  }
}

/** Contact-exchange between two running daemons: each adds the other's invite, under the other's name. */
export async function befriend (c: Cluster, a: string, b: string): Promise<void> {
  const [invA, invB] = await Promise.all([c.cli<{ invite: string }>(a, 'invite'), c.cli<{ invite: string }>(b, 'invite')])
  const idA = c.daemon(a).ready.peerId
  const idB = c.daemon(b).ready.peerId
  const addedB = await c.cli<{ peerId: string }>(a, 'contact', 'add', invB.invite, '--name', b)
  const addedA = await c.cli<{ peerId: string }>(b, 'contact', 'add', invA.invite, '--name', a)
  if (addedB.peerId !== idB || addedA.peerId !== idA) throw new Error(`contact add returned the wrong peerId (${addedB.peerId} / ${addedA.peerId})`)
}

export interface MessageRow { id: string, direction: 'in' | 'out', text: string, timestamp: number, status: string, seq?: number }

export async function messages (c: Cluster, who: string, peer: string): Promise<MessageRow[]> {
  return await c.cli<MessageRow[]>(who, 'messages', peer, '--limit', '100000')
}

export interface RawResponse { status: number, text: string }

/** The API endpoint recorded in home/daemon.json. */
export async function apiEndpoint (home: string): Promise<{ kind: 'unix', path: string } | { kind: 'tcp', host: string, port: number }> {
  const info = JSON.parse(await readFile(join(home, 'daemon.json'), 'utf8')) as { api: { kind: 'unix', path: string } | { kind: 'tcp', host: string, port: number } }
  return info.api
}

/** One plain HTTP request to the daemon's local API with exactly the headers given. */
export async function rawApiRequest (home: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  const ep = await apiEndpoint(home)
  return await new Promise((resolve, reject) => {
    const req = request({
      method,
      path,
      headers,
      agent: false,
      signal: AbortSignal.timeout(20_000),
      ...(ep.kind === 'unix' ? { socketPath: ep.path } : { host: ep.host, port: ep.port })
    }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (b: Buffer) => {
        size += b.length
        if (size > 1024 * 1024) { res.destroy(new Error('response too large')); return }
        chunks.push(b)
      })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** True when the compiled node (src/core/node.js) is present next to the compiled CLI. */
export function nodeBuilt (): boolean {
  return existsSync(fileURLToPath(new URL('../../src/core/node.js', import.meta.url)))
}

/** A dialable address of a daemon, ending in /p2p/<peerId> (bootstrap entries must name the peer). */
export function dialAddr (ready: ReadyInfo): string {
  const a = ready.addresses.find((x) => x.includes('/ip4/127.0.0.1/tcp/')) ?? ready.addresses[0]
  if (a == null) throw new DaemonStartError(`daemon ${ready.peerId} printed no addresses`)
  return a.includes('/p2p/') ? a : `${a}/p2p/${ready.peerId}`
}

/** The TCP port of a daemon's first loopback TCP address. */
export function tcpPort (ready: ReadyInfo): number | null {
  for (const a of ready.addresses) {
    const m = /\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(a)
    if (m?.[1] != null) return Number(m[1])
  }
  return null
}

/** Sleeps; aborts early with the signal. */
export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

// Real `parley relay` / `parley daemon` processes (the compiled CLI) on 127.0.0.1 for the relay tests,
// with real SQLite files in temporary homes. Every process is SIGTERMed (then SIGKILLed) by stop();
// a process-exit hook SIGKILLs anything a failed run left behind.
import { spawn, type ChildProcess } from 'node:child_process'
import { CLI_MAIN, childEnv } from '../e2e/harness.js'

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of live) {
    try { c.kill('SIGKILL') } catch { /* gone */ }
  }
})

export interface RelayReady {
  peerId: string
  addresses: string[]
  stunPort: number | null
  mailbox: boolean
  api: string
  pid: number
  home: string
}

/** One long-running `parley …` process that prints `parley <kind> ready {json}` when ready. */
export class ParleyProcess<R> {
  stdout = ''
  stderr = ''
  readonly exited: Promise<void>
  constructor (readonly child: ChildProcess, readonly ready: R) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode != null || child.signalCode != null) resolve()
      else child.once('exit', () => { resolve() })
    })
  }

  get alive (): boolean { return this.child.exitCode == null && this.child.signalCode == null }

  /** SIGTERM, SIGKILL after graceMs; resolves with how it ended. */
  async stop (graceMs = 15_000): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    if (this.alive) {
      this.child.kill('SIGTERM')
      const t = setTimeout(() => { this.child.kill('SIGKILL') }, graceMs)
      await this.exited
      clearTimeout(t)
    }
    return { code: this.child.exitCode, signal: this.child.signalCode }
  }

  logs (): string {
    return `--- stdout ---\n${this.stdout.slice(-4000)}\n--- stderr ---\n${this.stderr.slice(-6000)}`
  }
}

/**
 * Spawns `parley ...args` (through `via`, e.g. `netlab.sh exec a`, when given) and resolves once it
 * printed `parley <kind> ready {…}`.
 */
export async function spawnReady<R> (kind: 'relay' | 'daemon', args: string[], timeoutMs = 60_000, via: { cmd: string, args: string[], env?: NodeJS.ProcessEnv } | null = null): Promise<ParleyProcess<R>> {
  const child = via == null
    ? spawn(process.execPath, [CLI_MAIN, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(via.cmd, [...via.args, process.execPath, CLI_MAIN, ...args], { env: { ...childEnv(), ...via.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => { live.delete(child) })
  child.stdout?.setEncoding('utf8')
  child.stderr?.setEncoding('utf8')
  let stdout = ''
  let stderr = ''
  let proc: ParleyProcess<R> | null = null
  return await new Promise((resolve, reject) => {
    const fail = (err: Error): void => { clearTimeout(timer); child.kill('SIGKILL'); reject(err) }
    const timer = setTimeout(() => { fail(new Error(`parley ${kind} printed no ready line within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)) }, timeoutMs)
    child.stdout?.on('data', (d: string) => {
      stdout += d
      if (proc != null) { proc.stdout += d; return }
      const m = new RegExp(`^parley ${kind} ready (\\{.*\\})\\r?\\n`, 'm').exec(stdout)
      if (m?.[1] == null) return
      clearTimeout(timer)
      proc = new ParleyProcess<R>(child, JSON.parse(m[1]) as R)
      proc.stdout = stdout
      proc.stderr = stderr
      resolve(proc)
    })
    child.stderr?.on('data', (d: string) => { stderr += d; if (proc != null) proc.stderr += d })
    child.on('exit', (code, signal) => { if (proc == null) fail(new Error(`parley ${kind} exited (${String(code ?? signal)}) before ready; stderr: ${stderr.slice(-2000)}`)) })
  })
}

/** `parley --home HOME relay --listen … --stun-port 0 --metrics-interval 0 [extra…]` on loopback. */
export async function startRelayProcess (home: string, opts: { port?: number, extra?: string[] } = {}): Promise<ParleyProcess<RelayReady>> {
  return await spawnReady<RelayReady>('relay', [
    '--home', home, 'relay', '--listen', `/ip4/127.0.0.1/tcp/${opts.port ?? 0}`, '--stun-port', '0', '--metrics-interval', '0', ...(opts.extra ?? [])
  ])
}

export interface DaemonReady { peerId: string, name: string, addresses: string[], api: string, pid: number, home: string }

/** `parley --home HOME daemon --no-mdns [--listen …]… [--relay …]…`. */
export async function startDaemonProcess (home: string, opts: { listen?: string[], relays?: string[], extra?: string[] } = {}): Promise<ParleyProcess<DaemonReady>> {
  const args = ['--home', home, 'daemon', '--no-mdns']
  for (const l of opts.listen ?? ['/ip4/127.0.0.1/tcp/0']) args.push('--listen', l)
  for (const r of opts.relays ?? []) args.push('--relay', r)
  return await spawnReady<DaemonReady>('daemon', [...args, ...(opts.extra ?? [])])
}

/** The relay's TCP address on loopback (ends in /p2p/<relay>). */
export function relayTcpAddr (r: RelayReady): string {
  const a = r.addresses.find(x => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(x))
  if (a == null) throw new Error(`relay printed no loopback TCP address: ${r.addresses.join(' ')}`)
  return a
}

/** Relayed addresses through `relayPeerId` among `addresses`. */
export function circuitVia (addresses: string[], relayPeerId: string): string[] {
  return addresses.filter(a => a.includes(`/p2p/${relayPeerId}/p2p-circuit/`))
}

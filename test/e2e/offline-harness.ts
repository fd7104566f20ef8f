// Shared by the offline-delivery process tests: a child process speaking JSON lines
// (test/e2e/offline-child.ts), a seeded PRNG, a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const CHILD = fileURLToPath(new URL('./offline-child.js', import.meta.url))
const NODE = process.execPath

/** mulberry32: a small seeded PRNG (deterministic schedules per seed). */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => { resolve(p) })
    })
  })
}

export type Report = Record<string, unknown>

/** One child: `prefix` runs it elsewhere (e.g. ['netlab.sh', 'exec', 'a']). */
export class Child {
  proc: ChildProcess
  last: Report = {}
  private readonly waiters: Array<{ pred: (r: Report) => boolean, resolve: (r: Report) => void }> = []
  stderr = ''
  /** Every report that is not a progress line (those repeat), for waits that start late. */
  private readonly events: Report[] = []
  onReport: (r: Report) => void = () => {}

  constructor (readonly args: string[], prefix: string[] = [], env: NodeJS.ProcessEnv = process.env) {
    const argv = [...prefix, NODE, CHILD, ...args]
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env })
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let r: Report
      try { r = JSON.parse(line) as Report } catch { return }
      this.last = r
      if (r.peer == null && r.at == null && this.events.length < 1000) this.events.push(r)
      this.onReport(r)
      for (const w of [...this.waiters]) if (w.pred(r)) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(r) }
    })
    this.proc.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000) })
  }

  async wait (pred: (r: Report) => boolean, ms = 60_000, what = 'report'): Promise<Report> {
    const earlier = this.events.find(pred)
    if (earlier != null) return earlier
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(this.last)}; stderr: ${this.stderr})`)) }, ms)
      this.waiters.push({ pred, resolve: (r) => { clearTimeout(t); resolve(r) } })
    })
  }

  send (cmd: unknown): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n')
  }

  get exited (): boolean {
    return this.proc.exitCode != null || this.proc.signalCode != null
  }

  async kill9 (): Promise<void> {
    if (this.exited) return
    const gone = new Promise(resolve => this.proc.once('exit', resolve))
    this.proc.kill('SIGKILL')
    await gone
  }

  async stop (): Promise<void> {
    if (this.exited) return
    const gone = new Promise(resolve => this.proc.once('exit', resolve))
    this.proc.kill('SIGTERM')
    const t = setTimeout(() => { this.proc.kill('SIGKILL') }, 15_000)
    await gone
    clearTimeout(t)
  }
}

/** Incoming texts of `peer` in `home`'s store, in display order (the store must not be in use). */
export async function storedTexts (home: string, peer: string): Promise<string[]> {
  const { openStore } = await import('../../src/store/index.js')
  const store = await openStore({ home, passphrase: null })
  try {
    const rows = []
    let before: number | undefined
    for (;;) {
      const page = await store.listMessages(peer, { limit: 1000, ...(before != null ? { beforeSeq: before } : {}) })
      rows.unshift(...page)
      if (page.length < 1000) break
      before = page[0]!.seq
    }
    return rows.filter(m => m.direction === 'in').map(m => new TextDecoder().decode(m.body))
  } finally {
    await store.close()
  }
}

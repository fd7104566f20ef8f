/** Shared helpers for the daemon and CLI tests: temp homes, raw HTTP, running the CLI as a child. */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PassThrough, Writable } from 'node:stream'
import { main } from '../../src/cli/main.js'
import type { ApiEndpoint } from '../../src/daemon/info.js'

export const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
export const FAKE_NODE_MODULE = fileURLToPath(new URL('./fake-node.js', import.meta.url))

export async function tmpHome (): Promise<{ home: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-h6-'))
  const home = join(dir, 'home')
  return { home, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

export interface RawResponse { status: number, headers: Record<string, string | string[] | undefined>, text: string, json: unknown }

/** One HTTP request with nothing added (no token unless given). */
export async function rawRequest (ep: ApiEndpoint, opts: { method?: string, path: string, headers?: Record<string, string | number>, body?: string | Buffer }): Promise<RawResponse> {
  return await new Promise((resolve, reject) => {
    const req = request({
      method: opts.method ?? 'GET',
      path: opts.path,
      headers: opts.headers ?? {},
      agent: false,
      signal: AbortSignal.timeout(20_000),
      ...(ep.kind === 'unix' ? { socketPath: ep.path } : { host: ep.host, port: ep.port })
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown = null
        try { json = JSON.parse(text) } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(opts.body)
  })
}

export interface CliResult { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** Runs `node dist/src/cli/main.js ...args` to completion (stdin from `input`, then closed). */
export async function runCli (args: string[], opts: { env?: NodeJS.ProcessEnv, input?: string, timeoutMs?: number } = {}): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
    child.stdin.end(opts.input ?? '')
  })
}

/** Runs the CLI's main() in this process (same parser, output and exit status as the binary, no spawn cost). */
export async function runMain (args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const sink = (append: (s: string) => void): Writable => new Writable({ write (chunk: Buffer, _enc, cb) { append(chunk.toString('utf8')); cb() } })
  const stdin = new PassThrough()
  stdin.end()
  const code = await main(args, {
    stdout: sink((s) => { stdout += s }),
    stderr: sink((s) => { stderr += s }),
    stdin,
    env: { HOME: process.env.HOME, ...opts.env }
  })
  return { code, signal: null, stdout, stderr }
}

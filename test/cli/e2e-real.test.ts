/**
 * End-to-end smoke test of the faces on the REAL node (src/core/node.ts): two `parley daemon` processes on
 * loopback, driven only through the `parley` CLI: init, invite, contact add, send --wait, messages, safety
 * numbers, clean SIGTERM stop.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { homePaths } from '../../src/daemon/home.js'
import { CLI_MAIN, runCli, tmpHome } from '../daemon/helpers.js'

interface Daemon { child: ChildProcess, ready: { peerId: string, addresses: string[] }, exited: Promise<number | null> }

async function startDaemonProcess (home: string): Promise<Daemon> {
  const child = spawn(process.execPath, [CLI_MAIN, '--home', home, 'daemon', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const ready = await new Promise<Daemon['ready']>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error('daemon not ready in 60 s: ' + stderr)) }, 60_000)
    rl.on('line', (l) => {
      const m = /^parley daemon ready (\{.*\})$/.exec(l)
      if (m != null) { clearTimeout(t); resolve(JSON.parse(m[1] as string) as Daemon['ready']) }
    })
    void exited.then((code) => { clearTimeout(t); reject(new Error(`daemon exited ${String(code)}: ${stderr}`)) })
  })
  return { child, ready, exited }
}

async function json<T> (args: string[]): Promise<T> {
  const r = await runCli([...args, '--json'], { timeoutMs: 120_000 })
  assert.equal(r.code, 0, `parley ${args.join(' ')}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

describe('two real daemons driven by the CLI (loopback)', () => {
  let a: { home: string, cleanup: () => Promise<void> }
  let b: { home: string, cleanup: () => Promise<void> }
  let da: Daemon | null = null
  let db: Daemon | null = null

  before(async () => {
    a = await tmpHome()
    b = await tmpHome()
  })
  after(async () => {
    for (const d of [da, db]) if (d != null && d.child.exitCode == null) { d.child.kill('SIGKILL'); await d.exited }
    await a.cleanup()
    await b.cleanup()
  })

  it('init, invite, contact add, send --wait, messages, safety numbers, SIGTERM', { timeout: 180_000 }, async () => {
    const ia = await json<{ peerId: string }>(['--home', a.home, 'init', '--name', 'alice'])
    await json(['--home', b.home, 'init', '--name', 'bob'])
    da = await startDaemonProcess(a.home)
    db = await startDaemonProcess(b.home)
    assert.equal(da.ready.peerId, ia.peerId)
    assert.ok(da.ready.addresses.some((x) => x.startsWith('/ip4/127.0.0.1/tcp/')))

    const invB = await json<{ invite: string }>(['--home', b.home, 'invite'])
    const invA = await json<{ invite: string }>(['--home', a.home, 'invite'])
    const bob = await json<{ peerId: string }>(['--home', a.home, 'contact', 'add', invB.invite])
    assert.equal(bob.peerId, db.ready.peerId)
    await json(['--home', b.home, 'contact', 'add', invA.invite, '--name', 'alice'])

    const sent = await json<{ id: string, status: string }>(['--home', a.home, 'send', 'bob', 'hello over libp2p', '--wait', '--timeout', '60'])
    assert.ok(['delivered', 'read'].includes(sent.status))
    const got = await json<Array<{ id: string, direction: string, text: string }>>(['--home', b.home, 'messages', 'alice'])
    assert.deepEqual(got.map((m) => [m.direction, m.text]), [['in', 'hello over libp2p']])

    const sa = await json<{ safetyNumber: string }>(['--home', a.home, 'safety-number', 'bob'])
    const sb = await json<{ safetyNumber: string }>(['--home', b.home, 'safety-number', 'alice'])
    assert.match(sa.safetyNumber, /^\d{60}$/)
    assert.equal(sa.safetyNumber, sb.safetyNumber)

    const peers = await json<Array<{ peerId: string, relayed: boolean }>>(['--home', a.home, 'peers'])
    assert.ok(peers.some((p) => p.peerId === bob.peerId && !p.relayed))

    for (const [d, home] of [[da, a.home], [db, b.home]] as const) {
      d.child.kill('SIGTERM')
      assert.equal(await d.exited, 0)
      assert.ok(!existsSync(homePaths(home).daemonInfo) && !existsSync(homePaths(home).socket))
    }
  })
})

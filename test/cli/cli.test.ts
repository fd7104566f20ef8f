import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { createInterface } from 'node:readline'
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js'
import { homePaths } from '../../src/daemon/home.js'
import { FakeNode, fakePeerId } from '../daemon/fake-node.js'
import { CLI_MAIN, FAKE_NODE_MODULE, runCli, runMain, tmpHome } from '../daemon/helpers.js'

const bobInvite = `parley1:${fakePeerId('bob')}:${Buffer.from('bob').toString('base64url')}`

function oneErrorLine (stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, `expected one stderr line, got: ${stderr}`)
  assert.match(lines[0] as string, /^parley: /)
  return lines[0] as string
}

describe('parley CLI against a daemon (fake node)', () => {
  let home: string
  let cleanup: () => Promise<void>
  let d: RunningDaemon
  let node: FakeNode
  // Most cases run main() in-process (fast); the spawned binary is covered by the first and last cases.
  const cli = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runMain(args)

  before(async () => {
    ({ home, cleanup } = await tmpHome())
    node = new FakeNode('alice')
    d = await startDaemon({ home, node })
  })
  after(async () => { await d.stop(); await cleanup() })

  it('accepts global flags before or after the subcommand, and --home=DIR', async () => {
    for (const args of [['--json', '--home', home, 'id'], ['id', '--home', home, '--json'], ['--home=' + home, 'id', '--json'], ['--json', 'id', `--home=${home}`]]) {
      const r = args[0] === 'id' ? await runCli(args) : await cli(...args)
      assert.equal(r.code, 0, r.stderr)
      const doc = JSON.parse(r.stdout) as Record<string, unknown>
      assert.equal(doc.peerId, node.self.peerId)
      assert.equal(doc.name, 'alice')
      assert.deepEqual(doc.addresses, node.self.addresses)
    }
    // PARLEY_HOME works too.
    const r = await runCli(['id', '--json'], { env: { PARLEY_HOME: home } })
    assert.equal(r.code, 0, r.stderr)
  })

  it('--json shapes: invite, contact add/list/verify, safety-number, send, messages, peers, status', async () => {
    const inv = await cli('invite', '--json', '--home', home)
    assert.equal(inv.code, 0)
    assert.equal(typeof (JSON.parse(inv.stdout) as { invite: string }).invite, 'string')

    const add = await cli('--home', home, 'contact', 'add', bobInvite, '--name', 'bob', '--json')
    assert.equal(add.code, 0, add.stderr)
    assert.equal((JSON.parse(add.stdout) as { peerId: string }).peerId, fakePeerId('bob'))

    const list = JSON.parse((await cli('--home', home, 'contact', 'list', '--json')).stdout) as Array<Record<string, unknown>>
    assert.equal(list.length, 1)
    assert.equal(list[0]?.name, 'bob')

    const sn = await cli('--home', home, 'safety-number', 'bob', '--json')
    assert.equal(sn.code, 0, sn.stderr)
    const s = JSON.parse(sn.stdout) as { safetyNumber: string, local: Record<string, string>, remote: Record<string, string> }
    assert.match(s.safetyNumber, /^\d{60}$/)
    assert.match(s.local.identityKey ?? '', /^05[0-9a-f]{64}$/)
    assert.match(s.remote.identifier ?? '', /^[0-9a-f]+$/)

    const v = await cli('--home', home, 'contact', 'verify', fakePeerId('bob'), '--json')
    assert.equal((JSON.parse(v.stdout) as { verified: boolean }).verified, true)

    const sent = await cli('--home', home, 'send', 'bob', 'hello', 'there', '--json')
    assert.equal(sent.code, 0, sent.stderr)
    const m = JSON.parse(sent.stdout) as { id: string, status: string, text: string }
    assert.equal(m.status, 'queued')
    assert.equal(m.text, 'hello there')

    const waited = await cli('--home', home, 'send', 'bob', '--wait', '--json', '--timeout', '20', '--', '-dash text', '--json')
    assert.equal(waited.code, 0, waited.stderr)
    const w = JSON.parse(waited.stdout) as { status: string, text: string }
    assert.equal(w.status, 'delivered')
    assert.equal(w.text, '-dash text --json')

    node.receive('bob', 'reply')
    const msgs = JSON.parse((await cli('--home', home, 'messages', 'bob', '--json')).stdout) as Array<{ id: string, direction: string, text: string, timestamp: number, status: string }>
    assert.deepEqual(msgs.map((x) => [x.direction, x.text]), [['out', 'hello there'], ['out', '-dash text --json'], ['in', 'reply']])
    for (const x of msgs) assert.equal(typeof x.timestamp, 'number')
    assert.equal(msgs[0]?.id, m.id)

    const peers = JSON.parse((await cli('--home', home, 'peers', '--json')).stdout) as Array<Record<string, unknown>>
    assert.deepEqual(Object.keys(peers[0] ?? {}).filter((k) => ['peerId', 'remoteAddr', 'relayed'].includes(k)).sort(), ['peerId', 'relayed', 'remoteAddr'])

    const st = await cli('--home', home, 'status', '--json')
    assert.equal(st.code, 0)
    const sd = JSON.parse(st.stdout) as { running: boolean, pid: number }
    assert.equal(sd.running, true)
    assert.equal(sd.pid, process.pid)
  })

  it('send --wait to an unreachable contact fails after --timeout and leaves the message queued', async () => {
    await cli('--home', home, 'contact', 'add', `parley1:${fakePeerId('c')}:${Buffer.from('carol-offline').toString('base64url')}`)
    const r = await cli('--home', home, 'send', 'carol-offline', 'anyone?', '--wait', '--timeout', '0.5', '--json')
    assert.equal(r.code, 1)
    assert.match(oneErrorLine(r.stderr), /not delivered within/)
    const doc = JSON.parse(r.stdout) as { error: { code: string } }
    assert.equal(doc.error.code, 'ERR_TIMEOUT')
    const msgs = JSON.parse((await cli('--home', home, 'messages', 'carol-offline', '--json')).stdout) as Array<{ status: string }>
    assert.deepEqual(msgs.map((x) => x.status), ['queued'])
  })

  it('human output: contact list, QR invite, accept-key warning', async () => {
    const l = await cli('--home', home, 'contact', 'list')
    assert.match(l.stdout, /NAME\s+PEER\s+ONLINE/)
    const inv = await cli('--home', home, 'invite')
    assert.equal(inv.code, 0)
    assert.match(inv.stdout, /[▀▄█]/) // the terminal QR code
    assert.ok(inv.stdout.includes((await node.invite()).invite))
    const original = node.invite.bind(node)
    node.invite = async () => ({ invite: 'parley://invite?v=1&' + 'a'.repeat(4000) })
    const long = await cli('--home', home, 'invite')
    node.invite = original
    assert.equal(long.code, 0, long.stderr)
    assert.match(long.stdout, /too long for a QR code/)
    node.changeKey('bob')
    const warned = await cli('--home', home, 'contact', 'list')
    assert.match(warned.stdout, /IDENTITY KEY CHANGED/)
    const acc = await cli('--home', home, 'contact', 'accept-key', 'bob')
    assert.equal(acc.code, 0, acc.stderr)
    assert.match(acc.stdout, /WARNING/)
    assert.match(acc.stderr, /WARNING/)
  })

  it('peer-controlled text cannot inject terminal escapes', async () => {
    node.receive('bob', 'evil \x1b]0;pwned\x07\x1b[2J text')
    const r = await cli('--home', home, 'messages', 'bob')
    assert.ok(!r.stdout.includes('\x1b'))
    assert.match(r.stdout, /evil \uFFFD.*text/)
  })

  it('failures: one stderr line, exit 1 (operational) or 2 (usage), one JSON error document', async () => {
    const unknownPeer = await cli('--home', home, 'send', 'nobody', 'x', '--json')
    assert.equal(unknownPeer.code, 1)
    assert.match(oneErrorLine(unknownPeer.stderr), /no contact "nobody"/)
    assert.deepEqual(JSON.parse(unknownPeer.stdout), { error: { code: 'ERR_UNKNOWN_PEER', message: 'no contact "nobody"' } })

    const usage: string[][] = [['frobnicate'], ['send', 'bob'], ['send', '--bogus', 'bob', 'x'], ['contact', 'add'], ['id', '--home'], ['send', 'bob', 'x', '--timeout', '5'], ['send', 'bob', 'x', '--wait', '--timeout', 'soon'], ['--json=maybe', 'id'], ['-x']]
    for (const args of usage) {
      const r = await cli('--home', home, ...args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      oneErrorLine(r.stderr)
      assert.equal(r.stdout, '')
    }
    const spawned = await runCli(['--home', home, 'frobnicate'])
    assert.equal(spawned.code, 2)
    oneErrorLine(spawned.stderr)
    const bare = await runCli([])
    assert.equal(bare.code, 2)
    assert.match(bare.stderr, /Usage: parley/)
  })

  it('--help per command and --version', async () => {
    const h = await cli('send', '--help')
    assert.equal(h.code, 0)
    assert.match(h.stdout, /^Usage: parley send PEER TEXT/)
    const h2 = await cli('help', 'contact', 'add')
    assert.match(h2.stdout, /^Usage: parley contact add INVITE/)
    const v = await cli('--version', '--json')
    assert.equal(typeof (JSON.parse(v.stdout) as { version: string }).version, 'string')
  })

  it('no daemon: a clear one-line error', async () => {
    const { home: empty, cleanup: c } = await tmpHome()
    const r = await runCli(['--home', empty, 'contact', 'list'])
    assert.equal(r.code, 1)
    assert.equal(oneErrorLine(r.stderr), `parley: no daemon running for home ${empty} — start \`parley daemon\``)
    const st = await cli('--home', empty, 'status', '--json')
    assert.equal(st.code, 3)
    assert.deepEqual(JSON.parse(st.stdout), { running: false, home: empty })
    await c()
  })
})

describe('parley init / daemon as processes (PARLEY_NODE_MODULE = fake node)', () => {
  const env = (home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PARLEY_NODE_MODULE: FAKE_NODE_MODULE, PARLEY_HOME: home, ...extra })

  async function startDaemonProcess (home: string, args: string[] = [], extra: NodeJS.ProcessEnv = {}): Promise<{ child: ReturnType<typeof spawn>, ready: Record<string, unknown>, exited: Promise<number | null> }> {
    const child = spawn(process.execPath, [CLI_MAIN, 'daemon', '--no-mdns', ...args], { env: { PATH: process.env.PATH, ...env(home, extra) }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
    const rl = createInterface({ input: child.stdout })
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error('daemon not ready: ' + stderr)) }, 30_000)
      rl.on('line', (l) => {
        const m = /^parley daemon ready (\{.*\})$/.exec(l)
        if (m != null) { clearTimeout(t); resolve(JSON.parse(m[1] as string) as Record<string, unknown>) }
      })
      void exited.then((code) => { clearTimeout(t); reject(new Error(`daemon exited ${String(code)}: ${stderr}`)) })
    })
    return { child, ready, exited }
  }

  it('init creates an identity once, refuses to overwrite it', async () => {
    const { home, cleanup } = await tmpHome()
    const r = await runMain(['init', '--name', 'alice', '--json'], { env: env(home) })
    assert.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout) as { peerId: string, name: string, home: string }
    assert.equal(doc.name, 'alice')
    assert.equal(doc.home, home)
    assert.equal(statSync(home).mode & 0o777, 0o700)
    const again = await runMain(['init', '--name', 'mallory'], { env: env(home) })
    assert.equal(again.code, 1)
    assert.match(oneErrorLine(again.stderr), /already exists/)
    await cleanup()
  })

  it('daemon: ready line, status, SIGTERM stops it cleanly; SIGKILL leaves a stale daemon.json that is cleaned', async () => {
    const { home, cleanup } = await tmpHome()
    assert.equal((await runMain(['init', '--name', 'alice'], { env: env(home) })).code, 0)
    const noInit = await tmpHome()
    const failed = await runMain(['daemon'], { env: env(noInit.home) })
    assert.equal(failed.code, 1)
    assert.match(oneErrorLine(failed.stderr), /run `parley init` first/)
    await noInit.cleanup()

    const a = await startDaemonProcess(home)
    assert.equal(typeof a.ready.peerId, 'string')
    assert.ok(Array.isArray(a.ready.addresses))
    assert.equal(a.ready.pid, a.child.pid)
    const st = await runMain(['status', '--json'], { env: env(home) })
    assert.equal(st.code, 0, st.stderr)
    assert.equal((JSON.parse(st.stdout) as { pid: number }).pid, a.child.pid)
    const id = await runMain(['id', '--json'], { env: env(home) })
    assert.equal((JSON.parse(id.stdout) as { peerId: string }).peerId, a.ready.peerId)
    // A second daemon on the same home is refused.
    const second = await runMain(['daemon', '--no-mdns'], { env: env(home) })
    assert.equal(second.code, 1)
    assert.match(oneErrorLine(second.stderr), /already runs/)

    a.child.kill('SIGTERM')
    assert.equal(await a.exited, 0)
    const p = homePaths(home)
    assert.ok(!existsSync(p.daemonInfo) && !existsSync(p.socket) && !existsSync(p.token))

    const b = await startDaemonProcess(home)
    b.child.kill('SIGKILL')
    await b.exited
    assert.ok(existsSync(p.daemonInfo))
    const stale = await runMain(['status'], { env: env(home) })
    assert.equal(stale.code, 3)
    assert.ok(!existsSync(p.daemonInfo) && !existsSync(p.socket))
    const c = await startDaemonProcess(home, ['--api', '127.0.0.1:0'])
    assert.match(String(c.ready.api), /^http:\/\/127\.0\.0\.1:\d+$/)
    const viaTcp = await runMain(['contact', 'list', '--json'], { env: env(home) })
    assert.equal(viaTcp.code, 0, viaTcp.stderr)
    assert.equal((JSON.parse(viaTcp.stdout) as unknown[]).length, 1)
    c.child.kill('SIGINT')
    assert.equal(await c.exited, 0)
    await cleanup()
  })

  it('passphrase from --passphrase-file or PARLEY_PASSPHRASE, never from argv', async () => {
    const { home, cleanup } = await tmpHome()
    const pf = home + '.pass'
    await writeFile(pf, 's3cret\n', { mode: 0o600 })
    assert.equal((await runMain(['init', '--passphrase-file', pf], { env: env(home) })).code, 0)
    const none = await runMain(['daemon'], { env: env(home) })
    assert.equal(none.code, 1)
    assert.match(oneErrorLine(none.stderr), /passphrase/)
    assert.equal((await runMain(['daemon', '--passphrase', 's3cret'], { env: env(home) })).code, 2)
    const d = await startDaemonProcess(home, [], { PARLEY_PASSPHRASE: 's3cret' })
    d.child.kill('SIGTERM')
    assert.equal(await d.exited, 0)
    const d2 = await startDaemonProcess(home, ['--passphrase-file', pf])
    d2.child.kill('SIGTERM')
    assert.equal(await d2.exited, 0)
    assert.ok(!(await readFile(pf, 'utf8')).includes('\n\n'))
    await cleanup()
  })
})

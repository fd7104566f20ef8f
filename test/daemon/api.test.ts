import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { existsSync, statSync } from 'node:fs'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { checkBearer, generateToken, readToken } from '../../src/daemon/auth.js'
import { ApiClient, connectDaemon } from '../../src/daemon/client.js'
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js'
import { DaemonRunningError, NoDaemonError, RemoteApiError } from '../../src/daemon/errors.js'
import { homePaths, readPassphrase, resolveHome } from '../../src/daemon/home.js'
import { pidAlive, readDaemonInfo } from '../../src/daemon/info.js'
import { ApiServer, isLoopbackHost, parseApiAddress } from '../../src/daemon/server.js'
import type { NodeEvent } from '../../src/core/api.js'
import { FakeNode, fakePeerId } from './fake-node.js'
import { rawRequest, tmpHome } from './helpers.js'

const mode = (p: string): number => statSync(p).mode & 0o777
const bobInvite = `parley1:${fakePeerId('bob')}:${Buffer.from('bob').toString('base64url')}`
const offlineInvite = `parley1:${fakePeerId('carol')}:${Buffer.from('carol-offline').toString('base64url')}`

describe('local API: authentication and files', () => {
  let home: string
  let cleanup: () => Promise<void>
  let d: RunningDaemon
  let node: FakeNode
  let token: string

  before(async () => {
    ({ home, cleanup } = await tmpHome())
    node = new FakeNode('alice')
    d = await startDaemon({ home, node, maxBodyBytes: 64 * 1024 })
    token = await readToken(homePaths(home).token)
  })
  after(async () => { await d.stop(); await cleanup() })

  it('creates the home 0700, socket, token and daemon.json 0600', () => {
    const p = homePaths(home)
    assert.equal(mode(home), 0o700)
    assert.equal(mode(p.socket), 0o600)
    assert.equal(mode(p.token), 0o600)
    assert.equal(mode(p.daemonInfo), 0o600)
    assert.match(token, /^[0-9a-f]{64}$/)
    assert.deepEqual(d.endpoint, { kind: 'unix', path: p.socket })
  })

  it('refuses a missing, wrong, malformed or differently-cased token with 401 and nothing else', async () => {
    const wrong = generateToken()
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${wrong}` },
      { authorization: `Bearer ${token.slice(0, 63)}` },
      { authorization: `Bearer ${token}0` },
      { authorization: token },
      { authorization: `Basic ${Buffer.from('x:' + token).toString('base64')}` },
      { authorization: `Bearer ${token.toUpperCase()}` }
    ]
    for (const headers of cases) {
      for (const path of ['/v1/id', '/v1/contacts', '/v1/events', '/nope']) {
        const r = await rawRequest(d.endpoint, { path, headers })
        assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`)
        assert.deepEqual(r.json, { error: { code: 'ERR_UNAUTHORIZED', message: 'missing or wrong API token' } })
        assert.ok(!r.text.includes(node.self.peerId))
      }
    }
    // A POST with a wrong token does nothing.
    const r = await rawRequest(d.endpoint, { method: 'POST', path: '/v1/contacts', headers: { authorization: `Bearer ${wrong}`, 'content-type': 'application/json' }, body: JSON.stringify({ invite: bobInvite }) })
    assert.equal(r.status, 401)
    assert.equal(node.contacts.size, 0)
  })

  it('another local user can reach neither the socket nor the token (run as root: tries uid 65534)', { skip: process.getuid?.() !== 0 ? 'needs root to switch user' : false }, async () => {
    await chmod(dirname(home), 0o755) // so only the home's own 0700 (and the files' 0600) stand in the way
    const probe = `
      const net = require('node:net'); const fs = require('node:fs')
      let token = 'ok'; try { fs.readFileSync(${JSON.stringify(homePaths(home).token)}) } catch (e) { token = e.code }
      const s = net.connect({ path: ${JSON.stringify(homePaths(home).socket)} })
      s.on('connect', () => { console.log(JSON.stringify({ token, socket: 'connected' })); s.destroy() })
      s.on('error', (e) => { console.log(JSON.stringify({ token, socket: e.code })) })`
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', probe], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] })
      let o = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => { o += d })
      child.on('error', reject)
      child.on('close', () => { resolve(o) })
    })
    assert.deepEqual(JSON.parse(out), { token: 'EACCES', socket: 'EACCES' })
  })

  it('serves with the right token', async () => {
    const r = await rawRequest(d.endpoint, { path: '/v1/id', headers: { authorization: `Bearer ${token}` } })
    assert.equal(r.status, 200)
    assert.equal((r.json as { peerId: string }).peerId, node.self.peerId)
  })

  it('refuses browser (Origin) requests even with the token', async () => {
    const r = await rawRequest(d.endpoint, { path: '/v1/id', headers: { authorization: `Bearer ${token}`, origin: 'http://evil.example' } })
    assert.equal(r.status, 403)
  })

  it('caps request bodies (declared or streamed) at 64 KiB', async () => {
    const big = JSON.stringify({ invite: 'x'.repeat(70 * 1024) })
    const r1 = await rawRequest(d.endpoint, { method: 'POST', path: '/v1/contacts', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) }, body: big })
    assert.equal(r1.status, 413)
    assert.equal((r1.json as { error: { code: string } }).error.code, 'ERR_BODY_TOO_LARGE')
    // Chunked: no content-length, the cap applies while reading.
    const r2 = await rawRequest(d.endpoint, { method: 'POST', path: '/v1/contacts', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: big })
    assert.equal(r2.status, 413)
    // Just under the cap is parsed (and rejected for content, not size).
    const ok = JSON.stringify({ invite: 'x'.repeat(60 * 1024) })
    const r3 = await rawRequest(d.endpoint, { method: 'POST', path: '/v1/contacts', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: ok })
    assert.equal(r3.status, 400)
    assert.equal((r3.json as { error: { code: string } }).error.code, 'ERR_BAD_INVITE')
  })

  it('answers malformed JSON, unknown routes and wrong methods with typed errors', async () => {
    const auth = { authorization: `Bearer ${token}` }
    const bad = await rawRequest(d.endpoint, { method: 'POST', path: '/v1/contacts', headers: auth, body: '{nope' })
    assert.equal(bad.status, 400)
    assert.equal((bad.json as { error: { code: string } }).error.code, 'ERR_BAD_REQUEST')
    const nf = await rawRequest(d.endpoint, { path: '/v1/nothing', headers: auth })
    assert.equal(nf.status, 404)
    const wm = await rawRequest(d.endpoint, { method: 'POST', path: '/v1/id', headers: auth })
    assert.equal(wm.status, 405)
    const unknown = await rawRequest(d.endpoint, { path: '/v1/contacts/nobody/safety-number', headers: auth })
    assert.equal(unknown.status, 404)
    assert.deepEqual(unknown.json, { error: { code: 'ERR_UNKNOWN_PEER', message: 'no contact "nobody"' } })
  })

  it('refuses a second daemon on the same home', async () => {
    await assert.rejects(startDaemon({ home, node: new FakeNode('x') }), DaemonRunningError)
  })
})

describe('local API: slow bodies, loopback TCP', () => {
  it('times out a request body that never arrives', async () => {
    const { home, cleanup } = await tmpHome()
    await mkdir(home, { recursive: true })
    const token = generateToken()
    const server = new ApiServer({ node: new FakeNode('a'), token, endpoint: { kind: 'unix', path: homePaths(home).socket }, bodyTimeoutMs: 300 })
    await server.start()
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect({ path: homePaths(home).socket })
        let data = ''
        s.on('data', (c) => { data += c.toString() })
        const guard = setTimeout(() => { s.destroy() }, 20_000)
        s.on('close', () => { clearTimeout(guard); resolve(data) })
        s.on('error', reject)
        s.write(`POST /v1/contacts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inv`)
      })
      assert.match(reply, /^HTTP\/1\.1 408/)
      assert.match(reply, /ERR_BODY_TIMEOUT/)
    } finally {
      await server.stop()
      await cleanup()
    }
  })

  it('listens on loopback TCP only, with the same token rule', async () => {
    assert.throws(() => parseApiAddress('0.0.0.0:7000'), /loopback/)
    assert.throws(() => parseApiAddress('192.168.1.2:7000'), /loopback/)
    assert.throws(() => parseApiAddress('example.com:7000'), /loopback/)
    assert.throws(() => parseApiAddress('127.0.0.1'), /127\.0\.0\.1:PORT/)
    assert.deepEqual(parseApiAddress('127.0.0.1:7000'), { kind: 'tcp', host: '127.0.0.1', port: 7000 })
    assert.deepEqual(parseApiAddress('[::1]:7000'), { kind: 'tcp', host: '::1', port: 7000 })
    assert.equal(isLoopbackHost('127.8.9.10'), true)
    assert.equal(isLoopbackHost('::ffff:10.0.0.1'), false)
    await assert.rejects(new ApiServer({ node: new FakeNode('a'), token: generateToken(), endpoint: { kind: 'tcp', host: '10.0.0.1', port: 0 } }).start(), /loopback/)

    const token = generateToken()
    const server = new ApiServer({ node: new FakeNode('a'), token, endpoint: { kind: 'tcp', host: '127.0.0.1', port: 0 } })
    const ep = await server.start()
    try {
      assert.equal(ep.kind, 'tcp')
      assert.equal((await rawRequest(ep, { path: '/v1/id' })).status, 401)
      assert.equal((await rawRequest(ep, { path: '/v1/id', headers: { authorization: `Bearer ${generateToken()}` } })).status, 401)
      const c = new ApiClient(ep, token)
      assert.equal((await c.id()).name, 'a')
      await c.stop()
    } finally {
      await server.stop()
    }
  })

  it('checkBearer accepts exactly "Bearer <token>"', () => {
    const t = generateToken()
    assert.equal(checkBearer(`Bearer ${t}`, t), true)
    assert.equal(checkBearer(`bearer ${t}`, t), true) // RFC 6750: the scheme is case-insensitive
    assert.equal(checkBearer(`Bearer  ${t}`, t), false)
    assert.equal(checkBearer(undefined, t), false)
    assert.equal(checkBearer('', t), false)
    assert.equal(checkBearer(`Bearer ${t} extra`, t), false)
  })
})

describe('API endpoint choice', () => {
  it('falls back to loopback TCP when HOME/api.sock would exceed the socket path limit', async () => {
    const { home, cleanup } = await tmpHome()
    const deep = `${home}/${'d'.repeat(120)}`
    const d = await startDaemon({ home: deep, node: new FakeNode('a') })
    try {
      assert.equal(d.endpoint.kind, 'tcp')
      assert.equal(d.endpoint.kind === 'tcp' ? d.endpoint.host : '', '127.0.0.1')
      const { client } = await connectDaemon(deep)
      assert.equal((await client.id()).name, 'a')
      await client.stop()
    } finally {
      await d.stop()
      await cleanup()
    }
  })
})

describe('client ↔ daemon over the socket', () => {
  let home: string
  let cleanup: () => Promise<void>
  let d: RunningDaemon
  let node: FakeNode
  let client: ApiClient

  before(async () => {
    ({ home, cleanup } = await tmpHome())
    node = new FakeNode('alice')
    d = await startDaemon({ home, node })
    client = (await connectDaemon(home)).client
  })
  after(async () => { await client.stop(); await d.stop(); await cleanup() })

  it('proxies the node API and streams events', async () => {
    const events: NodeEvent[] = []
    await client.events((e) => { events.push(e) })
    const bob = await client.addContact(bobInvite, { name: 'bob' })
    assert.equal(bob.name, 'bob')
    node.receive('bob', 'hi alice')
    const sent = await client.send('bob', 'hi bob')
    assert.equal(sent.status, 'queued')
    const deadline = Date.now() + 20_000
    while (!events.some((e) => e.type === 'status' && e.id === sent.id && e.status === 'delivered') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    assert.ok(events.some((e) => e.type === 'contact-added' && e.contact.peerId === bob.peerId))
    assert.ok(events.some((e) => e.type === 'message' && e.message.text === 'hi alice'))
    assert.ok(events.some((e) => e.type === 'status' && e.id === sent.id && e.status === 'delivered'))
    const msgs = await client.messages(bob.peerId)
    assert.deepEqual(msgs.map((m) => m.text), ['hi alice', 'hi bob']) // oldest first although the node answers newest first
  })

  it('send with wait returns once delivered; times out leaving the message queued', async () => {
    const m = await client.send('bob', 'wait for me', { wait: true, timeoutMs: 20_000 })
    assert.equal(m.status, 'delivered')
    await client.addContact(offlineInvite)
    const err = await client.send('carol-offline', 'nobody home', { wait: true, timeoutMs: 300 }).then(() => null, (e: unknown) => e)
    assert.ok(err instanceof RemoteApiError)
    assert.equal(err.code, 'ERR_TIMEOUT')
    assert.equal(err.status, 504)
    const id = err.details?.id as string
    assert.equal(typeof id, 'string')
    const list = await client.messages('carol-offline')
    assert.equal(list.find((x) => x.id === id)?.status, 'queued')
  })

  it('stop() removes daemon.json, the socket and the token; clients then see NoDaemonError', async () => {
    const { home: h2, cleanup: c2 } = await tmpHome()
    const d2 = await startDaemon({ home: h2, node: new FakeNode('z') })
    const p = homePaths(h2)
    assert.ok(existsSync(p.socket) && existsSync(p.daemonInfo) && existsSync(p.token))
    await d2.stop()
    assert.ok(!existsSync(p.socket) && !existsSync(p.daemonInfo) && !existsSync(p.token))
    await assert.rejects(connectDaemon(h2), NoDaemonError)
    await c2()
  })
})

describe('event stream lifecycle', () => {
  it('reports the end of the stream when the daemon stops, and a silent stream as dead', async () => {
    const { home, cleanup } = await tmpHome()
    const d = await startDaemon({ home, node: new FakeNode('a') })
    const { client } = await connectDaemon(home)
    const ended = new Promise<unknown>((resolve) => { void client.events(() => {}, { onEnd: resolve }) })
    await new Promise((r) => setTimeout(r, 50))
    await d.stop()
    await ended
    await client.stop()

    const token = generateToken()
    const server = new ApiServer({ node: new FakeNode('b'), token, endpoint: { kind: 'tcp', host: '127.0.0.1', port: 0 }, heartbeatMs: 600_000 })
    const ep = await server.start()
    const c2 = new ApiClient(ep, token)
    const silent = await new Promise<unknown>((resolve) => { void c2.events(() => {}, { onEnd: resolve, idleTimeoutMs: 200 }) })
    assert.match(String((silent as Error).message), /silent/)
    await c2.stop()
    await server.stop()
    await cleanup()
  })
})

describe('stale daemon.json', () => {
  async function deadPid (): Promise<number> {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    const pid = child.pid as number
    await new Promise((resolve) => child.on('exit', resolve))
    return pid
  }

  it('a dead pid is cleaned away (with its socket) and a new daemon starts', async () => {
    const { home, cleanup } = await tmpHome()
    await mkdir(home, { recursive: true, mode: 0o700 })
    const p = homePaths(home)
    const pid = await deadPid()
    assert.equal(pidAlive(pid), false)
    await writeFile(p.daemonInfo, JSON.stringify({ pid, api: { kind: 'unix', path: p.socket }, startedAt: 1, peerId: null, mode: 'daemon' }))
    await writeFile(p.socket, '') // a leftover (not a live socket)
    await writeFile(p.token, generateToken())
    assert.equal(await readDaemonInfo(home), null)
    assert.ok(!existsSync(p.daemonInfo) && !existsSync(p.socket) && !existsSync(p.token))
    await writeFile(p.daemonInfo, '{garbage')
    await assert.rejects(connectDaemon(home), NoDaemonError)
    assert.ok(!existsSync(p.daemonInfo))
    await writeFile(p.daemonInfo, JSON.stringify({ pid, api: { kind: 'unix', path: p.socket }, startedAt: 1, peerId: null, mode: 'daemon' }))
    const d = await startDaemon({ home, node: new FakeNode('a') })
    assert.equal((await readDaemonInfo(home))?.pid, process.pid)
    await d.stop()
    await cleanup()
  })

  it('a live pid (another process) blocks a second daemon', async () => {
    const { home, cleanup } = await tmpHome()
    await mkdir(home, { recursive: true, mode: 0o700 })
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
    try {
      const p = homePaths(home)
      await writeFile(p.daemonInfo, JSON.stringify({ pid: child.pid, api: { kind: 'unix', path: p.socket }, startedAt: 1, peerId: null, mode: 'daemon' }))
      await assert.rejects(startDaemon({ home, node: new FakeNode('a') }), DaemonRunningError)
    } finally {
      child.kill('SIGKILL')
      await cleanup()
    }
  })
})

describe('home and passphrase resolution', () => {
  it('--home > PARLEY_HOME > XDG_DATA_HOME > ~/.local/share', () => {
    assert.equal(resolveHome({ flag: '/a', env: { PARLEY_HOME: '/b', XDG_DATA_HOME: '/c' } }), '/a')
    assert.equal(resolveHome({ env: { PARLEY_HOME: '/b', XDG_DATA_HOME: '/c' } }), '/b')
    assert.equal(resolveHome({ env: { XDG_DATA_HOME: '/c' } }), '/c/parley')
    assert.match(resolveHome({ env: { XDG_DATA_HOME: 'relative' } }), /\.local\/share\/parley$/)
    assert.match(resolveHome({ env: {} }), /\.local\/share\/parley$/)
  })

  it('reads the passphrase from a file (one trailing newline dropped) or the environment, capped', async () => {
    const { home, cleanup } = await tmpHome()
    await mkdir(home, { recursive: true })
    const f = `${home}/pass`
    await writeFile(f, 'correct horse\n')
    assert.equal(await readPassphrase({ file: f, env: { PARLEY_PASSPHRASE: 'other' } }), 'correct horse')
    assert.equal(await readPassphrase({ env: { PARLEY_PASSPHRASE: 'other' } }), 'other')
    assert.equal(await readPassphrase({ env: {} }), undefined)
    await writeFile(f, 'x'.repeat(5000))
    await assert.rejects(readPassphrase({ file: f, env: {} }), /larger than/)
    await assert.rejects(readPassphrase({ file: `${home}/missing`, env: {} }), /ENOENT/)
    await cleanup()
  })
})

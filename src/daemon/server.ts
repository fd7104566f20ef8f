/**
 * The daemon's local API: HTTP/1.1 on a Unix domain socket (0600, in a 0700 home) or on loopback TCP,
 * every request authenticated with the bearer token from home/api.token. JSON in and out; errors are
 * `{ error: { code, message } }`; GET /v1/events streams node events as Server-Sent Events.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, isIP } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { NodeEvent, ParleyNodeApi } from '../core/api.js'
import { checkBearer } from './auth.js'
import { ApiTimeoutError, BadRequestError, BodyTooLargeError, DaemonRunningError, UnauthorizedError } from './errors.js'
import type { ApiEndpoint } from './info.js'
import { sendAndWait } from './wait.js'

export interface ApiServerOptions {
  node: ParleyNodeApi
  token: string
  /** Where to listen; a TCP host must be a loopback address. */
  endpoint: ApiEndpoint
  /** Extra fields for GET /v1/status. */
  status?: () => Record<string, unknown>
  /** @default 65536 */
  maxBodyBytes?: number
  /** Time allowed to receive a request body. @default 10000 */
  bodyTimeoutMs?: number
  /** SSE keep-alive comment interval. @default 15000 */
  heartbeatMs?: number
  /** An event client whose unsent buffer grows past this is dropped. @default 4 MiB */
  maxEventBacklogBytes?: number
}

export const DEFAULT_MAX_BODY = 64 * 1024
/** Upper bound for `send --wait` (one day); the HTTP request stays open that long at most. */
const MAX_WAIT_MS = 86_400_000

/** The TCP API is for this machine only: 127.0.0.0/8 or ::1 (never a routable address). */
export function isLoopbackHost (host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.')
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1'
  return false
}

/** Parses `127.0.0.1:PORT` / `[::1]:PORT` (the daemon's --api flag). */
export function parseApiAddress (text: string): ApiEndpoint {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (host == null || !Number.isInteger(port) || port > 65535) throw new BadRequestError(`--api expects 127.0.0.1:PORT, got ${JSON.stringify(text)}`, 'ERR_USAGE')
  const h = host === 'localhost' ? '127.0.0.1' : host
  if (!isLoopbackHost(h)) throw new BadRequestError(`--api must be a loopback address (127.0.0.1 or [::1]), got ${host}`, 'ERR_USAGE')
  return { kind: 'tcp', host: h, port }
}

interface Ctx {
  req: IncomingMessage
  res: ServerResponse
  params: string[]
  query: URLSearchParams
  body: () => Promise<Record<string, unknown>>
  signal: AbortSignal
}
type Handler = (ctx: Ctx) => Promise<unknown>
interface Route { method: 'GET' | 'POST', re: RegExp, handler: Handler }

function errorStatus (err: unknown): { status: number, code: string, message: string, details?: unknown } {
  const e = err as { code?: unknown, message?: unknown, name?: unknown, details?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  let code = typeof e?.code === 'string' ? e.code : null
  if (code == null && e?.name === 'TimeoutError') code = 'ERR_TIMEOUT'
  if (code == null && e?.name === 'AbortError') code = 'ERR_ABORTED'
  if (code == null) return { status: 500, code: 'ERR_INTERNAL', message }
  let status = 400
  if (err instanceof UnauthorizedError) status = 401
  else if (err instanceof BodyTooLargeError) status = 413
  else if (code === 'ERR_TIMEOUT') status = 504
  else if (code === 'ERR_BODY_TIMEOUT') status = 408
  else if (/NOT_FOUND|UNKNOWN_(PEER|CONTACT|GROUP)|NO_SUCH/.test(code)) status = 404
  else if (/NOT_AUTHORIZED|PERMISSION|FORBIDDEN|NOT_ADMIN|NOT_MEMBER/.test(code)) status = 403
  else if (code === 'ERR_ABORTED') status = 499
  return { status, code, message, ...(e.details != null && typeof e.details === 'object' ? { details: e.details } : {}) }
}

function sendJson (res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent || res.destroyed) return
  const body = JSON.stringify(value)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store'
  })
  res.end(body)
}

/** Most members one `POST /v1/groups` may name (the rest can be added one by one). */
export const MAX_GROUP_MEMBERS_PER_REQUEST = 1000

function strList (v: unknown, field: string, maxItems: number): string[] | undefined {
  if (v == null) return undefined
  if (!Array.isArray(v)) throw new BadRequestError(`field "${field}" must be an array of strings`)
  if (v.length > maxItems) throw new BadRequestError(`field "${field}" has more than ${maxItems} entries`)
  return v.map((x, i) => str(x, `${field}[${i}]`, 256))
}

/** `?limit=&before=` (non-negative integers) of the message-history routes. */
function pageQuery (query: URLSearchParams): { limit?: number, before?: number } {
  const opts: { limit?: number, before?: number } = {}
  for (const k of ['limit', 'before'] as const) {
    const v = query.get(k)
    if (v != null) {
      const x = Number(v)
      if (v === '' || !Number.isSafeInteger(x) || x < 0) throw new BadRequestError(`query "${k}" must be a non-negative integer`)
      opts[k] = x
    }
  }
  return opts
}

function str (v: unknown, field: string, max = 65536): string {
  if (typeof v !== 'string' || v === '') throw new BadRequestError(`field "${field}" must be a non-empty string`)
  if (v.length > max) throw new BadRequestError(`field "${field}" is too long`)
  return v
}

export class ApiServer {
  private readonly opts: Required<Omit<ApiServerOptions, 'status'>> & Pick<ApiServerOptions, 'status'>
  private server: Server | null = null
  private readonly routes: Route[]
  private readonly eventClients = new Set<ServerResponse>()
  private bound: ApiEndpoint | null = null

  constructor (opts: ApiServerOptions) {
    this.opts = {
      maxBodyBytes: DEFAULT_MAX_BODY,
      bodyTimeoutMs: 10_000,
      heartbeatMs: 15_000,
      maxEventBacklogBytes: 4 * 1024 * 1024,
      ...opts
    }
    if (!/^[0-9a-f]{64}$/.test(opts.token)) throw new TypeError('token must be 32 bytes of lowercase hex')
    const n = opts.node
    const P = '([^/]+)'
    this.routes = [
      { method: 'GET', re: /^\/v1\/status$/, handler: async () => ({ running: true, pid: process.pid, ...(this.opts.status?.() ?? {}) }) },
      { method: 'GET', re: /^\/v1\/id$/, handler: async () => await n.id() },
      { method: 'GET', re: /^\/v1\/invite$/, handler: async () => await n.invite() },
      { method: 'GET', re: /^\/v1\/contacts$/, handler: async () => await n.listContacts() },
      {
        method: 'POST',
        re: /^\/v1\/contacts$/,
        handler: async (c) => {
          const b = await c.body()
          const name = b.name == null ? undefined : str(b.name, 'name', 256)
          return await n.addContact(str(b.invite, 'invite'), { signal: c.signal, ...(name != null ? { name } : {}) })
        }
      },
      { method: 'POST', re: new RegExp(`^/v1/contacts/${P}/verify$`), handler: async (c) => await n.verifyContact(c.params[0] ?? '') },
      { method: 'POST', re: new RegExp(`^/v1/contacts/${P}/accept-key$`), handler: async (c) => await n.acceptKeyChange(c.params[0] ?? '') },
      { method: 'GET', re: new RegExp(`^/v1/contacts/${P}/safety-number$`), handler: async (c) => await n.safetyNumber(c.params[0] ?? '') },
      {
        method: 'GET',
        re: new RegExp(`^/v1/messages/${P}$`),
        handler: async (c) => {
          const opts: { limit?: number, before?: number } = {}
          for (const k of ['limit', 'before'] as const) {
            const v = c.query.get(k)
            if (v != null) {
              const x = Number(v)
              if (!Number.isSafeInteger(x) || x < 0) throw new BadRequestError(`query "${k}" must be a non-negative integer`)
              opts[k] = x
            }
          }
          const list = await n.messages(c.params[0] ?? '', opts)
          return [...list].sort((a, b) => a.seq - b.seq)
        }
      },
      {
        method: 'POST',
        re: new RegExp(`^/v1/messages/${P}$`),
        handler: async (c) => {
          const b = await c.body()
          const text = str(b.text, 'text')
          const peer = c.params[0] ?? ''
          if (b.wait === true) {
            const t = b.timeoutMs
            if (t != null && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0 || t > MAX_WAIT_MS)) throw new BadRequestError('field "timeoutMs" must be a positive number of milliseconds')
            return await sendAndWait(n, peer, text, { signal: c.signal, ...(typeof t === 'number' ? { timeoutMs: t } : {}) })
          }
          return await n.send(peer, text, { signal: c.signal })
        }
      },
      { method: 'POST', re: new RegExp(`^/v1/messages/${P}/read$`), handler: async (c) => { await n.markRead(c.params[0] ?? ''); return { ok: true } } },
      { method: 'GET', re: /^\/v1\/peers$/, handler: async () => await n.peers() },
      // -- groups (issue 5) --
      { method: 'GET', re: /^\/v1\/groups$/, handler: async () => await n.listGroups() },
      {
        method: 'POST',
        re: /^\/v1\/groups$/,
        handler: async (c) => {
          const b = await c.body()
          const members = strList(b.members, 'members', MAX_GROUP_MEMBERS_PER_REQUEST)
          return await n.createGroup(str(b.name, 'name', 256), { signal: c.signal, ...(members != null ? { members } : {}) })
        }
      },
      {
        method: 'POST',
        re: new RegExp(`^/v1/groups/${P}/members$`),
        handler: async (c) => { const b = await c.body(); return await n.addGroupMember(c.params[0] ?? '', str(b.peer, 'peer', 256), { signal: c.signal }) }
      },
      { method: 'POST', re: new RegExp(`^/v1/groups/${P}/members/${P}/remove$`), handler: async (c) => await n.removeGroupMember(c.params[0] ?? '', c.params[1] ?? '', { signal: c.signal }) },
      { method: 'POST', re: new RegExp(`^/v1/groups/${P}/leave$`), handler: async (c) => await n.leaveGroup(c.params[0] ?? '', { signal: c.signal }) },
      {
        method: 'GET',
        re: new RegExp(`^/v1/groups/${P}/messages$`),
        handler: async (c) => {
          const list = await n.groupMessages(c.params[0] ?? '', pageQuery(c.query))
          return [...list].sort((a, b) => a.seq - b.seq)
        }
      },
      {
        method: 'POST',
        re: new RegExp(`^/v1/groups/${P}/messages$`),
        handler: async (c) => { const b = await c.body(); return await n.sendGroup(c.params[0] ?? '', str(b.text, 'text'), { signal: c.signal }) }
      },
      { method: 'POST', re: new RegExp(`^/v1/groups/${P}/read$`), handler: async (c) => { await n.markGroupRead(c.params[0] ?? ''); return { ok: true } } }
    ]
  }

  /** The endpoint actually bound (TCP port 0 resolved). */
  get endpoint (): ApiEndpoint | null { return this.bound }

  async start (): Promise<ApiEndpoint> {
    if (this.server != null) throw new Error('already started')
    const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => { this.handle(req, res) })
    server.keepAliveTimeout = 5_000
    const ep = this.opts.endpoint
    if (ep.kind === 'unix') {
      await clearStaleSocket(ep.path)
      // The socket is created 0600 (umask) and chmodded again; the 0700 home is the real fence.
      const old = process.umask(0o177)
      try {
        await listen(server, { path: ep.path })
      } finally {
        process.umask(old)
      }
      await chmod(ep.path, 0o600)
      this.bound = { kind: 'unix', path: ep.path }
    } else {
      if (!isLoopbackHost(ep.host)) throw new BadRequestError(`API host must be loopback, got ${ep.host}`, 'ERR_USAGE')
      await listen(server, { host: ep.host, port: ep.port })
      const addr = server.address()
      if (addr == null || typeof addr === 'string') throw new Error('no TCP address')
      this.bound = { kind: 'tcp', host: ep.host, port: addr.port }
    }
    this.server = server
    return this.bound
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = null
    for (const res of this.eventClients) res.end()
    this.eventClients.clear()
    await new Promise<void>((resolve) => {
      server.close(() => { resolve() })
      server.closeAllConnections()
    })
    if (this.bound?.kind === 'unix') await unlink(this.bound.path).catch(() => {})
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    // RFC 6750 §2.1: the bearer token rides in the Authorization header; nothing is served without it.
    if (!checkBearer(req.headers.authorization, this.opts.token)) {
      res.setHeader('connection', 'close')
      res.setHeader('www-authenticate', 'Bearer')
      sendJson(res, 401, { error: { code: 'ERR_UNAUTHORIZED', message: 'missing or wrong API token' } })
      req.resume()
      return
    }
    // Defence in depth: browsers attach Origin; no web page has business with this API.
    if (req.headers.origin != null) {
      sendJson(res, 403, { error: { code: 'ERR_FORBIDDEN', message: 'cross-origin requests are refused' } })
      req.resume()
      return
    }
    const ac = new AbortController()
    res.on('close', () => { ac.abort(new ApiTimeoutError('client went away')) })
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://local')
    } catch {
      sendJson(res, 400, { error: { code: 'ERR_BAD_REQUEST', message: 'bad URL' } })
      return
    }
    if (req.method === 'GET' && url.pathname === '/v1/events') {
      this.serveEvents(req, res)
      return
    }
    let route: Route | undefined
    let params: string[] = []
    let pathMatched = false
    for (const r of this.routes) {
      const m = r.re.exec(url.pathname)
      if (m == null) continue
      pathMatched = true
      if (r.method !== req.method) continue
      route = r
      params = m.slice(1)
      break
    }
    if (route == null) {
      req.resume()
      sendJson(res, pathMatched ? 405 : 404, { error: { code: pathMatched ? 'ERR_METHOD' : 'ERR_NOT_FOUND', message: `no route ${req.method ?? ''} ${url.pathname}` } })
      return
    }
    const ctx: Ctx = { req, res, params: [], query: url.searchParams, body: async () => await this.readBody(req), signal: ac.signal }
    const run = async (): Promise<unknown> => {
      try {
        ctx.params = params.map((p) => decodeURIComponent(p))
      } catch {
        throw new BadRequestError('bad percent-encoding in path')
      }
      if (req.method === 'GET') req.resume()
      return await route.handler(ctx)
    }
    run().then((value) => { sendJson(res, 200, value ?? null) }, (err: unknown) => {
      const e = errorStatus(err)
      if (e.status === 413 || e.status === 408) res.setHeader('connection', 'close')
      sendJson(res, e.status, { error: { code: e.code, message: e.message, ...(e.details != null ? { details: e.details } : {}) } })
    })
  }

  private async readBody (req: IncomingMessage): Promise<Record<string, unknown>> {
    const max = this.opts.maxBodyBytes
    const declared = Number(req.headers['content-length'] ?? NaN)
    if (Number.isFinite(declared) && declared > max) {
      req.resume()
      throw new BodyTooLargeError(max)
    }
    const chunks: Buffer[] = []
    let size = 0
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); req.resume(); reject(new BadRequestError('request body not received in time', 'ERR_BODY_TIMEOUT')) }, this.opts.bodyTimeoutMs)
      const onData = (c: Buffer): void => {
        size += c.length
        if (size > max) { cleanup(); req.resume(); reject(new BodyTooLargeError(max)); return }
        chunks.push(c)
      }
      const onEnd = (): void => { cleanup(); resolve() }
      const onError = (err: Error): void => { cleanup(); reject(err) }
      const cleanup = (): void => {
        clearTimeout(timer)
        req.off('data', onData); req.off('end', onEnd); req.off('error', onError)
      }
      req.on('data', onData); req.on('end', onEnd); req.on('error', onError)
    })
    if (size === 0) return {}
    let v: unknown
    try { v = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch { throw new BadRequestError('body is not valid JSON') }
    if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new BadRequestError('body must be a JSON object')
    return v as Record<string, unknown>
  }

  private serveEvents (req: IncomingMessage, res: ServerResponse): void {
    req.resume()
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.socket?.setTimeout(0)
    this.eventClients.add(res)
    const write = (chunk: string): void => {
      if (res.writableEnded || res.destroyed) return
      res.write(chunk)
      // A client that stopped reading is dropped instead of buffering without bound.
      if (res.writableLength > this.opts.maxEventBacklogBytes) res.destroy()
    }
    const unsubscribe = this.opts.node.subscribe((ev: NodeEvent) => {
      write(`event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`)
    })
    const heartbeat = setInterval(() => { write(': ping\n\n') }, this.opts.heartbeatMs)
    heartbeat.unref()
    res.on('close', () => {
      clearInterval(heartbeat)
      unsubscribe()
      this.eventClients.delete(res)
    })
    write('event: ready\ndata: {}\n\n')
  }
}

async function listen (server: Server, opts: { path: string } | { host: string, port: number }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(err) }
    server.once('error', onError)
    server.listen(opts, () => { server.off('error', onError); resolve() })
  })
}

/** A socket file nobody listens on (a crashed daemon) is removed; a live one means another daemon. */
async function clearStaleSocket (path: string): Promise<void> {
  const live = await new Promise<boolean>((resolve) => {
    const s = connect({ path })
    const t = setTimeout(() => { s.destroy(); resolve(true) }, 2000)
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true) })
    s.once('error', () => { clearTimeout(t); resolve(false) })
  })
  if (live) throw new DaemonRunningError(dirname(path), null)
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
}

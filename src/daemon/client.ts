/**
 * A client of the daemon's local API that implements ParleyNodeApi, so the CLI and the TUI talk to a
 * daemon exactly as they would to an in-process node. `stop()` closes this client's event streams; it
 * does not stop the daemon.
 */
import { request, type IncomingMessage } from 'node:http'
import type { ContactInfo, GroupInfo, GroupMessageInfo, LocalIdentityInfo, MessageInfo, NodeEvent, ParleyNodeApi, PeerConnectionInfo, SafetyNumberInfo, SendOptions } from '../core/api.js'
import { readToken } from './auth.js'
import { ApiTimeoutError, BodyTooLargeError, NoDaemonError, RemoteApiError, UnauthorizedError } from './errors.js'
import { homePaths } from './home.js'
import { readDaemonInfo, type ApiEndpoint, type DaemonInfo } from './info.js'

/** Largest response the client accepts (a long conversation history is the biggest). */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024
/** Largest single SSE event. */
const MAX_EVENT_BYTES = 1024 * 1024
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

export interface RequestOptions {
  signal?: AbortSignal
  /** @default 30000 */
  timeoutMs?: number
}

export interface StatusInfo extends Record<string, unknown> { running: boolean, pid?: number }

export class ApiClient implements ParleyNodeApi {
  private readonly streams = new Set<IncomingMessage>()
  private readonly stopped = new AbortController()

  constructor (readonly endpoint: ApiEndpoint, private readonly token: string, readonly home = '') {}

  async request<T> (method: 'GET' | 'POST', path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)
    const signal = AbortSignal.any([timeout, this.stopped.signal, ...(opts.signal != null ? [opts.signal] : [])])
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const res = await this.open(method, path, payload, signal)
    const text = await readAll(res, MAX_RESPONSE_BYTES, signal).catch((err: unknown) => {
      throw timeout.aborted ? new ApiTimeoutError() : err
    })
    let doc: unknown
    try { doc = text === '' ? null : JSON.parse(text) } catch { throw new RemoteApiError('ERR_BAD_RESPONSE', 'daemon sent invalid JSON', res.statusCode ?? 0) }
    const status = res.statusCode ?? 0
    if (status >= 200 && status < 300) return doc as T
    if (status === 401) throw new UnauthorizedError('the daemon refused the API token (is it another daemon\'s home?)')
    const e = (doc as { error?: { code?: unknown, message?: unknown, details?: unknown } } | null)?.error
    throw new RemoteApiError(typeof e?.code === 'string' ? e.code : 'ERR_HTTP_' + String(status),
      typeof e?.message === 'string' ? e.message : `daemon answered HTTP ${status}`, status,
      e?.details != null && typeof e.details === 'object' ? e.details as Record<string, unknown> : undefined)
  }

  private async open (method: string, path: string, payload: Buffer | undefined, signal: AbortSignal): Promise<IncomingMessage> {
    const ep = this.endpoint
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${this.token}`, accept: 'application/json' }
      if (payload != null) { headers['content-type'] = 'application/json'; headers['content-length'] = payload.length }
      const req = request({
        method,
        path,
        headers,
        agent: false,
        signal,
        ...(ep.kind === 'unix' ? { socketPath: ep.path } : { host: ep.host, port: ep.port })
      }, resolve)
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (signal.aborted) {
          const r: unknown = signal.reason
          reject((r as Error | undefined)?.name === 'TimeoutError' ? new ApiTimeoutError() : r)
        } else if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') reject(new NoDaemonError(this.home))
        else reject(err)
      })
      req.end(payload)
    })
  }

  async status (opts?: RequestOptions): Promise<StatusInfo> { return await this.request('GET', '/v1/status', undefined, opts) }
  async id (): Promise<LocalIdentityInfo> { return await this.request('GET', '/v1/id') }
  async invite (): Promise<{ invite: string }> { return await this.request('GET', '/v1/invite') }
  async addContact (invite: string, opts: { name?: string, signal?: AbortSignal } = {}): Promise<ContactInfo> {
    return await this.request('POST', '/v1/contacts', { invite, ...(opts.name != null ? { name: opts.name } : {}) }, { ...(opts.signal != null ? { signal: opts.signal } : {}), timeoutMs: 120_000 })
  }

  async listContacts (): Promise<ContactInfo[]> { return await this.request('GET', '/v1/contacts') }
  async verifyContact (peer: string): Promise<ContactInfo> { return await this.request('POST', `/v1/contacts/${enc(peer)}/verify`, {}) }
  async acceptKeyChange (peer: string): Promise<ContactInfo> { return await this.request('POST', `/v1/contacts/${enc(peer)}/accept-key`, {}) }
  async safetyNumber (peer: string): Promise<SafetyNumberInfo> { return await this.request('GET', `/v1/contacts/${enc(peer)}/safety-number`) }
  async send (peer: string, text: string, opts: SendOptions = {}): Promise<MessageInfo> {
    const wait = opts.wait === true
    const timeoutMs = opts.timeoutMs ?? 60_000
    return await this.request('POST', `/v1/messages/${enc(peer)}`, { text, ...(wait ? { wait: true, timeoutMs } : {}) }, {
      ...(opts.signal != null ? { signal: opts.signal } : {}),
      // The daemon answers at its own deadline; ours only guards against a hung daemon.
      timeoutMs: wait ? timeoutMs + 30_000 : DEFAULT_REQUEST_TIMEOUT_MS
    })
  }

  async messages (peer: string, opts: { limit?: number, before?: number } = {}): Promise<MessageInfo[]> {
    return await this.request('GET', `/v1/messages/${enc(peer)}${pageQuery(opts)}`)
  }

  async markRead (peer: string): Promise<void> { await this.request('POST', `/v1/messages/${enc(peer)}/read`, {}) }
  async peers (): Promise<PeerConnectionInfo[]> { return await this.request('GET', '/v1/peers') }

  // -- groups (issue 5) --
  // Membership changes reach other members over the network before the daemon answers: they get the
  // longer timeout that contact add has.
  async createGroup (name: string, opts: { members?: string[], signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.request('POST', '/v1/groups', { name, ...(opts.members != null ? { members: opts.members } : {}) }, slow(opts.signal))
  }

  async listGroups (): Promise<GroupInfo[]> { return await this.request('GET', '/v1/groups') }
  async addGroupMember (group: string, peer: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.request('POST', `/v1/groups/${enc(group)}/members`, { peer }, slow(opts.signal))
  }

  async removeGroupMember (group: string, peer: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.request('POST', `/v1/groups/${enc(group)}/members/${enc(peer)}/remove`, {}, slow(opts.signal))
  }

  async leaveGroup (group: string, opts: { signal?: AbortSignal } = {}): Promise<GroupInfo> {
    return await this.request('POST', `/v1/groups/${enc(group)}/leave`, {}, slow(opts.signal))
  }

  async sendGroup (group: string, text: string, opts: { signal?: AbortSignal } = {}): Promise<GroupMessageInfo> {
    return await this.request('POST', `/v1/groups/${enc(group)}/messages`, { text }, opts.signal != null ? { signal: opts.signal } : {})
  }

  async groupMessages (group: string, opts: { limit?: number, before?: number } = {}): Promise<GroupMessageInfo[]> {
    return await this.request('GET', `/v1/groups/${enc(group)}/messages${pageQuery(opts)}`)
  }

  async markGroupRead (group: string): Promise<void> { await this.request('POST', `/v1/groups/${enc(group)}/read`, {}) }

  /** ParleyNodeApi's synchronous form: events flow once the stream is open (use `events()` to await that). */
  subscribe (listener: (event: NodeEvent) => void): () => void {
    const ac = new AbortController()
    this.events(listener, { signal: ac.signal }).catch(() => {})
    return () => { ac.abort() }
  }

  /**
   * Opens GET /v1/events; resolves once the daemon confirmed the subscription. `onEnd` runs when the
   * stream ends for any reason other than the caller's abort (e.g. the daemon stopped). The daemon sends
   * a keep-alive every 15 s; a stream silent for `idleTimeoutMs` (default 45 s) is treated as dead.
   */
  async events (listener: (event: NodeEvent) => void, opts: { signal?: AbortSignal, onEnd?: (err?: unknown) => void, timeoutMs?: number, idleTimeoutMs?: number } = {}): Promise<void> {
    const signal = AbortSignal.any([this.stopped.signal, ...(opts.signal != null ? [opts.signal] : [])])
    const connectAc = new AbortController()
    const connectTimer = setTimeout(() => { connectAc.abort(new ApiTimeoutError('event stream did not open')) }, opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)
    let res: IncomingMessage
    try {
      res = await this.open('GET', '/v1/events', undefined, AbortSignal.any([signal, connectAc.signal]))
    } finally {
      clearTimeout(connectTimer)
    }
    if (res.statusCode !== 200) {
      const text = await readAll(res, 64 * 1024, signal).catch(() => '')
      if (res.statusCode === 401) throw new UnauthorizedError()
      throw new RemoteApiError('ERR_HTTP_' + String(res.statusCode), text.slice(0, 200), res.statusCode ?? 0)
    }
    this.streams.add(res)
    let ready!: () => void
    let failed!: (e: unknown) => void
    const readyP = new Promise<void>((resolve, reject) => { ready = resolve; failed = reject })
    const timer = setTimeout(() => { failed(new ApiTimeoutError('event stream did not become ready')); res.destroy() }, opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)
    const idle = setTimeout(() => { res.destroy(new ApiTimeoutError('event stream went silent')) }, opts.idleTimeoutMs ?? 45_000)
    let buf = ''
    let ended = false
    const end = (err?: unknown): void => {
      if (ended) return
      ended = true
      clearTimeout(timer)
      clearTimeout(idle)
      this.streams.delete(res)
      failed(err ?? new NoDaemonError(this.home))
      if (!signal.aborted) opts.onEnd?.(err)
    }
    const onAbort = (): void => { res.destroy() }
    signal.addEventListener('abort', onAbort, { once: true })
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      idle.refresh()
      buf += chunk
      if (buf.length > MAX_EVENT_BYTES) { res.destroy(new BodyTooLargeError(MAX_EVENT_BYTES)); return }
      let i: number
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const parsed = parseSse(block)
        if (parsed == null) continue
        if (parsed.event === 'ready') { clearTimeout(timer); ready(); continue }
        try {
          listener(JSON.parse(parsed.data) as NodeEvent)
        } catch { /* a listener error or a malformed event must not kill the stream */ }
      }
    })
    res.on('error', (err) => { end(err) })
    res.on('close', () => { signal.removeEventListener('abort', onAbort); end() })
    await readyP
  }

  async stop (): Promise<void> {
    this.stopped.abort()
    for (const s of this.streams) s.destroy()
    this.streams.clear()
  }
}

function enc (peer: string): string { return encodeURIComponent(peer) }

function pageQuery (opts: { limit?: number, before?: number }): string {
  const q = new URLSearchParams()
  if (opts.limit != null) q.set('limit', String(opts.limit))
  if (opts.before != null) q.set('before', String(opts.before))
  const qs = q.toString()
  return qs === '' ? '' : '?' + qs
}

/** Request options of calls that wait on the network (membership changes): 120 s instead of 30 s. */
function slow (signal: AbortSignal | undefined): RequestOptions {
  return { ...(signal != null ? { signal } : {}), timeoutMs: 120_000 }
}

function parseSse (block: string): { event: string, data: string } | null {
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue
    const c = line.indexOf(':')
    const field = c < 0 ? line : line.slice(0, c)
    const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '')
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0 && event === 'message') return null
  return { event, data: data.join('\n') }
}

async function readAll (res: IncomingMessage, max: number, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const c of res.iterator({ destroyOnReturn: true })) {
    const b = c as Buffer
    size += b.length
    if (size > max) { res.destroy(); throw new BodyTooLargeError(max) }
    chunks.push(b)
    if (signal.aborted) throw signal.reason
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Finds and authenticates to the daemon serving `home`: daemon.json (stale files removed) + token.
 * Throws NoDaemonError when none runs.
 */
export async function connectDaemon (home: string, opts: RequestOptions = {}): Promise<{ client: ApiClient, info: DaemonInfo }> {
  const info = await readDaemonInfo(home)
  if (info == null) throw new NoDaemonError(home)
  const token = await readToken(homePaths(home).token)
  const client = new ApiClient(info.api, token, home)
  await client.status({ timeoutMs: opts.timeoutMs ?? 10_000, ...(opts.signal != null ? { signal: opts.signal } : {}) })
  return { client, info }
}

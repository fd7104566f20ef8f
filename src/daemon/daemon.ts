/**
 * Runs a node behind the local API: writes a fresh token, listens on home/api.sock (or loopback TCP),
 * records itself in home/daemon.json, and undoes all of it on stop(). Used by `parley daemon` and by
 * `parley chat` when it starts the node in-process.
 */
import { unlink } from 'node:fs/promises'
import type { LocalIdentityInfo, ParleyNodeApi } from '../core/api.js'
import { generateToken, writeToken } from './auth.js'
import { DaemonRunningError } from './errors.js'
import { ensureHome, homePaths, MAX_SOCKET_PATH } from './home.js'
import { readDaemonInfo, removeDaemonFiles, writeDaemonInfo, type ApiEndpoint, type DaemonInfo } from './info.js'
import { loadNodeModule, type CreateNodeOptions } from './node-module.js'
import { ApiServer } from './server.js'

export interface StartDaemonOptions extends CreateNodeOptions {
  /** Default: home/api.sock, or 127.0.0.1 on a free port when that path is too long for a socket. */
  api?: ApiEndpoint
  /** @default 'daemon' ('relay': `parley relay` serving its RelayApi, issue 4) */
  mode?: 'daemon' | 'chat' | 'relay'
  /** Extra fields for GET /v1/status (issue 4: a relay's metrics). */
  status?: () => Record<string, unknown>
  /** issue 4: relays the node reserves on / uses as mailboxes (passed to createNode). */
  relays?: string[]
  /** Node factory. @default createParleyNode from src/core/node.ts */
  createNode?: (opts: CreateNodeOptions) => Promise<ParleyNodeApi>
  /** Serve this already-running node instead of creating one (it is stopped with the daemon). */
  node?: ParleyNodeApi
  /** Request-body cap of the API. @default 65536 */
  maxBodyBytes?: number
}

export interface RunningDaemon {
  node: ParleyNodeApi
  endpoint: ApiEndpoint
  info: DaemonInfo
  identity: LocalIdentityInfo
  /** Stops the API, then the node, and removes daemon.json, the socket and the token. Idempotent. */
  stop: () => Promise<void>
}

export function defaultEndpoint (home: string): ApiEndpoint {
  const p = homePaths(home)
  return p.socket.length <= MAX_SOCKET_PATH ? { kind: 'unix', path: p.socket } : { kind: 'tcp', host: '127.0.0.1', port: 0 }
}

export async function startDaemon (opts: StartDaemonOptions): Promise<RunningDaemon> {
  const { home } = opts
  await ensureHome(home)
  const existing = await readDaemonInfo(home)
  if (existing != null && existing.pid !== process.pid) throw new DaemonRunningError(home, existing.pid)

  let node = opts.node
  if (node == null) {
    const create = opts.createNode ?? (await loadNodeModule()).createParleyNode
    const nodeOpts: CreateNodeOptions = { home }
    if (opts.passphrase != null) nodeOpts.passphrase = opts.passphrase
    if (opts.listen != null) nodeOpts.listen = opts.listen
    if (opts.bootstrap != null) nodeOpts.bootstrap = opts.bootstrap
    if (opts.mdns != null) nodeOpts.mdns = opts.mdns
    if (opts.name != null) nodeOpts.name = opts.name
    if (opts.relays != null) nodeOpts.relays = opts.relays
    if (opts.hostMailboxes != null) nodeOpts.hostMailboxes = opts.hostMailboxes // issue 4, Part 4 §9
    if (opts.contactMailboxes != null) nodeOpts.contactMailboxes = opts.contactMailboxes
    node = await create(nodeOpts)
  }
  const paths = homePaths(home)
  const mode = opts.mode ?? 'daemon'
  const startedAt = Date.now()
  let server: ApiServer | null = null
  try {
    const identity = await node.id()
    const token = generateToken()
    // The token is in place before anything listens, so a client that sees daemon.json can always read it.
    await writeToken(paths.token, token)
    server = new ApiServer({
      node,
      token,
      endpoint: opts.api ?? defaultEndpoint(home),
      status: () => ({ ...(opts.status?.() ?? {}), home, mode, startedAt, peerId: identity.peerId }),
      ...(opts.maxBodyBytes != null ? { maxBodyBytes: opts.maxBodyBytes } : {})
    })
    const endpoint = await server.start()
    const info: DaemonInfo = { pid: process.pid, api: endpoint, startedAt, peerId: identity.peerId, mode }
    await writeDaemonInfo(home, info)
    let stopping: Promise<void> | null = null
    const srv = server
    const n = node
    const stop = async (): Promise<void> => {
      stopping ??= (async () => {
        await srv.stop().catch(() => {})
        await removeDaemonFiles(home, info)
        await unlink(paths.token).catch(() => {})
        await n.stop()
      })()
      await stopping
    }
    return { node, endpoint, info, identity, stop }
  } catch (err) {
    await server?.stop().catch(() => {})
    await node.stop().catch(() => {})
    throw err
  }
}

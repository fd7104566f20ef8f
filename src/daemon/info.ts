/**
 * home/daemon.json: which process serves this home and where its API listens. A file whose pid is
 * dead is stale (a crash or SIGKILL) and is removed together with the socket it names.
 */
import { readFile, stat, unlink } from 'node:fs/promises'
import { writePrivateFile } from './auth.js'
import { HomeFileError } from './errors.js'
import { homePaths } from './home.js'

export type ApiEndpoint =
  | { kind: 'unix', path: string }
  | { kind: 'tcp', host: string, port: number }

export interface DaemonInfo {
  pid: number
  api: ApiEndpoint
  startedAt: number
  peerId: string | null
  /** 'daemon' for `parley daemon`, 'chat' when `parley chat` runs the node in-process, 'relay' for `parley relay`. */
  mode: 'daemon' | 'chat' | 'relay'
}

const MAX_INFO_BYTES = 16 * 1024

export function describeEndpoint (ep: ApiEndpoint): string {
  return ep.kind === 'unix' ? `unix:${ep.path}` : `http://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function parseInfo (text: string): DaemonInfo | null {
  let v: unknown
  try { v = JSON.parse(text) } catch { return null }
  if (v == null || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  if (typeof o.pid !== 'number' || !Number.isInteger(o.pid) || o.pid <= 0) return null
  const api = o.api as Record<string, unknown> | undefined
  if (api == null || typeof api !== 'object') return null
  let ep: ApiEndpoint
  if (api.kind === 'unix' && typeof api.path === 'string') ep = { kind: 'unix', path: api.path }
  else if (api.kind === 'tcp' && typeof api.host === 'string' && typeof api.port === 'number') ep = { kind: 'tcp', host: api.host, port: api.port }
  else return null
  return {
    pid: o.pid,
    api: ep,
    startedAt: typeof o.startedAt === 'number' ? o.startedAt : 0,
    peerId: typeof o.peerId === 'string' ? o.peerId : null,
    mode: o.mode === 'chat' ? 'chat' : o.mode === 'relay' ? 'relay' : 'daemon'
  }
}

/**
 * Reads daemon.json. Returns null when there is none; removes it (and its socket) when it is stale
 * (dead pid) or unreadable garbage.
 */
export async function readDaemonInfo (home: string): Promise<DaemonInfo | null> {
  const p = homePaths(home)
  let text: string
  try {
    const st = await stat(p.daemonInfo)
    if (st.size > MAX_INFO_BYTES) throw new HomeFileError(`${p.daemonInfo} is too large`)
    text = await readFile(p.daemonInfo, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  const info = parseInfo(text)
  if (info == null || !pidAlive(info.pid)) {
    await removeDaemonFiles(home, info)
    return null
  }
  return info
}

export async function writeDaemonInfo (home: string, info: DaemonInfo): Promise<void> {
  await writePrivateFile(homePaths(home).daemonInfo, JSON.stringify(info, null, 2) + '\n')
}

/** Removes daemon.json, the token, and the socket it names (only a socket inside this home). */
export async function removeDaemonFiles (home: string, info: DaemonInfo | null): Promise<void> {
  const p = homePaths(home)
  await unlink(p.daemonInfo).catch(() => {})
  await unlink(p.token).catch(() => {})
  if (info?.api.kind === 'unix' && info.api.path === p.socket) await unlink(p.socket).catch(() => {})
}

/**
 * The node's stored settings, HOME/settings.json (0600): what a later start should remember without
 * being told again. Today: the node's own relays (issue 4, `parley daemon --relay`) and whether it
 * hosts mailboxes for its contacts / uses its contacts as mailboxes (`--host-mail`,
 * `--contact-mailboxes`; PROTOCOL.md Part 4 §9). Plain JSON, size-capped, every field validated on
 * read; an unreadable file is reported, never half-applied.
 *
 *   { "relays": ["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooW…"], "hostMailboxes": true, "contactMailboxes": true }
 */
import { open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ParleyError } from './api.js'
import { MAX_RELAYS, relayPeerIdOf } from './relays.js'

export const SETTINGS_FILE = 'settings.json'
const MAX_SETTINGS_BYTES = 64 * 1024

export interface NodeSettings {
  /** The node's relays / mailboxes; absent: none stored. */
  relays?: string[]
  /** Host a mailbox for our contacts (Part 4 §9); absent: false. */
  hostMailboxes?: boolean
  /** Use contacts that host as our mailboxes (Part 4 §9); absent: false. */
  contactMailboxes?: boolean
}

export class SettingsFileError extends ParleyError {
  override readonly name = 'SettingsFileError'
  constructor (message: string, options?: ErrorOptions) { super('ERR_SETTINGS_FILE', message, options) }
}

/** Reads HOME/settings.json ({} when there is none). Throws SettingsFileError when it is malformed. */
export async function readNodeSettings (home: string): Promise<NodeSettings> {
  const path = join(home, SETTINGS_FILE)
  let text: string
  try {
    const st = await stat(path)
    if (st.size > MAX_SETTINGS_BYTES) throw new SettingsFileError(`${path} is larger than ${MAX_SETTINGS_BYTES} bytes`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    if (err instanceof SettingsFileError) throw err
    throw new SettingsFileError(`cannot read ${path}`, { cause: err })
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new SettingsFileError(`${path} is not valid JSON`, { cause: err })
  }
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) throw new SettingsFileError(`${path} must hold a JSON object`)
  const o = doc as Record<string, unknown>
  const out: NodeSettings = {}
  if (o.relays !== undefined) {
    if (!Array.isArray(o.relays) || o.relays.length > MAX_RELAYS || !o.relays.every(r => relayPeerIdOf(r) != null)) {
      throw new SettingsFileError(`${path}: "relays" must be a list of at most ${MAX_RELAYS} multiaddrs ending in /p2p/<relayPeerId>`)
    }
    out.relays = [...o.relays] as string[]
  }
  for (const k of ['hostMailboxes', 'contactMailboxes'] as const) {
    if (o[k] === undefined) continue
    if (typeof o[k] !== 'boolean') throw new SettingsFileError(`${path}: "${k}" must be true or false`)
    out[k] = o[k]
  }
  return out
}

/**
 * Part 4 §9: the two contact-mailbox switches. An explicit value is stored (for later starts);
 * absent ones come from the file (default false). `changed`: a stored value differs from this run's
 * (then the node tells every contact its new route).
 */
export async function resolveContactMailboxSettings (home: string, explicit: { hostMailboxes?: boolean | undefined, contactMailboxes?: boolean | undefined }): Promise<{ hostMailboxes: boolean, contactMailboxes: boolean, changed: boolean }> {
  const stored = await readNodeSettings(home)
  const host = explicit.hostMailboxes ?? stored.hostMailboxes ?? false
  const use = explicit.contactMailboxes ?? stored.contactMailboxes ?? false
  const changed = host !== (stored.hostMailboxes ?? false) || use !== (stored.contactMailboxes ?? false)
  const patch: NodeSettings = {}
  if (explicit.hostMailboxes != null && explicit.hostMailboxes !== stored.hostMailboxes) patch.hostMailboxes = explicit.hostMailboxes
  if (explicit.contactMailboxes != null && explicit.contactMailboxes !== stored.contactMailboxes) patch.contactMailboxes = explicit.contactMailboxes
  if (Object.keys(patch).length > 0) await updateNodeSettings(home, patch)
  return { hostMailboxes: host, contactMailboxes: use, changed }
}

/** Merges `patch` into HOME/settings.json, atomically (write to a temporary file, then rename). */
export async function updateNodeSettings (home: string, patch: NodeSettings): Promise<NodeSettings> {
  const cur = await readNodeSettings(home)
  const next: NodeSettings = { ...cur, ...patch }
  const path = join(home, SETTINGS_FILE)
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(JSON.stringify(next, null, 2) + '\n')
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  return next
}

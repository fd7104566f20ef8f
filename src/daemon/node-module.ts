/**
 * Loads the node implementation (src/core/node.ts) lazily, so that the CLI's light commands never pay
 * for libp2p and so the faces compile before the core lands. PARLEY_NODE_MODULE (a path or file URL)
 * substitutes another module with the same two exports; the test suite uses it to run the real CLI
 * and daemon processes against a fake node.
 */
import { isAbsolute } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { ParleyNodeApi } from '../core/api.js'
import { ParleyError } from '../core/api.js'

export interface CreateNodeOptions {
  home: string
  passphrase?: string
  /** Multiaddrs to listen on (the node's defaults when absent). */
  listen?: string[]
  bootstrap?: string[]
  /** @default true */
  mdns?: boolean
  name?: string
  /** issue 4: relays to reserve on and use as mailboxes (multiaddrs ending in /p2p/<relayPeerId>). */
  relays?: string[]
  /** issue 4, PROTOCOL.md Part 4 §9: host a mailbox for our contacts (absent: the stored choice). */
  hostMailboxes?: boolean
  /** issue 4, Part 4 §9: use contacts that host as our mailboxes (absent: the stored choice). */
  contactMailboxes?: boolean
}

export interface InitIdentityOptions { home: string, name?: string, passphrase?: string }

export interface NodeModule {
  createParleyNode: (opts: CreateNodeOptions) => Promise<ParleyNodeApi>
  /** Creates the identity; must refuse to overwrite an existing one. */
  initIdentity: (opts: InitIdentityOptions) => Promise<unknown>
}

/** Codes with which createParleyNode may say "this home has no identity yet". */
export const NO_IDENTITY_CODES: ReadonlySet<string> = new Set(['ERR_NO_IDENTITY', 'ERR_NOT_INITIALIZED', 'ERR_NOT_INITIALISED', 'ERR_IDENTITY_NOT_FOUND'])

export async function loadNodeModule (env: NodeJS.ProcessEnv = process.env): Promise<NodeModule> {
  const override = env.PARLEY_NODE_MODULE
  const spec = override != null && override !== ''
    ? (isAbsolute(override) ? pathToFileURL(override).href : override)
    : new URL('../core/node.js', import.meta.url).href
  let mod: Partial<NodeModule>
  try {
    mod = await import(spec) as Partial<NodeModule>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && override == null) {
      throw new ParleyError('ERR_NO_NODE', 'the Parley node (src/core/node.ts) is not built in this tree yet', { cause: err })
    }
    throw err
  }
  if (typeof mod.createParleyNode !== 'function' || typeof mod.initIdentity !== 'function') {
    throw new ParleyError('ERR_NO_NODE', `node module ${spec} lacks createParleyNode/initIdentity`)
  }
  return mod as NodeModule
}

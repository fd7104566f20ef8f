/**
 * The Parley home directory: where the identity, the store, the API socket and token live.
 * Resolution order: --home > PARLEY_HOME > $XDG_DATA_HOME/parley > ~/.local/share/parley.
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { HomeFileError } from './errors.js'

export interface HomePaths {
  home: string
  /** HTTP over a Unix domain socket (0600). */
  socket: string
  /** 32 random bytes, hex (0600); rewritten at every daemon start. */
  token: string
  /** { pid, api, ... } of the running daemon; removed on clean stop. */
  daemonInfo: string
}

/** Unix socket paths are limited to ~104–108 bytes (sun_path); beyond this we fall back to loopback TCP. */
export const MAX_SOCKET_PATH = 100

export function resolveHome (opts: { flag?: string | undefined, env?: NodeJS.ProcessEnv } = {}): string {
  const env = opts.env ?? process.env
  if (opts.flag != null && opts.flag !== '') return resolve(opts.flag)
  if (env.PARLEY_HOME != null && env.PARLEY_HOME !== '') return resolve(env.PARLEY_HOME)
  // XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME
  if (xdg != null && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'parley')
  return join(homedir(), '.local', 'share', 'parley')
}

export function homePaths (home: string): HomePaths {
  return {
    home,
    socket: join(home, 'api.sock'),
    token: join(home, 'api.token'),
    daemonInfo: join(home, 'daemon.json')
  }
}

/** Creates the home (mode 0700) or tightens an existing one to 0700: it holds keys and the API token. */
export async function ensureHome (home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  const st = await stat(home)
  if (!st.isDirectory()) throw new HomeFileError(`home ${home} is not a directory`)
  if ((st.mode & 0o077) !== 0) await chmod(home, 0o700)
}

/** Largest passphrase file we read (a passphrase, not a document). */
export const MAX_PASSPHRASE_FILE = 4096

/**
 * The passphrase that unlocks the identity: --passphrase-file FILE, else env PARLEY_PASSPHRASE.
 * Never taken from argv (other local users can read a process's arguments).
 */
export async function readPassphrase (opts: { file?: string | undefined, env?: NodeJS.ProcessEnv }): Promise<string | undefined> {
  const env = opts.env ?? process.env
  if (opts.file != null) {
    let buf: Buffer
    try {
      const st = await stat(opts.file)
      if (st.size > MAX_PASSPHRASE_FILE) throw new HomeFileError(`passphrase file ${opts.file} is larger than ${MAX_PASSPHRASE_FILE} bytes`, 'ERR_PASSPHRASE_FILE')
      buf = await readFile(opts.file)
    } catch (err) {
      if (err instanceof HomeFileError) throw err
      throw new HomeFileError(`cannot read passphrase file ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 'ERR_PASSPHRASE_FILE')
    }
    // One trailing newline is the file's, not the passphrase's (echo > file).
    return buf.toString('utf8').replace(/\r?\n$/, '')
  }
  const fromEnv = env.PARLEY_PASSPHRASE
  if (fromEnv != null && fromEnv !== '') return fromEnv
  return undefined
}

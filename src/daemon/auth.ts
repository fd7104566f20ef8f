/**
 * The local API's bearer token: 32 random bytes, hex, in home/api.token (0600), rewritten at every
 * daemon start. Only a user who can read the home directory can talk to the daemon.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { HomeFileError } from './errors.js'

export const TOKEN_BYTES = 32
const TOKEN_RE = /^[0-9a-f]{64}$/

export function generateToken (): string {
  return randomBytes(TOKEN_BYTES).toString('hex')
}

/** Writes a file readable by its owner only, atomically (temp file created 0600, then rename). */
export async function writePrivateFile (path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fh = await open(tmp, 'wx', 0o600)
  try {
    await fh.writeFile(data)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await chmod(tmp, 0o600) // in case the umask or the filesystem widened it
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}

export async function writeToken (path: string, token: string): Promise<void> {
  if (!TOKEN_RE.test(token)) throw new HomeFileError('refusing to write a malformed token')
  await writePrivateFile(path, token + '\n')
}

export async function readToken (path: string): Promise<string> {
  let text: string
  try {
    const st = await stat(path)
    if (st.size > 256) throw new HomeFileError(`token file ${path} is malformed`, 'ERR_TOKEN_FILE')
    text = (await readFile(path, 'utf8')).trim()
  } catch (err) {
    if (err instanceof HomeFileError) throw err
    throw new HomeFileError(`cannot read token file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 'ERR_TOKEN_FILE')
  }
  if (!TOKEN_RE.test(text)) throw new HomeFileError(`token file ${path} is malformed`, 'ERR_TOKEN_FILE')
  return text
}

/**
 * Checks an `Authorization: Bearer <token>` header (RFC 6750 §2.1) in constant time: both sides are
 * hashed first so neither the length nor a prefix of the token leaks through timing.
 */
export function checkBearer (header: string | undefined, token: string): boolean {
  if (header == null) return false
  const m = /^Bearer ([^\s]+)$/i.exec(header.trim())
  if (m?.[1] == null) return false
  const a = createHash('sha256').update(m[1]).digest()
  const b = createHash('sha256').update(token).digest()
  return timingSafeEqual(a, b)
}

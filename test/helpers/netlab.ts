/**
 * ../shared/netlab for tests: the script's path, the environment that selects a lab of one's own
 * (NETLAB_PREFIX, so test files never share namespaces), the preflight skip reason (printed, never
 * silent: netlab README §"Using it from a test") and a bounded runner for `up`/`down`/`exec`.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { repoRoot } from './bytes.js'

export const NETLAB = join(repoRoot(), '..', 'shared', 'netlab', 'netlab.sh')

export interface Netlab {
  /** Environment for netlab.sh and everything started through `netlab.sh exec`. */
  env: NodeJS.ProcessEnv
  /** False when the lab can run, else the one-line reason the tests skip (already printed). */
  skip: string | false
  /** Runs `netlab.sh ARGS…` synchronously, bounded by `timeoutMs`. */
  lab: (...args: string[]) => void
}

/** A lab under its own namespace prefix (e.g. 'mb-'); `what` names the skipped tests in the printed reason. */
export function netlab (prefix: string, what: string, timeoutMs = 60_000): Netlab {
  const env = { ...process.env, NETLAB_PREFIX: prefix }
  let skip: string | false
  try {
    execFileSync(NETLAB, ['preflight'], { stdio: 'pipe', env })
    skip = false
  } catch (e) {
    const err = e as { stdout?: Buffer, message: string }
    skip = `netlab unavailable: ${String(err.stdout?.toString() ?? err.message).trim() || err.message}`
  }
  if (skip !== false) console.log(`# skipping ${what}: ${skip}`)
  return {
    env,
    skip,
    lab: (...args: string[]): void => { execFileSync(NETLAB, args, { stdio: 'pipe', env, timeout: timeoutMs }) }
  }
}

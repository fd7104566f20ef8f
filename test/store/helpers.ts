// Shared helpers for the store tests: throwaway homes under os.tmpdir() and cheap scrypt params.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ScryptParams } from '../../src/crypto/primitives/index.js'

/** The smallest cost the store accepts: tests measure behaviour, not KDF strength. */
export const FAST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 }

const te = new TextEncoder()
const td = new TextDecoder()
export const utf8 = (s: string): Uint8Array => te.encode(s)
export const str = (b: Uint8Array | null | undefined): string | null => b == null ? null : td.decode(b)

/** A fresh parent dir; the store home is `<dir>/home` (so the store itself creates it). */
export function tempHome (label: string): { home: string, cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `parley-store-${label}-`))
  return { home: join(dir, 'home'), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

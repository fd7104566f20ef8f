/**
 * Small pure helpers and limits shared by the node's modules (src/core/node.ts and its parts).
 */
import { randomBytes } from 'node:crypto'
import { userInfo } from 'node:os'
import type { MessageStatus } from './api.js'
import { identityKeyForEd25519 } from '../crypto/identity.js'
import { encodePublicKey } from '../crypto/keys.js'
import { ed25519PublicKeyOfPeerId, type AckStatus } from '../net/index.js'
import { LIMITS } from '../wire/index.js'

/** Largest text accepted by send() (UTF-8 bytes); keeps the ciphertext well under the body cap. */
export const MAX_TEXT_BYTES = 64 * 1024
export const MAX_CONTACT_ADDRS = 16
/** Pending sealed receipts kept per peer (oldest dropped beyond this). */
export const MAX_RECEIPT_QUEUE = 512
/** Envelopes sent in one flush (one dm exchange), receipts and messages each. */
export const MAX_ENVELOPES_PER_FLUSH = 64
export const DONE: ReadonlySet<MessageStatus> = new Set(['delivered', 'read'])

export function normPassphrase (p: string | undefined | null): string | null {
  return p == null || p === '' ? null : p
}

const identityKeyCache = new Map<string, Uint8Array>()
const IDENTITY_KEY_CACHE_SIZE = 4096

/**
 * The 33-byte Signal identity key that the PeerId's Ed25519 key determines (src/crypto/identity.ts).
 * A pure function, cached: the point validation (torsion check) costs milliseconds per call.
 */
export function identityKeyOfPeer (peerId: string): Uint8Array {
  const hit = identityKeyCache.get(peerId)
  if (hit != null) return hit.slice()
  const key = encodePublicKey(identityKeyForEd25519(ed25519PublicKeyOfPeerId(peerId)))
  if (identityKeyCache.size >= IDENTITY_KEY_CACHE_SIZE) identityKeyCache.delete(identityKeyCache.keys().next().value!)
  identityKeyCache.set(peerId, key.slice())
  return key
}

export function isPeerIdLike (s: string): boolean {
  try {
    ed25519PublicKeyOfPeerId(s)
    return true
  } catch {
    return false
  }
}

export function defaultProfileName (): string {
  try {
    const n = userInfo().username
    if (n !== '' && n.length <= 64) return n
  } catch {
    // no user database entry
  }
  return 'parley-user'
}

/** A contact-name base from a peer-supplied profile name: printable, trimmed, or null. */
export function displayNameBase (name: string | undefined): string | null {
  if (name == null) return null
  // control and formatting characters (bidi overrides etc.) are never shown from a stranger's input
  const clean = name.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '').trim().slice(0, 48)
  return clean !== '' ? clean : null
}

export function uniqueAddrs (addrs: string[]): string[] {
  return [...new Set(addrs.filter(a => typeof a === 'string' && a.startsWith('/') && a.length <= 512))].slice(0, MAX_CONTACT_ADDRS)
}

export function mergeSignals (timeoutMs: number, ...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any([AbortSignal.timeout(timeoutMs), ...signals.filter((x): x is AbortSignal => x != null)])
}

export function newId (): Uint8Array {
  return new Uint8Array(randomBytes(LIMITS.idBytes))
}

export function fromHexId (s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'))
}

export function reject (reason: string): { status: AckStatus, reason: string } {
  return { status: 'REJECTED', reason }
}

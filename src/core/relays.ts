/**
 * Relay addresses as Parley stores and advertises them (issue 4): a relay — which is also a mailbox —
 * is named by one multiaddr that ends in `/p2p/<relayPeerId>` and does not itself go through a relay.
 * Peer input is untrusted: every list is parsed, deduplicated and capped here before it is stored.
 */
import { multiaddr } from '@multiformats/multiaddr'

/** Most relays a node advertises (invite, DHT record) or stores per contact. */
export const MAX_RELAYS = 8
/** Longest relay multiaddr accepted. */
export const MAX_RELAY_CHARS = 512
const P2P_CODE = 421

/** The relay's PeerId when `addr` is a valid relay address, else null. */
export function relayPeerIdOf (addr: unknown): string | null {
  if (typeof addr !== 'string' || addr.length === 0 || addr.length > MAX_RELAY_CHARS || !addr.startsWith('/')) return null
  try {
    const parts = multiaddr(addr).getComponents()
    const last = parts[parts.length - 1]
    if (last == null || last.code !== P2P_CODE || last.value == null) return null
    if (parts.some(c => c.name === 'p2p-circuit')) return null
    if (parts.filter(c => c.code === P2P_CODE).length !== 1) return null
    return last.value
  } catch {
    return null
  }
}

/** True when every entry is a valid relay address. */
export function isRelayList (v: unknown): v is string[] {
  return Array.isArray(v) && v.every(a => relayPeerIdOf(a) != null)
}

/**
 * `first` then `rest`, invalid entries dropped, duplicates (by address) removed, at most MAX_RELAYS.
 * Order matters: callers put the freshest source first.
 */
export function mergeRelays (first: readonly unknown[], rest: readonly unknown[]): string[] {
  const out: string[] = []
  for (const a of [...first, ...rest]) {
    if (out.length >= MAX_RELAYS) break
    if (relayPeerIdOf(a) == null) continue
    const s = a as string
    if (!out.includes(s)) out.push(s)
  }
  return out
}

/** True when both lists hold the same addresses in the same order. */
export function sameRelays (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

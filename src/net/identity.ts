/**
 * The node's libp2p identity is the user's Ed25519 identity seed (see src/crypto/identity.ts), so a
 * PeerId *is* an Ed25519 public key and the Signal identity key is a function of it.
 */
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { InvalidPeerIdError, NetStateError } from './errors.js'

export const SEED_BYTES = 32

/** @internal libp2p private key of a seed (RFC 8032 §5.1.5 key generation from a 32-byte seed). */
export async function privateKeyFromSeed (seed: Uint8Array): Promise<PrivateKey> {
  if (!(seed instanceof Uint8Array) || seed.byteLength !== SEED_BYTES) throw new NetStateError('identity seed must be 32 bytes')
  return await generateKeyPairFromSeed('Ed25519', seed)
}

/** The PeerId string (base58btc identity multihash) of the user whose identity seed this is. */
export async function peerIdFromSeed (seed: Uint8Array): Promise<string> {
  return peerIdFromPrivateKey(await privateKeyFromSeed(seed)).toString()
}

/**
 * Parsed PeerIds by string (perf, issue 3: every send, ack and connection check parses the peer's id;
 * base58 decoding + multihash + key unmarshalling cost more than the rest of a lookup). Only valid
 * Ed25519 ids are kept; PeerId objects are immutable. Bounded: the oldest entry goes first.
 */
const parsed = new Map<string, PeerId & { type: 'Ed25519' }>()
const MAX_PARSED = 1024

/** @internal Parses a PeerId string; only Ed25519 PeerIds are Parley identities. */
export function parseEd25519PeerId (peerId: string): PeerId & { type: 'Ed25519' } {
  if (typeof peerId !== 'string' || peerId.length === 0 || peerId.length > 128) throw new InvalidPeerIdError('not a PeerId string')
  const hit = parsed.get(peerId)
  if (hit !== undefined) return hit
  const id = parseUncached(peerId)
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value!)
  parsed.set(peerId, id)
  return id
}

function parseUncached (peerId: string): PeerId & { type: 'Ed25519' } {
  let id
  try {
    id = peerIdFromString(peerId)
  } catch (err) {
    throw new InvalidPeerIdError('not a valid PeerId', { cause: err })
  }
  if (id.type !== 'Ed25519' || id.publicKey == null) throw new InvalidPeerIdError(`PeerId is ${id.type}, not Ed25519`)
  return id as PeerId & { type: 'Ed25519' }
}

/** The raw 32-byte Ed25519 public key embedded in an Ed25519 PeerId (identity multihash). */
export function ed25519PublicKeyOfPeerId (peerId: string): Uint8Array {
  const id = parseEd25519PeerId(peerId)
  const raw = id.publicKey?.raw
  if (raw == null || raw.byteLength !== 32) throw new InvalidPeerIdError('PeerId does not embed a 32-byte Ed25519 key')
  return new Uint8Array(raw)
}

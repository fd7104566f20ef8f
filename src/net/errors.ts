import type { Ack } from '../wire/index.js'

/**
 * Typed errors of the network layer. libp2p's own errors never escape src/net: they are wrapped in
 * one of these (the original is kept as `cause` for debugging). Messages never contain secrets.
 */
export abstract class ParleyNetError extends Error {
  abstract readonly code: string
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The peer could not be reached (no address, every dial failed, or it answered with another key). */
export class PeerUnreachableError extends ParleyNetError {
  override readonly name = 'PeerUnreachableError'
  readonly code = 'ERR_PEER_UNREACHABLE'
}

/** A dial, stream open, read or handler did not finish in time (or the caller aborted). */
export class NetTimeoutError extends ParleyNetError {
  override readonly name = 'NetTimeoutError'
  readonly code = 'ERR_NET_TIMEOUT'
}

/** The remote broke the protocol: bad frame, oversize frame, wrong sender, wrong ack, early EOF. */
export class ProtocolViolationError extends ParleyNetError {
  override readonly name = 'ProtocolViolationError'
  readonly code = 'ERR_PROTOCOL_VIOLATION'
}

/** A PeerId string could not be parsed, or is not an Ed25519 PeerId. */
export class InvalidPeerIdError extends ParleyNetError {
  override readonly name = 'InvalidPeerIdError'
  readonly code = 'ERR_INVALID_PEER_ID'
}

/** A DHT peer record failed validation (bad signature, key mismatch, oversize, malformed). */
export class InvalidRecordError extends ParleyNetError {
  override readonly name = 'InvalidRecordError'
  readonly code = 'ERR_INVALID_RECORD'
}

/** The peer answered that it has no prekey bundle to give. */
export class BundleUnavailableError extends ParleyNetError {
  override readonly name = 'BundleUnavailableError'
  readonly code = 'ERR_BUNDLE_UNAVAILABLE'
}

/** The network is not started (or already stopped), or the operation was misused. */
export class NetStateError extends ParleyNetError {
  override readonly name = 'NetStateError'
  readonly code = 'ERR_NET_STATE'
}

/**
 * Sending stopped part-way: `acks` holds the acks received (in order) for the first envelopes; the
 * rest were not acknowledged and must be re-sent (receivers de-duplicate by id).
 */
export class DeliveryIncompleteError extends ParleyNetError {
  override readonly name = 'DeliveryIncompleteError'
  readonly code = 'ERR_DELIVERY_INCOMPLETE'
  constructor (message: string, readonly acks: Ack[], options?: { cause?: unknown }) {
    super(message, options)
  }
}

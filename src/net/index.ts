/**
 * @packageDocumentation
 *
 * Parley's network layer — the ONLY part of Parley that imports libp2p. Everything it exports uses
 * plain data: PeerIds and multiaddrs are strings, envelopes/acks are the plain types of src/wire.
 *
 * - Transports TCP + WebSockets, Noise, Yamux, identify, ping; discovery by mDNS (default on), a
 *   bootstrap list, and a Kademlia DHT on `<dhtPrefix>/kad/1.0.0` (default prefix `/parley`).
 * - `/parley/dm/1.0.0`: length-prefixed Envelope frames (<= 256 KiB, body <= 128 KiB), one Ack per
 *   envelope, sent only after the receiver's handler resolved. Bad frames reset the stream. The sender
 *   keeps ONE long-lived stream per peer (opened lazily, pipelined under a 1 MiB window, closed after
 *   idleMs/2 idle, re-opened when it dies or a direct connection replaces a relayed one); concurrent
 *   calls to one peer are written in call order, each call contiguous; a frame lost with a dead
 *   stream is re-sent once on a new stream (receivers de-duplicate by id).
 * - Relays / NAT (nat.ts): `relayServer: {…}` runs circuit relay v2 (1 h / 64 MiB per relayed
 *   connection by default), a STUN Binding responder (UDP 3478), DHT server mode and a /ws listener;
 *   `relays: [addr]` reserves slots (`/p2p-circuit`), listens on `/webrtc` with ICE servers set to the
 *   relays' STUN only, and upgrades relayed connections to direct WebRTC in the background.
 *   `connections()[i].relayed` and `stats()` report the real path.
 * - `/parley/prekeys/1.0.0`: one BundleRequest, one BundleResponse (bundle bytes are opaque here).
 * - DHT records `/<prefix>/record/<peerId>`: {peerId, seq, payload, addresses, signature}, signed by
 *   the PeerId's Ed25519 key; validator refuses forgeries/oversize, selector picks the highest seq.
 * - Watch-list: contacts are dialed on start and after each disconnect (exponential backoff with
 *   jitter, capped, reset on success), at known addresses, then via DHT findPeer / record.
 * - Every dial, stream open, read and handler is bounded by a timeout and takes an AbortSignal.
 *
 * Errors: PeerUnreachableError, NetTimeoutError, ProtocolViolationError, DeliveryIncompleteError
 * (carries the acks received), BundleUnavailableError, InvalidPeerIdError, InvalidRecordError,
 * NetStateError — all `ParleyNetError` with a `code`; wire errors are MalformedFrameError /
 * OversizeFrameError (src/wire).
 *
 * Events (`addEventListener`): 'peer:online', 'peer:offline', 'peer:addresses' (persist these),
 * 'peer:discovered' (mDNS), 'peer:direct' (a WebRTC upgrade succeeded), 'protocol:violation'.
 *
 * @example
 * ```ts
 * const net = await createParleyNetwork({ seed, listen: ['/ip4/0.0.0.0/tcp/0'] })
 * net.handleEnvelopes(async (from, env) => { await store.save(from, env); return 'OK' })
 * net.handleBundleRequests(async () => myBundleBytes)
 * await net.start()
 * net.watch(contactPeerId, contactLastAddrs)
 * const acks = await net.sendEnvelopes(contactPeerId, [{ id, timestamp: Date.now(), type: 'WHISPER', body }])
 * await net.publishRecord(myBundleBytes)
 * const rec = await other.findRecord(net.peerId) // { payload, addresses, seq } | null
 * ```
 */
export { createParleyNetwork, IDENTIFY_DELAY_MS } from './node.js'
export type { ParleyNetwork, ParleyNetworkInit, ParleyNetworkEvents, ConnectionInfo, FoundRecord, NetStats, RelayStats, TypedEventTarget } from './node.js'
export type { EnvelopeHandler } from './dm.js'
export type { BundleHandler } from './prekeys.js'
export type { WatchedPeer } from './reconnect.js'
export { DM_PROTOCOL } from './dm.js'
export { DEFAULT_RELAY_LIMITS, DEFAULT_STUN_PORT, type RelayServerOptions } from './nat.js'
export { PREKEYS_PROTOCOL } from './prekeys.js'
export { DEFAULT_GROUP_TRANSPORT, GROUP_SCORE_THRESHOLDS, peerIdOfEd25519Key, type GroupTransport, type GroupTransportOptions, type GroupTransportStats, type GroupValidation, type GroupValidator } from './groups.js'
export { peerIdFromSeed, ed25519PublicKeyOfPeerId } from './identity.js'
export { DEFAULT_TIMEOUTS, DEFAULT_RECONNECT, backoffDelay, type NetTimeouts, type ReconnectOptions } from './options.js'
export {
  ParleyNetError, PeerUnreachableError, NetTimeoutError, ProtocolViolationError, DeliveryIncompleteError,
  BundleUnavailableError, InvalidPeerIdError, InvalidRecordError, NetStateError
} from './errors.js'
export type { Envelope, Ack, AckStatus, EnvelopeType } from '../wire/index.js'

/**
 * Typed errors of the Parley node (src/core). Each is a ParleyError with a stable `code` that the
 * local API and the CLI surface as one line. Messages never contain key material or message text.
 */
import { ParleyError } from './api.js'

/** The home has no identity yet (`parley init` first). Code understood by src/daemon/node-module.ts. */
export class NoIdentityError extends ParleyError {
  override readonly name = 'NoIdentityError'
  constructor (home: string) { super('ERR_NO_IDENTITY', `no identity in ${home} — run \`parley init\` first`) }
}

/** initIdentity refuses to overwrite an existing identity. */
export class IdentityExistsError extends ParleyError {
  override readonly name = 'IdentityExistsError'
  constructor (home: string) { super('ERR_IDENTITY_EXISTS', `an identity already exists in ${home}; refusing to overwrite it`) }
}

/** PEER names no contact (and is not a PeerId). */
export class UnknownContactError extends ParleyError {
  override readonly name = 'UnknownContactError'
  constructor (peer: string) { super('ERR_UNKNOWN_CONTACT', `no contact named or with PeerId "${peer.slice(0, 128)}"`) }
}

/** The contact's identity key changed and the change has not been accepted: nothing is sent. */
export class KeyChangePendingError extends ParleyError {
  override readonly name = 'KeyChangePendingError'
  constructor (peerId: string) { super('ERR_KEY_CHANGED', `the identity key of ${peerId} changed; review it and accept the change first`) }
}

/** A wait (send --wait, a bundle fetch, …) ran out of time. */
export class TimeoutError extends ParleyError {
  override readonly name = 'TimeoutError'
  constructor (message: string, readonly details?: Record<string, unknown>) { super('ERR_TIMEOUT', message) }
}

/** The message is 'failed' (refused by the peer or undeliverable). */
export class SendFailedError extends ParleyError {
  override readonly name = 'SendFailedError'
  constructor (id: string, readonly details: { id: string, status: string, reason?: string }) { super('ERR_SEND_FAILED', `message ${id} failed${details.reason != null ? `: ${details.reason}` : ''}`) }
}

/** No prekey bundle of the peer could be obtained (offline and nothing in the DHT), or it was invalid. */
export class NoBundleError extends ParleyError {
  override readonly name = 'NoBundleError'
  constructor (message: string, options?: { cause?: unknown }) { super('ERR_NO_BUNDLE', message, options) }
}

/** Bad input from the local user (empty text, oversize, own PeerId, …). */
export class InvalidArgumentError extends ParleyError {
  override readonly name = 'InvalidArgumentError'
  constructor (message: string) { super('ERR_INVALID_ARGUMENT', message) }
}

/** The node was stopped. */
export class NodeStoppedError extends ParleyError {
  override readonly name = 'NodeStoppedError'
  constructor () { super('ERR_NODE_STOPPED', 'the node is stopped') }
}

// -- issue 5: groups ----------------------------------------------------------------------------------

/** GROUP names no group of ours (neither a group id nor a unique group name). */
export class UnknownGroupError extends ParleyError {
  override readonly name = 'UnknownGroupError'
  constructor (group: string, why = 'no group with that id or name') { super('ERR_UNKNOWN_GROUP', `${why}: "${group.slice(0, 128)}"`) }
}

/** We were removed from the group or left it: its history stays readable, nothing new can be sent. */
export class GroupInactiveError extends ParleyError {
  override readonly name = 'GroupInactiveError'
  constructor (groupId: string) { super('ERR_GROUP_INACTIVE', `we are no longer a member of group ${groupId}`) }
}

/** The membership log refuses the change (not an admin, already a member, removing the creator, …). */
export class GroupPermissionError extends ParleyError {
  override readonly name = 'GroupPermissionError'
  constructor (message: string, options?: { cause?: unknown }) { super('ERR_GROUP_PERMISSION', message, options) }
}

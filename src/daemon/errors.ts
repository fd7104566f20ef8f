/**
 * Typed errors of the daemon and its local API. Each carries a stable `code` that the API puts in
 * `{ error: { code, message } }` and the CLI prints as one line. Messages never contain the token.
 */
import { ParleyError } from '../core/api.js'

/** No daemon answers for this home (no daemon.json, a dead pid, or nothing listening). */
export class NoDaemonError extends ParleyError {
  override readonly name = 'NoDaemonError'
  constructor (readonly home: string) {
    super('ERR_NO_DAEMON', `no daemon running for home ${home} — start \`parley daemon\``)
  }
}

/** A daemon (or an in-process chat node) already serves this home. */
export class DaemonRunningError extends ParleyError {
  override readonly name = 'DaemonRunningError'
  constructor (home: string, pid: number | null) {
    super('ERR_DAEMON_RUNNING', `a daemon${pid != null ? ` (pid ${pid})` : ''} already runs for home ${home}`)
  }
}

/** The local API refused the token (or none was sent). */
export class UnauthorizedError extends ParleyError {
  override readonly name = 'UnauthorizedError'
  constructor (message = 'unauthorized: missing or wrong API token') {
    super('ERR_UNAUTHORIZED', message)
  }
}

/** A request or response body exceeded its size cap. */
export class BodyTooLargeError extends ParleyError {
  override readonly name = 'BodyTooLargeError'
  constructor (limit: number) {
    super('ERR_BODY_TOO_LARGE', `body exceeds ${limit} bytes`)
  }
}

/** A local API call (or a body read) did not finish in time. */
export class ApiTimeoutError extends ParleyError {
  override readonly name = 'ApiTimeoutError'
  constructor (message = 'local API request timed out') {
    super('ERR_TIMEOUT', message)
  }
}

/** The request itself is malformed (bad JSON, missing field, unknown route). */
export class BadRequestError extends ParleyError {
  override readonly name = 'BadRequestError'
  constructor (message: string, code = 'ERR_BAD_REQUEST') {
    super(code, message)
  }
}

/** The daemon answered with an error document; `code` is the daemon's code. */
export class RemoteApiError extends ParleyError {
  override readonly name = 'RemoteApiError'
  constructor (code: string, message: string, readonly status: number, readonly details?: Record<string, unknown>) {
    super(code, message)
  }
}

/** A home-directory file (token, daemon.json, passphrase file) is missing, malformed or unsafe. */
export class HomeFileError extends ParleyError {
  override readonly name = 'HomeFileError'
  constructor (message: string, code = 'ERR_HOME_FILE') {
    super(code, message)
  }
}

/** `send --wait` gave up before a delivery receipt; the message stays queued and will still go out. */
export class DeliveryTimeoutError extends ParleyError {
  override readonly name = 'DeliveryTimeoutError'
  readonly details: { id: string, status: string }
  constructor (id: string, status: string, seconds: number) {
    super('ERR_TIMEOUT', `message ${id} not delivered within ${seconds} s; it stays ${status} and will be retried`)
    this.details = { id, status }
  }
}

/** The message cannot be delivered (status 'failed', e.g. an unaccepted identity-key change). */
export class DeliveryFailedError extends ParleyError {
  override readonly name = 'DeliveryFailedError'
  readonly details: { id: string, status: string }
  constructor (id: string) {
    super('ERR_SEND_FAILED', `message ${id} failed (has the contact's identity key changed? see \`parley contact list\`)`)
    this.details = { id, status: 'failed' }
  }
}

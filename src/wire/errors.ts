/**
 * Typed errors of the wire layer: a frame that cannot be decoded, breaks a semantic rule, or exceeds
 * a hard size cap. Messages never contain payload bytes.
 */
export abstract class ParleyWireError extends Error {
  abstract readonly code: string
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The bytes are not a valid protobuf message of the expected type, or a field breaks a rule. */
export class MalformedFrameError extends ParleyWireError {
  override readonly name = 'MalformedFrameError'
  readonly code = 'ERR_MALFORMED_FRAME'
}

/** A frame, field or repeated field exceeds its hard cap. */
export class OversizeFrameError extends ParleyWireError {
  override readonly name = 'OversizeFrameError'
  readonly code = 'ERR_FRAME_TOO_LARGE'
}

/**
 * Parley's cryptographic core: identities, prekeys, X3DH/PQXDH, the Double Ratchet, Signal message
 * formats and sessions. Pure TypeScript over `primitives` (node:crypto in Node, WebCrypto in
 * browsers) plus @noble/* where no primitive exists. Imports nothing of ours outside src/crypto.
 *
 * Session API (all functions return new plain-data values and never mutate their inputs):
 *
 * - `initiateSession({ identity, registrationId, bundle, mode?: 'pqxdh' | 'classic', record?, signal? })`
 *   -> `SessionRecord`. Verifies the bundle first. 'pqxdh' (default) needs the bundle's Kyber prekey.
 * - `encryptMessage(record, plaintext)` -> `{ record, message: { type: 'prekey' | 'whisper', body } }`.
 * - `decryptMessage({ identity, registrationId?, record?, message, preKeys?, acceptClassic?, signal? })`
 *   -> `{ record, plaintext, remoteIdentityKey, consumedOneTimePreKeyId?, consumedKyberPreKeyId?, newSession }`.
 *   Persist `record` and delete the consumed prekeys in one transaction; on any error keep the old record.
 *   Trusting `remoteIdentityKey` is the caller's decision; a prekey message from an identity other
 *   than the record's throws UntrustedIdentityError.
 * - `serializeSessionRecord(record)` / `deserializeSessionRecord(bytes)` (versioned, size-capped).
 *
 * Errors are typed (errors.ts): DuplicateMessageError, BadMacError, TooManySkippedError,
 * UntrustedIdentityError, BadSignatureError, MalformedInputError, MissingPreKeyError, NoSessionError.
 *
 * @example
 * ```ts
 * const alice = await generateIdentity()
 * let record = await initiateSession({ identity: alice, registrationId: 1, bundle: bobsBundle })
 * const { record: next, message } = await encryptMessage(record, utf8.encode('hi'))
 * record = next // save, then send `message`
 * ```
 *
 * @packageDocumentation
 */
export * from './errors.js'
export * from './bytes.js'
export * from './primitives/index.js'
export * from './identity.js'
export * from './keys.js'
export * from './kem.js'
export * from './prekeys.js'
export * from './fingerprint.js'
export * from './keyfile.js'
export * from './message.js'
export * from './x3dh.js'
export * from './pqxdh.js'
export * from './ratchet.js'
export * from './session.js'
export * from './sender-keys.js'

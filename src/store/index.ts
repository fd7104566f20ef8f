/**
 * @packageDocumentation
 * Parley's storage layer: async store interfaces per concern and their SQLite implementation on
 * node:sqlite (Node-only). See src/store/README.md for the design (schema, WAL, encryption at rest,
 * units of work).
 *
 * @example
 * ```ts
 * const store = await openStore({ home, passphrase })
 * const { record, envelope } = await ratchetEncrypt(...) // async crypto first
 * await store.write((tx) => {                           // then one atomic unit
 *   tx.putSession(peerId, record)
 *   tx.insertMessage({ id, peerId, direction: 'out', body, sentAt: Date.now(), status: 'queued' })
 *   tx.enqueueOutbox({ messageId: id, peerId, envelope })
 * })
 * await store.close()
 * ```
 */
export * from './types.js'
export * from './errors.js'
export * from './groups.js'
export { openStore, DB_FILE, type OpenStoreOptions } from './sqlite/open.js'
export { SqliteStore, STORE_LIMITS } from './sqlite/store.js'
export { MIGRATIONS, LATEST_SCHEMA_VERSION, type Migration } from './sqlite/schema.js'
export { DEFAULT_SCRYPT, SCRYPT_LIMITS } from './sqlite/crypt.js'

/**
 * @packageDocumentation
 *
 * Parley mailboxes: store-and-forward of sealed envelopes for offline recipients
 * (`/parley/mailbox/1.0.0`, spec in docs/PROTOCOL.md Part 4). A mailbox stores opaque ciphertext under
 * unlinkable routing tags; it learns neither the plaintext nor the sender. Recipients fetch and
 * acknowledge by signing with the owner key whose hash is the tag.
 *
 * @example
 * ```ts
 * // mailbox host (e.g. a relay node)
 * const svc = new MailboxService(mailboxServiceComponents(libp2p), { home })
 * await svc.start()
 * // recipient: derive a per-contact tag and hand it to the contact (invite / DHT record)
 * const key = await deriveMailboxKey(secret, contactPeerId, epochOf(Date.now(), WEEK))
 * // sender (ideally from an ephemeral libp2p node): deposit
 * await new MailboxClient(mailboxClientComponents(ephemeral)).deposit(mailboxAddr, { tag: key.tag, clientId, sealed })
 * // recipient: fetch, process durably, then ack
 * const items = await client.fetchAll(mailboxAddr, [key]); await client.ack(mailboxAddr, [key], items.map(i => i.id))
 * ```
 */
import type { Libp2p } from '@libp2p/interface'
import type { MailboxClientComponents } from './client.js'
import type { MailboxServiceComponents } from './service.js'

export { MailboxService, type MailboxServiceInit, type MailboxServiceComponents, type MailboxServiceStats } from './service.js'
export { MailboxClient, type MailboxClientInit, type MailboxClientComponents, type MailboxTarget, type DepositInput, type MailboxItem, type FetchPage, type BatchDepositResult } from './client.js'
export { MailboxDb, DEFAULT_MAILBOX_LIMITS, MAILBOX_DB_FILE, type MailboxLimits, type OpenMailboxDbOptions, type StoredItem, type DepositResult } from './db.js'
export { deriveMailboxKey, newMailboxSecret, tagOfOwnerKey, epochOf, authTranscript, signAuth, AuthOp, TAG_BYTES, type MailboxKey } from './keys.js'
export { MAILBOX_PROTOCOL, MAILBOX_LIMITS, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES } from './codec.js'
export { DEFAULT_RATE_LIMIT, TokenBuckets, type RateLimitOptions } from './rate-limit.js'
export * from './errors.js'
export { sealItem, openItem, SEAL_VERSION, type OpenedItem } from './seal.js'
export { createEphemeralMailboxClient, type EphemeralMailboxClient } from './ephemeral.js'

/** The service's components from a libp2p node. */
export function mailboxServiceComponents (node: Libp2p): MailboxServiceComponents {
  return {
    peerId: node.peerId.toString(),
    handle: async (protocol, handler, options) => { await node.handle(protocol, handler, options) },
    unhandle: async (protocol) => { await node.unhandle(protocol) }
  }
}

/** The client's components from a libp2p node. */
export function mailboxClientComponents (node: Libp2p): MailboxClientComponents {
  return {
    peerId: node.peerId.toString(),
    dial: async (target, options) => await node.dial(target, options)
  }
}

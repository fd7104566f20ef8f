/**
 * A dial-only libp2p node with a throwaway identity for talking to mailboxes (docs/PROTOCOL.md
 * Part 4 §8): deposits and fetches then carry a fresh PeerId instead of the user's, so a mailbox
 * cannot name who deposited (or link the fetcher to its chat PeerId through the connection).
 * TCP and WebSockets, Noise, Yamux; no listener, no discovery, no DHT.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { MailboxClient, type MailboxClientInit } from './client.js'
import { MailboxUnreachableError } from './errors.js'

export interface EphemeralMailboxClient {
  /** The client; targets are multiaddr strings ending in /p2p/<mailboxPeerId>. */
  readonly client: MailboxClient
  /** The throwaway PeerId the mailboxes see. */
  readonly peerId: string
  /** Opens (or reuses) a connection to a mailbox ahead of use. */
  dial: (target: ReturnType<typeof multiaddr>, options?: { signal?: AbortSignal }) => Promise<void>
  /** Parses a mailbox address (throws MailboxUnreachableError for an unusable one). */
  target: (addr: string) => ReturnType<typeof multiaddr>
  stop: () => Promise<void>
}

export async function createEphemeralMailboxClient (init: MailboxClientInit & { dialTimeoutMs?: number } = {}): Promise<EphemeralMailboxClient> {
  const node: Libp2p = await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { dialTimeout: init.dialTimeoutMs ?? 10_000, maxConnections: 64 }
  })
  await node.start()
  return {
    client: new MailboxClient({ peerId: node.peerId.toString(), dial: async (target, options) => await node.dial(target, options) }, init),
    peerId: node.peerId.toString(),
    dial: async (target, options = {}) => { await node.dial(target, options) },
    target: (addr: string) => {
      try {
        return multiaddr(addr)
      } catch (err) {
        throw new MailboxUnreachableError(`unusable mailbox address ${addr.slice(0, 80)}`, { cause: err })
      }
    },
    stop: async () => { await node.stop() }
  }
}

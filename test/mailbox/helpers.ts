// Shared helpers for the mailbox tests: real libp2p nodes (TCP + Noise + Yamux) on 127.0.0.1 only,
// real SQLite files in fresh temporary directories.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import {
  MailboxClient, MailboxService, deriveMailboxKey, mailboxClientComponents, mailboxServiceComponents, newMailboxSecret,
  type MailboxClientInit, type MailboxKey, type MailboxServiceInit
} from '../../src/mailbox/index.js'

export async function makeNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Many local nodes on 127.0.0.1 trip the inbound connection threshold (STACK-NOTES): allow loopback.
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8'], inboundConnectionThreshold: 1000, dialTimeout: 10_000 }
  })
}

export function tempHome (): string {
  return mkdtempSync(join(tmpdir(), 'parley-mailbox-'))
}

export interface Harness {
  host: Libp2p
  service: MailboxService
  addr: Multiaddr[]
  home: string
  clients: Libp2p[]
  client: (init?: MailboxClientInit) => Promise<MailboxClient>
  restart: (over?: Partial<MailboxServiceInit>) => Promise<void>
  close: () => Promise<void>
}

/** A mailbox host with its own SQLite file, and a factory for client nodes (each its own PeerId). */
export async function harness (init: Partial<MailboxServiceInit> = {}): Promise<Harness> {
  const home = init.home ?? tempHome()
  const host = await makeNode()
  const h: Harness = {
    host,
    home,
    service: new MailboxService(mailboxServiceComponents(host), { sweepIntervalMs: 0, readTimeoutMs: 5_000, ...init, home }),
    addr: host.getMultiaddrs(),
    clients: [],
    client: async (cinit = {}) => {
      const n = await makeNode()
      h.clients.push(n)
      return new MailboxClient(mailboxClientComponents(n), { dialTimeoutMs: 10_000, readTimeoutMs: 10_000, ...cinit })
    },
    restart: async (over = {}) => {
      await h.service.stop()
      h.service = new MailboxService(mailboxServiceComponents(host), { sweepIntervalMs: 0, readTimeoutMs: 5_000, ...init, ...over, home })
      await h.service.start()
    },
    close: async () => {
      await Promise.allSettled(h.clients.map(async c => { await c.stop() }))
      await h.service.stop().catch(() => {})
      await host.stop()
    }
  }
  await h.service.start()
  return h
}

export async function recipientKey (label = 'contact'): Promise<MailboxKey> {
  return await deriveMailboxKey(newMailboxSecret(), label, 1)
}

export function clientId (): Uint8Array {
  return new Uint8Array(randomBytes(16))
}

export function sealed (n = 100): Uint8Array {
  return new Uint8Array(randomBytes(n))
}

/** Polls `cond` until true or `ms` elapse (generous: loaded CI). */
export async function until (cond: () => boolean | Promise<boolean>, ms = 20_000, step = 25): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise(resolve => setTimeout(resolve, step))
  }
  throw new Error('condition not met in time')
}

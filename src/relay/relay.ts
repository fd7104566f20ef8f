/**
 * The relay node (`parley relay`): one Parley network node for a public host, composed of
 *
 * - circuit relay v2 server with chat-sized limits (src/net/nat.ts), so peers behind NAT reserve a
 *   slot and are reachable at `<relay>/p2p-circuit/p2p/<peer>`;
 * - a STUN Binding responder (src/net/stun.ts) for WebRTC ICE between such peers;
 * - a Kademlia DHT server under Parley's prefix with the signed-record validator/selector
 *   (src/net/record.ts), so it stores and serves Parley records while their owners are offline;
 * - AutoNAT (answers dial-back requests of Parley nodes);
 * - the mailbox service (src/mailbox/service.ts) with its SQLite file in the relay's home;
 * - a WebSocket listener for browsers (added when `listen` has none).
 *
 * Its identity is an ordinary Parley identity kept in the home's store (created on first start), so
 * the relay's PeerId survives restarts and `parley id` works on its home. It logs one line per
 * notable event (never secrets, never message metadata beyond sizes) and keeps metrics (see
 * RelayMetrics) for `parley status --json` and the periodic / SIGUSR1 metrics line.
 */
import { generateIdentity, type IdentityKeyPair } from '../crypto/identity.js'
import { openIdentity, sealIdentity } from '../crypto/keyfile.js'
import { encodePublicKey } from '../crypto/keys.js'
import { toHex } from '../crypto/bytes.js'
import { openStore } from '../store/index.js'
import { createParleyNetwork, type ConnectionInfo, type ParleyNetwork } from '../net/index.js'
import { MailboxService } from '../mailbox/index.js'
import type { RelayConfig } from './config.js'

/** Profile name stored with a relay's identity. */
export const RELAY_PROFILE_NAME = 'parley-relay'

export interface StartRelayOptions {
  home: string
  config: RelayConfig
  /** Unlocks (or, on first start, encrypts) the relay's identity at rest. */
  passphrase?: string
  /** One line per notable event (no trailing newline). @default no logging */
  log?: (line: string) => void
  signal?: AbortSignal
}

export interface RelayMetrics {
  peerId: string
  uptimeMs: number
  /** Open connections (all peers), and how many of them are themselves relayed. */
  connections: number
  relayedConnections: number
  /** Reservations currently held by clients on this relay. */
  reservations: number
  /** STUN Binding requests answered; the STUN UDP port (null: off). */
  stunAnswered: number
  stunPort: number | null
  /** Peers in the DHT routing table. */
  dhtPeers: number
  /** AutoNAT verdict for this relay's own addresses. */
  reachability: 'public' | 'private'
  /** null when the mailbox is disabled. */
  mailbox: null | {
    items: number
    bytes: number
    deposits: number
    fetches: number
    acked: number
    refusedFull: number
    rateLimited: number
    refusedAuth: number
    malformed: number
  }
}

export interface RunningRelay {
  peerId: string
  identityKey: string
  name: string
  addresses: () => string[]
  connections: () => ConnectionInfo[]
  metrics: () => RelayMetrics
  /** Stops the mailbox, then the network. Idempotent. */
  stop: () => Promise<void>
}

/**
 * The relay's identity from its home's store, created (and sealed with `passphrase`, if any) when
 * the home has none. A home made by `parley init` works too: its identity is reused.
 */
export async function loadOrCreateRelayIdentity (home: string, passphrase?: string, signal?: AbortSignal): Promise<{ identity: IdentityKeyPair, name: string, created: boolean }> {
  const pass = passphrase == null || passphrase === '' ? null : passphrase
  const store = await openStore({ home, passphrase: pass, ...(signal != null ? { signal } : {}) })
  try {
    const stored = await store.getIdentity()
    if (stored != null) {
      return { identity: await openIdentity(stored.sealed, pass, signal != null ? { signal } : {}), name: stored.profileName, created: false }
    }
    const identity = await generateIdentity()
    const sealed = await sealIdentity(identity, pass, signal != null ? { signal } : {})
    let created = true
    let name = RELAY_PROFILE_NAME
    await store.write((tx) => {
      // re-checked under the write lock: never overwrite an identity
      const again = tx.getIdentity()
      if (again != null) { created = false; name = again.profileName; return }
      tx.putIdentity({ sealed, profileName: RELAY_PROFILE_NAME })
    })
    if (!created) {
      const again = await store.getIdentity()
      return { identity: await openIdentity(again!.sealed, pass, signal != null ? { signal } : {}), name, created }
    }
    return { identity, name, created }
  } finally {
    await store.close()
  }
}

function isLoopbackListen (addrs: string[]): boolean {
  return addrs.length > 0 && addrs.every(a => a.startsWith('/ip4/127.') || a.startsWith('/ip6/::1/'))
}

function shortId (peerId: string): string {
  return peerId.length > 16 ? `…${peerId.slice(-8)}` : peerId
}

export async function startRelay (opts: StartRelayOptions): Promise<RunningRelay> {
  const { config: c } = opts
  const log = opts.log ?? (() => {})
  const { identity, name } = await loadOrCreateRelayIdentity(opts.home, opts.passphrase, opts.signal)
  opts.signal?.throwIfAborted()
  const net: ParleyNetwork = await createParleyNetwork({
    seed: identity.seed,
    listen: c.listen,
    announce: c.announce,
    bootstrap: c.bootstrap,
    mdns: false,
    dhtPrefix: c.dhtPrefix,
    dhtServer: true,
    maxConnections: c.maxConnections,
    // A relay bound to loopback only is a test or a local setup: many local clients must not trip the
    // connection manager's per-host inbound rate limit.
    allowLoopbackFlood: isLoopbackListen(c.listen),
    relayServer: {
      maxReservations: c.relay.maxReservations,
      reservationTtlMs: c.relay.reservationTtlMs,
      limits: { durationMs: c.relay.durationMs, dataBytes: c.relay.dataBytes },
      stun: c.stun === false ? false : { host: c.stun.host, port: c.stun.port }
    }
  })
  let mailbox: MailboxService | null = null
  const startedAt = Date.now()
  const timers: NodeJS.Timeout[] = []
  try {
    await net.start()
    if (c.mailbox.enabled) {
      mailbox = new MailboxService({
        peerId: net.peerId,
        handle: async (protocol, handler, options) => { await net.handleProtocol(protocol, handler, options) },
        unhandle: async (protocol) => { await net.unhandleProtocol(protocol) }
      }, {
        home: opts.home,
        limits: { maxBytesPerTag: c.mailbox.quotaBytes, maxItemsPerTag: c.mailbox.quotaItems, maxTotalBytes: c.mailbox.totalBytes, retentionMs: c.mailbox.retentionMs },
        rateLimit: { burst: c.mailbox.rateBurst, perSecond: c.mailbox.ratePerSecond },
        onViolation: (peerId, err) => { log(`mailbox: protocol violation by ${shortId(peerId)}: ${err.message}`) }
      })
      await mailbox.start()
    }
  } catch (err) {
    await mailbox?.stop().catch(() => {})
    await net.stop().catch(() => {})
    throw err
  }

  // -- logging: one line per notable event ---------------------------------------------------------
  net.addEventListener('peer:online', (e) => { log(`peer connected ${e.detail.peerId}`) })
  net.addEventListener('peer:offline', (e) => { log(`peer disconnected ${e.detail.peerId}`) })
  net.addEventListener('protocol:violation', (e) => { log(`protocol violation by ${e.detail.peerId} on ${e.detail.protocol}: ${e.detail.reason}`) })
  // Reservations and mailbox counters have no events of their own: changes are logged as they are seen.
  let lastReservations = 0
  let lastMailbox = { deposits: 0, fetches: 0, acked: 0, refusedFull: 0, rateLimited: 0, refusedAuth: 0, malformed: 0 }
  const watch = setInterval(() => {
    const m = metrics()
    if (m.reservations !== lastReservations) {
      log(`reservations ${lastReservations} -> ${m.reservations}`)
      lastReservations = m.reservations
    }
    if (m.mailbox != null) {
      const b = m.mailbox
      const d = {
        deposits: b.deposits - lastMailbox.deposits,
        fetches: b.fetches - lastMailbox.fetches,
        acked: b.acked - lastMailbox.acked,
        refusedFull: b.refusedFull - lastMailbox.refusedFull,
        rateLimited: b.rateLimited - lastMailbox.rateLimited,
        refusedAuth: b.refusedAuth - lastMailbox.refusedAuth,
        malformed: b.malformed - lastMailbox.malformed
      }
      const parts = Object.entries(d).filter(([, v]) => v > 0).map(([k, v]) => `${k}+${v}`)
      if (parts.length > 0) log(`mailbox ${parts.join(' ')} (now ${b.items} items, ${b.bytes} bytes)`)
      lastMailbox = { deposits: b.deposits, fetches: b.fetches, acked: b.acked, refusedFull: b.refusedFull, rateLimited: b.rateLimited, refusedAuth: b.refusedAuth, malformed: b.malformed }
    }
  }, 1000)
  watch.unref()
  timers.push(watch)

  function metrics (): RelayMetrics {
    const s = net.stats()
    const mb = mailbox?.stats()
    return {
      peerId: net.peerId,
      uptimeMs: Date.now() - startedAt,
      connections: s.connections,
      relayedConnections: s.relayedConnections,
      reservations: s.relay?.reservations ?? 0,
      stunAnswered: s.relay?.stunAnswered ?? 0,
      stunPort: s.relay?.stunPort ?? null,
      dhtPeers: (net as unknown as { dhtPeers?: () => number }).dhtPeers?.() ?? 0,
      reachability: net.reachability(),
      mailbox: mb == null
        ? null
        : {
            items: mb.items,
            bytes: mb.bytes,
            deposits: mb.deposits,
            fetches: mb.fetches,
            acked: mb.acked,
            refusedFull: mb.refusedFull,
            rateLimited: mb.rateLimited,
            refusedAuth: mb.refusedAuth,
            malformed: mb.malformed
          }
    }
  }

  let stopping: Promise<void> | null = null
  return {
    peerId: net.peerId,
    identityKey: toHex(encodePublicKey(identity.dhPublicKey)),
    name,
    addresses: () => net.addresses(),
    connections: () => net.connections(),
    metrics,
    stop: async () => {
      stopping ??= (async () => {
        for (const t of timers) clearInterval(t)
        await mailbox?.stop().catch(() => {})
        await net.stop()
      })()
      await stopping
    }
  }
}

/** One `metrics …` log line (no secrets: counts and sizes only). */
export function formatMetricsLine (m: RelayMetrics): string {
  const mb = m.mailbox == null ? 'mailbox off' : `mailbox ${m.mailbox.items} items ${m.mailbox.bytes} bytes (deposits ${m.mailbox.deposits}, fetches ${m.mailbox.fetches}, acked ${m.mailbox.acked}, refused full ${m.mailbox.refusedFull}, rate-limited ${m.mailbox.rateLimited})`
  return `metrics connections ${m.connections} (relayed ${m.relayedConnections}) reservations ${m.reservations} stun ${m.stunAnswered} dht-peers ${m.dhtPeers} reachability ${m.reachability} ${mb} uptime ${Math.round(m.uptimeMs / 1000)}s`
}

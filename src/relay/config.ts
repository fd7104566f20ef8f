/**
 * Configuration of a relay node (`parley relay`): defaults, an optional JSON config file, command-line
 * flags on top (flags win). Everything is checked here, before anything listens: a bad value is a
 * RelayConfigError naming the field.
 *
 * Config file (JSON object, every field optional, at most MAX_CONFIG_BYTES):
 *
 *   {
 *     "listen": ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/tcp/4002/ws"],
 *     "announce": ["/dns4/relay.example.org/tcp/4001", "/dns4/relay.example.org/tcp/4002/ws"],
 *     "bootstrap": [],
 *     "dhtPrefix": "/parley",
 *     "maxConnections": 1024,
 *     "relay": { "maxReservations": 128, "reservationTtlSeconds": 7200, "durationSeconds": 3600, "dataMiB": 64 },
 *     "stun": { "host": "0.0.0.0", "port": 3478 },          // or false
 *     "mailbox": { "enabled": true, "quotaMiB": 16, "quotaItems": 2000, "totalMiB": 1024,
 *                  "retentionDays": 30, "rateBurst": 200, "ratePerSecond": 20 },
 *     "metricsIntervalSeconds": 60,
 *     "api": "127.0.0.1:7001"
 *   }
 */
import { readFile, stat } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { ParleyError } from '../core/api.js'

/** Largest config file read. */
export const MAX_CONFIG_BYTES = 64 * 1024
/** Most entries in any address list. */
const MAX_ADDRS = 32

export class RelayConfigError extends ParleyError {
  override readonly name = 'RelayConfigError'
  constructor (message: string, options?: ErrorOptions) { super('ERR_RELAY_CONFIG', message, options) }
}

export interface RelayMailboxConfig {
  enabled: boolean
  /** Per-recipient quota, bytes. */
  quotaBytes: number
  /** Per-recipient quota, items. */
  quotaItems: number
  /** Whole-mailbox cap, bytes. */
  totalBytes: number
  retentionMs: number
  rateBurst: number
  ratePerSecond: number
}

export interface RelayConfig {
  listen: string[]
  announce: string[]
  bootstrap: string[]
  dhtPrefix: string
  maxConnections: number
  relay: { maxReservations: number, reservationTtlMs: number, durationMs: number, dataBytes: number }
  stun: { host: string, port: number } | false
  mailbox: RelayMailboxConfig
  /** 0: no periodic metrics line. */
  metricsIntervalMs: number
  /** Local API on loopback TCP `127.0.0.1:PORT` instead of HOME/api.sock. */
  api?: string
}

export const DEFAULT_RELAY_CONFIG: Readonly<RelayConfig> = Object.freeze({
  listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'],
  announce: [],
  bootstrap: [],
  dhtPrefix: '/parley',
  maxConnections: 1024,
  // Chat-sized circuit limits (src/net/nat.ts): a relayed conversation lasts, the operator's cost is bounded.
  relay: { maxReservations: 128, reservationTtlMs: 7_200_000, durationMs: 3_600_000, dataBytes: 64 * 1024 * 1024 },
  stun: { host: '0.0.0.0', port: 3478 },
  mailbox: {
    enabled: true,
    quotaBytes: 16 * 1024 * 1024,
    quotaItems: 2000,
    totalBytes: 1024 * 1024 * 1024,
    retentionMs: 30 * 24 * 3600_000,
    rateBurst: 200,
    ratePerSecond: 20
  },
  metricsIntervalMs: 60_000
})

/** Flag values as the CLI parser gives them (strings, booleans, lists). */
export type RelayFlags = Record<string, string | boolean | string[] | undefined>

const MiB = 1024 * 1024

function num (v: unknown, what: string, min: number, max: number, integer = true): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new RelayConfigError(`${what} must be a${integer ? 'n integer' : ' number'} in ${min}..${max}`)
  }
  return n
}

function addrList (v: unknown, what: string, opts: { p2p?: boolean } = {}): string[] {
  if (!Array.isArray(v) || v.length > MAX_ADDRS) throw new RelayConfigError(`${what} must be a list of at most ${MAX_ADDRS} multiaddrs`)
  return v.map((a) => {
    if (typeof a !== 'string' || a.length === 0 || a.length > 512) throw new RelayConfigError(`${what}: not a multiaddr: ${JSON.stringify(a)}`)
    let ma
    try {
      ma = multiaddr(a)
    } catch (err) {
      throw new RelayConfigError(`${what}: not a multiaddr: ${a}`, { cause: err })
    }
    if (opts.p2p === true && ma.getComponents().at(-1)?.name !== 'p2p') throw new RelayConfigError(`${what}: ${a} must end in /p2p/<peerId>`)
    return a
  })
}

function obj (v: unknown, what: string): Record<string, unknown> {
  if (v == null || typeof v !== 'object' || Array.isArray(v)) throw new RelayConfigError(`${what} must be a JSON object`)
  return v as Record<string, unknown>
}

function known (o: Record<string, unknown>, what: string, keys: string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new RelayConfigError(`${what}: unknown field "${k}"`)
}

/** Applies a parsed config document to `base`. Unknown fields are refused (a typo must not pass silently). */
export function applyConfigDocument (base: RelayConfig, doc: unknown): RelayConfig {
  const c: RelayConfig = structuredClone(base)
  const o = obj(doc, 'config')
  known(o, 'config', ['listen', 'announce', 'bootstrap', 'dhtPrefix', 'maxConnections', 'relay', 'stun', 'mailbox', 'metricsIntervalSeconds', 'api'])
  if (o.listen !== undefined) c.listen = addrList(o.listen, 'listen')
  if (o.announce !== undefined) c.announce = addrList(o.announce, 'announce')
  if (o.bootstrap !== undefined) c.bootstrap = addrList(o.bootstrap, 'bootstrap', { p2p: true })
  if (o.dhtPrefix !== undefined) {
    if (typeof o.dhtPrefix !== 'string' || !/^\/[a-z0-9-]{1,32}$/.test(o.dhtPrefix)) throw new RelayConfigError('dhtPrefix must look like "/parley"')
    c.dhtPrefix = o.dhtPrefix
  }
  if (o.maxConnections !== undefined) c.maxConnections = num(o.maxConnections, 'maxConnections', 8, 100_000)
  if (o.relay !== undefined) {
    const r = obj(o.relay, 'relay')
    known(r, 'relay', ['maxReservations', 'reservationTtlSeconds', 'durationSeconds', 'dataMiB'])
    if (r.maxReservations !== undefined) c.relay.maxReservations = num(r.maxReservations, 'relay.maxReservations', 0, 100_000)
    if (r.reservationTtlSeconds !== undefined) c.relay.reservationTtlMs = num(r.reservationTtlSeconds, 'relay.reservationTtlSeconds', 60, 86_400) * 1000
    if (r.durationSeconds !== undefined) c.relay.durationMs = num(r.durationSeconds, 'relay.durationSeconds', 60, 86_400) * 1000
    if (r.dataMiB !== undefined) c.relay.dataBytes = num(r.dataMiB, 'relay.dataMiB', 1, 65_536) * MiB
  }
  if (o.stun !== undefined) {
    if (o.stun === false) c.stun = false
    else {
      const s = obj(o.stun, 'stun')
      known(s, 'stun', ['host', 'port'])
      const host = s.host ?? (c.stun === false ? '0.0.0.0' : c.stun.host)
      if (typeof host !== 'string' || host.length === 0 || host.length > 64) throw new RelayConfigError('stun.host must be an IP address')
      c.stun = { host, port: s.port !== undefined ? num(s.port, 'stun.port', 0, 65_535) : (c.stun === false ? 3478 : c.stun.port) }
    }
  }
  if (o.mailbox !== undefined) {
    const m = obj(o.mailbox, 'mailbox')
    known(m, 'mailbox', ['enabled', 'quotaMiB', 'quotaItems', 'totalMiB', 'retentionDays', 'rateBurst', 'ratePerSecond'])
    if (m.enabled !== undefined) {
      if (typeof m.enabled !== 'boolean') throw new RelayConfigError('mailbox.enabled must be true or false')
      c.mailbox.enabled = m.enabled
    }
    if (m.quotaMiB !== undefined) c.mailbox.quotaBytes = Math.round(num(m.quotaMiB, 'mailbox.quotaMiB', 0.001, 65_536, false) * MiB)
    if (m.quotaItems !== undefined) c.mailbox.quotaItems = num(m.quotaItems, 'mailbox.quotaItems', 1, 10_000_000)
    if (m.totalMiB !== undefined) c.mailbox.totalBytes = Math.round(num(m.totalMiB, 'mailbox.totalMiB', 0.001, 16 * 1024 * 1024, false) * MiB)
    if (m.retentionDays !== undefined) c.mailbox.retentionMs = Math.round(num(m.retentionDays, 'mailbox.retentionDays', 0.0001, 3650, false) * 86_400_000)
    if (m.rateBurst !== undefined) c.mailbox.rateBurst = num(m.rateBurst, 'mailbox.rateBurst', 1, 1_000_000)
    if (m.ratePerSecond !== undefined) c.mailbox.ratePerSecond = num(m.ratePerSecond, 'mailbox.ratePerSecond', 0.001, 1_000_000, false)
  }
  if (o.metricsIntervalSeconds !== undefined) c.metricsIntervalMs = num(o.metricsIntervalSeconds, 'metricsIntervalSeconds', 0, 86_400) * 1000
  if (o.api !== undefined) {
    if (typeof o.api !== 'string') throw new RelayConfigError('api must be "127.0.0.1:PORT"')
    c.api = o.api
  }
  return c
}

/** Translates CLI flags into a config document (same units as the file) and applies it. */
export function applyFlags (base: RelayConfig, f: RelayFlags): RelayConfig {
  const doc: Record<string, unknown> = {}
  const relay: Record<string, unknown> = {}
  const mailbox: Record<string, unknown> = {}
  const list = (k: string): string[] | undefined => Array.isArray(f[k]) ? f[k] : undefined
  const s = (k: string): string | undefined => typeof f[k] === 'string' ? f[k] : undefined
  if (list('listen') != null) doc.listen = list('listen')
  if (list('announce') != null) doc.announce = list('announce')
  if (list('bootstrap') != null) doc.bootstrap = list('bootstrap')
  if (s('dht-prefix') != null) doc.dhtPrefix = s('dht-prefix')
  if (s('max-connections') != null) doc.maxConnections = s('max-connections')
  if (s('max-reservations') != null) relay.maxReservations = s('max-reservations')
  if (s('relay-duration') != null) relay.durationSeconds = s('relay-duration')
  if (s('relay-data') != null) relay.dataMiB = s('relay-data')
  if (f['no-stun'] === true) doc.stun = false
  else if (s('stun-port') != null) doc.stun = { port: s('stun-port') }
  if (f['no-mailbox'] === true) mailbox.enabled = false
  if (s('mailbox-quota') != null) mailbox.quotaMiB = s('mailbox-quota')
  if (s('mailbox-items') != null) mailbox.quotaItems = s('mailbox-items')
  if (s('mailbox-total') != null) mailbox.totalMiB = s('mailbox-total')
  if (s('mailbox-retention') != null) mailbox.retentionDays = s('mailbox-retention')
  if (s('metrics-interval') != null) doc.metricsIntervalSeconds = s('metrics-interval')
  if (s('api') != null) doc.api = s('api')
  if (Object.keys(relay).length > 0) doc.relay = relay
  if (Object.keys(mailbox).length > 0) doc.mailbox = mailbox
  return applyConfigDocument(base, doc)
}

/** Reads and parses a config file (size-capped, JSON). */
export async function readConfigFile (path: string): Promise<unknown> {
  let text: string
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new RelayConfigError(`config ${path} is not a file`)
    if (st.size > MAX_CONFIG_BYTES) throw new RelayConfigError(`config ${path} is larger than ${MAX_CONFIG_BYTES} bytes`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (err instanceof RelayConfigError) throw err
    throw new RelayConfigError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err })
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new RelayConfigError(`config ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
}

/** Defaults, then the config file (if any), then the flags. */
export async function resolveRelayConfig (flags: RelayFlags, configFile?: string): Promise<RelayConfig> {
  let c: RelayConfig = structuredClone(DEFAULT_RELAY_CONFIG) as RelayConfig
  if (configFile != null) c = applyConfigDocument(c, await readConfigFile(configFile))
  return applyFlags(c, flags)
}

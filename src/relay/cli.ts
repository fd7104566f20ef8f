/**
 * `parley relay`: runs a relay node (src/relay/relay.ts) in the foreground behind the home's local
 * API (so `parley --home H id|status|peers` work on a relay home). Prints
 * `parley relay ready {…}` and its listen addresses when ready (with --json: only the JSON object),
 * logs one line per notable event on stderr, a metrics line every `metricsIntervalSeconds` and on
 * SIGUSR1, and stops cleanly on SIGTERM/SIGINT.
 */
import type { Writable } from 'node:stream'
import { startDaemon } from '../daemon/daemon.js'
import { DaemonRunningError } from '../daemon/errors.js'
import { ensureHome } from '../daemon/home.js'
import { describeEndpoint, readDaemonInfo } from '../daemon/info.js'
import { parseApiAddress } from '../daemon/server.js'
import { resolveRelayConfig, type RelayFlags } from './config.js'
import { relayApi } from './api.js'
import { formatMetricsLine, startRelay } from './relay.js'

export interface RelayCommandContext {
  home: string
  json: boolean
  flags: RelayFlags
  stdout: Writable
  stderr: Writable
  passphrase: () => Promise<string | undefined>
  /** Ends the relay (SIGTERM/SIGINT). */
  signal?: AbortSignal
}

export async function runRelayCommand (ctx: RelayCommandContext): Promise<number> {
  const configFile = typeof ctx.flags.config === 'string' ? ctx.flags.config : undefined
  const config = await resolveRelayConfig(ctx.flags, configFile)
  const api = config.api != null ? parseApiAddress(config.api) : undefined
  await ensureHome(ctx.home)
  // Refuse before binding any port: one process per home.
  const existing = await readDaemonInfo(ctx.home)
  if (existing != null && existing.pid !== process.pid) throw new DaemonRunningError(ctx.home, existing.pid)
  const passphrase = await ctx.passphrase()
  const log = (line: string): void => { ctx.stderr.write(`${new Date().toISOString()} relay: ${line}\n`) }
  const relay = await startRelay({
    home: ctx.home,
    config,
    ...(passphrase != null ? { passphrase } : {}),
    log,
    ...(ctx.signal != null ? { signal: ctx.signal } : {})
  })
  let d
  try {
    d = await startDaemon({
      home: ctx.home,
      node: relayApi(relay),
      mode: 'relay',
      status: () => ({ relay: relay.metrics() }),
      ...(api != null ? { api } : {})
    })
  } catch (err) {
    await relay.stop().catch(() => {})
    throw err
  }
  const addresses = relay.addresses()
  const m = relay.metrics()
  const ready = {
    peerId: relay.peerId,
    addresses,
    stunPort: m.stunPort,
    mailbox: config.mailbox.enabled,
    api: describeEndpoint(d.endpoint),
    pid: process.pid,
    home: ctx.home
  }
  if (ctx.json) ctx.stdout.write(JSON.stringify(ready) + '\n')
  else {
    ctx.stdout.write(`parley relay ready ${JSON.stringify(ready)}\n`)
    for (const a of addresses) ctx.stdout.write(`listening on ${a}\n`)
    if (m.stunPort != null) ctx.stdout.write(`STUN on udp port ${m.stunPort}\n`)
    ctx.stdout.write(`local API on ${describeEndpoint(d.endpoint)} (metrics: parley --home ${ctx.home} status --json); stop with Ctrl-C or SIGTERM\n`)
  }
  log(`started: ${addresses.length} addresses, reservations up to ${config.relay.maxReservations}, mailbox ${config.mailbox.enabled ? 'on' : 'off'}`)
  const onUsr1 = (): void => { log(formatMetricsLine(relay.metrics())) }
  process.on('SIGUSR1', onUsr1)
  const periodic = config.metricsIntervalMs > 0 ? setInterval(onUsr1, config.metricsIntervalMs) : null
  periodic?.unref()
  try {
    await new Promise<void>((resolve) => {
      if (ctx.signal == null) return // runs until the process is killed
      if (ctx.signal.aborted) { resolve(); return }
      ctx.signal.addEventListener('abort', () => { resolve() }, { once: true })
    })
  } finally {
    process.off('SIGUSR1', onUsr1)
    if (periodic != null) clearInterval(periodic)
  }
  log(`stopping; ${formatMetricsLine(relay.metrics())}`)
  await d.stop()
  return 0
}

// Two real `parley daemon` processes behind symmetric NATs in ../shared/netlab (network namespaces,
// root; prefix rl-), a real `parley relay` on the lab's "internet". Neither daemon can reach the
// other directly and ICE cannot pair through symmetric NATs, so the conversation runs over the relay:
// both reserve on it (`--relay`), exchange invites (which carry relay=), and chat both ways. The CLI
// commands reach each daemon through its home's Unix socket (not network-namespaced). Skips with
// netlab's reason where the lab cannot run.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NETLAB, netlab } from '../helpers/netlab.js'
import { cliJson, waitFor } from '../e2e/harness.js'
import { parseInvite } from '../../src/core/invite.js'
import { circuitVia, spawnReady, type DaemonReady, type ParleyProcess, type RelayReady } from './helpers.js'

const { skip, lab } = netlab('rd-', 'the netlab relay-daemon test')

const via = (where: string): { cmd: string, args: string[], env: NodeJS.ProcessEnv } => ({ cmd: NETLAB, args: ['exec', where], env: { NETLAB_PREFIX: 'rd-' } })

let dir = ''
const procs: Array<ParleyProcess<unknown>> = []
after(async () => {
  await Promise.all(procs.map(async p => { await p.stop(10_000).catch(() => {}) }))
  if (skip === false) lab('down')
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
})

interface IdInfo { peerId: string, addresses: string[], reservations?: string[] }
interface PeerRow { peerId: string, relayed: boolean }

test('symmetric NATs: two daemons with --relay chat through a real parley relay', { skip, timeout: 240_000 }, async () => {
  dir = mkdtempSync(join(tmpdir(), 'parley-rl-lab-'))
  const home = (n: string): string => join(dir, n)
  lab('down')
  lab('up', '--nat-type', 'symmetric')
  const relay = await spawnReady<RelayReady>('relay', ['--home', home('relay'), 'relay', '--listen', '/ip4/0.0.0.0/tcp/4001',
    '--announce', '/ip4/198.18.0.10/tcp/4001', '--stun-port', '3478', '--metrics-interval', '0'], 60_000, via('relay'))
  procs.push(relay as ParleyProcess<unknown>)
  const relayAddr = `/ip4/198.18.0.10/tcp/4001/p2p/${relay.ready.peerId}`

  const daemons: Record<string, ParleyProcess<DaemonReady>> = {}
  for (const [name, where] of [['alice', 'a'], ['bob', 'b']] as const) {
    await cliJson(home(name), ['init', '--name', name])
    daemons[name] = await spawnReady<DaemonReady>('daemon', ['--home', home(name), 'daemon', '--no-mdns', '--listen', '/ip4/0.0.0.0/tcp/0', '--relay', relayAddr], 60_000, via(where))
    procs.push(daemons[name] as ParleyProcess<unknown>)
  }
  for (const name of ['alice', 'bob']) {
    await waitFor(`${name} reserves on the relay`, async () => {
      const id = await cliJson<IdInfo>(home(name), ['id'])
      return circuitVia(id.addresses, relay.ready.peerId).length > 0 ? true : undefined
    }, { timeoutMs: 60_000 })
  }
  const invA = (await cliJson<{ invite: string }>(home('alice'), ['invite'])).invite
  const invB = (await cliJson<{ invite: string }>(home('bob'), ['invite'])).invite
  assert.deepEqual(parseInvite(invA).relays, [relayAddr])
  const added = await cliJson<{ relays: string[] }>(home('bob'), ['contact', 'add', invA, '--name', 'alice'])
  assert.deepEqual(added.relays, [relayAddr])
  await cliJson(home('alice'), ['contact', 'add', invB, '--name', 'bob'])

  const m1 = await cliJson<{ status: string }>(home('bob'), ['send', 'alice', 'hello through two NATs', '--wait', '--timeout', '90'], { timeoutMs: 120_000 })
  assert.ok(['delivered', 'read'].includes(m1.status), `delivered: ${m1.status}\n${daemons.bob!.logs()}`)
  const m2 = await cliJson<{ status: string }>(home('alice'), ['send', 'bob', 'and back', '--wait', '--timeout', '90'], { timeoutMs: 120_000 })
  assert.ok(['delivered', 'read'].includes(m2.status))
  const atAlice = await cliJson<Array<{ direction: string, text: string }>>(home('alice'), ['messages', 'bob'])
  assert.deepEqual(atAlice.map(m => `${m.direction}:${m.text}`), ['in:hello through two NATs', 'out:and back'])
  const peers = await cliJson<PeerRow[]>(home('bob'), ['peers'])
  const toAlice = peers.filter(p => p.peerId === daemons.alice!.ready.peerId)
  assert.ok(toAlice.some(p => p.relayed), `bob reaches alice through the relay: ${JSON.stringify(toAlice)}`)
  const st = await cliJson<{ relay: { reservations: number } }>(home('relay'), ['status'])
  assert.ok(st.relay.reservations >= 2)
})

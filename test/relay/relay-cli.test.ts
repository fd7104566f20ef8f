// `parley relay` end to end on loopback, with real processes of the compiled CLI and real SQLite homes:
// the relay creates its own identity (no `parley init`), `id --json` / `status --json` work on its
// home; a daemon started with --relay reserves on it, advertises it in its invite, and a contact
// added from that invite gets `relays`; a daemon that listens ONLY on the relay (listen /p2p-circuit)
// chats with another daemon over the relayed connection; --relay is remembered across restarts and
// the reservation comes back after the relay restarts.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cliJson, runCli, waitFor } from '../e2e/harness.js'
import { parseInvite } from '../../src/core/invite.js'
import { circuitVia, relayTcpAddr, startDaemonProcess, startRelayProcess, type DaemonReady, type ParleyProcess, type RelayReady } from './helpers.js'

interface IdInfo { peerId: string, name: string, addresses: string[], identityKey: string, relays?: string[], reservations?: string[], reachability?: string }
interface ContactRow { peerId: string, name: string, relays: string[], addresses: string[] }
interface RelayStatus { mode: string, relay: { reservations: number, connections: number, stunPort: number | null, mailbox: { items: number, bytes: number } | null } }
interface MessageRow { direction: 'in' | 'out', text: string, status: string }
interface PeerRow { peerId: string, relayed: boolean, remoteAddr: string }

let dir = ''
const home = (n: string): string => join(dir, n)
const procs: Array<ParleyProcess<unknown>> = []
let relay: ParleyProcess<RelayReady>
let relayAddr = ''

function logs (): string {
  return procs.map(p => p.logs()).join('\n')
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-rl-'))
})

after(async () => {
  await Promise.all(procs.map(async p => { await p.stop(10_000).catch(() => {}) }))
  await rm(dir, { recursive: true, force: true }).catch(() => {})
})

test('parley relay: own identity without init, id --json and status --json on its home, chat commands refused', async () => {
  relay = await startRelayProcess(home('relay'))
  procs.push(relay as ParleyProcess<unknown>)
  relayAddr = relayTcpAddr(relay.ready)
  assert.ok(relay.ready.addresses.some(a => a.includes('/ws/')), 'a WebSocket listener is added for browsers')
  assert.ok(relay.ready.stunPort != null && relay.ready.stunPort > 0, 'the STUN responder runs')
  assert.equal(relay.ready.mailbox, true)

  const id = await cliJson<IdInfo>(home('relay'), ['id'])
  assert.equal(id.peerId, relay.ready.peerId)
  assert.ok(id.addresses.includes(relayAddr))
  assert.match(id.identityKey, /^05[0-9a-f]{64}$/)

  const st = await cliJson<RelayStatus>(home('relay'), ['status'])
  assert.equal(st.mode, 'relay')
  assert.equal(st.relay.reservations, 0)
  assert.deepEqual(st.relay.mailbox, { ...st.relay.mailbox, items: 0, bytes: 0 })

  const send = await runCli(['--home', home('relay'), 'send', relay.ready.peerId, 'hello'])
  assert.equal(send.code, 1)
  assert.match(send.stderr, /relay/)
})

test('daemon --relay reserves and advertises the relay; a contact added from its invite gets relays; chat over the relay', async () => {
  const relayId = relay.ready.peerId
  await cliJson(home('alice'), ['init', '--name', 'alice'])
  const alice = await startDaemonProcess(home('alice'), { relays: [relayAddr] })
  procs.push(alice as ParleyProcess<unknown>)
  await waitFor('alice holds a reservation on the relay', async () => {
    const id = await cliJson<IdInfo>(home('alice'), ['id'])
    return circuitVia(id.addresses, relayId).length > 0 ? true : undefined
  }, { timeoutMs: 60_000 })
  await waitFor('the relay counts the reservation', async () => {
    const st = await cliJson<RelayStatus>(home('relay'), ['status'])
    return st.relay.reservations >= 1 ? st : undefined
  }, { timeoutMs: 30_000 })

  const aliceId = await cliJson<IdInfo>(home('alice'), ['id'])
  assert.deepEqual(aliceId.relays, [relayAddr])
  assert.ok(aliceId.reservations?.includes(relayId), `id --json lists the reservation: ${JSON.stringify(aliceId)}`)
  assert.equal(aliceId.reachability, 'private', 'loopback only: no public address')
  const { invite } = await cliJson<{ invite: string }>(home('alice'), ['invite'])
  assert.deepEqual(parseInvite(invite).relays, [relayAddr], 'the invite carries relay=')

  // bob and carol listen on nothing but the relay: neither can reach the other directly
  await cliJson(home('bob'), ['init', '--name', 'bob'])
  const bob = await startDaemonProcess(home('bob'), { listen: ['/p2p-circuit'], relays: [relayAddr] })
  procs.push(bob as ParleyProcess<unknown>)
  const added = await cliJson<ContactRow>(home('bob'), ['contact', 'add', invite])
  assert.equal(added.peerId, alice.ready.peerId)
  assert.deepEqual(added.relays, [relayAddr])
  const listed = await cliJson<ContactRow[]>(home('bob'), ['contact', 'list'])
  assert.deepEqual(listed.find(c => c.peerId === alice.ready.peerId)?.relays, [relayAddr], 'relays persist in the store')

  await cliJson(home('carol'), ['init', '--name', 'carol'])
  const carol = await startDaemonProcess(home('carol'), { listen: ['/p2p-circuit'], relays: [relayAddr] })
  procs.push(carol as ParleyProcess<unknown>)
  const carolAddrs = await waitFor('carol is reachable through the relay', async () => {
    const id = await cliJson<IdInfo>(home('carol'), ['id'])
    return circuitVia(id.addresses, relayId).length > 0 ? id.addresses : undefined
  }, { timeoutMs: 60_000 })
  assert.ok(carolAddrs.every(a => a.includes('/p2p-circuit/')), `carol has only relayed addresses: ${carolAddrs.join(' ')}`)

  const carolInvite = (await cliJson<{ invite: string }>(home('carol'), ['invite'])).invite
  await cliJson(home('bob'), ['contact', 'add', carolInvite, '--name', 'carol'])
  const sent = await cliJson<{ status: string }>(home('bob'), ['send', 'carol', 'hello over the relay', '--wait', '--timeout', '120'], { timeoutMs: 150_000 })
  assert.ok(['delivered', 'read'].includes(sent.status), `delivered, got ${sent.status}\n${logs()}`)
  const atCarol = await waitFor('carol has the message', async () => {
    const l = await cliJson<MessageRow[]>(home('carol'), ['messages', bob.ready.peerId])
    return l.some(m => m.direction === 'in' && m.text === 'hello over the relay') ? l : undefined
  })
  assert.equal(atCarol.filter(m => m.text === 'hello over the relay').length, 1)
  // and back: carol answers over the same relay path
  const reply = await cliJson<{ status: string }>(home('carol'), ['send', bob.ready.peerId, 'hi bob, relayed', '--wait', '--timeout', '120'], { timeoutMs: 150_000 })
  assert.ok(['delivered', 'read'].includes(reply.status))
  // The path started on the relay; a direct connection can only be WebRTC signalled over it (ICE;
  // on loopback it usually succeeds, which is the intended upgrade) — never TCP, which neither has.
  const peers = await cliJson<PeerRow[]>(home('bob'), ['peers'])
  const toCarol = peers.filter(p => p.peerId === carol.ready.peerId)
  assert.ok(toCarol.some(p => p.relayed && p.remoteAddr.includes(`/p2p/${relayId}/p2p-circuit/`)), `bob reached carol through the relay: ${JSON.stringify(toCarol)}`)
  assert.ok(toCarol.every(p => p.relayed || p.remoteAddr.includes('/webrtc')), `no other direct path: ${JSON.stringify(toCarol)}`)

  const st = await cliJson<RelayStatus>(home('relay'), ['status'])
  assert.ok(st.relay.reservations >= 3, `alice, bob and carol hold reservations: ${JSON.stringify(st.relay)}`)
  assert.ok(st.relay.connections >= 3)
  assert.match(relay.stderr, /reservations \d+ -> \d+/, 'the relay logs reservations')
  const relayPeers = await cliJson<PeerRow[]>(home('relay'), ['peers'])
  for (const p of [alice, bob, carol]) assert.ok(relayPeers.some(x => x.peerId === p.ready.peerId), 'parley peers works on a relay home')
  // SIGUSR1: one metrics line in the log
  relay.child.kill('SIGUSR1')
  await waitFor('a metrics line', () => /relay: metrics connections \d+ \(relayed \d+\) reservations [1-9]/.test(relay.stderr) ? true : undefined, { timeoutMs: 10_000 })
})

test('relays are remembered across daemon restarts; the reservation comes back after the relay restarts', async () => {
  const relayId = relay.ready.peerId
  // restart alice without --relay: HOME/settings.json keeps the relay
  const old = procs.find(p => (p.ready as DaemonReady).home === home('alice'))!
  await old.stop()
  const settings = JSON.parse(await readFile(join(home('alice'), 'settings.json'), 'utf8')) as { relays: string[] }
  assert.deepEqual(settings.relays, [relayAddr])
  const alice = await startDaemonProcess(home('alice'))
  procs.push(alice as ParleyProcess<unknown>)
  await waitFor('alice reserves again without --relay', async () => {
    const id = await cliJson<IdInfo>(home('alice'), ['id'])
    return circuitVia(id.addresses, relayId).length > 0 ? true : undefined
  }, { timeoutMs: 60_000 })
  const { invite } = await cliJson<{ invite: string }>(home('alice'), ['invite'])
  assert.deepEqual(parseInvite(invite).relays, [relayAddr])

  // the relay stops cleanly and comes back on the same port with the same identity
  const port = Number(/\/tcp\/(\d+)\//.exec(relayAddr)?.[1])
  const ended = await relay.stop()
  assert.equal(ended.code, 0, `clean stop\n${relay.logs()}`)
  await waitFor('alice lost the reservation', async () => {
    const id = await cliJson<IdInfo>(home('alice'), ['id'])
    return circuitVia(id.addresses, relayId).length === 0 ? true : undefined
  }, { timeoutMs: 30_000 })
  relay = await startRelayProcess(home('relay'), { port })
  procs.push(relay as ParleyProcess<unknown>)
  assert.equal(relay.ready.peerId, relayId, 'the relay keeps its identity')
  await waitFor('alice re-reserves on the restarted relay', async () => {
    const st = await cliJson<RelayStatus>(home('relay'), ['status'])
    return st.relay.reservations >= 1 ? true : undefined
  }, { timeoutMs: 120_000 })
  const id = await cliJson<IdInfo>(home('alice'), ['id'])
  assert.ok(circuitVia(id.addresses, relayId).length > 0)
})

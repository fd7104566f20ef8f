// Offline delivery across a lab "internet" (issue 4, Tests; ../shared/netlab, network namespaces,
// root): a relay with its mailbox on the lab's public network; alice and bob behind NAT routers.
// Bob goes offline; alice sends 100 messages (deposited in bob's mailbox) and goes offline too; bob
// comes back FROM ANOTHER ADDRESS (alice's network) and receives all 100 exactly once, in order.
// Real processes (test/e2e/offline-child.ts), real SQLite files. Skips with netlab's reason where
// the lab cannot run; NETLAB_PREFIX=mb- (its own namespaces).
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { NETLAB, netlab } from '../helpers/netlab.js'
import { Child, storedTexts } from './offline-harness.js'

const { env: ENV, skip, lab } = netlab('mb-', 'the netlab offline test', 120000)
const COUNT = 100
const RELAY_IP = '198.18.0.10'
const A_IP = '10.0.1.2'
const B_IP = '10.0.2.2'


const children: Child[] = []
const dirs: string[] = []
after(async () => {
  await Promise.allSettled(children.map(async c => { await c.kill9() }))
  if (skip === false) lab('down')
  await Promise.allSettled(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
})

function inLab (where: string, host: string, args: string[]): Child {
  const c = new Child(args, [NETLAB, 'exec', where], { ...ENV, PARLEY_CHILD_HOST: host })
  children.push(c)
  return c
}

test('netlab: bob offline, alice sends 100 and goes offline, bob returns from another address: all 100 once, in order', { skip, timeout: 300_000 }, async () => {
  lab('up', '--nat-type', 'cone')
  const home = async (): Promise<string> => { const d = await mkdtemp(join(tmpdir(), 'parley-netlab-mb-')); dirs.push(d); return d }
  const [relayHome, aHome, bHome] = [await home(), await home(), await home()]
  const relay = inLab('relay', RELAY_IP, ['relay', relayHome, '4001'])
  const relayAddr = (await relay.wait(r => r.ready === true, 90_000, 'relay ready')).addr as string
  const a = inLab('a', A_IP, ['node', aHome, relayAddr])
  let b = inLab('b', B_IP, ['node', bHome, relayAddr])
  const ar = await a.wait(r => r.ready === true, 90_000, 'alice ready')
  const br = await b.wait(r => r.ready === true, 90_000, 'bob ready')
  const aliceId = ar.peerId as string
  const bobId = br.peerId as string
  a.send({ add: br.invite })
  b.send({ add: ar.invite })
  await a.wait(r => r.added === bobId, 60_000, 'alice added bob')
  await b.wait(r => r.added === aliceId, 60_000, 'bob added alice')
  // a first exchange through the relay (both behind NAT): sessions and mailbox routes both ways
  a.send({ hello: bobId })
  await a.wait(r => r.hello === true, 120_000, 'alice hello')
  b.send({ hello: aliceId })
  await b.wait(r => r.hello === true, 120_000, 'bob hello')
  await b.stop()
  a.send({ burst: { to: bobId, count: COUNT } })
  await a.wait(r => r.burst === COUNT, 120_000, 'alice queued 100')
  // every text sits in bob's mailbox (status 'stored') before alice leaves
  await a.wait(r => r.peer === bobId && Number(r.stored) === COUNT, 120_000, 'all 100 stored in bob\'s mailbox')
  await a.stop()
  // bob returns on alice's network (another address, another NAT)
  b = inLab('a', A_IP, ['node', bHome, relayAddr])
  let bobIn = 0
  b.onReport = (r) => { if (r.peer === aliceId) bobIn = Math.max(bobIn, Number(r.in)) }
  await b.wait(r => r.ready === true, 90_000, 'bob back')
  const until = Date.now() + 120_000
  while (bobIn < COUNT + 1 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(bobIn, COUNT + 1, 'bob has hello + 100')
  await b.stop()
  await relay.stop()
  const texts = await storedTexts(bHome, aliceId)
  assert.deepEqual(texts, ['hello', ...Array.from({ length: COUNT }, (_, i) => `n${i + 1}`)])
})

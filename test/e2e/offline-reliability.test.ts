// Reliability of offline delivery (issue 4, "Reliability"): during a 1,000-message exchange the
// sender, the recipient or the relay/mailbox is killed with SIGKILL at random points and restarted
// (nodes on new ports, the relay on its port), repeatedly. Afterwards the recipient shows every
// message the sender stored exactly once, in order, and the sender sees every one delivered.
// Real processes, real SQLite files, loopback only. Seeded randomness (the seed is printed):
//   PARLEY_RELIABILITY_SEED=<n>  PARLEY_RELIABILITY_REPS=<n, default 2>  PARLEY_RELIABILITY_MESSAGES=<n, default 1000>
//   PARLEY_RELIABILITY_KILLS=<n, default 6>  PARLEY_RELIABILITY_PACE_MS=<ms between the sender's texts, default 2>
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Child, freePort, prng, storedTexts } from './offline-harness.js'

const SEED = Number(process.env.PARLEY_RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31))
const REPS = Number(process.env.PARLEY_RELIABILITY_REPS ?? 2)
const COUNT = Number(process.env.PARLEY_RELIABILITY_MESSAGES ?? 1000)
const KILLS = Number(process.env.PARLEY_RELIABILITY_KILLS ?? 6)

const dirs: string[] = []
const children: Child[] = []
after(async () => {
  await Promise.allSettled(children.map(async c => { await c.kill9() }))
  await Promise.allSettled(dirs.map(async d => { await rm(d, { recursive: true, force: true }) }))
})

async function dir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'parley-reliability-'))
  dirs.push(d)
  return d
}

function spawnChild (args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  const c = new Child(args, [], env)
  children.push(c)
  return c
}

async function repetition (rep: number, rand: () => number, log: (s: string) => void): Promise<void> {
  const relayHome = await dir()
  const aHome = await dir()
  const bHome = await dir()
  const port = await freePort()
  let relay = spawnChild(['relay', relayHome, String(port)])
  const rr = await relay.wait(r => r.ready === true, 60_000, 'relay ready')
  const relayAddr = rr.addr as string
  let a = spawnChild(['node', aHome, relayAddr])
  let b = spawnChild(['node', bHome, relayAddr])
  const ar = await a.wait(r => r.ready === true, 60_000, 'alice ready')
  const br = await b.wait(r => r.ready === true, 60_000, 'bob ready')
  const aliceId = ar.peerId as string
  const bobId = br.peerId as string
  a.send({ add: br.invite })
  b.send({ add: ar.invite })
  await a.wait(r => r.added === bobId, 30_000, 'alice added bob')
  await b.wait(r => r.added === aliceId, 30_000, 'bob added alice')
  // sessions both ways first (each side's mailbox route travels inside them)
  a.send({ hello: bobId })
  await a.wait(r => r.hello === true, 60_000, 'alice hello')
  b.send({ hello: aliceId })
  await b.wait(r => r.hello === true, 60_000, 'bob hello')
  await a.stop()
  // alice (re)starts as the sender of COUNT texts; she continues where her store ends after each kill
  // alice writes at a human-impossible but finite pace (PARLEY_RELIABILITY_PACE_MS, default 2 ms), so
  // kills land while she writes as well as while bob catches up
  const startA = (): Child => spawnChild(['node', aHome, relayAddr, 'sendTo', bobId, String(COUNT)], { ...process.env, PARLEY_CHILD_PACE_MS: process.env.PARLEY_RELIABILITY_PACE_MS ?? '2' })
  const startB = (): Child => spawnChild(['node', bHome, relayAddr])
  a = startA()
  let bobIn = 0
  let aliceDelivered = 0
  let aliceSeq = 0
  let bobSeq = 0
  const watchB = (c: Child): void => {
    c.onReport = (r) => {
      if (r.peer === aliceId) bobIn = Math.max(bobIn, Number(r.in))
      if (r.at === aliceId) bobSeq = Math.max(bobSeq, Number(r.seq))
    }
  }
  const watchA = (c: Child): void => {
    c.onReport = (r) => {
      if (r.at === bobId) aliceSeq = Math.max(aliceSeq, Number(r.seq))
      if (r.peer === bobId) aliceDelivered = Math.max(aliceDelivered, Number(r.delivered))
    }
  }
  watchA(a)
  watchB(b)
  const kills: string[] = []
  // kill points spread over the whole exchange: progress = messages alice has written + messages bob
  // has shown (each side's conversation length), a random point of 0 .. 2 x COUNT per kill
  const progress = (): number => Math.max(0, aliceSeq - 2) + Math.max(0, bobSeq - 2)
  const points = Array.from({ length: KILLS }, () => Math.floor(rand() * COUNT * 1.9)).sort((x, y) => x - y)
  for (let k = 0; k < KILLS; k++) {
    const until = Date.now() + 60_000
    while (progress() < points[k]! && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 5))
    const victim = (['alice', 'bob', 'relay'] as const)[Math.floor(rand() * 3)]!
    const down = 100 + Math.floor(rand() * 3_000)
    kills.push(`${victim} at written ${Math.max(0, aliceSeq - 2)} / shown ${Math.max(0, bobSeq - 2)}, down ${down} ms`)
    if (victim === 'alice') { await a.kill9(); await new Promise(resolve => setTimeout(resolve, down)); a = startA(); watchA(a) }
    if (victim === 'bob') { await b.kill9(); await new Promise(resolve => setTimeout(resolve, down)); b = startB(); watchB(b) }
    if (victim === 'relay') { await relay.kill9(); await new Promise(resolve => setTimeout(resolve, down)); relay = spawnChild(['relay', relayHome, String(port)]); await relay.wait(r => r.ready === true, 60_000, 'relay back') }
  }
  log(`rep ${rep}: kills ${kills.join(', ')}`)
  // everything arrives and every receipt comes back
  const deadline = Date.now() + 240_000
  while ((bobIn < COUNT + 1 || aliceDelivered < COUNT + 1) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 250))
  assert.ok(bobIn >= COUNT + 1, `bob shows ${bobIn - 1} of ${COUNT} (seed ${SEED}; alice: ${JSON.stringify(a.last)} ${a.stderr}; bob: ${b.stderr})`)
  assert.ok(aliceDelivered >= COUNT + 1, `alice sees ${aliceDelivered - 1} of ${COUNT} delivered (seed ${SEED})`)
  await Promise.all([a.stop(), b.stop(), relay.stop()])
  // the recipient's store: every text exactly once, in order (display order = seq)
  const texts = await storedTexts(bHome, aliceId)
  assert.deepEqual(texts, ['hello', ...Array.from({ length: COUNT }, (_, i) => `m${i + 1}`)], `order or duplicates broken (seed ${SEED})`)
}

describe('kill -9 during a 1,000-message offline exchange', { timeout: 1_800_000 }, () => {
  it(`nothing lost, nothing twice, order kept (seed ${SEED}, ${REPS} repetitions, ${COUNT} messages)`, async (t) => {
    t.diagnostic(`PARLEY_RELIABILITY_SEED=${SEED}`)
    const rand = prng(SEED)
    for (let rep = 1; rep <= REPS; rep++) await repetition(rep, rand, (s) => { t.diagnostic(s) })
  })
})

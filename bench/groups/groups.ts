/**
 * Groups (issue 5, "Benchmark"):
 *
 * - `groups.encrypt-10` / `-100` / `-1000`: what one group message costs its sender at that group size
 *   — the real send path of src/core/groups.ts minus SQLite: causal metadata (nextMeta + receive on a
 *   causal state that knows every member), GroupBody encoding, ONE sender-key encryption + signature,
 *   GroupWire encoding and the message id (SHA-256). Baseline: pairwise fan-out, i.e. one Double
 *   Ratchet encryption per other member (src/crypto/session.ts) — what a group without sender keys
 *   pays. Parley's figure should stay flat while the baseline grows with the group.
 * - `groups.latency-p50` / `-p99` and `groups.delivered`: 30 nodes in this process (test/groups/mesh.ts:
 *   real libp2p + the gossipsub group transport on 127.0.0.1, a random connected topology), group
 *   messages (sender-key encrypt, publish, the validator's origin check + decrypt + causal release at
 *   every receiver; losses repaired from a connected member every 500 ms, as the node does) against raw gossipsub payloads of the same size on the same nodes and connections
 *   (a validator that accepts everything). Latency = publish to causal delivery, per receiver. Rounds
 *   alternate group / raw. Target: 100 % delivered, p99 within 1.5x of raw gossipsub.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { sideBySide, median } from '../measure.js'
import type { BenchGroup, BenchOptions, Figure } from '../types.js'
import { toHex, fromHex } from '../../src/crypto/bytes.js'
import { primitives } from '../../src/crypto/primitives/index.js'
import { generateIdentity } from '../../src/crypto/identity.js'
import { buildPreKeyBundle, generateKyberPreKey, generateOneTimePreKeys, generateSignedPreKey } from '../../src/crypto/prekeys.js'
import { encryptMessage, initiateSession, type SessionRecord } from '../../src/crypto/session.js'
import { createSenderKey, senderKeyEncrypt, type SenderKeyState } from '../../src/crypto/sender-keys.js'
import { encodeGroupBody, encodeGroupWire } from '../../src/core/groups-wire.js'
import { createCausalState, nextMeta, receive, type CausalState } from '../../src/groups/index.js'
import { bindPeers, createMesh, publishGroup, publishRaw, startRepair, type Mesh } from '../../test/groups/mesh.js'

const TEXT = 'x'.repeat(100)
const NODES = 30

function percentile (values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1]!
}

/** A causal state that has delivered one message from each of `n` members. */
function populatedCausal (self: string, n: number): CausalState<null> {
  let st = createCausalState<null>(self)
  const delivered: Record<string, number> = {}
  const lastLamport: Record<string, number> = {}
  for (let i = 0; i < n - 1; i++) {
    const m = toHex(randomBytes(32))
    delivered[m] = 1
    lastLamport[m] = i + 1
  }
  st = { ...st, delivered, lastLamport, lamport: n }
  return st
}

async function groupSender (n: number): Promise<{ run: (k: number) => Promise<void> }> {
  const key = new Uint8Array(randomBytes(32))
  let own: SenderKeyState = await createSenderKey(new Uint8Array(randomBytes(32)), key)
  const self = toHex(key)
  let causal = populatedCausal(self, n)
  return {
    async run (k: number): Promise<void> {
      for (let i = 0; i < k; i++) {
        const meta = nextMeta(causal)
        const body = encodeGroupBody({ seq: meta.seq, lamport: meta.lamport, deps: meta.deps.map(d => ({ id: fromHex(d.id), sender: fromHex(d.sender), seq: d.seq })), timestamp: Date.now(), text: TEXT })
        const r = await senderKeyEncrypt(own, body)
        own = r.state
        const wire = encodeGroupWire({ sender: key, message: r.message })
        const id = toHex(await primitives.sha256(wire))
        const next = receive(causal, { id, ...meta, payload: null }, { inPlace: true }).state
        causal = next.order.length > 0 ? { ...next, order: [] } : next
      }
    }
  }
}

async function pairwiseFanOut (n: number): Promise<{ run: (k: number) => Promise<void> }> {
  const alice = await generateIdentity()
  const bob = await generateIdentity()
  const signed = await generateSignedPreKey(bob, 1)
  const [oneTime] = await generateOneTimePreKeys(1, 1)
  const kyber = await generateKyberPreKey(bob, 1)
  const bundle = buildPreKeyBundle(bob, { registrationId: 7, deviceId: 1, signedPreKey: signed, oneTimePreKey: oneTime!, kyberPreKey: kyber })
  let record: SessionRecord = await initiateSession({ identity: alice, registrationId: 8, bundle })
  const body = new TextEncoder().encode(TEXT)
  return {
    async run (k: number): Promise<void> {
      for (let i = 0; i < k; i++) {
        // one Double Ratchet encryption per other member (the same cost as n-1 distinct sessions)
        for (let m = 0; m < n - 1; m++) record = (await encryptMessage(record, body)).record
      }
    }
  }
}

async function latencyRound (mesh: Mesh, raw: boolean, messages: number, signal?: AbortSignal): Promise<{ p50: number, p99: number, delivered: number }> {
  const ids: string[] = []
  const size = 300 // about the size of a GroupWire carrying a 100-byte text
  for (let i = 0; i < messages; i++) {
    signal?.throwIfAborted()
    const node = mesh.nodes[(i * 7) % mesh.nodes.length]!
    ids.push(raw ? await publishRaw(mesh, node, size) : await publishGroup(mesh, node, TEXT))
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  const table = raw ? mesh.rawLatencies : mesh.latencies
  const want = messages * (mesh.nodes.length - 1)
  const count = (): number => ids.reduce((n, id) => n + (table.get(id)?.length ?? 0), 0)
  const end = Date.now() + 60_000
  while (count() < want && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 50))
  const all = ids.flatMap(id => table.get(id) ?? [])
  for (const id of ids) { table.delete(id); mesh.sentAt.delete(id) }
  return { p50: percentile(all, 50), p99: percentile(all, 99), delivered: all.length / want }
}

function latencyFigure (name: string, unit: string, parley: number[], baseline: number[], rounds: number, ops: number, target: Figure['target'], better: 'lower' | 'higher', note: string): Figure {
  const p = median(parley)
  const b = median(baseline)
  const paired = parley.map((x, i) => x / baseline[i]!)
  const fig: Figure = {
    name,
    unit,
    parley: p,
    baseline: b,
    ratio: b === 0 ? null : p / b,
    better,
    baselineName: 'raw gossipsub (@libp2p/gossipsub 17.1.1), same nodes and connections',
    rounds,
    opsPerRound: { parley: ops, baseline: ops },
    pairedRatio: median(paired.filter(Number.isFinite)),
    cpu: { parley: null, baseline: null, ratio: null },
    spread: { parley: [Math.min(...parley), Math.max(...parley)], baseline: [Math.min(...baseline), Math.max(...baseline)] },
    note
  }
  if (target != null) {
    fig.target = target
    if (fig.ratio != null) fig.meetsTarget = target.better === 'lower' ? fig.ratio <= target.ratio : fig.ratio >= target.ratio
  }
  return fig
}

const group: BenchGroup = {
  name: 'groups',
  description: 'group messages: per-message encryption cost at 10/100/1000 members; 30-node delivery latency vs raw gossipsub',
  async run (opts: BenchOptions): Promise<Figure[]> {
    const { quick, signal, log } = opts
    const figures: Figure[] = []
    for (const n of [10, 100, 1000]) {
      signal?.throwIfAborted()
      const parley = await groupSender(n)
      const baseline = await pairwiseFanOut(n)
      figures.push(await sideBySide({
        name: `groups.encrypt-${n}`,
        better: 'lower',
        kind: 'latency',
        unit: 'ms/msg',
        baselineName: `pairwise fan-out: ${n - 1} Double Ratchet encryptions (parley src/crypto/session.ts)`,
        parley: { run: async (k) => { await parley.run(k) } },
        baseline: { run: async (k) => { await baseline.run(k) } },
        rounds: quick ? 2 : 6,
        warmupOps: quick ? 2 : 20,
        roundMs: quick ? 50 : 400,
        minOps: 1,
        maxOps: 20_000,
        note: 'sender side of one group message (no SQLite); flat in the group size',
        ...(signal != null ? { signal } : {}),
        ...(log != null ? { log } : {})
      }))
    }
    log?.(`  groups: starting ${NODES} nodes`)
    const mesh = await createMesh(NODES, { extra: 3, ...(signal != null ? { signal } : {}) })
    bindPeers(mesh)
    // Parley repairs losses (Part 5 §10); raw gossipsub has nothing of the kind
    const stopRepair = startRepair(mesh)
    try {
      const rounds = quick ? 2 : 6
      const messages = quick ? 20 : 100
      const g = { p50: [] as number[], p99: [] as number[], d: [] as number[] }
      const r = { p50: [] as number[], p99: [] as number[], d: [] as number[] }
      // warm-up (JIT, mesh settled)
      await latencyRound(mesh, false, 10, signal)
      await latencyRound(mesh, true, 10, signal)
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? [false, true] : [true, false]
        for (const raw of order) {
          const t0 = performance.now()
          const x = await latencyRound(mesh, raw, messages, signal)
          const into = raw ? r : g
          into.p50.push(x.p50)
          into.p99.push(x.p99)
          into.d.push(x.delivered)
          log?.(`  groups.latency: round ${i + 1}/${rounds} ${raw ? 'raw' : 'group'} p50 ${x.p50.toFixed(2)} ms p99 ${x.p99.toFixed(2)} ms delivered ${(x.delivered * 100).toFixed(1)} % (${Math.round(performance.now() - t0)} ms)`)
        }
      }
      const note = `${NODES} nodes, ${messages} messages per round from rotating senders, latency per receiver`
      figures.push(latencyFigure('groups.latency-p50', 'ms', g.p50, r.p50, rounds, messages, undefined, 'lower', note))
      figures.push(latencyFigure('groups.latency-p99', 'ms', g.p99, r.p99, rounds, messages, { ratio: 1.5, better: 'lower' }, 'lower', note))
      figures.push(latencyFigure('groups.delivered', 'fraction', g.d, r.d, rounds, messages, { ratio: 1, better: 'higher' }, 'higher', `${note}; fraction of (message, receiver) pairs delivered within 60 s`))
    } finally {
      stopRepair()
      await mesh.stop()
    }
    return figures
  }
}

export default group

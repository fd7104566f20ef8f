/**
 * A lighter harness for large groups (issue 5: "30+ nodes"), used by test/groups/scale.test.ts and
 * bench/groups/groups.ts: N real libp2p nodes (src/net createParleyNetwork: TCP + Noise + Yamux +
 * the gossipsub group transport, on 127.0.0.1, mDNS off) in one process, each running the real group
 * crypto and ordering — sender keys (src/crypto/sender-keys.ts), the GroupWire/GroupBody formats
 * (src/core/groups-wire.ts), the validator rules of Part 5 §7 and causal delivery (src/groups/causal.ts)
 * — but no SQLite and no pairwise sessions: the sender-key distributions are handed over in memory
 * (their pairwise transport is what test/core/groups.test.ts covers on full nodes). Full Parley nodes
 * (prekeys, SQLite, DHT records) are too heavy for 30+ in one process on 2 cores.
 *
 * The same nodes and connections also carry a "raw" topic: plain gossipsub payloads, no crypto, a
 * validator that accepts everything — the baseline of the latency benchmark.
 */
import { performance } from 'node:perf_hooks'
import { randomBytes } from 'node:crypto'
import { createParleyNetwork, type ParleyNetwork } from '../../src/net/index.js'
import { toHex, fromHex } from '../../src/crypto/bytes.js'
import { primitives } from '../../src/crypto/primitives/index.js'
import { DuplicateMessageError } from '../../src/crypto/errors.js'
import {
  createSenderKey, processSenderKeyDistribution, senderKeyDecrypt, senderKeyDistribution, senderKeyEncrypt,
  type SenderKeyRecord, type SenderKeyState
} from '../../src/crypto/sender-keys.js'
import { decodeGroupBody, decodeGroupWire, encodeGroupBody, encodeGroupWire } from '../../src/core/groups-wire.js'
import { createCausalState, deriveTopic, gapsAgainst, newGroupSecret, nextMeta, receive, summary, type CausalState } from '../../src/groups/index.js'

export interface MeshNode {
  net: ParleyNetwork
  member: string
  key: Uint8Array
  own: SenderKeyState
  records: Map<string, SenderKeyRecord>
  causal: CausalState<null>
  /** Delivered message ids in release order. */
  delivered: string[]
  rejected: number
  /** Published ciphertexts this node holds, by sender and seq (what a Parley node keeps to answer repairs). */
  wires: Map<string, Map<number, Uint8Array>>
  /** Messages this node got through repair rather than gossip. */
  repaired: number
}

export interface Mesh {
  nodes: MeshNode[]
  groupTopic: string
  rawTopic: string
  /** id -> publish time (performance.now()) */
  sentAt: Map<string, number>
  /** id -> receive latencies (ms), one per receiving node */
  latencies: Map<string, number[]>
  rawLatencies: Map<string, number[]>
  stop: () => Promise<void>
}

/**
 * Repair as the node does it (Part 5 §10), with the pairwise channel replaced by a function call: every
 * `everyMs` each node compares its delivered counters with a random peer it is connected to
 * (`gapsAgainst`, plus its own buffered gaps) and takes the missing ciphertexts from that peer's store,
 * then processes them like gossip. Returns a stop function.
 */
export function startRepair (mesh: Mesh, everyMs = 500): () => void {
  let busy = false
  const timer = setInterval(() => {
    if (busy) return
    busy = true
    void (async () => {
      for (const node of mesh.nodes) {
        const peers = node.net.connections().map(c => mesh.nodes.find(x => x.net.peerId === c.peerId)).filter((x): x is MeshNode => x != null)
        if (peers.length === 0) continue
        const other = peers[Math.floor(Math.random() * peers.length)]!
        const gaps = gapsAgainst(node.causal, summary(other.causal))
        for (const r of gaps.seqs) {
          for (let q = r.from; q <= r.to; q++) {
            const w = other.wires.get(r.sender)?.get(q)
            if (w == null) continue
            if (await validate(node, w, null, mesh.sentAt, mesh.latencies) === 'accept') node.repaired++
          }
        }
      }
    })().finally(() => { busy = false })
  }, everyMs)
  timer.unref?.()
  return () => { clearInterval(timer) }
}

/** Builds N nodes, a connected random topology (each dials its predecessor and `extra` random others), both topics subscribed. */
export async function createMesh (n: number, opts: { extra?: number, groupId?: Uint8Array, signal?: AbortSignal } = {}): Promise<Mesh> {
  const groupId = opts.groupId ?? new Uint8Array(randomBytes(32))
  const secret = newGroupSecret()
  const groupTopic = await deriveTopic(secret, 0)
  const rawTopic = '/parley-bench/raw/' + toHex(randomBytes(8))
  const sentAt = new Map<string, number>()
  const latencies = new Map<string, number[]>()
  const rawLatencies = new Map<string, number[]>()
  const nodes: MeshNode[] = []
  const stopAll = async (): Promise<void> => { await Promise.allSettled(nodes.map(async x => await x.net.stop())) }
  try {
    for (let i = 0; i < n; i++) {
      opts.signal?.throwIfAborted()
      const seed = new Uint8Array(randomBytes(32))
      const net = await createParleyNetwork({
        seed,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        mdns: false,
        allowLoopbackFlood: true,
        dhtServer: false,
        // generous: 30+ nodes share this process (and the machine may be busy)
        timeouts: { dialMs: 60_000, streamOpenMs: 30_000, readMs: 30_000, handlerMs: 30_000 },
        groups: { ratePerSecond: 200, rateBurst: 400 }
      })
      await net.start()
      const key = await primitives.ed25519PublicKey(seed)
      const member = toHex(key)
      nodes.push({ net, member, key, own: await createSenderKey(groupId, key), records: new Map(), causal: createCausalState<null>(member), delivered: [], rejected: 0, wires: new Map(), repaired: 0 })
    }
    // distributions (in memory here; over pairwise sessions in the real node)
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue
        b.records.set(a.member, processSenderKeyDistribution(undefined, senderKeyDistribution(a.own), a.key))
      }
    }
    for (const node of nodes) {
      node.net.groups.setValidator(async (topic, data, origin) => {
        if (topic === rawTopic) {
          const id = toHex(data.subarray(0, 16))
          const t = sentAt.get(id)
          if (t != null) rawLatencies.get(id)?.push(performance.now() - t)
          return 'accept'
        }
        return validate(node, data, origin, sentAt, latencies)
      })
      node.net.groups.subscribe(groupTopic)
      node.net.groups.subscribe(rawTopic)
    }
    const extra = opts.extra ?? 2
    for (let i = 1; i < n; i++) {
      const targets = new Set<number>([i - 1])
      while (targets.size < Math.min(i, 1 + extra)) targets.add(Math.floor(Math.random() * i))
      for (const t of targets) {
        for (let attempt = 1; ; attempt++) {
          try {
            await nodes[i]!.net.connect(nodes[t]!.net.peerId, { addrs: nodes[t]!.net.addresses() })
            break
          } catch (err) {
            if (attempt >= 3) throw err
          }
        }
      }
    }
    // wait for the meshes to form (gossipsub heartbeat grafts); a slow machine may need a while
    const end = Date.now() + 120_000
    const formed = (): boolean => nodes.every(x => x.net.groups.meshPeers(groupTopic).length >= Math.min(3, n - 1) && x.net.groups.meshPeers(rawTopic).length >= Math.min(3, n - 1))
    while (!formed() && Date.now() < end) await new Promise(resolve => setTimeout(resolve, 100))
    if (!formed()) throw new Error('the gossipsub meshes did not form within 120 s')
  } catch (err) {
    await stopAll()
    throw err
  }
  return { nodes, groupTopic, rawTopic, sentAt, latencies, rawLatencies, stop: stopAll }
}

const locks = new WeakMap<MeshNode, Promise<unknown>>()

/** One message at a time per node (as the node's group lock does): decryption advances shared state. */
async function validate (node: MeshNode, data: Uint8Array, origin: string | null, sentAt: Map<string, number>, latencies: Map<string, number[]>): Promise<'accept' | 'reject' | 'ignore'> {
  const prev = locks.get(node) ?? Promise.resolve()
  const run = prev.then(async () => await validateLocked(node, data, origin, sentAt, latencies))
  locks.set(node, run.catch(() => {}))
  return await run
}

async function validateLocked (node: MeshNode, data: Uint8Array, origin: string | null, sentAt: Map<string, number>, latencies: Map<string, number[]>): Promise<'accept' | 'reject' | 'ignore'> {
  let w
  try { w = decodeGroupWire(data) } catch { node.rejected++; return 'reject' }
  const sender = toHex(w.sender)
  const rec = node.records.get(sender)
  if (rec == null) return 'ignore'
  // Part 5 §8: the gossipsub origin must be the author (repairs carry no origin: the chain signature decides)
  if (origin != null && origin !== peerOf.get(sender)) { node.rejected++; return 'reject' }
  const id = toHex(await primitives.sha256(data))
  if (node.causal.pending.some(p => p.id === id)) return 'ignore'
  let dec
  try {
    dec = await senderKeyDecrypt(rec, w.message)
  } catch (err) {
    if (err instanceof DuplicateMessageError) return 'ignore'
    node.rejected++
    return 'reject'
  }
  node.records.set(sender, dec.record)
  const body = decodeGroupBody(dec.plaintext)
  keepWire(node, sender, body.seq, data)
  const r = receive(node.causal, { id, sender, seq: body.seq, lamport: body.lamport, deps: body.deps.map(d => ({ id: toHex(d.id), sender: toHex(d.sender), seq: d.seq })), payload: null }, { inPlace: true })
  node.causal = r.state
  const now = performance.now()
  for (const e of r.events) {
    if (e.type !== 'delivered') continue
    node.delivered.push(e.message.id)
    const t = sentAt.get(e.message.id)
    if (t != null) latencies.get(e.message.id)?.push(now - t)
  }
  return 'accept'
}

const peerOf = new Map<string, string>()

function keepWire (node: MeshNode, sender: string, seq: number, wire: Uint8Array): void {
  let m = node.wires.get(sender)
  if (m == null) node.wires.set(sender, m = new Map())
  m.set(seq, wire)
}

/** Registers the member -> PeerId binding the validators check (call once per mesh). */
export function bindPeers (mesh: Mesh): void {
  for (const x of mesh.nodes) peerOf.set(x.member, x.net.peerId)
}

/** One group message from `node`: sender-key encrypt once, publish. Returns its id. */
export async function publishGroup (mesh: Mesh, node: MeshNode, text: string): Promise<string> {
  const meta = nextMeta(node.causal)
  const body = encodeGroupBody({ seq: meta.seq, lamport: meta.lamport, deps: meta.deps.map(d => ({ id: fromHex(d.id), sender: fromHex(d.sender), seq: d.seq })), timestamp: Date.now(), text })
  const { state, message } = await senderKeyEncrypt(node.own, body)
  node.own = state
  const wire = encodeGroupWire({ sender: node.key, message })
  const id = toHex(await primitives.sha256(wire))
  node.causal = receive(node.causal, { id, ...meta, payload: null }, { inPlace: true }).state
  keepWire(node, node.member, meta.seq, wire)
  node.delivered.push(id)
  mesh.latencies.set(id, [])
  mesh.sentAt.set(id, performance.now())
  await publishSome(node, mesh.groupTopic, wire)
  return id
}

/** One raw gossipsub message of the same size from `node` (16-byte id first). */
export async function publishRaw (mesh: Mesh, node: MeshNode, size: number): Promise<string> {
  const data = new Uint8Array(randomBytes(Math.max(16, size)))
  const id = toHex(data.subarray(0, 16))
  mesh.rawLatencies.set(id, [])
  mesh.sentAt.set(id, performance.now())
  await publishSome(node, mesh.rawTopic, data)
  return id
}

/** As the node does with a queued message: publish again while nobody received it (at most ~10 s). */
async function publishSome (node: MeshNode, topic: string, data: Uint8Array): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await node.net.groups.publish(topic, data)).recipients > 0) return
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

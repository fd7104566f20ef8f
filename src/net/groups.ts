/**
 * Group transport: @libp2p/gossipsub (17.x; STACK-NOTES: the @chainsafe package never delivers on
 * libp2p 3) wrapped so nothing gossipsub-typed leaves src/net. src/net knows nothing about groups:
 * topics are opaque strings (Parley derives them from the group secret, docs/PROTOCOL.md Part 5 §6)
 * and the caller decides validity through ONE narrow callback (`setValidator`).
 *
 * Defences (docs/PROTOCOL.md Part 5 §7):
 * - StrictSign: every message carries its origin PeerId, a sequence number and the origin's
 *   signature; unsigned or anonymous messages are dropped by gossipsub before the validator runs.
 * - Size cap: frames above `maxMessageBytes` are rejected before the callback sees them.
 * - Per-origin rate limit (token bucket): beyond it a message is ignored; the origin is charged the
 *   application penalty when it sent the message itself (not when it arrives through someone else,
 *   who may not have seen the burst). Never a Reject: that would cost honest forwarders P4.
 * - Peer scoring: P4 (invalid deliveries) on every subscribed topic plus an application score (P5)
 *   that sinks with every rejection and every rate-limit hit of the origin itself, so a flooding or
 *   invalid-publishing peer drops below the gossip, publish and graylist thresholds: its RPCs are
 *   ignored and the next heartbeat prunes it from the mesh (gossipsub v1.1 §Peer Scoring).
 * - Prompt scoring: gossipsub 17.1.1 caches a peer's score for one heartbeat and nothing in it drops
 *   that cache when a message is rejected; it also waves up to 128 RPCs / 1 s of a peer whose score
 *   was >= 0 through without looking at the score. Every charge here therefore drops both for the
 *   peer (`rescore`), so its next RPC is judged on the score with the charge in it
 *   (docs/PROTOCOL.md Part 5 §8).
 */
import { gossipsub, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { InvalidPeerIdError, NetStateError } from './errors.js'

/** The PeerId string of a raw 32-byte Ed25519 public key (a group member id names its key). */
export function peerIdOfEd25519Key (key: Uint8Array): string {
  if (!(key instanceof Uint8Array) || key.byteLength !== 32) throw new InvalidPeerIdError('an Ed25519 key is 32 bytes')
  try {
    return peerIdFromPublicKey(publicKeyFromRaw(key)).toString()
  } catch (err) {
    throw new InvalidPeerIdError('not an Ed25519 public key', { cause: err })
  }
}

export type GroupValidation = 'accept' | 'reject' | 'ignore'

/**
 * Judges one message: `origin` is the PeerId that signed it (StrictSign), `via` the peer that
 * forwarded it to us. Must resolve quickly (gossipsub penalises slow validation).
 */
export type GroupValidator = (topic: string, data: Uint8Array, origin: string, via: string) => Promise<GroupValidation>

export interface GroupTransportOptions {
  /** Largest published message. @default 96 KiB (a 64 KiB text plus sender-key overhead) */
  maxMessageBytes?: number
  /** Messages per origin per second, sustained. @default 20 */
  ratePerSecond?: number
  /** Burst allowance per origin. @default 60 */
  rateBurst?: number
  /** Heartbeat of the gossipsub mesh. @default 700 */
  heartbeatMs?: number
}

export const DEFAULT_GROUP_TRANSPORT: Required<GroupTransportOptions> = {
  maxMessageBytes: 96 * 1024,
  ratePerSecond: 20,
  rateBurst: 60,
  heartbeatMs: 700
}

/**
 * Our own publications are paced to this fraction of the receivers' rate limit (sustained and burst), so
 * an honest member publishing a backlog (messages queued while nobody was subscribed) is never charged
 * as a flooder by the others' buckets (Part 5 §8), even when a receiver's event loop stalls for up to
 * rateBurst / (SEND_PACE · ratePerSecond) = 6 s and then validates a backlog at once. Publishing waits for a token.
 */
const SEND_PACE = 0.5
/** Application penalty per rejected message / rate-limit hit; decays by half every PENALTY_HALF_LIFE_MS. */
const PENALTY_STEP = 10
const PENALTY_HALF_LIFE_MS = 60_000
/**
 * Score thresholds (gossipsub v1.1 §Score Thresholds). n rejections of what a peer sent cost it
 * 2·n² (P4) + 10·n (P5): 2 put it below the gossip threshold, 3 below the publish threshold, 5 below
 * the graylist threshold (-100); any negative score keeps it out of the mesh.
 */
export const GROUP_SCORE_THRESHOLDS = { gossipThreshold: -20, publishThreshold: -40, graylistThreshold: -80, acceptPXThreshold: 10, opportunisticGraftThreshold: 5 }

export interface GroupTransportStats {
  accepted: number
  rejected: number
  ignored: number
  rateLimited: number
}

export interface GroupTransport {
  subscribe: (topic: string) => void
  unsubscribe: (topic: string) => void
  topics: () => string[]
  /** Publishes to the topic (origin-signed). Resolves with how many peers it was sent to (0 is not an error). */
  publish: (topic: string, data: Uint8Array, options?: { signal?: AbortSignal }) => Promise<{ recipients: number }>
  setValidator: (fn: GroupValidator | null) => void
  /** Peers in our mesh for the topic. */
  meshPeers: (topic: string) => string[]
  /** Peers known to subscribe to the topic. */
  subscribers: (topic: string) => string[]
  /** The gossipsub score of a peer, computed now (negative: misbehaving; GROUP_SCORE_THRESHOLDS say what follows). */
  score: (peerId: string) => number
  /** Our application penalty of a peer (rejections of what it sent, its own messages over the rate; decays; fed to gossipsub as P5). */
  penalty: (peerId: string) => number
  stats: () => GroupTransportStats
}

interface Bucket { tokens: number, at: number }

/** The gossipsub service factory for createLibp2p's `services`. */
export function groupPubsubService (opts: GroupTransportOptions, penalty: (peer: string) => number): ReturnType<typeof gossipsub> {
  const o = { ...DEFAULT_GROUP_TRANSPORT, ...opts }
  return gossipsub({
    globalSignaturePolicy: 'StrictSign',
    emitSelf: false,
    allowPublishToZeroTopicPeers: true,
    // Messages may carry up to maxMessageBytes plus protobuf/RPC framing.
    maxInboundDataLength: o.maxMessageBytes + 4096,
    heartbeatInterval: o.heartbeatMs,
    fallbackToFloodsub: false,
    floodPublish: true,
    doPX: false,
    // Drop duplicates (every mesh peer forwards each message) before their signature is verified again:
    // the StrictSign message id is (from, seqno) anyway, so this cache key names the same message.
    fastMsgIdFn: (m: { from?: Uint8Array, seqno?: Uint8Array }) => fastId(m.from) + ':' + fastId(m.seqno),
    scoreParams: {
      appSpecificScore: (p: string) => -penalty(p),
      appSpecificWeight: 1,
      // loopback tests and LANs put every peer on one IP: colocation must not count
      IPColocationFactorWeight: 0,
      // P7 (broken IWANT promises) is lenient: on a loaded machine honest peers answer late, and
      // pushing them below the publish threshold would lose messages; P4/P5 catch the misbehaving
      behaviourPenaltyWeight: -1,
      behaviourPenaltyThreshold: 4,
      behaviourPenaltyDecay: 0.5,
      decayInterval: 1000,
      decayToZero: 0.01,
      retainScore: 3_600_000
    },
    scoreThresholds: GROUP_SCORE_THRESHOLDS
  })
}

function fastId (b: Uint8Array | undefined): string {
  return b == null ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
}

/**
 * Topic score parameters: only P4 (invalid message deliveries) matters for Parley groups. Its counter
 * decays slowly (x0.99 per second, half-life ~69 s, like P5's 60 s): a peer graylisted for invalid
 * messages stays below the threshold for about 15 s and negative for minutes, not for ~2 s as with a
 * fast decay (gossipsub v1.1 §Guidelines for Tuning the Scoring Function: P4 should be sticky).
 */
function topicParams (): Record<string, number> {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 1,
    firstMessageDeliveriesWeight: 0,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 1,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: -2,
    invalidMessageDeliveriesDecay: 0.99
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = (): void => { signal?.removeEventListener('abort', stop); resolve() }
    const t = setTimeout(done, ms)
    const stop = (): void => { clearTimeout(t); reject(signal?.reason ?? new Error('aborted')) }
    signal?.addEventListener('abort', stop, { once: true })
  })
}

export class GroupPubsub implements GroupTransport {
  private validator: GroupValidator | null = null
  private readonly buckets = new Map<string, Bucket>()
  private readonly penalties = new Map<string, { value: number, at: number }>()
  private readonly counts: GroupTransportStats = { accepted: 0, rejected: 0, ignored: 0, rateLimited: 0 }
  private readonly o: Required<GroupTransportOptions>
  private ps: GroupSub | null = null
  /** Our own publication bucket (SEND_PACE) and the queue of publications waiting for a token. */
  private readonly pace = { tokens: -1, at: 0 }
  private paceTail: Promise<void> = Promise.resolve()

  constructor (opts: GroupTransportOptions = {}) {
    this.o = { ...DEFAULT_GROUP_TRANSPORT, ...opts }
  }

  /** Current application penalty of a peer (decayed). */
  penalty (peer: string): number {
    const p = this.penalties.get(peer)
    if (p == null) return 0
    const v = p.value * 0.5 ** ((Date.now() - p.at) / PENALTY_HALF_LIFE_MS)
    if (v < 0.5) { this.penalties.delete(peer); return 0 }
    return v
  }

  private punish (peer: string): void {
    const v = this.penalty(peer) + PENALTY_STEP
    this.penalties.set(peer, { value: v, at: Date.now() })
    if (this.penalties.size > 4096) this.penalties.delete(this.penalties.keys().next().value!)
  }

  /** Token bucket per origin (docs/PROTOCOL.md Part 5 §7). */
  private take (origin: string): boolean {
    const now = Date.now()
    const b = this.buckets.get(origin) ?? { tokens: this.o.rateBurst, at: now }
    b.tokens = Math.min(this.o.rateBurst, b.tokens + (now - b.at) / 1000 * this.o.ratePerSecond)
    b.at = now
    const ok = b.tokens >= 1
    if (ok) b.tokens -= 1
    this.buckets.set(origin, b)
    if (this.buckets.size > 4096) this.buckets.delete(this.buckets.keys().next().value!)
    return ok
  }

  /** One application penalty for `peer`, effective at once. */
  private charge (peer: string): void {
    this.punish(peer)
    this.rescore(peer)
  }

  /**
   * Makes gossipsub judge `peer` on its current score from now on. gossipsub 17.1.1 keeps a computed
   * score for `heartbeatInterval` ms (PeerScore.scoreCache, invalidated by nothing but time) and lets
   * a peer whose score was >= 0 through `acceptFrom` for 128 RPCs or 1 s without a score check
   * (the private acceptFromWhitelist). Without this, a peer flooding garbage within one heartbeat
   * keeps its pre-flood score 0: it is neither graylisted nor pruned until the next heartbeat after
   * the cache runs out. Dropping both entries is safe: they are caches, gossipsub refills them.
   */
  private rescore (peer: string): void {
    const ps = this.ps
    if (ps == null) return
    ps.score.scoreCache.delete(peer)
    const wl = (ps as { acceptFromWhitelist?: unknown }).acceptFromWhitelist
    if (wl instanceof Map) wl.delete(peer)
  }

  /** Called once libp2p is created: binds the gossipsub instance. */
  attach (ps: unknown): void {
    this.ps = ps as GroupSub
  }

  private get pubsub (): GroupSub {
    if (this.ps == null) throw new NetStateError('group transport is not attached')
    return this.ps
  }

  private readonly validate = async (via: PeerId, msg: { type: string, topic: string, data: Uint8Array, from?: PeerId }): Promise<TopicValidatorResult> => {
    const viaStr = via.toString()
    const verdict = async (): Promise<GroupValidation> => {
      // StrictSign already refused unsigned messages; this is a second line.
      if (msg.type !== 'signed' || msg.from == null) return 'reject'
      if (msg.data.byteLength > this.o.maxMessageBytes) return 'reject'
      const origin = msg.from.toString()
      if (!this.take(origin)) {
        this.counts.rateLimited++
        // Ignored, never rejected: gossipsub counts a rejected message as an invalid delivery (P4)
        // against EVERY peer that delivered a copy, and honest members forward the flooder's (valid)
        // messages while their own bucket for it still has tokens. The flooder pays through P5 alone.
        if (origin === viaStr) this.charge(viaStr)
        return 'ignore'
      }
      const fn = this.validator
      if (fn == null) return 'ignore'
      try {
        return await fn(msg.topic, msg.data, origin, viaStr)
      } catch {
        return 'ignore'
      }
    }
    const v = await verdict()
    if (v === 'reject') {
      this.counts.rejected++
      this.charge(viaStr)
      return TopicValidatorResult.Reject
    }
    if (v === 'ignore') {
      this.counts.ignored++
      return TopicValidatorResult.Ignore
    }
    this.counts.accepted++
    return TopicValidatorResult.Accept
  }

  subscribe (topic: string): void {
    const ps = this.pubsub
    if (ps.getTopics().includes(topic)) return
    ps.topicValidators.set(topic, this.validate as never)
    // P4 for this topic: topics are made at run time, so their parameters are added as they come
    ps.score.params.topics[topic] = topicParams() as never
    ps.subscribe(topic)
  }

  unsubscribe (topic: string): void {
    const ps = this.pubsub
    ps.unsubscribe(topic)
    ps.topicValidators.delete(topic)
  }

  topics (): string[] {
    return this.ps?.getTopics() ?? []
  }

  async publish (topic: string, data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<{ recipients: number }> {
    options.signal?.throwIfAborted()
    if (data.byteLength > this.o.maxMessageBytes) throw new NetStateError('group message too large')
    await this.paced(options.signal)
    const r = await this.pubsub.publish(topic, data)
    return { recipients: r.recipients.length }
  }

  /** Waits, in call order, until our own bucket has a token (SEND_PACE of the receivers' limit). */
  private async paced (signal?: AbortSignal): Promise<void> {
    const rate = this.o.ratePerSecond * SEND_PACE
    const burst = Math.max(1, Math.floor(this.o.rateBurst * SEND_PACE))
    const turn = this.paceTail.then(async () => {
      for (;;) {
        signal?.throwIfAborted()
        const now = Date.now()
        this.pace.tokens = this.pace.tokens < 0 ? burst : Math.min(burst, this.pace.tokens + (now - this.pace.at) / 1000 * rate)
        this.pace.at = now
        if (this.pace.tokens >= 1) { this.pace.tokens -= 1; return }
        await sleep(Math.ceil((1 - this.pace.tokens) / rate * 1000), signal)
      }
    })
    this.paceTail = turn.catch(() => {})
    await turn
  }

  setValidator (fn: GroupValidator | null): void {
    this.validator = fn
  }

  meshPeers (topic: string): string[] {
    return this.ps?.getMeshPeers(topic) ?? []
  }

  subscribers (topic: string): string[] {
    return (this.ps?.getSubscribers(topic) ?? []).map(p => p.toString())
  }

  score (peerId: string): number {
    const ps = this.ps
    if (ps == null) return 0
    // computed now, not the value cached at the last heartbeat (see rescore)
    ps.score.scoreCache.delete(peerId)
    return ps.score.score(peerId)
  }

  stats (): GroupTransportStats {
    return { ...this.counts }
  }
}

/** The slice of the GossipSub class (17.x) this file uses. */
interface GroupSub {
  getTopics: () => string[]
  topicValidators: Map<string, unknown>
  subscribe: (topic: string) => void
  unsubscribe: (topic: string) => void
  publish: (topic: string, data: Uint8Array) => Promise<{ recipients: PeerId[] }>
  getMeshPeers: (topic: string) => string[]
  getSubscribers: (topic: string) => PeerId[]
  score: { params: { topics: Record<string, unknown> }, score: (peerId: string) => number, scoreCache: Map<string, unknown> }
}

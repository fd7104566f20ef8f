/**
 * A hostile peer for the group e2e tests: a bare libp2p node (TCP, Noise, Yamux, identify, gossipsub
 * with the same StrictSign policy as Parley) with its own key and no Parley protocol at all. It
 * connects to daemons on 127.0.0.1, learns which gossipsub topics they subscribe to (gossipsub
 * announces subscriptions to every connected peer), and publishes whatever bytes the test gives it.
 * Nothing of Parley is substituted: the daemons under test are real; this is the attacker.
 */
import { createLibp2p, type Libp2p } from 'libp2p'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'

export class Intruder {
  /** Topics each connected peer announced (peerId → topics). */
  private readonly announced = new Map<string, Set<string>>()
  /** Messages received on topics we subscribed to (group ciphertexts, as any mesh peer sees them). */
  readonly captured: Array<{ topic: string, data: Uint8Array, from: string }> = []

  private constructor (private readonly node: Libp2p<{ pubsub: GossipSub }>) {
    node.services.pubsub.addEventListener('subscription-change', (ev) => {
      const peer = ev.detail.peerId.toString()
      const set = this.announced.get(peer) ?? new Set<string>()
      for (const s of ev.detail.subscriptions) {
        if (s.subscribe) set.add(s.topic)
        else set.delete(s.topic)
      }
      this.announced.set(peer, set)
    })
    node.services.pubsub.addEventListener('message', (ev) => {
      const m = ev.detail
      if (m.type === 'signed' && this.captured.length < 10_000) this.captured.push({ topic: m.topic, data: m.data, from: m.from.toString() })
    })
  }

  subscribe (topic: string): void { this.node.services.pubsub.subscribe(topic) }

  static async start (): Promise<Intruder> {
    const node = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        pubsub: gossipsub({ globalSignaturePolicy: 'StrictSign', emitSelf: false, allowPublishToZeroTopicPeers: true, floodPublish: true, fallbackToFloodsub: false })
      }
    })
    return new Intruder(node)
  }

  get peerId (): string { return this.node.peerId.toString() }

  async dial (addr: string, signal?: AbortSignal): Promise<void> {
    await this.node.dial(multiaddr(addr), { signal: signal ?? AbortSignal.timeout(20_000) })
  }

  /** Topics `peerId` announced to us so far. */
  topicsOf (peerId: string): string[] {
    return [...(this.announced.get(peerId) ?? [])]
  }

  /** The peers in our own gossipsub mesh for `topic` (a peer that PRUNEd us is no longer in it). */
  meshPeers (topic: string): string[] {
    // the GossipSub class has it; the exported interface type does not list it
    return (this.node.services.pubsub as unknown as { getMeshPeers: (t: string) => string[] }).getMeshPeers(topic)
  }

  /** Publishes `data` on `topic`, signed with the intruder's own key; resolves with how many peers got it. */
  async publish (topic: string, data: Uint8Array): Promise<number> {
    const r = await this.node.services.pubsub.publish(topic, data)
    return r.recipients.length
  }

  async stop (): Promise<void> {
    await this.node.stop()
  }
}

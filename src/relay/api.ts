/**
 * What a relay home answers on the local API (`parley --home RELAYHOME id|status|peers`): the relay's
 * identity, its connections and (through GET /v1/status) its metrics. A relay is not a chat node:
 * every chat operation fails with RelayNodeError instead of pretending.
 */
import { ParleyError, type LocalIdentityInfo, type NodeEvent, type ParleyNodeApi, type PeerConnectionInfo } from '../core/api.js'
import type { RunningRelay } from './relay.js'

export class RelayNodeError extends ParleyError {
  override readonly name = 'RelayNodeError'
  constructor (op: string) { super('ERR_RELAY_NODE', `this home runs a relay (parley relay), not a chat node: ${op} is not available`) }
}

/** The relay's answers; any other ParleyNodeApi method rejects with RelayNodeError. */
class RelayApiCore {
  constructor (private readonly relay: RunningRelay) {}

  async id (): Promise<LocalIdentityInfo> {
    return { peerId: this.relay.peerId, name: this.relay.name, addresses: this.relay.addresses(), identityKey: this.relay.identityKey }
  }

  async peers (): Promise<PeerConnectionInfo[]> {
    return this.relay.connections().map(c => ({ ...c, contact: null }))
  }

  subscribe (_listener: (event: NodeEvent) => void): () => void {
    // a relay has no chat events
    return () => {}
  }

  async stop (): Promise<void> {
    await this.relay.stop()
  }
}

export function relayApi (relay: RunningRelay): ParleyNodeApi {
  const core = new RelayApiCore(relay)
  return new Proxy(core, {
    get (target, prop, receiver) {
      if (typeof prop !== 'string' || prop in target || prop === 'then') {
        const v = Reflect.get(target, prop, receiver) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      }
      return async () => { throw new RelayNodeError(prop) }
    }
  }) as unknown as ParleyNodeApi
}

/**
 * `send --wait`: send, then wait for the delivery receipt. Built on the event stream (not on the node's
 * own wait) so that a timeout can still name the queued message's id.
 */
import type { MessageInfo, MessageStatus, ParleyNodeApi } from '../core/api.js'
import { DeliveryFailedError, DeliveryTimeoutError } from './errors.js'

const DONE: ReadonlySet<MessageStatus> = new Set(['delivered', 'read'])

export const DEFAULT_WAIT_MS = 60_000

export async function sendAndWait (node: ParleyNodeApi, peer: string, text: string,
  opts: { timeoutMs?: number, signal?: AbortSignal } = {}): Promise<MessageInfo> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS
  const seen = new Map<string, MessageStatus>()
  let wake: (() => void) | null = null
  // Subscribe before sending: a receipt may arrive before send() resolves.
  const unsubscribe = node.subscribe((ev) => {
    if (ev.type === 'status') {
      seen.set(ev.id, ev.status)
      wake?.()
    }
  })
  try {
    const msg = await node.send(peer, text, { signal: opts.signal })
    const deadline = AbortSignal.timeout(timeoutMs)
    const signal = opts.signal == null ? deadline : AbortSignal.any([deadline, opts.signal])
    let status: MessageStatus = seen.get(msg.id) ?? msg.status
    while (!DONE.has(status)) {
      if (status === 'failed') throw new DeliveryFailedError(msg.id)
      if (signal.aborted) {
        if (opts.signal?.aborted === true) throw opts.signal.reason
        throw new DeliveryTimeoutError(msg.id, status, Math.round(timeoutMs / 1000))
      }
      await new Promise<void>((resolve) => {
        const done = (): void => { wake = null; signal.removeEventListener('abort', done); resolve() }
        wake = done
        signal.addEventListener('abort', done)
      })
      status = seen.get(msg.id) ?? status
    }
    return { ...msg, status }
  } finally {
    unsubscribe()
  }
}

// Shared helpers for the node tests: real stores under os.tmpdir(), real libp2p on 127.0.0.1, mDNS off.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createParleyNode, initIdentity, type CreateNodeOptions, type ParleyNode } from '../../src/core/node.js'
import type { MessageStatus, NodeEvent } from '../../src/core/api.js'

const homes: string[] = []
const nodes: ParleyNode[] = []

export async function tempHome (): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'parley-core-'))
  homes.push(h)
  return h
}

/** Fast, loopback-only settings (generous enough for a loaded 2-core machine). */
export function testOptions (home: string, over: Partial<CreateNodeOptions> = {}): CreateNodeOptions {
  return {
    home,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    allowLoopbackFlood: true,
    timeouts: { dialMs: 5_000, streamOpenMs: 5_000, readMs: 8_000, handlerMs: 8_000, idleMs: 10_000, dhtMs: 5_000 },
    reconnect: { baseMs: 200, maxMs: 1_500 },
    outbox: { tickMs: 200, retryBaseMs: 200, retryMaxMs: 1_500, sessionSetupMs: 6_000, sendTimeoutMs: 10_000 },
    ...over
  }
}

export async function startNode (name: string, over: Partial<CreateNodeOptions> & { home?: string, passphrase?: string } = {}): Promise<ParleyNode> {
  const home = over.home ?? await tempHome()
  if (over.home == null) await initIdentity({ home, name, ...(over.passphrase != null ? { passphrase: over.passphrase } : {}) })
  const node = await createParleyNode(testOptions(home, over))
  nodes.push(node)
  return node
}

export function homeOf (node: ParleyNode): string {
  return node.internals.store.path.replace(/\/parley\.db$/, '')
}

/** Stops every node started here and removes the homes. */
export async function cleanup (): Promise<void> {
  await Promise.allSettled(nodes.splice(0).map(async n => await n.stop()))
  await Promise.allSettled(homes.splice(0).map(async h => await rm(h, { recursive: true, force: true })))
}

/** Two nodes that added each other's invites. */
export async function connectPair (a: ParleyNode, b: ParleyNode): Promise<void> {
  await a.addContact((await b.invite()).invite)
  await b.addContact((await a.invite()).invite)
}

export async function until (cond: () => boolean | Promise<boolean>, ms = 30_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`${what} not met within ${ms} ms`)
}

export function nextEvent (node: ParleyNode, pred: (e: NodeEvent) => boolean, ms = 30_000): Promise<NodeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { unsub(); reject(new Error('event did not come in time')) }, ms)
    const unsub = node.subscribe((e) => {
      if (!pred(e)) return
      clearTimeout(timer)
      unsub()
      resolve(e)
    })
  })
}

export async function statusOf (node: ParleyNode, peer: string, id: string): Promise<MessageStatus | undefined> {
  return (await node.messages(peer)).find(m => m.id === id)?.status
}

export function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN
}

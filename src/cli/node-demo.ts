/**
 * `parley demo`: two real Parley nodes on this machine (temporary homes, TCP on 127.0.0.1, mDNS off)
 * exchange invites, add each other, chat end to end encrypted with visible delivery statuses
 * (queued → sent → delivered → read), compare safety numbers, then stop and delete their homes.
 * Nothing leaves the loopback interface and nothing of the user's own ~/.parley is touched.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MessageInfo, MessageStatus, NodeEvent, ParleyNodeApi } from '../core/api.js'
import { ParleyError } from '../core/api.js'
import { groupSafetyNumber, sanitize, shortId, STATUS_MARK } from './format.js'

/** A step of the demo that must succeed did not (exit status 1). */
export class DemoFailedError extends ParleyError {
  override readonly name = 'DemoFailedError'
  constructor (message: string, options?: { cause?: unknown }) {
    super('ERR_DEMO', message, options)
  }
}

export interface NodeDemoOptions {
  out: { write: (s: string) => unknown }
  /** Print one JSON summary instead of the narration. */
  json?: boolean
  /** Wait for each status / message at most this long. @default 30000 */
  stepTimeoutMs?: number
  signal?: AbortSignal
}

export interface NodeDemoSummary {
  ok: boolean
  nodes: Array<{ name: string, peerId: string, addresses: string[] }>
  messages: Array<{ from: string, to: string, text: string, statuses: MessageStatus[], received: boolean }>
  safetyNumber: { alice: string, bob: string, match: boolean }
  durationMs: number
}

interface DemoNode {
  name: string
  node: ParleyNodeApi
  peerId: string
  /** Every event seen, in order (the demo waits on these). */
  events: NodeEvent[]
  waiters: Set<() => void>
  unsubscribe: () => void
}

const SCRIPT: Array<{ from: 'alice' | 'bob', text: string }> = [
  { from: 'alice', text: 'Hi Bob! This message is end-to-end encrypted (PQXDH + Double Ratchet).' },
  { from: 'bob', text: 'Hi Alice, got it. Our nodes talk directly over 127.0.0.1.' },
  { from: 'alice', text: 'Let us compare safety numbers to be sure nobody is in the middle.' }
]

/** Runs the demo; resolves with the exit status (0 on success). */
export async function runNodeDemo (opts: NodeDemoOptions): Promise<number> {
  const started = Date.now()
  const json = opts.json === true
  const say = (s = ''): void => { if (!json) opts.out.write(s + '\n') }
  const stepMs = opts.stepTimeoutMs ?? 30_000
  const root = await mkdtemp(join(tmpdir(), 'parley-demo-'))
  const nodes: DemoNode[] = []
  const summary: NodeDemoSummary = { ok: false, nodes: [], messages: [], safetyNumber: { alice: '', bob: '', match: false }, durationMs: 0 }
  try {
    // Loaded here so that `parley --help` never pays for libp2p.
    const core = await import('../core/node.js')
    say('Parley demo: two real nodes on this machine (TCP on 127.0.0.1, Noise + Yamux, mDNS off),')
    say('chatting end-to-end encrypted. Their homes are temporary and removed at the end.')
    say()
    for (const name of ['alice', 'bob']) {
      opts.signal?.throwIfAborted()
      const home = join(root, name)
      await core.initIdentity({ home, name, ...(opts.signal != null ? { signal: opts.signal } : {}) })
      const node = await core.createParleyNode({
        home,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        mdns: false,
        bootstrap: [],
        allowLoopbackFlood: true,
        ...(opts.signal != null ? { signal: opts.signal } : {})
      })
      const d: DemoNode = { name, node, peerId: node.peerId, events: [], waiters: new Set(), unsubscribe: () => {} }
      d.unsubscribe = node.subscribe((e) => {
        d.events.push(e)
        for (const w of [...d.waiters]) w()
      })
      nodes.push(d)
      const id = await node.id()
      summary.nodes.push({ name, peerId: id.peerId, addresses: id.addresses })
      say(`  ${name.padEnd(5)}  started  ${shortId(id.peerId)}  ${id.addresses[0] ?? '(no address)'}`)
    }
    const [alice, bob] = nodes as [DemoNode, DemoNode]
    const byName = { alice, bob }

    say()
    say('1. Exchanging invites (out of band in real life: a link or a QR code)')
    const inviteA = (await alice.node.invite()).invite
    const inviteB = (await bob.node.invite()).invite
    say(`  alice's invite: ${inviteA.length > 72 ? inviteA.slice(0, 69) + '...' : inviteA}`)
    await bob.node.addContact(inviteA, { name: 'alice', ...(opts.signal != null ? { signal: opts.signal } : {}) })
    say('  bob added alice from her invite')
    await alice.node.addContact(inviteB, { name: 'bob', ...(opts.signal != null ? { signal: opts.signal } : {}) })
    say('  alice added bob from his invite')

    say()
    say('2. Chatting (statuses: … queued, ✓ sent, ✓✓ delivered, ✓✓ read)')
    for (const line of SCRIPT) {
      const from = byName[line.from]
      const to = line.from === 'alice' ? bob : alice
      say(`  ${from.name} → ${to.name}: "${line.text}"`)
      const statuses: MessageStatus[] = []
      const note = (s: MessageStatus): void => {
        if (statuses.at(-1) === s) return
        statuses.push(s)
        say(`      ${STATUS_MARK[s]} ${s}`)
      }
      const info = await from.node.send(to.name, line.text, opts.signal != null ? { signal: opts.signal } : {})
      const record = { from: from.name, to: to.name, text: line.text, statuses, received: false }
      summary.messages.push(record)
      note(info.status)
      // Status events for this message, in the order the sender's node emitted them.
      const statusOf = (e: NodeEvent): MessageStatus | undefined => e.type === 'status' && e.id === info.id ? e.status : undefined
      let seen = 0
      const follow = (): void => {
        const list = from.events.map(statusOf).filter((s): s is MessageStatus => s !== undefined)
        for (; seen < list.length; seen++) note(list[seen]!)
      }
      await waitFor(from, () => { follow(); return statuses.includes('delivered') || statuses.includes('read') }, stepMs, `"${line.text}" to be delivered`, opts.signal)
      if (statuses.includes('failed')) throw new DemoFailedError('a message failed to send')
      const got = await waitFor(to, () => to.events.find((e): e is { type: 'message', message: MessageInfo } =>
        e.type === 'message' && e.message.direction === 'in' && e.message.id === info.id)?.message, stepMs, `${to.name} to receive the message`, opts.signal)
      if (got.text !== line.text) throw new DemoFailedError(`${to.name} received different text`)
      record.received = true
      say(`      ${to.name} received: "${sanitize(got.text)}" and reads it`)
      await to.node.markRead(from.name)
      await waitFor(from, () => { follow(); return statuses.includes('read') }, stepMs, `the read receipt for "${line.text}"`, opts.signal)
    }

    say()
    say('3. Safety numbers (each side computes its own; they must be equal)')
    const sa = await alice.node.safetyNumber('bob')
    const sb = await bob.node.safetyNumber('alice')
    summary.safetyNumber = { alice: sa.safetyNumber, bob: sb.safetyNumber, match: sa.safetyNumber === sb.safetyNumber }
    say('  alice sees:')
    say(indent(groupSafetyNumber(sa.safetyNumber), 4))
    say('  bob sees:')
    say(indent(groupSafetyNumber(sb.safetyNumber), 4))
    // X3DH §4.1: identity keys are authenticated by comparing fingerprints out of band.
    if (!summary.safetyNumber.match) throw new DemoFailedError('the two safety numbers differ')
    await alice.node.verifyContact('bob')
    await bob.node.verifyContact('alice')
    say('  ✓ they match: both contacts are now marked verified')
    summary.ok = true
  } catch (err) {
    throw err instanceof ParleyError || opts.signal?.aborted === true ? err : new DemoFailedError(`demo failed: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  } finally {
    say()
    say('4. Stopping both nodes and removing their temporary homes')
    for (const d of nodes.reverse()) {
      d.unsubscribe()
      await d.node.stop().catch(() => {})
    }
    await rm(root, { recursive: true, force: true })
  }
  summary.durationMs = Date.now() - started
  if (json) opts.out.write(JSON.stringify(summary) + '\n')
  else say(`Demo finished in ${(summary.durationMs / 1000).toFixed(1)} s.`)
  return 0
}

function indent (s: string, n: number): string {
  return s.split('\n').map((l) => ' '.repeat(n) + l).join('\n')
}

/** Re-evaluates `check` on each event of `d` until it returns something truthy; a timeout rejects. */
async function waitFor<T> (d: DemoNode, check: () => T | undefined | false, timeoutMs: number, what: string, signal?: AbortSignal): Promise<T> {
  const first = check()
  if (first !== undefined && first !== false) return first
  return await new Promise<T>((resolve, reject) => {
    const done = (): void => { clearTimeout(timer); d.waiters.delete(onEvent); signal?.removeEventListener('abort', onAbort) }
    const onEvent = (): void => {
      const v = check()
      if (v !== undefined && v !== false) { done(); resolve(v) }
    }
    const onAbort = (): void => { done(); reject(signal?.reason) }
    const timer = setTimeout(() => { done(); reject(new DemoFailedError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)) }, timeoutMs)
    d.waiters.add(onEvent)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

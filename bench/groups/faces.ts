/**
 * Faces group (issue 5): what the local API costs on top of the node for group chats. One real
 * Parley node (src/core/node.ts, SQLite home on disk) with a group, served by the daemon's API server
 * on a Unix socket; the same calls are made through `ApiClient` (HTTP/1.1 + bearer token + JSON, what
 * `parley group …` and the TUI use) and directly on the in-process node:
 *
 * - `faces.group-send`: `sendGroup(group, 100-byte text)` — encrypt, sign, commit, publish — per message.
 * - `faces.group-history`: `groupMessages(group, { limit: 200 })` — read and decode 200 messages.
 *
 * The baseline is the in-process call on the same node in the same run, so the ratio is the price of
 * the local API (a ratio near 1 means the face adds little).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createParleyNode, initIdentity, type ParleyNode } from '../../src/core/node.js'
import { connectDaemon, type ApiClient } from '../../src/daemon/client.js'
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js'
import { sideBySide } from '../measure.js'
import { BenchIntegrityError, type BenchGroup, type BenchOptions, type Figure } from '../types.js'

const TEXT = 'x'.repeat(100)
const HISTORY = 200

async function run (opts: BenchOptions): Promise<Figure[]> {
  const { quick, signal, log } = opts
  const dir = await mkdtemp(join(tmpdir(), 'parley-bench-faces-'))
  let daemon: RunningDaemon | null = null
  let client: ApiClient | null = null
  let node: ParleyNode | null = null
  try {
    const home = join(dir, 'h')
    await initIdentity({ home, name: 'bench', ...(signal != null ? { signal } : {}) })
    node = await createParleyNode({ home, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, ...(signal != null ? { signal } : {}) })
    daemon = await startDaemon({ home, node })
    client = (await connectDaemon(home)).client
    const g = await node.createGroup('bench')
    const n = node
    const c = client
    const sendVia = (api: Pick<ParleyNode, 'sendGroup'>) => ({
      run: async (ops: number): Promise<void> => {
        for (let i = 0; i < ops; i++) {
          const m = await api.sendGroup(g.groupId, TEXT)
          if (m.text !== TEXT || m.groupId !== g.groupId) throw new BenchIntegrityError('sendGroup returned another message')
        }
      }
    })
    const rounds = quick ? 2 : 7
    const figures: Figure[] = []
    figures.push(await sideBySide({
      name: 'faces.group-send',
      better: 'lower',
      kind: 'latency',
      baselineName: 'the same node, in-process call',
      parley: sendVia(c),
      baseline: sendVia(n),
      rounds,
      warmupOps: quick ? 5 : 30,
      roundMs: quick ? 100 : 1000,
      minOps: quick ? 3 : 20,
      maxOps: 2000,
      note: 'parley = ApiClient over the Unix socket (HTTP, token, JSON) → daemon → node.sendGroup; baseline = node.sendGroup; one node, group with no other member',
      ...(signal != null ? { signal } : {}),
      ...(log != null ? { log } : {})
    }))
    // The history has at least HISTORY messages by now (warm-up and rounds above sent them).
    while ((await n.groupMessages(g.groupId, { limit: HISTORY })).length < HISTORY) await n.sendGroup(g.groupId, TEXT)
    const historyVia = (api: Pick<ParleyNode, 'groupMessages'>) => ({
      run: async (ops: number): Promise<void> => {
        for (let i = 0; i < ops; i++) {
          const l = await api.groupMessages(g.groupId, { limit: HISTORY })
          if (l.length !== HISTORY) throw new BenchIntegrityError(`groupMessages returned ${l.length} messages, not ${HISTORY}`)
        }
      }
    })
    figures.push(await sideBySide({
      name: 'faces.group-history',
      better: 'lower',
      kind: 'latency',
      baselineName: 'the same node, in-process call',
      parley: historyVia(c),
      baseline: historyVia(n),
      rounds,
      warmupOps: quick ? 3 : 20,
      roundMs: quick ? 100 : 1000,
      minOps: quick ? 2 : 10,
      maxOps: 2000,
      note: `groupMessages(limit ${HISTORY}); parley = through the local API (JSON of ${HISTORY} GroupMessageInfo), baseline = in-process`,
      ...(signal != null ? { signal } : {}),
      ...(log != null ? { log } : {})
    }))
    return figures
  } finally {
    await client?.stop().catch(() => {})
    // The daemon stops the node it serves.
    if (daemon != null) await daemon.stop().catch(() => {})
    else await node?.stop().catch(() => {})
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
}

const group: BenchGroup = {
  name: 'faces',
  description: 'group chats through the local API (daemon + ApiClient) vs in-process calls on the same node',
  run
}
export default group

// Restart of either side resumes the session (issue 3, Tests): each daemon is stopped cleanly (SIGTERM)
// and restarted listening on a fresh port (tcp/0), with no bootstrap hint — the restarted node must
// find its contact at its last known address, and the contact must learn the new one.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { befriend, Cluster, messages, nodeBuilt, tcpPort, waitFor } from './harness.js'

const skip = nodeBuilt() ? false : 'src/core/node.ts is not built yet'
const DELIVERED = new Set(['delivered', 'read'])

describe('restarting either daemon resumes the session', { skip, timeout: 300_000 }, () => {
  let c: Cluster
  const log: Array<{ from: string, text: string, id: string }> = []

  async function exchange (label: string): Promise<void> {
    for (const [from, to] of [['alice', 'bob'], ['bob', 'alice']] as const) {
      const text = `${label}: ${from} to ${to}`
      const r = await c.cli<{ id: string, status: string }>(from, 'send', to, text, '--wait', '--timeout', '90')
      assert.ok(DELIVERED.has(r.status), `${text}: ${r.status}`)
      log.push({ from, text, id: r.id })
    }
  }

  async function assertHistory (): Promise<void> {
    const views = await Promise.all([messages(c, 'alice', 'bob'), messages(c, 'bob', 'alice')])
    for (const [i, me] of (['alice', 'bob'] as const).entries()) {
      const view = views[i]!
      assert.deepEqual(view.map((m) => ({ id: m.id, text: m.text, direction: m.direction })),
        log.map((m) => ({ id: m.id, text: m.text, direction: m.from === me ? 'out' : 'in' })), `${me}'s history\n${c.logs()}`)
      for (const m of view) if (m.direction === 'out') assert.ok(DELIVERED.has(m.status), `${me}: ${m.text} is ${m.status}`)
    }
  }

  async function restart (name: string): Promise<void> {
    const old = c.daemon(name)
    const oldPort = tcpPort(old.ready)
    const ended = await old.stop()
    assert.deepEqual(ended, { code: 0, signal: null }, `SIGTERM stops ${name} cleanly\n${old.logs()}`)
    const fresh = await c.start(name)
    assert.equal(fresh.ready.peerId, old.ready.peerId, 'same identity after restart')
    const newPort = tcpPort(fresh.ready)
    assert.ok(newPort != null && newPort !== oldPort, `restarted on a new port (${String(oldPort)} -> ${String(newPort)})`)
  }

  before(async () => {
    c = await Cluster.create('restart')
    await Promise.all([c.init('alice'), c.init('bob')])
    await Promise.all([c.start('alice'), c.start('bob')])
    await befriend(c, 'alice', 'bob')
    await exchange('before any restart')
  })
  after(async () => { await c.cleanup() })

  it('bob restarts on a new port: history is kept and messages flow both ways again', async () => {
    await restart('bob')
    await exchange('after bob restarted')
    await assertHistory()
  })

  it('alice restarts on a new port: history is kept and messages flow both ways again', async () => {
    await restart('alice')
    await exchange('after alice restarted')
    await assertHistory()
  })

  it('both restart, one after the other, without talking in between', async () => {
    await restart('alice')
    // Before bob moves too, he must have learned alice's new address from her reconnection (issue 3:
    // "its contacts learn it when it reconnects") — otherwise neither would know where the other is.
    const port = tcpPort(c.daemon('alice').ready)
    await waitFor(`bob to record alice's new port ${String(port)}`, async () => {
      const list = await c.cli<Array<{ peerId: string, addresses: string[] }>>('bob', 'contact', 'list')
      const a = list.find((x) => x.peerId === c.daemon('alice').ready.peerId)
      return a?.addresses.some((x) => x.includes(`/tcp/${String(port)}`)) === true ? true : undefined
    }, { timeoutMs: 90_000, intervalMs: 1000 })
    await restart('bob')
    await exchange('after both restarted')
    await assertHistory()
  })
})

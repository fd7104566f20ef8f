// The e2e harness itself against the real CLI: error paths that need no network (these hold whether or
// not the node is built) and, once it is, init's refusal to overwrite an identity.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Cluster, DaemonStartError, nodeBuilt, runCli, startDaemon } from './harness.js'

function oneErrorLine (stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '')
  assert.equal(lines.length, 1, `expected exactly one stderr line, got:\n${stderr}`)
  assert.match(lines[0]!, /^parley: /)
  return lines[0]!
}

describe('e2e harness: CLI error paths', () => {
  let c: Cluster
  before(async () => { c = await Cluster.create('harness') })
  after(async () => { await c.cleanup() })

  it('a command that needs a daemon fails with one line and a JSON error document when none runs', async () => {
    const r = await runCli(['--home', c.home('nobody'), 'id', '--json'])
    assert.notEqual(r.code, 0)
    oneErrorLine(r.stderr)
    const doc = JSON.parse(r.stdout) as { error?: { code?: string } }
    assert.equal(typeof doc.error?.code, 'string')
  })

  it('a daemon on a home without an identity exits non-zero with one line, before any ready line', async () => {
    await assert.rejects(startDaemon(c.home('empty'), { readyTimeoutMs: 60_000 }), (err: unknown) => {
      assert.ok(err instanceof DaemonStartError, String(err))
      assert.match(err.message, /exited \((1|2)\) before it was ready/)
      assert.match(err.message, /parley: /)
      return true
    })
  })

  it('init creates an identity once and refuses to overwrite it', { skip: nodeBuilt() ? false : 'src/core/node.ts is not built yet' }, async () => {
    const first = await c.init('alice')
    assert.equal(typeof first.peerId, 'string')
    const again = await runCli(['--home', c.home('alice'), 'init', '--name', 'alice2', '--json'])
    assert.notEqual(again.code, 0)
    oneErrorLine(again.stderr)
  })
})

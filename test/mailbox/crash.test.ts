// kill -9 of the mailbox process while deposits are in flight: every deposit that was answered OK is
// still there after a restart on the same database file (synchronous = FULL, one transaction each).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { MailboxClient, mailboxClientComponents } from '../../src/mailbox/index.js'
import { clientId, makeNode, recipientKey, sealed, tempHome } from './helpers.js'

const CHILD = fileURLToPath(new URL('./mailbox-child.js', import.meta.url))

async function startChild (home: string): Promise<{ proc: ChildProcess, addrs: Multiaddr[], items: number }> {
  const proc = spawn(process.execPath, [CHILD, home], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => { reject(new Error('mailbox child did not start')) }, 30_000)
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const nl = buf.indexOf('\n')
      if (nl >= 0) { clearTimeout(timer); resolve(buf.slice(0, nl)) }
    })
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`mailbox child exited ${code}`)) })
  })
  const j = JSON.parse(line) as { addrs: string[], items: number }
  return { proc, addrs: j.addrs.map(a => multiaddr(a)), items: j.items }
}

describe('mailbox crash safety', () => {
  it('kill -9 mid-deposits: every acknowledged deposit survives the restart', async () => {
    const home = tempHome()
    const node = await makeNode()
    const client = new MailboxClient(mailboxClientComponents(node), { dialTimeoutMs: 10_000, readTimeoutMs: 10_000 })
    const key = await recipientKey()
    let child = await startChild(home)
    try {
      const accepted: Uint8Array[] = []
      let failed = 0
      let inFlight: { id: Uint8Array, body: Uint8Array } | undefined
      let killer: NodeJS.Timeout | undefined
      for (let i = 0; i < 5000 && failed === 0; i++) {
        // once deposits flow, kill the process at a moment unrelated to the loop (mid-request, likely)
        if (i === 20) killer = setTimeout(() => { child.proc.kill('SIGKILL') }, 300 + Math.floor(Math.random() * 300))
        const body = sealed(150)
        const id = clientId()
        try {
          await client.deposit(child.addrs, { tag: key.tag, clientId: id, sealed: body })
          accepted.push(body)
        } catch {
          failed++
          inFlight = { id, body }
        }
      }
      clearTimeout(killer)
      assert.equal(failed, 1, 'the kill interrupted the deposit loop')
      assert.ok(accepted.length > 20)
      await node.hangUp(child.addrs[0]!).catch(() => {})
      child = await startChild(home)
      assert.ok(child.items >= accepted.length)
      const items = await client.fetchAll(child.addrs, [key])
      // every deposit answered OK is there, in order; at most the one in flight may also be there
      assert.ok(items.length === accepted.length || items.length === accepted.length + 1, `${items.length} vs ${accepted.length}`)
      assert.deepEqual(items.slice(0, accepted.length).map(i => i.sealed), accepted)
      // the sender's retry of the interrupted deposit (same client id) is stored exactly once
      const retry = await client.deposit(child.addrs, { tag: key.tag, clientId: inFlight!.id, sealed: inFlight!.body })
      assert.equal(retry.duplicate, items.length === accepted.length + 1)
      assert.deepEqual((await client.fetchAll(child.addrs, [key])).map(i => i.sealed), [...accepted, inFlight!.body])
      console.log(`# kill -9 after ${accepted.length} acknowledged deposits: ${items.length} items recovered`)
    } finally {
      child.proc.kill('SIGKILL')
      await node.stop()
    }
  })
})

// Mutual contacts as mailboxes (issue 4; PROTOCOL.md Part 4 §9) with three real daemons on 127.0.0.1
// and the CLI: carol hosts (`--host-mail`), bob uses his contacts (`--contact-mailboxes`); bob goes
// offline, alice leaves him messages and goes offline too; bob comes back on a new port without the
// flag (remembered) and gets them from carol. No relay anywhere.
import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { befriend, Cluster, messages, nodeBuilt, runCli, waitFor } from './harness.js'

const skip = nodeBuilt() ? false : 'src/core/node.ts is not built yet'
const DELIVERED = new Set(['delivered', 'read'])

describe('mutual contacts as mailboxes, three daemons', { skip, timeout: 300_000 }, () => {
  let c: Cluster

  before(async () => {
    c = await Cluster.create('mutual')
    for (const n of ['alice', 'bob', 'carol']) await c.init(n)
    await c.start('alice')
    await c.start('bob', { extra: ['--contact-mailboxes'] })
    await c.start('carol', { extra: ['--host-mail'] })
    await befriend(c, 'alice', 'bob')
    await befriend(c, 'alice', 'carol')
    await befriend(c, 'bob', 'carol')
  })
  after(async () => { await c.cleanup() })

  it('bob offline: alice deposits with carol; bob back on a new port gets every message once, in order', async () => {
    const send = async (from: string, to: string, text: string): Promise<void> => {
      const r = await c.cli<{ status: string }>(from, 'send', to, text, '--wait', '--timeout', '90')
      assert.ok(DELIVERED.has(r.status), `${from} -> ${to}: ${r.status}\n${c.logs()}`)
    }
    // carol's route says she hosts; bob's answer registers him; bob's message to alice names carol
    await send('carol', 'bob', 'I can keep your mail')
    await send('bob', 'carol', 'thanks')
    await send('bob', 'alice', 'hi alice')
    assert.equal((await stat(join(c.home('carol'), 'mailbox.db'))).isFile(), true, 'carol keeps a mailbox database')
    const settings = JSON.parse(await readFile(join(c.home('bob'), 'settings.json'), 'utf8')) as Record<string, unknown>
    assert.equal(settings.contactMailboxes, true)
    const bobPort = c.daemon('bob').ready.addresses.find(a => a.includes('/tcp/'))
    // `id` reports both sides' choice
    type Cm = { contactMailboxes?: { hosting: boolean, using: boolean, hosts: string[], hostedItems: number } }
    const carolId = await c.cli<Cm>('carol', 'id')
    assert.equal(carolId.contactMailboxes?.hosting, true)
    const bobId = await c.cli<Cm>('bob', 'id')
    assert.deepEqual({ using: bobId.contactMailboxes?.using, hosts: bobId.contactMailboxes?.hosts }, { using: true, hosts: [c.daemon('carol').ready.peerId] })
    const text = await runCli(['--home', c.home('carol'), 'id'])
    assert.match(text.stdout, /Hosting mail for contacts: 0 item\(s\)/)

    await c.daemon('bob').stop()
    const texts = Array.from({ length: 8 }, (_, i) => `while you were away ${i + 1}`)
    const ids: string[] = []
    for (const t of texts) ids.push((await c.cli<{ id: string }>('alice', 'send', 'bob', t)).id)
    await waitFor('alice\'s messages are stored with a mailbox', async () => {
      const view = await messages(c, 'alice', 'bob')
      return ids.every(id => view.find(m => m.id === id)?.status === 'stored') ? true : undefined
    }, { timeoutMs: 90_000 })
    const held = await c.cli<Cm>('carol', 'id')
    assert.ok((held.contactMailboxes?.hostedItems ?? 0) >= texts.length, `carol holds the mail: ${JSON.stringify(held.contactMailboxes)}`)
    await c.daemon('alice').stop()

    const bob = await c.start('bob') // no flag: the stored choice applies
    assert.notEqual(bob.ready.addresses.find(a => a.includes('/tcp/')), bobPort, 'a new port')
    const view = await waitFor('bob has the mail from carol', async () => {
      const v = (await messages(c, 'bob', 'alice')).filter(m => m.direction === 'in')
      return texts.every(t => v.some(m => m.text === t)) ? v : undefined
    }, { timeoutMs: 120_000 })
    assert.deepEqual(view.map(m => m.text), texts, `exactly once, in order\n${c.logs()}`)
  })
})

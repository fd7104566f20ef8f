import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import type { ContactInfo, MessageInfo } from '../../src/core/api.js'
import { render, textWidth, wrap } from '../../src/cli/tui/render.js'
import { applyEvent, cycle, findContact, initialState, select, type ChatState } from '../../src/cli/tui/state.js'
import { startDaemon, type RunningDaemon } from '../../src/daemon/daemon.js'
import { FakeNode, fakePeerId } from '../daemon/fake-node.js'
import { CLI_MAIN, FAKE_NODE_MODULE, tmpHome } from '../daemon/helpers.js'

const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '') // eslint-disable-line no-control-regex

function contact (name: string, patch: Partial<ContactInfo> = {}): ContactInfo {
  return { peerId: fakePeerId(name), name, identityKey: '05' + '11'.repeat(32), verified: false, pendingKeyChange: null, online: false, unread: 0, addresses: [], relays: [], lastSeen: null, createdAt: 0, ...patch }
}

function msg (peer: string, seq: number, direction: 'in' | 'out', text: string, status: MessageInfo['status'] = 'delivered'): MessageInfo {
  return { id: `m${seq}`, peerId: fakePeerId(peer), direction, text, timestamp: Date.UTC(2026, 10, 25, 11, seq), receivedAt: null, status, seq }
}

function sample (): ChatState {
  const s = initialState('daemon')
  s.self = { peerId: fakePeerId('alice'), name: 'alice' }
  s.contacts = [contact('bob', { online: true, verified: true }), contact('carol', { unread: 3 }), contact('dave', { pendingKeyChange: { identityKey: '05' + '22'.repeat(32), seenAt: 1 } })]
  s.selected = fakePeerId('bob')
  s.conversations[fakePeerId('bob')] = [
    msg('bob', 1, 'in', 'hi alice'),
    msg('bob', 2, 'out', 'queued one', 'queued'),
    msg('bob', 3, 'out', 'sent one', 'sent'),
    msg('bob', 4, 'out', 'delivered one', 'delivered'),
    msg('bob', 5, 'out', 'read one', 'read')
  ]
  s.input = 'typing'
  return s
}

describe('TUI render (pure)', () => {
  it('fills exactly width × height, with or without colour', () => {
    for (const [w, h] of [[80, 24], [40, 10], [120, 40], [20, 6]] as const) {
      for (const color of [false, true]) {
        const lines = render(sample(), { width: w, height: h, color, now: Date.UTC(2026, 10, 25, 12) })
        assert.equal(lines.length, h)
        for (const l of lines) assert.equal(textWidth(strip(l)), w, JSON.stringify(strip(l)))
        assert.equal(lines.some((l) => l.includes('\x1b[')), color)
      }
    }
  })

  it('shows contacts with online dot, unread count and key-change warning; the conversation with status marks', () => {
    const lines = render(sample(), { width: 100, height: 20, color: false, now: Date.UTC(2026, 10, 25, 12) }).map((l) => l.trimEnd())
    const text = lines.join('\n')
    assert.match(text, />● bob/)
    assert.match(text, / ○ carol\s+\(3\)/)
    assert.match(text, / ○ dave\s+⚠/)
    assert.match(text, /bob · .* · online · verified ✓/)
    assert.match(text, /bob: hi alice/)
    assert.match(text, /me: queued one\s+…$/m)
    assert.match(text, /me: sent one\s+✓$/m)
    assert.match(text, /me: delivered one\s+✓✓$/m)
    assert.match(text, /me: read one\s+✓✓$/m)
    assert.match(lines[lines.length - 1] ?? '', /^> typing/)
  })

  it('colours delivered and read differently', () => {
    const lines = render(sample(), { width: 100, height: 20, color: true })
    const delivered = lines.find((l) => l.includes('delivered one')) ?? ''
    const read = lines.find((l) => l.includes('read one')) ?? ''
    const sgr = (l: string): string => /\x1b\[([0-9;]+)m ✓✓/.exec(l)?.[1] ?? '' // eslint-disable-line no-control-regex
    assert.notEqual(sgr(delivered), '')
    assert.notEqual(sgr(read), '')
    assert.notEqual(sgr(delivered), sgr(read))
  })

  it('warns in the conversation when the open contact\'s key changed', () => {
    const s = select(sample(), fakePeerId('dave'))
    assert.match(render(s, { width: 90, height: 12, color: false }).join('\n'), /IDENTITY KEY CHANGED/)
  })

  it('keeps the newest messages when they do not fit and wraps long ones', () => {
    const s = sample()
    s.conversations[fakePeerId('bob')] = Array.from({ length: 50 }, (_, i) => msg('bob', i + 1, 'in', `line ${i + 1} ` + 'word '.repeat(i === 49 ? 30 : 1)))
    const lines = render(s, { width: 60, height: 12, color: false }).join('\n')
    assert.match(lines, /line 50/)
    assert.doesNotMatch(lines, /line 1 /)
    for (const l of wrap('aaaa bbbb cccc dddd', 9)) assert.ok(textWidth(l) <= 9)
    assert.deepEqual(wrap('aaaa bbbb cccc', 9), ['aaaa', 'bbbb cccc'])
    assert.deepEqual(wrap('aaaa bbbb cccc', 8), ['aaaa', 'bbbb', 'cccc'])
    assert.deepEqual(wrap('abcdefghij', 4), ['abcd', 'efgh', 'ij'])
    assert.deepEqual(wrap('👋👋👋', 4), ['👋👋', '👋'])
  })

  it('neutralises escape sequences in names and messages', () => {
    const s = sample()
    s.contacts[0] = { ...(s.contacts[0] as ContactInfo), name: 'bob\x1b[2J' }
    s.conversations[fakePeerId('bob')] = [msg('bob', 1, 'in', 'x\x1b]0;title\x07y')]
    const out = render(s, { width: 80, height: 10, color: false }).join('\n')
    assert.ok(!out.includes('\x1b'))
  })
})

describe('TUI state transitions', () => {
  it('counts unread only outside the open conversation; updates status, online, key changes', () => {
    let s = sample()
    s = applyEvent(s, { type: 'message', message: msg('carol', 1, 'in', 'hey') })
    assert.equal(s.contacts.find((c) => c.name === 'carol')?.unread, 4)
    s = applyEvent(s, { type: 'message', message: msg('carol', 1, 'in', 'hey') }) // duplicate delivery
    assert.equal(s.contacts.find((c) => c.name === 'carol')?.unread, 4)
    s = applyEvent(s, { type: 'message', message: { ...msg('bob', 6, 'in', 'open'), id: 'b6' } })
    assert.equal(s.contacts.find((c) => c.name === 'bob')?.unread, 0)
    s = applyEvent(s, { type: 'status', peerId: fakePeerId('bob'), id: 'm2', status: 'delivered' })
    assert.equal(s.conversations[fakePeerId('bob')]?.find((m) => m.id === 'm2')?.status, 'delivered')
    s = applyEvent(s, { type: 'contact-online', peerId: fakePeerId('carol'), online: true })
    assert.equal(s.contacts.find((c) => c.name === 'carol')?.online, true)
    s = applyEvent(s, { type: 'key-changed', peerId: fakePeerId('bob'), identityKey: '05' + '33'.repeat(32) })
    assert.equal(s.contacts.find((c) => c.name === 'bob')?.verified, false)
    assert.equal(s.notice?.level, 'warn')
    s = select(s, fakePeerId('carol'))
    assert.equal(s.contacts.find((c) => c.name === 'carol')?.unread, 0)
    assert.equal(cycle(s, 1).selected, fakePeerId('dave'))
    assert.equal(cycle(cycle(s, 1), 1).selected, fakePeerId('bob'))
    assert.equal(cycle(s, -1).selected, fakePeerId('bob'))
    assert.equal(findContact(s, 'ca')?.name, 'carol')
    assert.equal(findContact(s, 'zz'), null)
  })
})

describe('parley chat with piped input (no pty)', () => {
  let home: string
  let cleanup: () => Promise<void>
  let d: RunningDaemon
  let node: FakeNode

  before(async () => {
    ({ home, cleanup } = await tmpHome())
    node = new FakeNode('alice')
    d = await startDaemon({ home, node })
  })
  after(async () => { await d.stop(); await cleanup() })

  async function chat (input: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI_MAIN, 'chat', '--no-mdns'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
      child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
      const t = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
      child.on('error', reject)
      child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }) })
      child.stdin.end(input)
    })
  }

  it('connects to the daemon, adds a contact, sends, shows the conversation and quits', async () => {
    const bob = `parley1:${fakePeerId('bob')}:${Buffer.from('bob').toString('base64url')}`
    const r = await chat(`/help\n/add ${bob} Bobby\nhello from the tui\n/verify\n/nope\n/quit\nnot sent\n`, { PARLEY_HOME: home })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /via daemon/)
    assert.match(r.stdout, /\/add INVITE \[NAME\]/) // the help overlay
    assert.match(r.stdout, /added Bobby/)
    assert.match(r.stdout, /me: hello from the tui/)
    assert.match(r.stdout, /Safety number with Bobby/)
    assert.match(r.stdout, /unknown command \/nope/)
    assert.ok(!r.stdout.includes('\x1b'))
    const sent = [...node.msgs.get(fakePeerId('bob')) ?? []].map((m) => m.text)
    assert.deepEqual(sent, ['hello from the tui'])
  })

  it('without a daemon it creates an identity for a newcomer and runs the node in-process', async () => {
    const fresh = await tmpHome()
    const r = await chat('/invite\n/quit\n', { PARLEY_HOME: fresh.home, PARLEY_NODE_MODULE: FAKE_NODE_MODULE })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Welcome! Created your identity/)
    assert.match(r.stdout, /in-process node/)
    assert.match(r.stdout, /parley1:12D3KooW/)
    await fresh.cleanup()
  })
})

// mDNS discovery between two processes in two network namespaces joined by a veth pair (one LAN).
// Needs root and iproute2; otherwise the test is skipped with the reason printed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { peerIdFromSeed } from '../../src/net/index.js'

function skipReason (): string | false {
  if (process.platform !== 'linux') return 'mDNS netns test needs Linux network namespaces'
  if (process.getuid?.() !== 0) return 'mDNS netns test needs root (ip netns)'
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' })
  } catch {
    return 'mDNS netns test needs iproute2 (`ip`)'
  }
  const probe = `pmdnsprobe${process.pid}`
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' })
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' })
  } catch {
    return 'network namespaces unavailable here (ip netns add failed)'
  }
  return false
}

const reason = skipReason()
if (reason !== false) console.log(`# skipping mDNS test: ${reason}`)

const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: 'ignore' }) }

test('mDNS: two nodes in two network namespaces on one LAN discover each other', { skip: reason, timeout: 60_000 }, async () => {
  const tag = `${process.pid % 100000}`
  const ns = [`pmdA${tag}`, `pmdB${tag}`]
  const veth = [`pva${tag}`, `pvb${tag}`]
  const addrs = ['10.77.0.1', '10.77.0.2']
  const node = process.execPath
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'mdns-node.js')
  const seeds = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')]
  const ids = [await peerIdFromSeed(Buffer.from(seeds[0]!, 'hex')), await peerIdFromSeed(Buffer.from(seeds[1]!, 'hex'))]
  try {
    for (const n of ns) ip('netns', 'add', n)
    ip('link', 'add', veth[0]!, 'type', 'veth', 'peer', 'name', veth[1]!)
    for (let i = 0; i < 2; i++) {
      ip('link', 'set', veth[i]!, 'netns', ns[i]!)
      ip('-n', ns[i]!, 'addr', 'add', `${addrs[i]!}/24`, 'dev', veth[i]!)
      ip('-n', ns[i]!, 'link', 'set', veth[i]!, 'up', 'multicast', 'on')
      ip('-n', ns[i]!, 'link', 'set', 'lo', 'up')
      ip('-n', ns[i]!, 'route', 'add', '224.0.0.0/4', 'dev', veth[i]!)
    }
    const run = async (i: number): Promise<{ code: number | null, out: string }> => await new Promise((resolve) => {
      const p = spawn('ip', ['netns', 'exec', ns[i]!, node, script, addrs[i]!, ids[1 - i]!, '40000', seeds[i]!], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      p.stdout.on('data', (d: Buffer) => { out += d.toString() })
      p.stderr.on('data', (d: Buffer) => { out += d.toString() })
      p.on('close', (code) => { resolve({ code, out }) })
    })
    const [ra, rb] = await Promise.all([run(0), run(1)])
    assert.equal(ra.code, 0, `node A did not discover B:\n${ra.out}`)
    assert.equal(rb.code, 0, `node B did not discover A:\n${rb.out}`)
    const found = ra.out.split('\n').filter(l => l.includes('"discovered"')).map(l => JSON.parse(l) as { discovered: string, addresses: string[] })
    const b = found.find(f => f.discovered === ids[1])
    assert.ok(b != null && b.addresses.some(x => x.includes(addrs[1]!)), 'A learned B\'s LAN address via mDNS')
  } finally {
    for (const n of ns) {
      try { ip('netns', 'del', n) } catch { /* already gone */ }
    }
    try { ip('link', 'del', veth[0]!) } catch { /* went with the namespace */ }
  }
})

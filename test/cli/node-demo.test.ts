/**
 * Issue 3: `parley demo` shows two real local nodes chatting. Runs the command as a child process
 * (bin/parley.js when this test was compiled into dist/, else this build's src/cli/main.js) with its
 * own TMPDIR, and checks the exit status, the narration and that the temporary homes are gone.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { repoRoot } from '../helpers/bytes.js'
import { CLI_MAIN } from '../daemon/helpers.js'
import type { NodeDemoSummary } from '../../src/cli/node-demo.js'

const here = dirname(fileURLToPath(import.meta.url))
const builtIntoDist = resolve(here, '..', '..') === join(repoRoot(), 'dist')
const ENTRY = builtIntoDist ? join(repoRoot(), 'bin', 'parley.js') : CLI_MAIN

async function runDemo (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string, leftovers: string[] }> {
  const tmp = await mkdtemp(join(tmpdir(), 'parley-demo-test-'))
  try {
    const r = await new Promise<{ code: number | null, stdout: string, stderr: string }>((ok, fail) => {
      const child = spawn(process.execPath, [ENTRY, 'demo', ...args], {
        env: { PATH: process.env.PATH, HOME: tmp, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
      child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 120_000)
      child.on('error', fail)
      child.on('close', (code) => { clearTimeout(timer); ok({ code, stdout, stderr }) })
    })
    return { ...r, leftovers: await readdir(tmp) }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

test('`parley demo` runs two real nodes that chat, with statuses and matching safety numbers', { timeout: 150_000 }, async () => {
  const r = await runDemo([])
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`)
  const out = r.stdout
  assert.match(out, /alice\s+started\s+12D3KooW.*\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
  assert.match(out, /bob added alice from her invite/)
  assert.match(out, /alice → bob: "Hi Bob!/)
  for (const s of ['queued', 'sent', 'delivered', 'read']) assert.match(out, new RegExp(`^\\s+\\S+ ${s}$`, 'm'), `status ${s} shown`)
  assert.match(out, /bob received: "Hi Bob!/)
  assert.match(out, /alice received: "Hi Alice/)
  assert.match(out, /they match/)
  // the 60-digit number, as 3 lines of 4 groups, printed identically for both sides
  const groups = [...out.matchAll(/^ {4}(\d{5} \d{5} \d{5} \d{5})$/gm)].map(m => m[1])
  assert.equal(groups.length, 6)
  assert.deepEqual(groups.slice(0, 3), groups.slice(3))
  assert.match(out, /Demo finished in/)
  assert.deepEqual(r.leftovers, [], 'temporary homes removed')
})

test('`parley demo --json` reports every message delivered and read', { timeout: 150_000 }, async () => {
  const r = await runDemo(['--json'])
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`)
  const summary = JSON.parse(r.stdout) as NodeDemoSummary
  assert.equal(summary.ok, true)
  assert.equal(summary.nodes.length, 2)
  assert.notEqual(summary.nodes[0]!.peerId, summary.nodes[1]!.peerId)
  assert.ok(summary.messages.length >= 3)
  for (const m of summary.messages) {
    assert.equal(m.received, true)
    assert.equal(m.statuses[0], 'queued')
    assert.ok(m.statuses.includes('delivered'), `delivered: ${m.statuses.join(',')}`)
    assert.equal(m.statuses.at(-1), 'read')
  }
  assert.equal(summary.safetyNumber.match, true)
  assert.match(summary.safetyNumber.alice, /^\d{60}$/)
  assert.equal(summary.safetyNumber.alice, summary.safetyNumber.bob)
  assert.deepEqual(r.leftovers, [])
})

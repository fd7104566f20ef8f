// Durability per unit (issue 3 latency work): a `deferred` write unit commits like a full one — atomic,
// visible at once, kept across close/reopen, rolled back when its callback throws — but without its
// own fsync; a full unit after it sets synchronous=FULL again before its BEGIN. Real SQLite files; the
// fsync count is read from strace where it is installed (the only way to see a skipped fsync).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openStore } from '../../src/store/index.js'
import { StoreInputError } from '../../src/store/errors.js'
import type { Durability } from '../../src/store/types.js'
import { FAST_SCRYPT, str, tempHome, utf8 } from './helpers.js'

test('a deferred unit commits atomically, is visible at once and survives close/reopen (plain and encrypted)', async (t) => {
  for (const passphrase of [null, 'durable pass']) {
    const { home, cleanup } = tempHome('durability')
    t.after(cleanup)
    const s = await openStore({ home, passphrase, scrypt: FAST_SCRYPT })
    try {
      await s.write((tx) => {
        tx.insertMessage({ id: 'm1', peerId: 'p', direction: 'out', body: utf8('one'), sentAt: 1, status: 'queued' })
        tx.enqueueOutbox({ messageId: 'm1', peerId: 'p', envelope: utf8('env1') })
      })
      await s.write((tx) => {
        tx.setStatus('m1', 'sent')
        tx.recordOutboxAttempt('m1', { error: null, nextAttemptAt: 99 })
      }, { durability: 'deferred' })
      assert.equal((await s.getMessage('m1'))?.status, 'sent')
      assert.equal((await s.getOutbox('m1'))?.attempts, 1)
      // a throwing deferred unit leaves nothing behind, and the next (full) unit commits normally
      await assert.rejects(s.write((tx) => {
        tx.setStatus('m1', 'failed')
        throw new Error('boom')
      }, { durability: 'deferred' }), /boom/)
      assert.equal((await s.getMessage('m1'))?.status, 'sent')
      await s.write((tx) => { tx.putSession('p', utf8('state 2')) })
      // an unknown durability is refused before anything runs
      let ran = false
      await assert.rejects(s.write(() => { ran = true }, { durability: 'sometimes' as Durability }), StoreInputError)
      assert.equal(ran, false)
      await s.write((tx) => { tx.putSession('p', utf8('state 3')) }, { durability: 'deferred' })
    } finally {
      await s.close()
    }
    const again = await openStore({ home, passphrase, scrypt: FAST_SCRYPT })
    try {
      assert.equal((await again.getMessage('m1'))?.status, 'sent')
      assert.equal(str(await again.getSession('p')), 'state 3')
    } finally {
      await again.close()
    }
  }
})

const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' }).status === 0

test('a deferred unit does no fsync, and the unit after it is back to one fsync per commit', { skip: strace ? false : 'strace not installed' }, async (t) => {
  const { home, cleanup } = tempHome('durability-fsync')
  t.after(cleanup)
  const storeModule = fileURLToPath(new URL('../../src/store/index.js', import.meta.url))
  // A child does: full x5, deferred x5, full x5 (marking each phase on stdout); strace counts the
  // fsync/fdatasync calls between the marks.
  const script = join(home, '..', 'child.mjs')
  writeFileSync(script, `
    import { openStore } from ${JSON.stringify(storeModule)}
    const s = await openStore({ home: ${JSON.stringify(home)} })
    const unit = (i, durability) => s.write(tx => { tx.putSession('p' + i, new Uint8Array([i])) }, { durability })
    await unit(0, 'full')
    for (const [phase, d] of [['A', 'full'], ['B', 'deferred'], ['C', 'full']]) {
      process.stdout.write('<' + phase + '>')
      for (let i = 1; i <= 5; i++) await unit(i, d)
      process.stdout.write('</' + phase + '>')
    }
    await s.close()
  `)
  const r = spawnSync('strace', ['-f', '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none', '-s', '8', process.execPath, script], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stderr.split('\n')
  const count = (phase: string): number => {
    const start = lines.findIndex(l => l.includes(`"<${phase}>"`))
    const end = lines.findIndex(l => l.includes(`"</${phase}>"`))
    assert.ok(start >= 0 && end > start, `phase ${phase} marks not found`)
    return lines.slice(start, end).filter(l => /\bf(data)?sync\(/.test(l)).length
  }
  const [a, b, c] = [count('A'), count('B'), count('C')]
  t.diagnostic(`fsync calls: full x5 = ${a}, deferred x5 = ${b}, full x5 = ${c}`)
  assert.ok(a >= 5, `every full unit fsyncs (${a})`)
  assert.equal(b, 0, 'deferred units do not fsync')
  assert.ok(c >= 5, `full again after deferred units (${c})`)
})

// Crash safety: a child process writes units (message + ratchet state + contact + outbox, together)
// and is SIGKILLed at a random moment; after re-opening, the committed state is exactly a prefix of
// units — never a session ahead of its messages nor a message without its session state.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DatabaseSync } from 'node:sqlite'
import { openStore } from '../../src/store/index.js'
import { FAST_SCRYPT, str, tempHome } from './helpers.js'

const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url))
const ROUNDS = 4

/** Starts the child, waits for its first commit, lets it run a random while, SIGKILLs it. */
async function runAndKill (home: string, passphrase: string | null, mode?: 'mixed'): Promise<void> {
  const child = spawn(process.execPath, [CHILD, home, passphrase ?? '-', ...(mode != null ? [mode] : [])], { stdio: ['ignore', 'pipe', 'pipe'] })
  await killChild(child)
}

async function killChild (child: ReturnType<typeof spawn>): Promise<void> {
  if (child.stdout === null || child.stderr === null) throw new Error('child without pipes')
  const stdout = child.stdout
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.on('exit', (code, signal) => resolve({ code, signal }))
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child not ready in 30 s: ${stderr}`)) }, 30_000)
    stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) { clearTimeout(timer); resolve() }
    })
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`child exited early: ${stderr}`)) })
  })
  await new Promise(resolve => setTimeout(resolve, 30 + Math.floor(Math.random() * 400)))
  child.kill('SIGKILL')
  const { signal } = await exited
  assert.equal(signal, 'SIGKILL', `child died by itself: ${stderr}`)
}

async function checkConsistent (home: string, passphrase: string | null, previous: number): Promise<number> {
  const s = await openStore({ home, passphrase, scrypt: FAST_SCRYPT })
  try {
    const state = str(await s.getSession('peer'))
    assert.notEqual(state, null, 'at least the first unit committed')
    const last = Number(state)
    assert.ok(last >= previous, 'committed units never disappear')
    const msgs = await s.read(tx => {
      const out: number[] = []
      let after = 0
      for (;;) {
        const page = tx.listMessages('peer', { afterSeq: after, limit: 1000 })
        if (page.length === 0) return out
        for (const m of page) out.push(Number(m.id.slice(1)))
        after = page[page.length - 1]!.seq
      }
    })
    // Messages are exactly m1..m<last>: none beyond the session state, none missing below it.
    assert.equal(msgs.length, last, `session says ${last}, store holds ${msgs.length} messages`)
    assert.deepEqual(msgs, Array.from({ length: last }, (_, i) => i + 1))
    assert.equal((await s.getContact('peer'))?.lastSeen, last)
    assert.equal(await s.countOutbox(), Math.floor(last / 2))
    const lastMsg = await s.getMessage(`m${last}`)
    assert.equal(lastMsg?.body[0] ?? (last & 0xff), last & 0xff, 'the last message body is intact')
    return last
  } finally {
    await s.close()
  }
}

for (const passphrase of [null, 'crash pass']) {
  test(`SIGKILL at random moments never splits a unit (${passphrase === null ? 'plain' : 'encrypted'}, ${ROUNDS} rounds)`, async (t) => {
    const { home, cleanup } = tempHome('crash')
    t.after(cleanup)
    let last = 0
    for (let round = 0; round < ROUNDS; round++) {
      await runAndKill(home, passphrase)
      const path = `${home}/parley.db`
      const raw = new DatabaseSync(path)
      assert.equal((raw.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok')
      raw.close()
      const now = await checkConsistent(home, passphrase, last)
      t.diagnostic(`round ${round + 1}: ${now - last} messages committed before the kill (total ${now})`)
      last = now
    }
    assert.ok(last > 0)
  })
}

test(`SIGKILL with deferred units (durability 'deferred' every other unit) still leaves a prefix of whole units (${ROUNDS} rounds)`, async (t) => {
  // A deferred unit skips only its own fsync: against a process crash it is as atomic and as durable
  // as a full one (the WAL frames are in the OS page cache), src/store/README.md "Durability per unit".
  const { home, cleanup } = tempHome('crash-mixed')
  t.after(cleanup)
  let last = 0
  for (let round = 0; round < ROUNDS; round++) {
    await runAndKill(home, null, 'mixed')
    const raw = new DatabaseSync(`${home}/parley.db`)
    assert.equal((raw.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok')
    raw.close()
    const now = await checkConsistent(home, null, last)
    t.diagnostic(`round ${round + 1}: ${now - last} messages committed before the kill (total ${now})`)
    last = now
  }
  assert.ok(last > 0)
})

test('negative control: the checker detects a unit split across two writes', async (t) => {
  const { home, cleanup } = tempHome('crash-split')
  t.after(cleanup)
  const child = spawn(process.execPath, [CHILD, home, '-', 'split'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const { signal } = await new Promise<{ signal: NodeJS.Signals | null }>(resolve => child.on('exit', (_c, sig) => resolve({ signal: sig })))
  assert.equal(signal, 'SIGKILL')
  await assert.rejects(checkConsistent(home, null, 0), (err: Error) => err.name === 'AssertionError' && /session says/.test(err.message))
})

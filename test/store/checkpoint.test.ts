// WAL checkpoints off the hot path (issue 3, round-trip tail): the store folds its WAL into the
// database file once it has been idle for checkpointIdleMs after a unit, so SQLite's automatic
// checkpoint (1000 WAL pages) rarely falls inside a unit. Real SQLite files; the database file's size
// shows whether the WAL was checkpointed (pages reach parley.db only through a checkpoint).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '../../src/store/index.js'
import { StoreInputError } from '../../src/store/errors.js'
import { tempHome, utf8 } from './helpers.js'

const BODY = 16 * 1024
const UNITS = 60 // ~8 WAL frames each (4 overflow pages per body): below the automatic checkpoint's 1000

async function burst (s: Awaited<ReturnType<typeof openStore>>, prefix: string): Promise<void> {
  await s.putContact({ peerId: 'bob', name: 'Bob', identityKey: utf8('k'), verified: false, keyChange: null, addresses: [], relays: [], lastSeen: null, createdAt: 1 })
  for (let i = 0; i < UNITS; i++) {
    const body = new Uint8Array(BODY).fill(i % 251)
    await s.write(tx => { tx.insertMessage({ id: `${prefix}${i}`, peerId: 'bob', direction: 'in', body, sentAt: i, receivedAt: i, status: 'delivered' }) }, { durability: 'deferred' })
  }
}

async function until (cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

test('an idle store checkpoints its WAL; with idle checkpoints off, the WAL waits for the automatic one', async () => {
  const on = tempHome('ckpt-on')
  const off = tempHome('ckpt-off')
  const a = await openStore({ home: on.home, checkpointIdleMs: 20 })
  const b = await openStore({ home: off.home, checkpointIdleMs: 0 })
  try {
    await burst(a, 'a')
    await burst(b, 'b')
    // polled with a generous deadline (a loaded machine may delay the timer)
    assert.ok(await until(() => a.idleCheckpoints >= 1, 10_000), 'the idle checkpoint ran')
    const dbA = statSync(join(on.home, 'parley.db')).size
    const dbB = statSync(join(off.home, 'parley.db')).size
    assert.ok(dbA >= UNITS * BODY, `checkpointed: the bodies are in parley.db (${dbA} bytes)`)
    assert.ok(dbB < UNITS * BODY / 4, `not checkpointed: the bodies are still in the WAL only (${dbB} bytes)`)
    assert.equal(b.idleCheckpoints, 0)
    // one checkpoint per idle period: no new unit, no new checkpoint
    const n = a.idleCheckpoints
    await new Promise(resolve => setTimeout(resolve, 150))
    assert.equal(a.idleCheckpoints, n)
    // the data is intact either way, also after re-opening
    assert.equal((await a.listMessages('bob', { limit: 1000 })).length, UNITS)
    await a.close()
    const again = await openStore({ home: on.home })
    try {
      const all = await again.listMessages('bob', { limit: 1000 })
      assert.equal(all.length, UNITS)
      assert.equal(all[UNITS - 1]!.body[0], (UNITS - 1) % 251)
    } finally {
      await again.close()
    }
  } finally {
    await a.close()
    await b.close()
    on.cleanup()
    off.cleanup()
  }
})

test('checkpointIdleMs must be a non-negative integer; a closed store runs no checkpoint', async () => {
  const { home, cleanup } = tempHome('ckpt-input')
  try {
    await assert.rejects(openStore({ home, checkpointIdleMs: -1 }), StoreInputError)
    await assert.rejects(openStore({ home, checkpointIdleMs: 1.5 }), StoreInputError)
    const s = await openStore({ home, checkpointIdleMs: 20 })
    await s.putContact({ peerId: 'bob', name: 'Bob', identityKey: utf8('k'), verified: false, keyChange: null, addresses: [], relays: [], lastSeen: null, createdAt: 1 })
    await s.close() // before the idle period ended: the timer is gone with the store
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.equal(s.idleCheckpoints, 0)
  } finally {
    cleanup()
  }
})

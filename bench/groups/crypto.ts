/**
 * Crypto group: 100-byte messages encrypt+decrypt per second one way and in strict ping-pong (a DH
 * ratchet step every turn), and PQXDH session set-up time, Parley vs @signalapp/libsignal-client.
 * Both sides (de)serialise their session record on every message.
 */
import type { Contestant } from '../measure.js'
import { sideBySide } from '../measure.js'
import type { ChatPair, CryptoContender } from '../crypto/contender.js'
import { libsignalContender } from '../crypto/libsignal.js'
import { loadParleyContender } from '../crypto/parley.js'
import { BenchIntegrityError, type BenchGroup, type BenchOptions, type Figure } from '../types.js'

/** The message size. */
export const MESSAGE_BYTES = 100

function message (): Uint8Array<ArrayBuffer> {
  const m = new Uint8Array(MESSAGE_BYTES)
  for (let i = 0; i < m.length; i++) m[i] = (i * 31 + 7) & 0xff
  return m
}

function check (got: Uint8Array, want: Uint8Array, who: string): void {
  if (got.length !== want.length || Buffer.compare(got, want) !== 0) throw new BenchIntegrityError(`${who}: decrypted text differs from what was sent`)
}

function oneWay (pair: ChatPair, who: string): Contestant {
  const msg = message()
  return {
    async run (n, signal) {
      for (let i = 0; i < n; i++) {
        signal?.throwIfAborted()
        check(await pair.send('alice', msg), msg, who)
      }
    }
  }
}

function pingPong (pair: ChatPair, who: string): Contestant {
  const msg = message()
  let turn = 0 // persists across rounds so the direction strictly alternates
  return {
    async run (n, signal) {
      for (let i = 0; i < n; i++) {
        signal?.throwIfAborted()
        check(await pair.send(turn++ % 2 === 0 ? 'alice' : 'bob', msg), msg, who)
      }
    }
  }
}

interface Sizes { rounds: number, warmupOps: number, roundMs: number, minOps: number, maxOps: number }

async function run (opts: BenchOptions): Promise<Figure[]> {
  const { quick, signal, log } = opts
  const msgSizes: Sizes = quick
    ? { rounds: 3, warmupOps: 20, roundMs: 40, minOps: 10, maxOps: 400 }
    : { rounds: 9, warmupOps: 500, roundMs: 700, minOps: 200, maxOps: 200_000 }
  const setupSizes: Sizes = quick
    ? { rounds: 3, warmupOps: 3, roundMs: 40, minOps: 2, maxOps: 20 }
    : { rounds: 9, warmupOps: 60, roundMs: 700, minOps: 20, maxOps: 5_000 }
  const base = libsignalContender
  const loaded = await loadParleyContender()
  const parley: CryptoContender | null = typeof loaded === 'string' ? null : loaded
  const parleyMissing = typeof loaded === 'string' ? loaded : undefined
  const common = { baselineName: base.name, signal, log, parleyMissing }
  const figures: Figure[] = []

  log?.('crypto: one-way')
  figures.push(await sideBySide({
    ...common,
    ...msgSizes,
    name: 'crypto.one-way',
    kind: 'rate',
    unit: 'msg/s',
    better: 'higher',
    target: { ratio: 3, better: 'higher' },
    note: `${MESSAGE_BYTES} B, encrypt+decrypt, Alice to Bob only`,
    parley: parley === null ? null : oneWay(await parley.createPair(), 'parley'),
    baseline: oneWay(await base.createPair(), 'baseline')
  }))

  log?.('crypto: ping-pong')
  figures.push(await sideBySide({
    ...common,
    ...msgSizes,
    name: 'crypto.ping-pong',
    kind: 'rate',
    unit: 'msg/s',
    better: 'higher',
    target: { ratio: 2, better: 'higher' },
    note: `${MESSAGE_BYTES} B, encrypt+decrypt, strictly alternating (a DH ratchet step every message)`,
    parley: parley === null ? null : pingPong(await parley.createPair(), 'parley'),
    baseline: pingPong(await base.createPair(), 'baseline')
  }))

  log?.('crypto: PQXDH set-up')
  figures.push(await sideBySide({
    ...common,
    ...setupSizes,
    name: 'crypto.pqxdh-setup',
    kind: 'latency',
    unit: 'ms',
    better: 'lower',
    target: { ratio: 2, better: 'lower' },
    note: 'bundle in hand -> Bob decrypted the first PreKey message; X25519 one-time + level-5 KEM one-time prekeys (libsignal: Kyber1024; Parley: ML-KEM-1024)',
    parley: parley === null ? null : await parley.setups(),
    baseline: await base.setups()
  }))
  return figures
}

const group: BenchGroup = {
  name: 'crypto',
  description: 'Double Ratchet message rate and PQXDH set-up vs @signalapp/libsignal-client',
  run
}
export default group

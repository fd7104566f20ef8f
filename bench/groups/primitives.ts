/**
 * Primitives group: the per-message primitives of the Double Ratchet on small inputs, Parley's Node
 * implementation (src/crypto/primitives/node.ts, node:crypto) vs pure-JS @noble. For 100-byte
 * messages a primitive's fixed per-call cost matters more than its throughput; this group shows
 * that cost. Informational: no targets.
 */
import { hmac } from '@noble/hashes/hmac.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { nodePrimitives as P } from '../../src/crypto/primitives/node.js'
import { sideBySide, type Contestant } from '../measure.js'
import type { BenchGroup, BenchOptions, Figure } from '../types.js'

type Op = () => unknown

function loop (op: Op): Contestant {
  return {
    async run (n, signal) {
      for (let i = 0; i < n; i++) {
        if ((i & 255) === 0) signal?.throwIfAborted()
        await op()
      }
    }
  }
}

/** AES-256-CBC from @noble/ciphers when it can be loaded (a dependency of @noble/post-quantum). */
async function nobleCbc (): Promise<((key: Uint8Array, iv: Uint8Array) => { encrypt: (pt: Uint8Array) => Uint8Array }) | null> {
  const spec = '@noble/ciphers/aes.js' // not a direct dependency: resolved at run time only
  try {
    const mod = await import(spec) as { cbc?: (key: Uint8Array, iv: Uint8Array) => { encrypt: (pt: Uint8Array) => Uint8Array } }
    return mod.cbc ?? null
  } catch {
    return null
  }
}

async function run (opts: BenchOptions): Promise<Figure[]> {
  const { quick, signal, log } = opts
  const sizes = quick
    ? { rounds: 3, warmupOps: 50, roundMs: 20, minOps: 20, maxOps: 2_000 }
    : { rounds: 7, warmupOps: 2_000, roundMs: 300, minOps: 500, maxOps: 1_000_000 }
  const key = P.randomBytes(32)
  const salt = new Uint8Array(32)
  const iv = P.randomBytes(16)
  const one = new Uint8Array([1])
  const msg = P.randomBytes(100)
  const info = new TextEncoder().encode('WhisperMessageKeys')
  const a = await P.x25519Generate()
  const b = await P.x25519Generate()
  const common = { ...sizes, kind: 'rate' as const, unit: 'ops/s', better: 'higher' as const, baselineName: '@noble (pure JS)', signal, log }
  const figures: Figure[] = []
  const add = async (name: string, note: string, parley: Op, baseline: Op): Promise<void> => {
    log?.(`primitives: ${name}`)
    figures.push(await sideBySide({ ...common, name: `primitives.${name}`, note, parley: loop(parley), baseline: loop(baseline) }))
  }
  await add('hmac-sha256', 'HMAC-SHA256 of 1 byte with a 32-byte key (a chain-key step, DR §5.2)',
    async () => await P.hmacSha256(key, one), () => hmac(sha256, key, one))
  await add('hkdf-sha256', 'HKDF-SHA256 to 80 bytes (message keys from a seed)',
    async () => await P.hkdfSha256(key, salt, info, 80), () => hkdf(sha256, key, salt, info, 80))
  const cbc = await nobleCbc()
  if (cbc !== null) {
    await add('aes-256-cbc', 'AES-256-CBC encryption of 100 bytes (one message body)',
      async () => await P.aesCbcEncrypt(key, iv, msg), () => cbc(key, iv).encrypt(msg))
  } else {
    log?.('primitives: @noble/ciphers not loadable, AES figure skipped')
  }
  await add('x25519', 'X25519 shared secret from raw 32-byte keys (a DH ratchet step)',
    async () => await P.x25519(a.privateKey, b.publicKey), () => x25519.getSharedSecret(a.privateKey, b.publicKey))
  const ikA = P.randomBytes(33); const ikB = P.randomBytes(33); const body = P.randomBytes(150)
  const whole = new Uint8Array([...ikA, ...ikB, ...body])
  await add('hmac-sha256-mac', 'the SignalMessage MAC: HMAC-SHA256 of IK_A || IK_B || 150-byte body (Parley: hmacSha256Parts, no concatenation; @noble: over the ready concatenation)',
    async () => await P.hmacSha256Parts!(key, [ikA, ikB, body]), () => hmac(sha256, key, whole))
  await add('x25519-generate', 'a fresh X25519 key pair as raw bytes (one per DH ratchet step)',
    async () => await P.x25519Generate(), () => { const k = x25519.utils.randomSecretKey(); return x25519.getPublicKey(k) })
  return figures
}

const group: BenchGroup = {
  name: 'primitives',
  description: 'small-input cost of the ratchet primitives: node:crypto (Parley on Node) vs @noble',
  run
}
export default group

/** Shared fixtures for the session, ratchet and property tests: a Parley peer with prekeys in memory. */
import { generateIdentity, type IdentityKeyPair } from '../../src/crypto/identity.js'
import {
  buildPreKeyBundle, generateKyberPreKey, generateOneTimePreKeys, generateSignedPreKey,
  type KyberPreKeyRecord, type OneTimePreKeyRecord, type PreKeyBundle, type SignedPreKeyRecord
} from '../../src/crypto/prekeys.js'
import type { PreKeyLookup } from '../../src/crypto/session.js'
import { initInitiatorRatchet, initResponderRatchet, type RatchetContext, type RatchetState } from '../../src/crypto/ratchet.js'
import { PQXDH_VERSION, type MessageVersion } from '../../src/crypto/message.js'
import { primitives } from '../../src/crypto/primitives/index.js'

export interface TestPeer {
  identity: IdentityKeyPair
  registrationId: number
  signed: Map<number, SignedPreKeyRecord>
  oneTime: Map<number, OneTimePreKeyRecord>
  kyber: Map<number, KyberPreKeyRecord>
  lookup: PreKeyLookup
  /** A fresh bundle (takes the next unused one-time prekey unless `oneTime` is false). */
  bundle: (opts?: { oneTime?: boolean, kyber?: boolean }) => PreKeyBundle
}

export async function makePeer (registrationId: number, opts: { oneTimeCount?: number, lastResortKyber?: boolean } = {}): Promise<TestPeer> {
  const identity = await generateIdentity()
  const spk = await generateSignedPreKey(identity, 1)
  const otps = await generateOneTimePreKeys(100, opts.oneTimeCount ?? 3)
  const kyb = await generateKyberPreKey(identity, 7, { lastResort: opts.lastResortKyber ?? false })
  const signed = new Map([[spk.id, spk]])
  const oneTime = new Map(otps.map(k => [k.id, k]))
  const kyber = new Map([[kyb.id, kyb]])
  const handedOut = new Set<number>()
  return {
    identity,
    registrationId,
    signed,
    oneTime,
    kyber,
    lookup: {
      signedPreKey: (id) => signed.get(id),
      oneTimePreKey: async (id) => oneTime.get(id),
      kyberPreKey: (id) => kyber.get(id)
    },
    bundle: (b = {}) => {
      const otp = b.oneTime === false ? undefined : [...oneTime.values()].find(k => !handedOut.has(k.id))
      if (otp !== undefined) handedOut.add(otp.id)
      return buildPreKeyBundle(identity, {
        registrationId,
        deviceId: 1,
        signedPreKey: spk,
        ...(otp !== undefined ? { oneTimePreKey: otp } : {}),
        ...(b.kyber === false ? {} : { kyberPreKey: kyb })
      })
    }
  }
}

/** Deterministic PRNG (xorshift128+ style, seeded) for interleavings in tests. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0 || 1
  let b = (seed * 2654435761) >>> 0 || 2
  return () => {
    let t = a
    const s = b
    a = s
    t ^= t << 11; t ^= t >>> 8
    b = (t ^ s ^ (s >>> 19)) >>> 0
    return b / 0x100000000
  }
}

export const IK_A = Uint8Array.of(5, ...new Uint8Array(32).fill(1))
export const IK_B = Uint8Array.of(5, ...new Uint8Array(32).fill(2))

/** A pair of bare ratchets as after X3DH: Alice initiates against Bob's "signed prekey". */
export async function ratchetPair (version: MessageVersion = PQXDH_VERSION): Promise<{ a: RatchetState, b: RatchetState, ca: RatchetContext, cb: RatchetContext }> {
  const root = primitives.randomBytes(32)
  const bobKey = await primitives.x25519Generate()
  const a = await initInitiatorRatchet(root, bobKey.publicKey, await primitives.x25519Generate())
  const b = initResponderRatchet(root, bobKey)
  return {
    a,
    b,
    ca: { version, localIdentityKey: IK_A, remoteIdentityKey: IK_B },
    cb: { version, localIdentityKey: IK_B, remoteIdentityKey: IK_A }
  }
}

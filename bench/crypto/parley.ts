/**
 * Parley's side of the crypto group, on src/crypto's public API. Like the baseline, each party keeps
 * its session record as serialised bytes in a Map and (de)serialises it on every message, checks the
 * sender's identity against the one it trusts (TOFU, as the baseline's IdentityKeyStore does), and
 * deletes one-time prekeys when a new session consumes them.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  buildPreKeyBundle, decryptMessage, deserializeSessionRecord, encryptMessage, generateIdentity, generateKyberPreKey,
  generateOneTimePreKeys, generateSignedPreKey, initiateSession, serializeSessionRecord,
  type CiphertextMessage, type IdentityKeyPair, type KyberPreKeyRecord, type OneTimePreKeyRecord, type PreKeyBundle,
  type PreKeyLookup, type SignedPreKeyRecord
} from '../../src/crypto/index.js'
import type { Contestant } from '../measure.js'
import { BenchIntegrityError } from '../types.js'
import type { ChatPair, CryptoContender, PartyName } from './contender.js'

/** Version of the package this file was built from (the nearest package.json up the tree). */
function ourVersion (): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const f = join(dir, 'package.json')
    if (existsSync(f)) return (JSON.parse(readFileSync(f, 'utf8')) as { version?: string }).version ?? '?'
    if (dirname(dir) === dir) return '?'
  }
}
const version = ourVersion()

interface Party {
  name: PartyName
  identity: IdentityKeyPair
  registrationId: number
  /** Serialised session records by peer name. */
  sessions: Map<string, Uint8Array>
  /** Trusted identity keys (33 bytes) by peer name. */
  trusted: Map<string, Uint8Array>
  signed: Map<number, SignedPreKeyRecord>
  oneTime: Map<number, OneTimePreKeyRecord>
  kyber: Map<number, KyberPreKeyRecord>
  lookup: PreKeyLookup
}

function newParty (name: PartyName, identity: IdentityKeyPair, registrationId: number): Party {
  const p: Omit<Party, 'lookup'> = {
    name, identity, registrationId, sessions: new Map(), trusted: new Map(), signed: new Map(), oneTime: new Map(), kyber: new Map()
  }
  return {
    ...p,
    lookup: {
      signedPreKey: id => p.signed.get(id),
      oneTimePreKey: id => p.oneTime.get(id),
      kyberPreKey: id => p.kyber.get(id)
    }
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

/** Bob's publishing: one signed prekey, and a one-time EC + one-time Kyber prekey per bundle. */
class Publisher {
  private nextId = 1
  private constructor (private readonly bob: Party, private readonly signed: SignedPreKeyRecord) {}
  static async create (bob: Party): Promise<Publisher> {
    const signed = await generateSignedPreKey(bob.identity, 1)
    bob.signed.set(signed.id, signed)
    return new Publisher(bob, signed)
  }

  async bundle (): Promise<PreKeyBundle> {
    const id = this.nextId++
    const [oneTime] = await generateOneTimePreKeys(id, 1)
    const kyber = await generateKyberPreKey(this.bob.identity, id)
    this.bob.oneTime.set(id, oneTime!)
    this.bob.kyber.set(id, kyber)
    return buildPreKeyBundle(this.bob.identity, { registrationId: this.bob.registrationId, deviceId: 1, signedPreKey: this.signed, oneTimePreKey: oneTime!, kyberPreKey: kyber })
  }
}

async function startSession (from: Party, to: Party, bundle: PreKeyBundle): Promise<void> {
  const record = await initiateSession({ identity: from.identity, registrationId: from.registrationId, bundle })
  from.trusted.set(to.name, bundle.identityKey)
  from.sessions.set(to.name, serializeSessionRecord(record))
}

async function encryptTo (from: Party, to: Party, plaintext: Uint8Array): Promise<CiphertextMessage> {
  const bytes = from.sessions.get(to.name)
  if (bytes === undefined) throw new BenchIntegrityError(`parley: ${from.name} has no session with ${to.name}`)
  const { record, message } = await encryptMessage(deserializeSessionRecord(bytes), plaintext)
  from.sessions.set(to.name, serializeSessionRecord(record))
  return message
}

async function decryptFrom (at: Party, from: Party, message: CiphertextMessage): Promise<Uint8Array> {
  const bytes = at.sessions.get(from.name)
  const res = await decryptMessage({
    identity: at.identity,
    registrationId: at.registrationId,
    message,
    preKeys: at.lookup,
    ...(bytes !== undefined ? { record: deserializeSessionRecord(bytes) } : {})
  })
  // Trust on first use, then only the same key (the baseline's policy).
  const known = at.trusted.get(from.name)
  if (known === undefined) at.trusted.set(from.name, res.remoteIdentityKey)
  else if (!sameBytes(known, res.remoteIdentityKey)) throw new BenchIntegrityError('parley: identity changed')
  if (res.consumedOneTimePreKeyId !== undefined) at.oneTime.delete(res.consumedOneTimePreKeyId)
  if (res.consumedKyberPreKeyId !== undefined) at.kyber.delete(res.consumedKyberPreKeyId)
  at.sessions.set(from.name, serializeSessionRecord(res.record))
  return res.plaintext
}

export const parleyContender: CryptoContender = {
  name: `parley ${version}`,

  async createPair (): Promise<ChatPair> {
    const alice = newParty('alice', await generateIdentity(), 1001)
    const bob = newParty('bob', await generateIdentity(), 2002)
    await startSession(alice, bob, await (await Publisher.create(bob)).bundle())
    const parties: Record<PartyName, [Party, Party]> = { alice: [alice, bob], bob: [bob, alice] }
    const send = async (from: PartyName, plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array> => {
      const [s, r] = parties[from]
      const m = await encryptTo(s, r, plaintext)
      // what travels: the type and the body bytes (copied, as a transport would)
      return await decryptFrom(r, s, { type: m.type, body: m.body.slice() })
    }
    // Confirm the session both ways so later messages carry no PreKey header.
    const hello = new TextEncoder().encode('hello')
    for (const who of ['alice', 'bob'] as const) {
      if (!sameBytes(await send(who, hello), hello)) throw new BenchIntegrityError('parley: handshake message garbled')
    }
    return { send }
  },

  async setups (): Promise<Contestant> {
    const aliceIdentity = await generateIdentity()
    const bob = newParty('bob', await generateIdentity(), 2002)
    const publisher = await Publisher.create(bob)
    const msg = new TextEncoder().encode('first message')
    let jobs: Array<{ bundle: PreKeyBundle, a: Party, b: Party }> = []
    return {
      async prepare (n: number): Promise<void> {
        // Each set-up starts from empty session stores on both sides.
        jobs = []
        for (let i = 0; i < n; i++) {
          jobs.push({
            bundle: await publisher.bundle(),
            a: newParty('alice', aliceIdentity, 1001),
            b: { ...bob, sessions: new Map(), trusted: new Map() }
          })
        }
      },
      async run (n: number, signal?: AbortSignal): Promise<void> {
        for (let i = 0; i < n; i++) {
          signal?.throwIfAborted()
          const { bundle, a, b } = jobs[i]!
          await startSession(a, b, bundle)
          const m = await encryptTo(a, b, msg)
          if (m.type !== 'prekey') throw new BenchIntegrityError('parley: first message is not a PreKey message')
          if (!sameBytes(await decryptFrom(b, a, { type: m.type, body: m.body.slice() }), msg)) throw new BenchIntegrityError('parley: set-up message garbled')
        }
      }
    }
  }
}

/** The Parley contender, or the reason it cannot run. */
export async function loadParleyContender (): Promise<CryptoContender | string> {
  return parleyContender
}

/**
 * The baseline: @signalapp/libsignal-client (Signal's Rust implementation behind N-API) with in-memory
 * stores. The session store keeps `record.serialize()` bytes and deserialises them on every load, the
 * way an app persisting sessions to a database does.
 */
import {
  CiphertextMessageType, Direction, IdentityChange, IdentityKeyPair, IdentityKeyStore, KEMKeyPair,
  KyberPreKeyRecord, KyberPreKeyStore, PreKeyBundle, PreKeyRecord, PreKeySignalMessage, PreKeyStore,
  PrivateKey, ProtocolAddress, PublicKey, SessionRecord, SessionStore, SignalMessage, SignedPreKeyRecord,
  SignedPreKeyStore, processPreKeyBundle, signalDecrypt, signalDecryptPreKey, signalEncrypt
} from '@signalapp/libsignal-client'
import { createRequire } from 'node:module'
import type { Contestant } from '../measure.js'
import { BenchIntegrityError } from '../types.js'
import type { ChatPair, CryptoContender, PartyName } from './contender.js'

const require = createRequire(import.meta.url)
const version = (require('@signalapp/libsignal-client/package.json') as { version: string }).version

class BytesSessionStore extends SessionStore {
  readonly records = new Map<string, Uint8Array<ArrayBuffer>>()
  async saveSession (name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.records.set(name.toString(), record.serialize())
  }

  async getSession (name: ProtocolAddress): Promise<SessionRecord | null> {
    const bytes = this.records.get(name.toString())
    return bytes === undefined ? null : SessionRecord.deserialize(bytes)
  }

  async getExistingSessions (addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    const out: SessionRecord[] = []
    for (const a of addresses) {
      const r = await this.getSession(a)
      if (r !== null) out.push(r)
    }
    return out
  }
}

class MemIdentityStore extends IdentityKeyStore {
  readonly known = new Map<string, PublicKey>()
  constructor (private readonly identity: IdentityKeyPair, private readonly registrationId: number) { super() }
  async getIdentityKey (): Promise<PrivateKey> { return this.identity.privateKey }
  async getLocalRegistrationId (): Promise<number> { return this.registrationId }
  async saveIdentity (name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const old = this.known.get(name.toString())
    this.known.set(name.toString(), key)
    return old !== undefined && !old.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged
  }

  // Trust on first use, then only the same key (the usual TOFU policy).
  async isTrustedIdentity (name: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
    const old = this.known.get(name.toString())
    return old === undefined || old.equals(key)
  }

  async getIdentity (name: ProtocolAddress): Promise<PublicKey | null> { return this.known.get(name.toString()) ?? null }
}

class MemPreKeyStore extends PreKeyStore {
  readonly keys = new Map<number, PreKeyRecord>()
  async savePreKey (id: number, record: PreKeyRecord): Promise<void> { this.keys.set(id, record) }
  async getPreKey (id: number): Promise<PreKeyRecord> {
    const r = this.keys.get(id)
    if (r === undefined) throw new Error(`no prekey ${id}`)
    return r
  }

  async removePreKey (id: number): Promise<void> { this.keys.delete(id) }
}

class MemSignedPreKeyStore extends SignedPreKeyStore {
  readonly keys = new Map<number, SignedPreKeyRecord>()
  async saveSignedPreKey (id: number, record: SignedPreKeyRecord): Promise<void> { this.keys.set(id, record) }
  async getSignedPreKey (id: number): Promise<SignedPreKeyRecord> {
    const r = this.keys.get(id)
    if (r === undefined) throw new Error(`no signed prekey ${id}`)
    return r
  }
}

class MemKyberPreKeyStore extends KyberPreKeyStore {
  readonly keys = new Map<number, KyberPreKeyRecord>()
  async saveKyberPreKey (id: number, record: KyberPreKeyRecord): Promise<void> { this.keys.set(id, record) }
  async getKyberPreKey (id: number): Promise<KyberPreKeyRecord> {
    const r = this.keys.get(id)
    if (r === undefined) throw new Error(`no kyber prekey ${id}`)
    return r
  }

  // One-time Kyber prekeys are deleted after use (PQXDH §4.3 "deletes ... one-time prekey").
  async markKyberPreKeyUsed (id: number): Promise<void> { this.keys.delete(id) }
}

interface Party {
  address: ProtocolAddress
  identity: IdentityKeyPair
  registrationId: number
  sessions: BytesSessionStore
  identities: MemIdentityStore
  preKeys: MemPreKeyStore
  signedPreKeys: MemSignedPreKeyStore
  kyberPreKeys: MemKyberPreKeyStore
}

function newParty (name: string, registrationId: number, identity = IdentityKeyPair.generate()): Party {
  return {
    address: ProtocolAddress.new(name, 1),
    identity,
    registrationId,
    sessions: new BytesSessionStore(),
    identities: new MemIdentityStore(identity, registrationId),
    preKeys: new MemPreKeyStore(),
    signedPreKeys: new MemSignedPreKeyStore(),
    kyberPreKeys: new MemKyberPreKeyStore()
  }
}

/** Bob's side of publishing: a signed prekey (once) and a one-time EC + one-time Kyber prekey per bundle. */
class Publisher {
  private nextId = 1
  private readonly signedId = 1
  private readonly signed: SignedPreKeyRecord
  constructor (private readonly bob: Party) {
    const spk = PrivateKey.generate()
    const sig = bob.identity.privateKey.sign(spk.getPublicKey().serialize())
    this.signed = SignedPreKeyRecord.new(this.signedId, Date.now(), spk.getPublicKey(), spk, sig)
    bob.signedPreKeys.keys.set(this.signedId, this.signed)
  }

  bundle (): PreKeyBundle {
    const id = this.nextId++
    const pk = PrivateKey.generate()
    this.bob.preKeys.keys.set(id, PreKeyRecord.new(id, pk.getPublicKey(), pk))
    const kem = KEMKeyPair.generate()
    const kyberSig = this.bob.identity.privateKey.sign(kem.getPublicKey().serialize())
    this.bob.kyberPreKeys.keys.set(id, KyberPreKeyRecord.new(id, Date.now(), kem, kyberSig))
    return PreKeyBundle.new(this.bob.registrationId, 1, id, pk.getPublicKey(), this.signedId,
      this.signed.publicKey(), this.signed.signature(), this.bob.identity.publicKey, id, kem.getPublicKey(), kyberSig)
  }
}

async function encryptTo (from: Party, to: Party, plaintext: Uint8Array<ArrayBuffer>): Promise<{ type: number, bytes: Uint8Array<ArrayBuffer> }> {
  const ct = await signalEncrypt(plaintext, to.address, from.address, from.sessions, from.identities)
  return { type: ct.type(), bytes: ct.serialize() }
}

async function decryptFrom (at: Party, from: Party, msg: { type: number, bytes: Uint8Array<ArrayBuffer> }): Promise<Uint8Array> {
  if (msg.type === CiphertextMessageType.PreKey) {
    return await signalDecryptPreKey(PreKeySignalMessage.deserialize(msg.bytes), from.address, at.address,
      at.sessions, at.identities, at.preKeys, at.signedPreKeys, at.kyberPreKeys)
  }
  return await signalDecrypt(SignalMessage.deserialize(msg.bytes), from.address, at.address, at.sessions, at.identities)
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

export const libsignalContender: CryptoContender = {
  name: `@signalapp/libsignal-client ${version}`,

  async createPair (): Promise<ChatPair> {
    const alice = newParty('alice', 1001)
    const bob = newParty('bob', 2002)
    await processPreKeyBundle(new Publisher(bob).bundle(), bob.address, alice.address, alice.sessions, alice.identities)
    const parties: Record<PartyName, [Party, Party]> = { alice: [alice, bob], bob: [bob, alice] }
    const send = async (from: PartyName, plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array> => {
      const [s, r] = parties[from]
      return await decryptFrom(r, s, await encryptTo(s, r, plaintext))
    }
    // Confirm the session both ways so later messages carry no PreKey header.
    const hello = new TextEncoder().encode('hello')
    for (const who of ['alice', 'bob'] as const) {
      if (!sameBytes(await send(who, hello), hello)) throw new BenchIntegrityError('libsignal: handshake message garbled')
    }
    return { send }
  },

  async setups (): Promise<Contestant> {
    const aliceIdentity = IdentityKeyPair.generate()
    const bobIdentity = IdentityKeyPair.generate()
    const bob = newParty('bob', 2002, bobIdentity)
    const publisher = new Publisher(bob)
    const msg = new TextEncoder().encode('first message')
    let jobs: Array<{ bundle: PreKeyBundle, a: Party, b: Party }> = []
    return {
      async prepare (n: number): Promise<void> {
        // Each set-up starts from empty session stores on both sides.
        jobs = Array.from({ length: n }, () => ({
          bundle: publisher.bundle(),
          a: newParty('alice', 1001, aliceIdentity),
          b: { ...bob, sessions: new BytesSessionStore(), identities: new MemIdentityStore(bobIdentity, bob.registrationId) }
        }))
      },
      async run (n: number, signal?: AbortSignal): Promise<void> {
        for (let i = 0; i < n; i++) {
          signal?.throwIfAborted()
          const { bundle, a, b } = jobs[i]!
          await processPreKeyBundle(bundle, b.address, a.address, a.sessions, a.identities)
          const ct = await encryptTo(a, b, msg)
          if (ct.type !== CiphertextMessageType.PreKey) throw new BenchIntegrityError('libsignal: first message is not a PreKey message')
          if (!sameBytes(await decryptFrom(b, a, ct), msg)) throw new BenchIntegrityError('libsignal: set-up message garbled')
        }
      }
    }
  }
}

/**
 * The conversation the browser test runs. It takes the crypto API as a parameter and imports nothing
 * at run time (type-only import), so the compiled file is served to the page as is and runs in the
 * page against the esbuild bundle (WebCrypto) — and in Node against node:crypto for the cross-checks.
 * Everything crossing the page boundary is JSON: bytes travel as hex.
 */
import type * as CryptoApi from '../../src/crypto/index.js'

export type Api = typeof CryptoApi

export interface WireMessage { type: 'prekey' | 'whisper', bodyHex: string }

export interface ConversationResult {
  primitivesName: string
  aliceSeedHex: string
  bobSeedHex: string
  aliceRecordHex: string
  bobRecordHex: string
  safetyAlice: string
  safetyBob: string
  /** Messages sent and decrypted (both directions). */
  delivered: number
  /** How many were decrypted in a different order than they were sent. */
  outOfOrder: number
  /** Alice -> Bob, encrypted in this runtime and not yet decrypted by Bob. */
  pending: WireMessage
  pendingText: string
}

export const ALICE_ID = 'alice@parley-test'
export const BOB_ID = 'bob@parley-test'

function prng (seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s / 0x100000000
  }
}

/**
 * Two identities, Bob's bundle (through its binary codec), a PQXDH session, `messages` messages in
 * alternating bursts of 1..8, each burst decrypted in a shuffled order, and both safety numbers.
 */
export async function runConversation (api: Api, opts: { messages: number, seed: number }): Promise<ConversationResult> {
  const enc = new TextEncoder()
  const dec = new TextDecoder()
  const rand = prng(opts.seed)
  const alice = await api.generateIdentity()
  const bob = await api.generateIdentity()
  const spk = await api.generateSignedPreKey(bob, 1)
  const [otp] = await api.generateOneTimePreKeys(100, 1)
  const kyber = await api.generateKyberPreKey(bob, 7)
  const wire = api.encodePreKeyBundle(api.buildPreKeyBundle(bob, { registrationId: 2, deviceId: 1, signedPreKey: spk, oneTimePreKey: otp!, kyberPreKey: kyber }))
  const bundle = api.decodePreKeyBundle(wire)
  const preKeys: CryptoApi.PreKeyLookup = {
    signedPreKey: (id) => id === spk.id ? spk : undefined,
    oneTimePreKey: (id) => id === otp!.id ? otp : undefined,
    kyberPreKey: (id) => id === kyber.id ? kyber : undefined
  }
  let aliceRecord = await api.initiateSession({ identity: alice, registrationId: 1, bundle, mode: 'pqxdh' })
  let bobRecord: CryptoApi.SessionRecord | undefined
  let delivered = 0
  let outOfOrder = 0
  let aliceTurn = true
  while (delivered < opts.messages) {
    const burst = Math.min(1 + Math.floor(rand() * 8), opts.messages - delivered)
    const sent: Array<{ text: string, message: CryptoApi.CiphertextMessage }> = []
    for (let i = 0; i < burst; i++) {
      const text = `${aliceTurn ? 'a' : 'b'}#${delivered + i} ${'x'.repeat(Math.floor(rand() * 64))}`
      if (aliceTurn) {
        const r = await api.encryptMessage(aliceRecord, enc.encode(text))
        aliceRecord = r.record
        sent.push({ text, message: r.message })
      } else {
        const r = await api.encryptMessage(bobRecord!, enc.encode(text))
        bobRecord = r.record
        sent.push({ text, message: r.message })
      }
    }
    // Fisher-Yates shuffle: the receiver sees the burst out of order.
    const order = sent.map((_, i) => i)
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    for (let k = 0; k < order.length; k++) {
      const idx = order[k]!
      if (idx !== k) outOfOrder++
      const { text, message } = sent[idx]!
      const r = aliceTurn
        ? await api.decryptMessage({ identity: bob, registrationId: 2, ...(bobRecord !== undefined ? { record: bobRecord } : {}), message, preKeys })
        : await api.decryptMessage({ identity: alice, registrationId: 1, record: aliceRecord, message })
      if (dec.decode(r.plaintext) !== text) throw new Error(`message ${idx} decrypted to the wrong text`)
      if (aliceTurn) bobRecord = r.record
      else aliceRecord = r.record
      delivered++
    }
    aliceTurn = !aliceTurn
  }
  const pendingText = 'encrypted by alice, for bob, in this runtime'
  const p = await api.encryptMessage(aliceRecord, enc.encode(pendingText))
  aliceRecord = p.record
  const aliceKey = api.encodePublicKey(alice.dhPublicKey)
  const bobKey = api.encodePublicKey(bob.dhPublicKey)
  const safetyAlice = await api.computeSafetyNumber({ localIdentifier: enc.encode(ALICE_ID), localIdentityKey: aliceKey, remoteIdentifier: enc.encode(BOB_ID), remoteIdentityKey: bobKey })
  const safetyBob = await api.computeSafetyNumber({ localIdentifier: enc.encode(BOB_ID), localIdentityKey: bobKey, remoteIdentifier: enc.encode(ALICE_ID), remoteIdentityKey: aliceKey })
  return {
    primitivesName: api.primitives.name,
    aliceSeedHex: api.toHex(alice.seed),
    bobSeedHex: api.toHex(bob.seed),
    aliceRecordHex: api.toHex(api.serializeSessionRecord(aliceRecord)),
    bobRecordHex: api.toHex(api.serializeSessionRecord(bobRecord!)),
    safetyAlice: safetyAlice.displayable,
    safetyBob: safetyBob.displayable,
    delivered,
    outOfOrder,
    pending: { type: p.message.type, bodyHex: api.toHex(p.message.body) },
    pendingText
  }
}

/** Decrypts one message with a serialised record; returns the text and the advanced record. */
export async function decryptOne (api: Api, opts: { seedHex: string, recordHex: string, message: WireMessage }): Promise<{ text: string, recordHex: string }> {
  const identity = await api.identityFromSeed(api.fromHex(opts.seedHex))
  const record = api.deserializeSessionRecord(api.fromHex(opts.recordHex))
  const r = await api.decryptMessage({ identity, record, message: { type: opts.message.type, body: api.fromHex(opts.message.bodyHex) } })
  return { text: new TextDecoder().decode(r.plaintext), recordHex: api.toHex(api.serializeSessionRecord(r.record)) }
}

/** Encrypts one text with a serialised record. */
export async function encryptOne (api: Api, opts: { recordHex: string, text: string }): Promise<{ message: WireMessage, recordHex: string }> {
  const r = await api.encryptMessage(api.deserializeSessionRecord(api.fromHex(opts.recordHex)), new TextEncoder().encode(opts.text))
  return { message: { type: r.message.type, bodyHex: api.toHex(r.message.body) }, recordHex: api.toHex(api.serializeSessionRecord(r.record)) }
}

/** Safety number as `localId` sees it, from seeds. */
export async function safetyNumberFromSeeds (api: Api, opts: { localId: string, localSeedHex: string, remoteId: string, remoteSeedHex: string }): Promise<string> {
  const enc = new TextEncoder()
  const l = await api.identityFromSeed(api.fromHex(opts.localSeedHex))
  const r = await api.identityFromSeed(api.fromHex(opts.remoteSeedHex))
  const sn = await api.computeSafetyNumber({ localIdentifier: enc.encode(opts.localId), localIdentityKey: l.dhPublicKey, remoteIdentifier: enc.encode(opts.remoteId), remoteIdentityKey: r.dhPublicKey })
  return sn.displayable
}

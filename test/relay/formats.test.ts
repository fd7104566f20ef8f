// Issue 4 formats on their own: signed DHT records format 1, 2 (relays) and 3 (introduction tag), invites with relay=,
// relay address validation, the relay config (file + flags), HOME/settings.json, and store
// migration 3 (contacts.relays) over a real version-2 database.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidRecordError, peerIdFromSeed } from '../../src/net/index.js'
import { createRecordSelector, createRecordValidator, recordKey, recordSigningBytes, signPeerRecord, verifyPeerRecord } from '../../src/net/record.js'
import { decodePeerRecord, encodePeerRecord, LIMITS } from '../../src/wire/index.js'
import { formatInvite, identityFingerprint, InvalidInviteError, parseInvite } from '../../src/core/invite.js'
import { MAX_RELAYS, mergeRelays, relayPeerIdOf } from '../../src/core/relays.js'
import { readNodeSettings, SettingsFileError, updateNodeSettings } from '../../src/core/settings.js'
import { applyConfigDocument, DEFAULT_RELAY_CONFIG, RelayConfigError, resolveRelayConfig, type RelayConfig } from '../../src/relay/config.js'
import { LATEST_SCHEMA_VERSION, MIGRATIONS, openStore, StoreInputError } from '../../src/store/index.js'
import { runMigrations } from '../../src/store/sqlite/schema.js'

const PREFIX = '/parley'

async function keyAndId (): Promise<{ key: PrivateKey, peerId: string }> {
  const seed = new Uint8Array(randomBytes(32))
  return { key: await generateKeyPairFromSeed('Ed25519', seed), peerId: await peerIdFromSeed(seed) }
}

test('records: format 2 carries relays under its own signature domain; format 1 still verifies; newest wins across formats', async () => {
  const alice = await keyAndId()
  const relay = await keyAndId()
  const key = recordKey(PREFIX, alice.peerId)
  const relayAddr = `/ip4/203.0.113.7/tcp/4001/p2p/${relay.peerId}`
  const now = Date.now()
  const v2 = await signPeerRecord(alice.key, alice.peerId, { seq: now, payload: new Uint8Array([2]), addresses: ['/ip4/127.0.0.1/tcp/1'], relays: [relayAddr] })
  const rec2 = await verifyPeerRecord(PREFIX, key, v2)
  assert.equal(rec2.format, 2)
  assert.deepEqual(rec2.relays, [relayAddr])
  const v1 = await signPeerRecord(alice.key, alice.peerId, { seq: now - 1000, payload: new Uint8Array([1]), addresses: [], format: 1 })
  const rec1 = await verifyPeerRecord(PREFIX, key, v1)
  assert.equal(rec1.format, 1)
  assert.deepEqual(rec1.relays, [])

  // stripping the relays, adding some, or changing the format breaks the signature
  const t = decodePeerRecord(v2)
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t, relays: [] })), InvalidRecordError)
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t, relays: [relayAddr, relayAddr] })), InvalidRecordError)
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t, relays: [], format: 1 })), InvalidRecordError)
  const t1 = decodePeerRecord(v1)
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t1, format: 2 })), InvalidRecordError)
  // a format 1 record cannot carry relays; an unknown format is refused by the decoder
  assert.throws(() => encodePeerRecord({ ...t1, relays: [relayAddr] }))
  assert.throws(() => encodePeerRecord({ ...t, relays: Array.from({ length: LIMITS.maxRecordRelays + 1 }, () => relayAddr) }))
  assert.throws(() => encodePeerRecord({ ...t, format: 4 as 3 }))
  assert.equal(new TextDecoder().decode(recordSigningBytes(t).subarray(0, 21)), 'parley/peer-record/v2')

  // the validator and selector handle both formats: the newest valid record wins, whatever its format
  const validate = createRecordValidator(PREFIX)
  await validate(key, v1)
  await validate(key, v2)
  const select = createRecordSelector(PREFIX)
  assert.equal(await select(key, [v1, v2]), 1)
  const v1newer = await signPeerRecord(alice.key, alice.peerId, { seq: now + 1000, payload: new Uint8Array([3]), addresses: [], format: 1 })
  assert.equal(await select(key, [v2, v1newer]), 1)
})

test('records: format 3 adds the introduction tag under its own domain; formats 1 and 2 still verify; newest wins across formats', async () => {
  const alice = await keyAndId()
  const relay = await keyAndId()
  const key = recordKey(PREFIX, alice.peerId)
  const relayAddr = `/ip4/203.0.113.7/tcp/4001/p2p/${relay.peerId}`
  const tag = new Uint8Array(randomBytes(32))
  const now = Date.now()
  const v3 = await signPeerRecord(alice.key, alice.peerId, { seq: now, payload: new Uint8Array([3]), addresses: [], relays: [relayAddr], introTag: tag })
  const rec3 = await verifyPeerRecord(PREFIX, key, v3)
  assert.equal(rec3.format, 3, 'an introduction tag makes a format 3 record')
  assert.deepEqual(rec3.relays, [relayAddr])
  assert.deepEqual(rec3.introTag, tag)
  const v2 = await signPeerRecord(alice.key, alice.peerId, { seq: now - 1000, payload: new Uint8Array([2]), addresses: [], relays: [relayAddr] })
  const rec2 = await verifyPeerRecord(PREFIX, key, v2)
  assert.equal(rec2.format, 2, 'no tag: format 2, as before')
  assert.equal(rec2.introTag.length, 0)

  // the tag is signed: dropping, changing or moving it to another format breaks the signature
  const t = decodePeerRecord(v3)
  const other = new Uint8Array(randomBytes(32))
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t, introTag: other })), InvalidRecordError)
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t, introTag: new Uint8Array(0), format: 2 })), InvalidRecordError)
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t, relays: [] })), InvalidRecordError)
  const t2 = decodePeerRecord(v2)
  await assert.rejects(verifyPeerRecord(PREFIX, key, encodePeerRecord({ ...t2, introTag: tag, format: 3 })), InvalidRecordError)
  assert.equal(new TextDecoder().decode(recordSigningBytes(t).subarray(0, 21)), 'parley/peer-record/v3')
  // caps: exactly 32 bytes in format 3, none in formats 1 and 2 (encoder and decoder alike)
  assert.throws(() => encodePeerRecord({ ...t, introTag: new Uint8Array(31) }), /32 bytes/)
  assert.throws(() => encodePeerRecord({ ...t, introTag: new Uint8Array(33) }), /32 bytes/)
  assert.throws(() => encodePeerRecord({ ...t, introTag: new Uint8Array(0) }), /32 bytes/)
  assert.throws(() => encodePeerRecord({ ...t2, introTag: tag }), /no introduction tag/)
  const forged = pbWithIntroTag(v2, tag) // a format 2 value with field 8 set by hand
  assert.throws(() => decodePeerRecord(forged), /no introduction tag/)
  await assert.rejects(verifyPeerRecord(PREFIX, key, forged), InvalidRecordError)
  const huge = pbWithIntroTag(v3, new Uint8Array(LIMITS.maxRecordBytes))
  assert.throws(() => decodePeerRecord(huge))

  // newest valid wins, whatever the format
  const select = createRecordSelector(PREFIX)
  assert.equal(await select(key, [v2, v3]), 1)
  const v1newer = await signPeerRecord(alice.key, alice.peerId, { seq: now + 1000, payload: new Uint8Array([1]), addresses: [], format: 1 })
  assert.equal(await select(key, [v3, v1newer]), 1)
  const validate = createRecordValidator(PREFIX)
  await validate(key, v2)
  await validate(key, v3)
})

/** `value` with protobuf field 8 (introTag, length-delimited) appended: last field wins in protobuf. */
function pbWithIntroTag (value: Uint8Array, tag: Uint8Array): Uint8Array {
  const len: number[] = []
  let n = tag.length
  while (n >= 0x80) { len.push((n & 0x7f) | 0x80); n >>>= 7 }
  len.push(n)
  return new Uint8Array([...value, (8 << 3) | 2, ...len, ...tag])
}

test('invites: relay= round-trips, old invites (no relay) stay valid, malformed or too many relays are refused', async () => {
  const alice = await keyAndId()
  const relay = await keyAndId()
  const fingerprint = await identityFingerprint(new Uint8Array(33).fill(5))
  const relayAddr = `/dns4/relay.example.org/tcp/4001/p2p/${relay.peerId}`
  const inv = formatInvite({ peerId: alice.peerId, fingerprint, name: 'alice', addresses: ['/ip4/127.0.0.1/tcp/1'], relays: [relayAddr] })
  assert.match(inv, /&relay=%2Fdns4%2Frelay\.example\.org/)
  assert.deepEqual(parseInvite(inv).relays, [relayAddr])
  const old = formatInvite({ peerId: alice.peerId, fingerprint, addresses: [] })
  assert.ok(!old.includes('relay='))
  assert.deepEqual(parseInvite(old).relays, [])
  assert.throws(() => parseInvite(`${old}&relay=${encodeURIComponent('/ip4/1.2.3.4/tcp/1')}`), InvalidInviteError, 'no /p2p/')
  assert.throws(() => parseInvite(`${old}&relay=${encodeURIComponent(`/ip4/1.2.3.4/tcp/1/p2p/${relay.peerId}/p2p-circuit/p2p/${alice.peerId}`)}`), InvalidInviteError, 'a relayed address is no relay')
  assert.throws(() => parseInvite(`${old}&relay=not-a-multiaddr`), InvalidInviteError)
  const many = Array.from({ length: MAX_RELAYS + 1 }, (_, i) => `&relay=${encodeURIComponent(`/ip4/10.0.0.${i}/tcp/1/p2p/${relay.peerId}`)}`).join('')
  assert.throws(() => parseInvite(old + many), InvalidInviteError)

  assert.equal(relayPeerIdOf(relayAddr), relay.peerId)
  assert.equal(relayPeerIdOf(`/ip4/1.2.3.4/tcp/1/p2p/${relay.peerId}/p2p/${alice.peerId}`), null)
  assert.deepEqual(mergeRelays(['bad', relayAddr, relayAddr], [relayAddr, 42]), [relayAddr])
})

test('relay config: defaults, then the JSON file, then flags (flags win); unknown fields and bad values are refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parley-rlcfg-'))
  try {
    const file = join(dir, 'relay.json')
    await writeFile(file, JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/4101'], stun: { port: 3479 }, mailbox: { quotaMiB: 2, retentionDays: 7 }, relay: { durationSeconds: 600 } }))
    const c = await resolveRelayConfig({ 'mailbox-quota': '4', listen: ['/ip4/127.0.0.1/tcp/4201'] }, file)
    assert.deepEqual(c.listen, ['/ip4/127.0.0.1/tcp/4201'], 'flag wins')
    assert.equal(c.mailbox.quotaBytes, 4 * 1024 * 1024, 'flag wins')
    assert.equal(c.mailbox.retentionMs, 7 * 86_400_000, 'file value kept')
    assert.deepEqual(c.stun, { host: '0.0.0.0', port: 3479 })
    assert.equal(c.relay.durationMs, 600_000)
    assert.equal(c.relay.dataBytes, DEFAULT_RELAY_CONFIG.relay.dataBytes)
    assert.equal((await resolveRelayConfig({ 'no-stun': true, 'no-mailbox': true })).stun, false)
    const base = structuredClone(DEFAULT_RELAY_CONFIG) as RelayConfig
    assert.throws(() => applyConfigDocument(base, { lisen: [] }), RelayConfigError)
    assert.throws(() => applyConfigDocument(base, { mailbox: { quotaMiB: -1 } }), RelayConfigError)
    assert.throws(() => applyConfigDocument(base, { listen: ['not a multiaddr'] }), RelayConfigError)
    assert.throws(() => applyConfigDocument(base, { bootstrap: ['/ip4/1.2.3.4/tcp/1'] }), RelayConfigError, 'bootstrap needs /p2p/')
    assert.throws(() => applyConfigDocument(base, []), RelayConfigError)
    await writeFile(file, '{ not json')
    await assert.rejects(resolveRelayConfig({}, file), RelayConfigError)
    await writeFile(file, ' '.repeat(70 * 1024))
    await assert.rejects(resolveRelayConfig({}, file), RelayConfigError, 'size cap')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('settings.json: relays stored and read back; malformed files are refused, not half-applied', async () => {
  const home = await mkdtemp(join(tmpdir(), 'parley-rlset-'))
  try {
    assert.deepEqual(await readNodeSettings(home), {})
    const relay = await keyAndId()
    const r = `/ip4/127.0.0.1/tcp/4001/p2p/${relay.peerId}`
    await updateNodeSettings(home, { relays: [r] })
    assert.deepEqual(await readNodeSettings(home), { relays: [r] })
    assert.deepEqual(JSON.parse(await readFile(join(home, 'settings.json'), 'utf8')), { relays: [r] })
    await writeFile(join(home, 'settings.json'), JSON.stringify({ relays: ['/ip4/1.2.3.4/tcp/1'] }))
    await assert.rejects(readNodeSettings(home), SettingsFileError)
    await writeFile(join(home, 'settings.json'), '[')
    await assert.rejects(readNodeSettings(home), SettingsFileError)
  } finally {
    await rm(home, { recursive: true, force: true })
  }
})

test('store migration 3: a version-2 database gains contacts.relays (existing contacts get []), relays round-trip', async () => {
  const home = await mkdtemp(join(tmpdir(), 'parley-rlmig-'))
  try {
    // a real version-2 database with one contact, made by the version-2 migrations
    const db = new DatabaseSync(join(home, 'parley.db'))
    runMigrations(db, MIGRATIONS.filter(m => m.version <= 2), Date.now)
    db.prepare("INSERT INTO contacts (peer_id, name, identity_key, addresses, created_at) VALUES ('12D3KooWOld', 'old', x'05', '[\"/ip4/127.0.0.1/tcp/1\"]', 1)").run()
    db.close()
    const s = await openStore({ home })
    try {
      assert.equal(s.schemaVersion, LATEST_SCHEMA_VERSION)
      const old = await s.getContact('12D3KooWOld')
      assert.deepEqual(old?.relays, [])
      assert.deepEqual(old?.addresses, ['/ip4/127.0.0.1/tcp/1'])
      const r = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRelay'
      assert.deepEqual((await s.updateContact('12D3KooWOld', { relays: [r] }))?.relays, [r])
      assert.deepEqual((await s.listContacts())[0]?.relays, [r])
      await assert.rejects(s.updateContact('12D3KooWOld', { relays: [42 as unknown as string] }), StoreInputError)
    } finally {
      await s.close()
    }
  } finally {
    await rm(home, { recursive: true, force: true })
  }
})

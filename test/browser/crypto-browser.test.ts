/**
 * Issue 2: the crypto core runs in a real browser. Bundles the compiled crypto entry with esbuild
 * (package.json "browser" swaps node:crypto primitives for WebCrypto), serves it on 127.0.0.1 and runs
 * a PQXDH conversation in headless Debian Chromium (playwright-core), then cross-checks in Node:
 * safety numbers agree and messages encrypted on one side decrypt on the other.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { AddressInfo } from 'node:net'
import * as api from '../../src/crypto/index.js'
import { repoRoot } from '../helpers/bytes.js'
import {
  ALICE_ID, BOB_ID, decryptOne, encryptOne, safetyNumberFromSeeds,
  type ConversationResult, type WireMessage
} from './scenario.js'

const here = dirname(fileURLToPath(import.meta.url))
/** The tsc output folder this test was compiled into (dist, dist-h6, ...). */
const distDir = resolve(here, '..', '..')
const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium'
/** /work/.library/env/machines/node.md: flags that keep Chromium off the closed network. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']
const MESSAGES = 200

interface Bundler { bundleCrypto: (opts: { distDir?: string, outFile?: string }) => Promise<{ code: string, inputs: string[], bytes: number, staged: boolean }> }
const bundler = async (): Promise<Bundler> => await import(pathToFileURL(join(repoRoot(), 'scripts', 'bundle-crypto.mjs')).href) as Bundler

test('the browser bundle step fails when a Node built-in would be bundled', async () => {
  const { bundleCrypto } = await bundler()
  const fake = await mkdtemp(join(tmpdir(), 'parley-fake-dist-'))
  try {
    await mkdir(join(fake, 'src', 'crypto', 'primitives'), { recursive: true })
    await writeFile(join(fake, 'src', 'crypto', 'index.js'), "import { readFileSync } from 'node:fs'\nexport * from './primitives/index.js'\nexport const f = readFileSync\n")
    await writeFile(join(fake, 'src', 'crypto', 'primitives', 'index.js'), "export const primitives = { name: 'node' }\n")
    await writeFile(join(fake, 'src', 'crypto', 'primitives', 'browser-index.js'), "export const primitives = { name: 'webcrypto' }\n")
    await assert.rejects(bundleCrypto({ distDir: fake }), (err: Error) => err.name === 'BundleError' && /node:fs/.test(err.message))
  } finally {
    await rm(fake, { recursive: true, force: true })
  }
})

test('crypto core in headless Chromium: PQXDH + 200 messages, cross-checked with Node', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM} (install Debian's chromium, or set PARLEY_CHROMIUM)`)
    return
  }
  const { bundleCrypto } = await bundler()
  const bundle = await bundleCrypto({ distDir })
  assert.ok(bundle.inputs.some(p => p.endsWith('src/crypto/primitives/web.js')), 'WebCrypto primitives are bundled')
  assert.ok(!bundle.inputs.some(p => p.endsWith('src/crypto/primitives/node.js')), 'node:crypto primitives are not bundled')
  const scenarioJs = await readFile(join(here, 'scenario.js'), 'utf8')
  assert.doesNotMatch(scenarioJs, /^\s*import\s/m, 'scenario.js must import nothing at run time')

  const files: Record<string, [string, string]> = {
    '/': ['text/html', '<!doctype html><meta charset="utf-8"><title>parley crypto</title><script type="module">' +
      "import * as api from '/crypto.js'; import * as sc from '/scenario.js';" +
      'window.parleyRun = (name, arg) => sc[name](api, arg); window.parleyReady = true</script>'],
    '/crypto.js': ['text/javascript', bundle.code],
    '/scenario.js': ['text/javascript', scenarioJs]
  }
  const server: Server = createServer((req, res) => {
    const f = files[new URL(req.url ?? '/', 'http://127.0.0.1').pathname]
    if (f === undefined) { res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end(); return }
    res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-store' }).end(f[1])
  })
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(0, '127.0.0.1', ok) })
  const { port } = server.address() as AddressInfo
  const profile = await mkdtemp(join(tmpdir(), 'parley-chromium-'))
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 })
  const pageErrors: string[] = []
  try {
    const page = browser.pages()[0] ?? await browser.newPage()
    page.on('pageerror', e => pageErrors.push(e.message))
    page.on('console', m => { if (m.type() === 'error') pageErrors.push(m.text()) })
    page.setDefaultTimeout(60_000)
    await page.goto(`http://127.0.0.1:${port}/`)
    await page.waitForFunction(() => (window as unknown as { parleyReady?: boolean }).parleyReady === true)
    const run = async <T>(name: string, arg: unknown): Promise<T> =>
      await page.evaluate(async ([n, a]) => await (window as unknown as { parleyRun: (n: unknown, a: unknown) => Promise<unknown> }).parleyRun(n, a), [name, arg] as const) as T

    const started = performance.now()
    const r = await run<ConversationResult>('runConversation', { messages: MESSAGES, seed: 20261125 })
    const pageMs = performance.now() - started
    const ua = await page.evaluate(() => navigator.userAgent)
    t.diagnostic(`${ua.match(/(?:Headless)?Chrome\/[\d.]+/)?.[0] ?? ua}; bundle ${bundle.bytes} bytes${bundle.staged ? ' (staged)' : ''}; ` +
      `${r.delivered} messages, ${r.outOfOrder} decrypted out of order, ${pageMs.toFixed(0)} ms in the page`)
    // The page must have run the WebCrypto implementation, not node:crypto (issue 2).
    assert.equal(r.primitivesName, 'webcrypto')
    assert.equal(api.primitives.name === 'webcrypto', false, 'Node side runs the node:crypto primitives')
    assert.equal(r.delivered, MESSAGES)
    assert.ok(r.outOfOrder > 20, `out-of-order deliveries: ${r.outOfOrder}`)
    assert.match(r.safetyAlice, /^\d{60}$/)
    assert.equal(r.safetyAlice, r.safetyBob)

    // Safety numbers: the browser's equal Node's for the same keys (X3DH §4.1 comparison out of band).
    const nodeSafety = await safetyNumberFromSeeds(api, { localId: ALICE_ID, localSeedHex: r.aliceSeedHex, remoteId: BOB_ID, remoteSeedHex: r.bobSeedHex })
    assert.equal(nodeSafety, r.safetyAlice)

    // Browser -> Node: the pending message Alice encrypted in the page decrypts in Node with Bob's record.
    const atNode = await decryptOne(api, { seedHex: r.bobSeedHex, recordHex: r.bobRecordHex, message: r.pending })
    assert.equal(atNode.text, r.pendingText)

    // Node -> browser: Bob replies in Node (a new DH ratchet step), Alice decrypts in the page.
    const reply = await encryptOne(api, { recordHex: atNode.recordHex, text: 'reply encrypted in node' })
    assert.equal(reply.message.type, 'whisper')
    const inPage = await run<{ text: string, recordHex: string }>('decryptOne', { seedHex: r.aliceSeedHex, recordHex: r.aliceRecordHex, message: reply.message })
    assert.equal(inPage.text, 'reply encrypted in node')

    // And once more each way on the advanced records, so both ratchets keep stepping across runtimes.
    const fromPage = await run<{ message: WireMessage, recordHex: string }>('encryptOne', { recordHex: inPage.recordHex, text: 'second from the page' })
    assert.equal((await decryptOne(api, { seedHex: r.bobSeedHex, recordHex: reply.recordHex, message: fromPage.message })).text, 'second from the page')

    // A tampered message is refused in the page (MAC check, Signal Double Ratchet §3.5 decrypt).
    const bad = { ...reply.message, bodyHex: reply.message.bodyHex.slice(0, -2) + (reply.message.bodyHex.endsWith('00') ? '01' : '00') }
    await assert.rejects(run('decryptOne', { seedHex: r.aliceSeedHex, recordHex: r.aliceRecordHex, message: bad }))
    assert.deepEqual(pageErrors.filter(e => !/decrypt|MAC|Bad/i.test(e)), [])
  } finally {
    await browser.close()
    await new Promise<void>(ok => server.close(() => ok()))
    await rm(profile, { recursive: true, force: true })
  }
})

#!/usr/bin/env node
// Bundles the crypto core's public entry (<dist>/src/crypto/index.js, compiled by tsc) for browsers
// with esbuild, honouring package.json "browser" (which swaps primitives/index.js, node:crypto, for
// primitives/browser-index.js, WebCrypto). Fails when any Node built-in would end up in the bundle,
// or when the swap did not happen.
//
//   node scripts/bundle-crypto.mjs [--dist dist] [--out dist/browser/parley-crypto.js]
//
// The "browser" keys name ./dist/...; for another output folder (e.g. dist-h6) the compiled
// src/crypto tree is staged under a temporary ./dist next to a copy of package.json, so the very same
// mapping is exercised instead of a hand-written one.
import { builtinModules } from 'node:module'
import { cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export class BundleError extends Error {
  name = 'BundleError'
}

const BUILTINS = new Set(builtinModules.flatMap(m => [m, `node:${m}`]))

/** Refuses every import of a Node built-in (with or without the node: prefix) and records who asked. */
function noNodeBuiltins (found) {
  return {
    name: 'no-node-builtins',
    setup (build) {
      build.onResolve({ filter: /.*/ }, args => {
        if (!BUILTINS.has(args.path) && !args.path.startsWith('node:')) return undefined
        found.push(`${args.path} (imported by ${relative(repoRoot, args.importer)})`)
        return { path: args.path, external: true }
      })
    }
  }
}

/**
 * @param {{ distDir?: string, outFile?: string }} [opts]
 * @returns {Promise<{ code: string, inputs: string[], bytes: number, staged: boolean }>}
 */
export async function bundleCrypto (opts = {}) {
  const distDir = resolve(opts.distDir ?? join(repoRoot, 'dist'))
  const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8'))
  const browser = pkg.browser ?? {}
  const mapped = Object.keys(browser).find(k => k.endsWith('/src/crypto/primitives/index.js'))
  if (mapped === undefined) throw new BundleError('package.json "browser" does not map src/crypto/primitives/index.js')
  const mappedOutDir = mapped.replace(/^\.\//, '').split('/')[0]

  let root = repoRoot
  let staging
  if (relative(repoRoot, distDir) !== mappedOutDir) {
    staging = await mkdtemp(join(tmpdir(), 'parley-bundle-'))
    root = staging
    await mkdir(join(staging, mappedOutDir, 'src'), { recursive: true })
    await cp(join(distDir, 'src', 'crypto'), join(staging, mappedOutDir, 'src', 'crypto'), { recursive: true })
    await writeFile(join(staging, 'package.json'), JSON.stringify({ name: pkg.name, type: pkg.type, browser }))
  }
  const entry = join(root, mappedOutDir, 'src', 'crypto', 'index.js')
  const found = []
  try {
    let result
    try {
      result = await esbuild.build({
        entryPoints: [entry],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        target: 'es2022',
        write: false,
        metafile: true,
        logLevel: 'silent',
        nodePaths: [join(repoRoot, 'node_modules')],
        plugins: [noNodeBuiltins(found)]
      })
    } catch (err) {
      throw new BundleError(`esbuild failed: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (found.length > 0) throw new BundleError(`Node built-ins in the browser bundle: ${found.join(', ')}`)
    const inputs = Object.keys(result.metafile.inputs).map(p => relative(root, resolve(p)).split(sep).join('/'))
    const prim = `${mappedOutDir}/src/crypto/primitives/`
    if (!inputs.includes(`${prim}browser-index.js`) || !inputs.includes(`${prim}web.js`)) {
      throw new BundleError('the "browser" mapping was not applied: primitives/browser-index.js is not in the bundle')
    }
    if (inputs.includes(`${prim}node.js`) || inputs.includes(`${prim}index.js`)) {
      throw new BundleError('primitives/node.js (node:crypto) ended up in the browser bundle')
    }
    const code = result.outputFiles[0].text
    if (/\b(?:from|import|require\()\s*["']node:/.test(code)) throw new BundleError('a node: import survived in the bundle text')
    if (opts.outFile !== undefined) {
      await mkdir(dirname(resolve(opts.outFile)), { recursive: true })
      await writeFile(opts.outFile, code)
    }
    return { code, inputs, bytes: Buffer.byteLength(code), staged: staging !== undefined }
  } finally {
    if (staging !== undefined) await rm(staging, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined }
  const distDir = arg('--dist') ?? join(repoRoot, 'dist')
  const outFile = arg('--out') ?? join(distDir, 'browser', 'parley-crypto.js')
  bundleCrypto({ distDir, outFile }).then(r => {
    console.log(`bundle-crypto: ${relative(process.cwd(), outFile)} ${r.bytes} bytes, ${r.inputs.length} inputs, no Node built-ins`)
  }, err => {
    console.error(`bundle-crypto: ${err.message}`)
    process.exitCode = 1
  })
}

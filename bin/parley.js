#!/usr/bin/env node
// The `parley` command. Checks the Node version first (scripts/check-node.cjs is plain ES5 so an old
// Node prints a clear error instead of a stack trace), then runs the compiled CLI from dist/.
import { createRequire } from 'module'

const require = createRequire(import.meta.url)
require('../scripts/check-node.cjs')

import('../dist/src/cli/main.js').then(function (cli) {
  return cli.run()
}, function (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('parley: the CLI is not built yet — run `npm run build` in the repository first\n')
    process.exit(1)
  }
  throw err
})

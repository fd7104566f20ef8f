// Runs before anything else on whatever `node` is first on PATH. Written in plain CommonJS/ES5 so that
// an old Node can parse it and print a clear message instead of a stack trace.
var major = Number(String(process.versions.node).split('.')[0])
var minor = Number(String(process.versions.node).split('.')[1])
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write('parley: Node.js ' + process.versions.node + ' is not supported (needs >= 22.12; tested on 24 LTS).\n' +
    'parley: run it through npm from the repository (npm start, npx parley, npm test), which uses the Node 24\n' +
    'parley: that `npm ci` installs into node_modules/.bin, or install Node 24 LTS.\n')
  process.exit(1)
}

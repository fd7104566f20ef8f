import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { commandHelp, parseArgs, usageLine } from '../../src/cli/args.js'
import { COMMANDS } from '../../src/cli/commands.js'
import { UsageError } from '../../src/cli/errors.js'
import { groupSafetyNumber, sanitize } from '../../src/cli/format.js'

const parse = (...argv: string[]): ReturnType<typeof parseArgs> => parseArgs(argv, COMMANDS)

describe('argument parser', () => {
  it('resolves two-word commands and positional arguments', () => {
    const p = parse('contact', 'add', 'INV', '--name', 'Bob')
    assert.equal(p.command?.name, 'contact add')
    assert.equal(p.args.INVITE, 'INV')
    assert.equal(p.flags.name, 'Bob')
  })

  it('takes global flags anywhere, in both --flag value and --flag=value forms', () => {
    for (const argv of [['--home', '/h', '--json', 'id'], ['id', '--home=/h', '--json'], ['--json', 'id', '--home', '/h'], ['--json=true', '--home=/h', 'id']]) {
      const p = parse(...argv)
      assert.equal(p.command?.name, 'id')
      assert.equal(p.global.home, '/h')
      assert.equal(p.global.json, true)
    }
    assert.equal(parse('id').global.json, false)
    assert.equal(parse('id', '--json=false').global.json, false)
  })

  it('accumulates repeatable flags and joins the rest of TEXT; -- ends options', () => {
    const d = parse('daemon', '--listen', '/ip4/127.0.0.1/tcp/0', '--listen=/ip4/127.0.0.1/tcp/1', '--bootstrap', '/dns4/x/tcp/1', '--no-mdns')
    assert.deepEqual(d.flags.listen, ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/1'])
    assert.deepEqual(d.flags.bootstrap, ['/dns4/x/tcp/1'])
    assert.equal(d.flags['no-mdns'], true)
    const s = parse('send', 'bob', 'hello', 'world', '--wait')
    assert.equal(s.args.TEXT, 'hello world')
    assert.equal(s.flags.wait, true)
    const dash = parse('send', 'bob', '--', '--not-a-flag', '-x')
    assert.equal(dash.args.TEXT, '--not-a-flag -x')
    assert.equal(parse('send', 'bob', '-').args.TEXT, '-')
  })

  it('rejects unknown commands, unknown/misplaced flags, missing and extra arguments as UsageError', () => {
    const bad: string[][] = [
      ['nope'], ['contact', 'nope'], ['id', '--nope'], ['--name', 'x', 'init'], ['send', 'bob'], ['contact', 'verify'],
      ['id', 'extra'], ['id', '--home'], ['id', '--json=yes'], ['-z'], ['init', '--name', 'a', '--name', 'b'], ['daemon', '--api']
    ]
    for (const argv of bad) assert.throws(() => parse(...argv), UsageError, argv.join(' '))
    assert.throws(() => parse('--name', 'x', 'init'), /command options go after the command/)
    // A passphrase is never accepted on the command line.
    assert.throws(() => parse('daemon', '--passphrase', 'x'), UsageError)
  })

  it('a group word alone or --help parse without a command', () => {
    assert.deepEqual(parse('contact').group, ['contact'])
    assert.equal(parse('--help').command, null)
    const h = parse('send', '--help') // help suppresses the missing-argument check
    assert.equal(h.command?.name, 'send')
    assert.equal(h.global.help, true)
  })

  it('help text names every argument and option', () => {
    for (const c of COMMANDS) {
      const h = commandHelp(c)
      assert.ok(h.startsWith(`Usage: ${usageLine(c)}`))
      for (const f of Object.keys(c.flags)) assert.ok(h.includes(`--${f}`), `${c.name} --${f}`)
      assert.ok(h.includes('--home') && h.includes('--json'))
    }
  })
})

describe('format helpers', () => {
  it('groups a 60-digit safety number as 12 groups of 5, 4 per line', () => {
    const digits = '123456789012345678901234567890123456789012345678901234567890'
    assert.equal(groupSafetyNumber(digits), '12345 67890 12345 67890\n12345 67890 12345 67890\n12345 67890 12345 67890')
  })

  it('sanitize removes control characters and bidi overrides', () => {
    assert.equal(sanitize('a\x1b[31mb\u202ec\x07'), 'a\ufffd[31mb\ufffdc\ufffd')
    assert.equal(sanitize('x\ny'), 'x\ufffdy')
    assert.equal(sanitize('x\ny', true), 'x\ny')
    assert.equal(sanitize('héllo 👋'), 'héllo 👋')
  })
})

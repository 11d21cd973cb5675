// BaseCommand: any error is one `er-shell: <message>` line with the right exit status, no stack trace.
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {exitCodeOf, oneLineMessage} from '../../src/cli/base-command.js'
import {ErShellError} from '../../src/errors/base.js'
import {hasStackTrace, runCli} from '../helpers/cli.js'

describe('BaseCommand error handling', () => {
  test('exit status: ErShellError.exitCode, oclif usage errors 2, anything else 1', () => {
    assert.equal(exitCodeOf(new ErShellError('EUSAGE', 'x', {exitCode: 3})), 3)
    assert.equal(exitCodeOf(Object.assign(new Error('bad flag'), {oclif: {exit: 2}})), 2)
    assert.equal(exitCodeOf(new Error('boom')), 1)
    assert.equal(exitCodeOf('a string'), 1)
  })

  test('one line: the first non-empty line of the message', () => {
    assert.equal(oneLineMessage(new Error('Nonexistent flag: --x\nSee more help with --help')), 'Nonexistent flag: --x')
    assert.equal(oneLineMessage(new Error('\n  spaced  \n')), 'spaced')
    assert.equal(oneLineMessage(new TypeError('')), 'TypeError')
  })

  test('a usage error through the real CLI: one line on stderr, exit 2, no stack', () => {
    const r = runCli(['check-kernel', '--no-such-flag'])
    assert.equal(r.status, 2)
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, 'er-shell: Nonexistent flag: --no-such-flag\n')
    assert.ok(!hasStackTrace(r.stderr))
  })

  test('ER_SHELL_DEBUG adds the stack', () => {
    const r = runCli(['check-kernel', '--no-such-flag'], {env: {ER_SHELL_DEBUG: '1'}})
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^er-shell: Nonexistent flag: --no-such-flag\n/)
    assert.ok(hasStackTrace(r.stderr))
  })
})

// Output conventions: colours only on a terminal and never with NO_COLOR; data on stdout, diagnostics
// on stderr.
import assert from 'node:assert/strict'
import {rmSync} from 'node:fs'
import {after, before, describe, test} from 'node:test'

import * as pty from 'node-pty'

import {CLI, ROOT, kernelTestsSkipReason, runCli} from '../helpers/cli.js'
import {ownCommands} from '../helpers/commands.js'
import {tempDir} from '../helpers/temp.js'

const ANSI = /\x1b\[[0-9;]*m/

/** Runs `er-shell ARGS` on a pseudo-terminal (stdout, stderr and stdin all a TTY); returns all it wrote. */
function onTerminal(args: string[], env: Record<string, string>): Promise<{output: string; exitCode: number}> {
  const base: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'NO_COLOR') base[k] = v
  const term = pty.spawn(process.execPath, [CLI, ...args], {cols: 120, rows: 40, cwd: ROOT, env: {...base, TERM: 'xterm-256color', ...env}})
  let output = ''
  term.onData((d) => {
    output += d
  })
  return new Promise((resolve) => term.onExit(({exitCode}) => setTimeout(() => resolve({output, exitCode}), 50)))
}

describe('colours', () => {
  test('check-kernel: no ANSI escapes when stdout is not a terminal', () => {
    const r = runCli(['check-kernel'], {env: {NO_COLOR: ''}})
    assert.match(r.stdout, /Kernel 5\.8 or newer/)
    assert.doesNotMatch(r.stdout, ANSI)
    assert.doesNotMatch(r.stderr, ANSI)
  })

  test('check-kernel on a terminal: colours without NO_COLOR, none with NO_COLOR', async () => {
    const coloured = await onTerminal(['check-kernel'], {})
    assert.match(coloured.output, /Kernel 5\.8 or newer/)
    assert.match(coloured.output, ANSI, 'a terminal gets colours (so the NO_COLOR case below means something)')
    const plain = await onTerminal(['check-kernel'], {NO_COLOR: '1'})
    assert.match(plain.output, /Kernel 5\.8 or newer/)
    assert.doesNotMatch(plain.output, ANSI, 'NO_COLOR=1: no colours')
    assert.equal(plain.exitCode, coloured.exitCode)
  })

  test('record live lines on a terminal: none with NO_COLOR', {skip: kernelTestsSkipReason()}, async () => {
    const dataDir = tempDir('er-docs-rec-')
    const plain = await onTerminal(['record', '--data-dir', dataDir, '-c', '/bin/true'], {NO_COLOR: '1'}).finally(() =>
      rmSync(dataDir, {recursive: true, force: true}),
    )
    assert.equal(plain.exitCode, 0, plain.output)
    assert.match(plain.output, /er-shell ▸ command/)
    assert.doesNotMatch(plain.output, ANSI, plain.output)
  })
})

describe('colours of the reading commands', {skip: kernelTestsSkipReason()}, () => {
  let dataDir: string
  let sid: string
  before(() => {
    dataDir = tempDir('er-docs-read-')
    const r = runCli(['record', '--data-dir', dataDir, '-c', 'ls /nonexistent-er-shell; true'])
    assert.equal(r.status, 0, r.stderr)
    sid = /recording session ([0-9a-f-]{36})/.exec(r.stderr)![1]!
  })
  after(() => rmSync(dataDir, {recursive: true, force: true}))

  const reading = () => [
    ['sessions', '--data-dir', dataDir],
    ['events', sid, '--data-dir', dataDir],
    ['replay', sid, '--format', 'text', '--data-dir', dataDir],
  ]

  test('sessions, events, replay --format text: no ANSI escapes when not on a terminal', async (t) => {
    const ids = (await ownCommands()).map((c) => c.id)
    for (const args of reading()) {
      if (!ids.includes(args[0]!)) {
        t.diagnostic(`no ${args[0]} command yet`)
        continue
      }
      const r = runCli(args, {env: {NO_COLOR: ''}})
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`)
      assert.doesNotMatch(r.stdout, ANSI, args.join(' '))
      assert.doesNotMatch(r.stderr, ANSI, args.join(' '))
    }
  })

  test('sessions and events on a terminal with NO_COLOR: no ANSI escapes', async (t) => {
    const ids = (await ownCommands()).map((c) => c.id)
    for (const args of reading().slice(0, 2)) {
      if (!ids.includes(args[0]!)) {
        t.diagnostic(`no ${args[0]} command yet`)
        continue
      }
      const r = await onTerminal(args, {NO_COLOR: '1'})
      assert.equal(r.exitCode, 0, r.output)
      assert.doesNotMatch(r.output, ANSI, `${args.join(' ')}: ${JSON.stringify(r.output.slice(0, 300))}`)
    }
  })
})

describe('streams', () => {
  test('check-kernel --json: stdout is exactly the JSON report; any reason is one stderr line', () => {
    const r = runCli(['check-kernel', '--json'], {env: {NO_COLOR: ''}})
    const report = JSON.parse(r.stdout) as {ok: boolean}
    assert.equal(typeof report.ok, 'boolean')
    if (report.ok) {
      assert.equal(r.status, 0)
      assert.equal(r.stderr, '')
    } else {
      assert.notEqual(r.status, 0)
      assert.match(r.stderr, /^er-shell: this host cannot record sessions: .*\n$/)
    }
  })

  test('a usage error: nothing on stdout, one line on stderr, exit 2', () => {
    const r = runCli(['record', '-c', 'true', '--', 'false'])
    assert.equal(r.stdout, '')
    assert.equal(r.stderr, 'er-shell: give either -c COMMAND or -- PROGRAM ARGS, not both\n')
    assert.equal(r.status, 2)
  })
})

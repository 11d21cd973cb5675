// Every command explains itself: `--help` has examples, every flag and argument a description, no
// hand-written usage; commands that return data offer --json.
import assert from 'node:assert/strict'
import {before, describe, test} from 'node:test'

import {type CommandInfo, helpFlags, helpSections, helpText, ownCommands} from '../helpers/commands.js'

/** Commands whose output is data, so `--json` must be there (when the command exists). */
const DATA_COMMANDS = ['check-kernel', 'sessions', 'events']

describe('--help of every command', () => {
  let commands: CommandInfo[]
  const help = new Map<string, string>()
  before(async () => {
    commands = await ownCommands()
    for (const c of commands) help.set(c.id, helpText(c.words))
  })

  test('the commands the product promises are there', () => {
    const ids = commands.map((c) => c.id)
    for (const id of ['check-kernel', 'record']) assert.ok(ids.includes(id), `${id} is a command (have ${ids.join(', ')})`)
  })

  test('the top-level help lists every command with a summary', () => {
    const top = helpSections(helpText([])).get('COMMANDS')
    assert.ok(top, 'er-shell --help has a COMMANDS section')
    for (const c of commands) {
      const line = top.find((l) => l.trimStart().startsWith(`${c.words.join(' ')} `))
      assert.ok(line && line.trim().length > c.id.length + 5, `${c.id} is listed with a summary`)
    }
  })

  test('every command has an EXAMPLES section with at least two examples', () => {
    for (const c of commands) {
      const examples = helpSections(help.get(c.id)!).get('EXAMPLES')
      assert.ok(examples, `er-shell ${c.id} --help has EXAMPLES`)
      const runs = examples.filter((l) => new RegExp(`(\\$ |sudo )er-shell ${c.words.join(' ')}\\b`).test(l))
      assert.ok(runs.length >= 2, `er-shell ${c.id} --help shows at least two example command lines, got ${runs.length}`)
      assert.ok(c.examples.length >= 2, `${c.id} has static examples`)
    }
  })

  test('every command has a summary or description, and no hand-written usage', () => {
    for (const c of commands) {
      assert.equal(c.usage, undefined, `${c.id} has no hand-written usage string (oclif generates it)`)
      const sections = helpSections(help.get(c.id)!)
      assert.ok(sections.has('USAGE'), `${c.id} --help has USAGE`)
      assert.ok(sections.has('DESCRIPTION'), `${c.id} --help has DESCRIPTION`)
    }
  })

  test('every flag has a description, in the command and in --help', () => {
    for (const c of commands) {
      for (const [name, flag] of Object.entries(c.flags)) {
        if (flag.hidden) continue
        const text = flag.summary ?? flag.description ?? ''
        assert.ok(text.trim().length >= 10, `${c.id} --${name} has a description`)
      }
      const listed = helpFlags(help.get(c.id)!)
      const visible = Object.entries(c.flags)
        .filter(([, f]) => !f.hidden)
        .map(([n]) => n)
        .sort()
      assert.deepEqual(listed.map((f) => f.long).sort(), visible, `${c.id} --help lists every flag`)
      for (const f of listed) assert.notEqual(f.text, '', `${c.id} --help: --${f.long} has a description`)
    }
  })

  test('every argument has a description', () => {
    for (const c of commands) {
      for (const [name, arg] of Object.entries(c.args)) {
        if (arg.hidden) continue
        assert.ok((arg.description ?? '').trim().length >= 5, `${c.id} argument ${name} has a description`)
      }
    }
  })

  test('commands that return data offer --json', () => {
    for (const c of commands.filter((c) => DATA_COMMANDS.includes(c.id))) {
      assert.ok('json' in c.flags, `${c.id} has --json`)
      assert.ok(
        helpFlags(help.get(c.id)!).some((f) => f.long === 'json'),
        `${c.id} --help lists --json`,
      )
    }
  })

  test('replay can write its events as JSON', () => {
    const replay = commands.find((c) => c.id === 'replay')
    assert.ok(replay, 'replay command exists')
    assert.ok('format' in replay.flags, 'replay has --format')
    assert.match(help.get('replay')!, /json/, 'replay --help mentions the json format')
  })
})

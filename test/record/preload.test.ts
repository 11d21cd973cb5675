// record's preload reads its flags before oclif does (src/record/preload.ts): the flags it knows to
// take a value must be exactly Record's, and it must find the values oclif will find.
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import Record from '../../src/commands/record.js'
import {RECORD_VALUE_FLAGS, scanRecordFlags} from '../../src/record/preload.js'

describe('record preload: the flags it reads before oclif', () => {
  test('the value flags are exactly those of Record (and -c is the only short one)', () => {
    const options = Object.entries(Record.flags).filter(([, f]) => f.type === 'option')
    assert.deepEqual(options.map(([name]) => name).sort(), [...RECORD_VALUE_FLAGS].sort())
    const shorts = Object.entries(Record.flags).filter(([, f]) => f.char !== undefined)
    assert.deepEqual(
      shorts.map(([name, f]) => [name, f.char, f.type]),
      [
        ['command', 'c', 'option'],
        ['quiet', 'q', 'boolean'],
      ],
    )
  })

  test('values as separate words, after =, and -cVALUE; booleans and program arguments skipped', () => {
    const scan = (argv: string[]) => Object.fromEntries(scanRecordFlags(argv) ?? [['none', '']])
    assert.deepEqual(scan(['-q', '--events', 'command,disk', '--disk-buffer-size=64', '-c', 'ls']), {
      events: 'command,disk',
      'disk-buffer-size': '64',
      command: 'ls',
    })
    assert.deepEqual(scan(['-c', '--events disk', '--quiet']), {command: '--events disk'})
    assert.deepEqual(scan(['-c--events']), {command: '--events'})
    assert.deepEqual(scan(['--config', '/etc/teleport.yaml', '--', 'prog', '--events', 'disk']), {config: '/etc/teleport.yaml'})
    assert.deepEqual(scan(['--', '--events=disk']), {})
  })

  test('help, and a value flag without its value, mean no preload', () => {
    assert.equal(scanRecordFlags(['--help']), undefined)
    assert.equal(scanRecordFlags(['-c', 'x', '-h']), undefined)
    assert.equal(scanRecordFlags(['--events']), undefined)
    assert.equal(scanRecordFlags(['-c']), undefined)
  })
})

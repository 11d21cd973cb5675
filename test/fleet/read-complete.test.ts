// The shipper's reader of a host log: only complete lines, within its limits, and a line longer
// than a batch passed over instead of stalling the file.
import assert from 'node:assert/strict'
import {appendFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {readComplete} from '../../src/fleet/ship.js'
import {tempDir} from '../helpers/temp.js'

describe('readComplete', () => {
  it('stops at the last newline, at maxLines, and passes over an oversized line once it is complete', (t) => {
    const file = join(tempDir('er-read-', t), 'log')
    writeFileSync(file, 'a\nbb\nccc')
    assert.deepEqual(readComplete(file, 0, 1024, 100), {text: 'a\nbb\n', bytes: 5, lines: 2})
    assert.deepEqual(readComplete(file, 0, 1024, 1), {text: 'a\n', bytes: 2, lines: 1})
    assert.deepEqual(readComplete(file, 5, 1024, 100), {text: '', bytes: 0, lines: 0})
    appendFileSync(file, 'x'.repeat(5000))
    assert.deepEqual(readComplete(file, 5, 1024, 100), {text: '', bytes: 0, lines: 0}, 'its newline is not there yet')
    appendFileSync(file, '\nd\n')
    assert.deepEqual(readComplete(file, 5, 1024, 100), {text: '', bytes: 5004, lines: 1, oversized: true})
    assert.deepEqual(readComplete(file, 5009, 1024, 100), {text: 'd\n', bytes: 2, lines: 1})
  })
})

// The SHIPPING column's count of unshipped lines per session: the host log's tail read through one
// small buffer, however long the tail, with every "sid" key counted once wherever a read cuts it.
import assert from 'node:assert/strict'
import {randomUUID} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {countSessionLines} from '../../src/fleet/reading.js'
import {tempDir} from '../helpers/temp.js'

describe('countSessionLines', () => {
  it('counts every session line of the tail, for any buffer size and any start', (t) => {
    const file = join(tempDir('er-shipping-', t), 'log')
    const sids = [randomUUID(), randomUUID(), 'not-a-uuid', randomUUID()]
    const lines: string[] = []
    for (let i = 0; i < 3000; i++) {
      const sid = sids[(i * 7) % sids.length]!
      // Lines of varying length, so that keys fall across every buffer boundary.
      lines.push(`{"ei":${i},"event":"session.command","argv":["${'x'.repeat((i * 37) % 700)}"],"sid":"${sid}","note":"a \\"sid\\":\\"no\\""}\n`)
    }
    lines.push('{"event":"session.start","sid":""}\n')
    const text = lines.join('')
    writeFileSync(file, text)
    for (const from of [0, 1, 12_345]) {
      const expected = new Map<string, number>()
      for (const m of text.slice(from).matchAll(/"sid":"([^"]+)"/g)) expected.set(m[1]!, (expected.get(m[1]!) ?? 0) + 1)
      for (const bufferBytes of [1, 600, 4096, 65536]) {
        assert.deepEqual(countSessionLines(file, from, text.length, bufferBytes), expected, `from ${from}, buffer ${bufferBytes}`)
      }
    }
    assert.deepEqual(countSessionLines(file, text.length, text.length), new Map())
  })
})

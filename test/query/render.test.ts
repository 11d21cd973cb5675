// The events table's time column: the plain form is sliced, any other goes through Date.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {shortTime} from '../../src/query/render.js'

describe('render', () => {
  it('shortTime: as Date.parse and toISOString read it, for plain times and those that roll over', () => {
    assert.equal(shortTime('2026-11-22T16:42:19.220Z', true), '2026-11-22 16:42:19.220')
    assert.equal(shortTime('2026-11-22T16:42:19.220Z'), '2026-11-22 16:42:19')
    // The 30th of February is the 2nd of March, hour 24 the next day: as before, through Date.
    assert.equal(shortTime('2026-02-30T00:00:00.000Z', true), '2026-03-02 00:00:00.000')
    assert.equal(shortTime('2026-01-01T24:00:00.000Z', true), '2026-01-02 00:00:00.000')
    assert.equal(shortTime('2026-11-22T16:42:19+01:00', true), '2026-11-22 15:42:19.000')
    assert.equal(shortTime('not a time\u001b'), 'not a time\\x1b')
    assert.equal(shortTime(undefined), '-')
  })
})

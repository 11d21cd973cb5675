// Event times: formatEventTime (cached per second) writes exactly what Date#toISOString writes.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {formatEventTime} from '../../src/events/stamp.js'

describe('formatEventTime', () => {
  it('equals toISOString for whole, fractional and boundary milliseconds, numbers and Dates', () => {
    const base = Date.UTC(2026, 11, 1, 23, 59, 58, 0)
    const times = [0, 1, 9, 10, 99, 100, 999, 999.9999, 1000, 1000.5, 1999, 2000, 86_400_000 - 1, 86_400_000]
    for (const t of [...times.map((x) => base + x), ...Array.from({length: 2000}, () => base + Math.random() * 5000)]) {
      assert.equal(formatEventTime(t), new Date(t).toISOString(), String(t))
      assert.equal(formatEventTime(new Date(t)), new Date(t).toISOString(), `Date ${t}`)
    }
    // going back in time (an earlier event after a later one) is formatted right too
    assert.equal(formatEventTime(base + 5000.25), new Date(base + 5000.25).toISOString())
    assert.equal(formatEventTime(base + 1.5), new Date(base + 1.5).toISOString())
  })

  it('throws on an invalid time, as toISOString does', () => {
    assert.throws(() => formatEventTime(Number.NaN), RangeError)
  })
})

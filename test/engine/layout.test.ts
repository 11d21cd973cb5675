// The wire contract: the decoder's fields exist in the C header's layout, and every struct is
// packed by hand (members and explicit padding add up to sizeof, in order, 8-byte multiple).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {loadNative} from '../../src/native/index.js'
import {DECODED_FIELDS} from '../helpers/wire.js'

describe('wire layout (bpf/er_shell.h via the addon)', () => {
  const layout = loadNative().layout()

  for (const [name, fields] of Object.entries(DECODED_FIELDS)) {
    it(`${name}: every field the decoder reads exists`, () => {
      const s = layout.structs[name]
      assert.ok(s, `${name} exported`)
      for (const f of fields) assert.equal(typeof s.offsets[f], 'number', `${name}.${f}`)
    })

    it(`${name}: no implicit padding, size a multiple of 8`, () => {
      const s = layout.structs[name]!
      const members = Object.keys(s.offsets).sort((a, b) => s.offsets[a]! - s.offsets[b]!)
      let next = 0
      for (const m of members) {
        assert.equal(s.offsets[m], next, `${name}.${m} starts where the previous member ends`)
        next += s.sizes[m]!
      }
      assert.equal(next, s.size, `${name}: members add up to sizeof`)
      assert.equal(s.size % 8, 0, `${name}: 8-byte multiple`)
    })
  }

  it('exports the limits the man page documents', () => {
    assert.ok(layout.constants.ER_ARGS_MAX! >= 20 * 1025 + 256, 'at least 20 arguments of 1024 bytes')
    assert.equal(layout.constants.ER_PATH_MAX, 4096)
  })
})

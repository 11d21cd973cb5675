// The wire contract: the decoder's fields exist in the C header's layout, and every struct is
// packed by hand (members and explicit padding add up to sizeof, in order, 8-byte multiple).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {formatIPv6} from '../../src/engine/addresses.js'
import {DECODED_FIELDS} from '../../src/engine/decoder.js'
import {loadNative} from '../../src/native/index.js'

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

describe('IPv6 text form (RFC 5952)', () => {
  const v6 = (s: string): Uint8Array => {
    const groups = s.split(':').map((g) => parseInt(g, 16))
    return Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff]))
  }

  it('compresses the longest zero run, first on a tie, never a single group', () => {
    assert.equal(formatIPv6(v6('0:0:0:0:0:0:0:1')), '::1')
    assert.equal(formatIPv6(v6('0:0:0:0:0:0:0:0')), '::')
    assert.equal(formatIPv6(v6('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1')
    assert.equal(formatIPv6(v6('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1')
    assert.equal(formatIPv6(v6('2001:db8:0:0:0:0:2:1')), '2001:db8::2:1')
    assert.equal(formatIPv6(v6('fe80:0:0:0:abcd:0:0:0')), 'fe80::abcd:0:0:0')
  })

  it('writes IPv4-mapped addresses in mixed notation', () => {
    assert.equal(formatIPv6(v6('0:0:0:0:0:ffff:7f00:1')), '::ffff:127.0.0.1')
  })
})

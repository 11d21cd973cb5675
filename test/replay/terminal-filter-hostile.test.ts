// Replay's safety filter against bytes that act on some terminals although they look inert: raw
// 8-bit C1 controls, character-set and C1-mode switches, rarer queries, and string sequences cut
// short (which would swallow the text after them).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {filterTerminalOutput} from '../../src/replay/terminal/safety-filter.js'
import {filtered} from '../helpers/terminal.js'

const ESC = '\x1b'

/** Whole, cut at every offset, and one byte at a time: all give `expected`. */
function assertFiltered(input: Buffer, expected: Buffer): void {
  assert.deepEqual(filterTerminalOutput(input), expected, 'whole')
  for (let cut = 1; cut < input.length; cut++) assert.deepEqual(filtered(input, [cut]), expected, `cut at ${cut}`)
  assert.deepEqual(filtered(input, [...Array(input.length).keys()].slice(1)), expected, 'byte by byte')
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1')

describe('security: replay safety filter', () => {
  for (const [byte, name] of [
    [0x9b, 'CSI'],
    [0x9d, 'OSC'],
    [0x90, 'DCS'],
    [0x9c, 'ST'],
    [0x85, 'NEL'],
  ] as const) {
    it(`drops a raw 8-bit ${name} byte (0x${byte.toString(16)}) that is not part of a UTF-8 character`, () => {
      const input = Buffer.concat([latin1('before'), Buffer.from([byte]), latin1('6nafter')])
      assertFiltered(input, latin1('before6nafter'))
    })
  }

  it('drops 8-bit C1 bytes of broken UTF-8 (a cut character, an overlong form)', () => {
    assertFiltered(Buffer.from([0x61, 0xe2, 0x9b, 0x62]), Buffer.from([0x61, 0xe2, 0x62])) // E2 9B then 'b'
    assertFiltered(Buffer.from([0x61, 0xe0, 0x9b, 0x62]), Buffer.from([0x61, 0xe0, 0x62])) // E0 takes A0-BF only
    assertFiltered(Buffer.from([0x61, 0xe2, 0x9b, 0x1b, 0x5b, 0x6d]), Buffer.from([0x61, 0xe2, 0x1b, 0x5b, 0x6d])) // cut by ESC [ m
    assertFiltered(Buffer.from([0x61, 0xf0, 0x9f, 0x98]), Buffer.from([0x61, 0xf0])) // cut by the end
  })

  it('keeps UTF-8 characters whose continuation bytes are 0x80-0x9F, also when cut between their bytes', () => {
    const input = Buffer.from('€ ✓ 日本 😀 ⛛ ok', 'utf8')
    assertFiltered(input, input)
  })

  for (const [sequence, name] of [
    [`${ESC}%@`, 'ESC % @ (leave UTF-8: 8-bit controls act)'],
    [`${ESC}%8`, 'ESC % 8'],
    [`${ESC} F`, 'ESC SP F (S7C1T)'],
    [`${ESC} G`, 'ESC SP G (S8C1T: answers in 8-bit controls)'],
    [`${ESC} L`, 'ESC SP L (ANSI conformance level)'],
    [`${ESC}[#|`, 'CSI # | (XTREPORTSGR)'],
    [`${ESC}[1;1;2;2#|`, 'CSI Pt;Pl;Pb;Pr # | (XTREPORTSGR)'],
    [`${ESC}[#R`, 'CSI # R (XTREPORTCOLORS)'],
    [`${ESC}[&u`, 'CSI & u (DECRQUPSS)'],
    [`${ESC}["v`, 'CSI " v (DECRQDE)'],
    [`${ESC}['|`, "CSI ' | (DECRQLP, locator position)"],
    [`${ESC}[1;1'z`, "CSI ' z (DECELR, locator reports)"],
  ] as const) {
    it(`drops ${name}, whole and cut at every byte`, () => {
      assertFiltered(Buffer.from(`before${sequence}after`), Buffer.from('beforeafter'))
    })
  }

  it('keeps ESC % G (select UTF-8)', () => {
    const input = Buffer.from(`a${ESC}%Gb`)
    assertFiltered(input, input)
  })

  it('drops an OSC cut by ESC entirely: never an unterminated title that swallows what follows', () => {
    assertFiltered(Buffer.from(`a${ESC}]0;title${ESC}[31mb`), Buffer.from(`a${ESC}[31mb`))
    assertFiltered(Buffer.from(`a${ESC}]2;title${ESC}7b`), Buffer.from(`a${ESC}7b`))
    assertFiltered(Buffer.from(`a\u009d0;title${ESC}[31mb`, 'utf8'), Buffer.from(`a${ESC}[31mb`))
    assertFiltered(Buffer.from(`a${ESC}]8;;https://x${ESC}[mlink`), Buffer.from(`a${ESC}[mlink`))
  })

  it('drops an OSC or DCS cut by the end of the recording', () => {
    assertFiltered(Buffer.from(`ok${ESC}]0;title`), Buffer.from('ok'))
    assertFiltered(Buffer.from(`ok${ESC}]0;title${ESC}`), Buffer.from('ok'))
    assertFiltered(Buffer.from(`ok${ESC}P1$r`), Buffer.from('ok'))
  })

  it('drops an allowed OSC whose payload holds a raw 8-bit control (an 8-bit terminal ends it early)', () => {
    assertFiltered(Buffer.concat([latin1(`a${ESC}]0;x`), Buffer.from([0x9c, 0x9b]), latin1(`6n\x07b`)]), latin1('ab'))
  })

  it('still passes a title with UTF-8 in it, and ST-terminated strings', () => {
    const input = Buffer.from(`a${ESC}]0;日本 ✓\x07${ESC}]2;t${ESC}\\b`, 'utf8')
    assertFiltered(input, input)
  })
})

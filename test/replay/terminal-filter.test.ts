// The terminal-safety filter: what may reach a real terminal from an untrusted recording, chunk boundaries included.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {TerminalSafetyFilter, dropReason, filterTerminalOutput} from '../../src/replay/terminal/safety-filter.js'
import {filtered} from '../helpers/terminal.js'
import {TerminalTokenizer, type Token} from '../../src/replay/terminal/tokenizer.js'

const ESC = '\x1b'
const ST = `${ESC}\\`

/** Sequences a replay must never send to a terminal, with the reason they are dropped. */
const DANGEROUS: Array<[string, string]> = [
  [`${ESC}]52;c;aGVsbG8=\x07`, 'clipboard write (OSC 52, BEL)'],
  [`${ESC}]52;c;?${ST}`, 'clipboard read (OSC 52, ST)'],
  [`${ESC}[c`, 'DA1'],
  [`${ESC}[0c`, 'DA1 with parameter'],
  [`${ESC}[>c`, 'DA2'],
  [`${ESC}[=c`, 'DA3'],
  [`${ESC}[5n`, 'DSR status'],
  [`${ESC}[6n`, 'cursor position report'],
  [`${ESC}[?6n`, 'DECXCPR'],
  [`${ESC}[14t`, 'window size in pixels report'],
  [`${ESC}[18t`, 'text area size report'],
  [`${ESC}[21t`, 'window title report'],
  [`${ESC}[3;0;0t`, 'move window'],
  [`${ESC}[8;100;300t`, 'resize window'],
  [`${ESC}[2t`, 'iconify'],
  [`${ESC}[?2004$p`, 'DECRQM'],
  [`${ESC}[>q`, 'XTVERSION'],
  [`${ESC}[x`, 'DECREQTPARM'],
  [`${ESC}[?u`, 'kitty keyboard query'],
  [`${ESC}[>1u`, 'kitty keyboard push'],
  [`${ESC}[?1000h`, 'mouse tracking'],
  [`${ESC}[?1006;1000h`, 'SGR mouse'],
  [`${ESC}[?1004h`, 'focus reports'],
  [`${ESC}[?2004h`, 'bracketed paste'],
  [`${ESC}[1;1;1;1;1*y`, 'DECRQCRA checksum'],
  [`${ESC}[5i`, 'media copy'],
  [`${ESC}P$qm${ST}`, 'DECRQSS'],
  [`${ESC}P+q544e${ST}`, 'XTGETTCAP'],
  [`${ESC}Ptmux;${ESC}${ESC}]52;c;eA==\x07${ST}`, 'tmux passthrough'],
  [`${ESC}_Gi=1,a=q;${ST}`, 'kitty graphics query (APC)'],
  [`${ESC}^privacy${ST}`, 'PM'],
  [`${ESC}Xsos${ST}`, 'SOS'],
  [`${ESC}]4;1;?\x07`, 'palette query'],
  [`${ESC}]10;?\x07`, 'foreground colour query'],
  [`${ESC}]11;?${ST}`, 'background colour query'],
  [`${ESC}]1337;File=name=eA==:aGk=\x07`, 'iTerm2 file transfer'],
  [`${ESC}]9;notify\x07`, 'notification'],
  [`${ESC}]50;?\x07`, 'font query'],
  [`${ESC}Z`, 'DECID'],
  ['\x05', 'ENQ answerback'],
  ['\u009b6n', 'C1 CSI cursor position report'],
  ['\u009d52;c;eA==\u0007', 'C1 OSC clipboard'],
  ['\u0090$qm\u009c', 'C1 DCS DECRQSS'],
]

/** Sequences that only draw: they must pass unchanged. */
const HARMLESS: Array<[string, string]> = [
  ['plain text, tabs\tand UTF-8 ✓ 日本', 'text'],
  ['\r\n\b\x07', 'CR LF BS BEL'],
  [`${ESC}[31;1mred${ESC}[0m`, 'SGR'],
  [`${ESC}[2J${ESC}[H${ESC}[10;20H`, 'clear and cursor moves'],
  [`${ESC}[?1049h${ESC}[?1049l`, 'alternate screen'],
  [`${ESC}[?25l${ESC}[?25h`, 'cursor visibility'],
  [`${ESC}[?1h${ESC}=`, 'application cursor keys and keypad'],
  [`${ESC}[1;24r`, 'scroll region'],
  [`${ESC}]0;my title\x07`, 'window title (OSC 0)'],
  [`${ESC}]2;title${ST}`, 'window title (OSC 2, ST)'],
  [`${ESC}]7;file://host/tmp\x07`, 'cwd (OSC 7)'],
  [`${ESC}]8;;https://example.com${ST}link${ESC}]8;;${ST}`, 'hyperlink (OSC 8)'],
  [`${ESC}]4;1;rgb:ff/00/00\x07`, 'palette set'],
  [`${ESC}]133;A\x07`, 'shell integration mark'],
  [`${ESC}[22;0t${ESC}[23;0t`, 'title stack push/pop'],
  [`${ESC}[2 q`, 'cursor style'],
  [`${ESC}(0lqk${ESC}(B`, 'DEC line drawing'],
  [`${ESC}7${ESC}8`, 'save/restore cursor'],
]

function tokens(input: Buffer, split: number[] = []): Token[] {
  const out: Token[] = []
  const tokenizer = new TerminalTokenizer((t) => out.push({...t, raw: Buffer.from(t.raw)} as Token))
  let from = 0
  for (const at of [...split, input.length]) {
    tokenizer.write(input.subarray(from, at))
    from = at
  }
  tokenizer.end()
  return out
}

describe('terminal-safety filter', () => {
  for (const [sequence, name] of DANGEROUS) {
    it(`drops ${name}, whole and cut at every byte`, () => {
      const input = Buffer.from(`before${sequence}after`, 'utf8')
      assert.equal(filterTerminalOutput(input).toString('utf8'), 'beforeafter')
      for (let cut = 1; cut < input.length; cut++) {
        assert.equal(filtered(input, [cut]).toString('utf8'), 'beforeafter', `cut at ${cut}`)
      }
      // One byte at a time.
      const everyByte = [...Array(input.length).keys()].slice(1)
      assert.equal(filtered(input, everyByte).toString('utf8'), 'beforeafter')
    })
  }

  for (const [sequence, name] of HARMLESS) {
    it(`passes ${name} unchanged, also one byte at a time`, () => {
      const input = Buffer.from(`a${sequence}b`, 'utf8')
      assert.deepEqual(filterTerminalOutput(input), input)
      const everyByte = [...Array(input.length).keys()].slice(1)
      assert.deepEqual(filtered(input, everyByte), input)
    })
  }

  it('counts what it dropped, by reason', () => {
    const filter = new TerminalSafetyFilter()
    filter.write(Buffer.from(`${ESC}]52;c;eA==\x07${ESC}[6n${ESC}[c${ESC}[?1000h${ESC}P$qm${ST}`))
    assert.deepEqual(filter.stats.dropped, {clipboard: 1, query: 2, 'input-mode': 1, string: 1})
  })

  it('keeps UTF-8 characters whose lead byte is 0xC2 (not C1 controls), also when cut between their bytes', () => {
    const input = Buffer.from('£ ¢ ©', 'utf8') // C2 A3, C2 A2, C2 A9
    assert.deepEqual(filterTerminalOutput(input), input)
    for (let cut = 1; cut < input.length; cut++) assert.deepEqual(filtered(input, [cut]), input)
  })

  it('drops overlong strings and control sequences without keeping them in memory', () => {
    const huge = `${ESC}]52;c;${'A'.repeat(1024 * 1024)}\x07tail`
    const input = Buffer.from(huge)
    const cuts = [1000, 70_000, 500_000]
    assert.equal(filtered(input, cuts).toString(), 'tail')
    const longCsi = Buffer.from(`${ESC}[${'1;'.repeat(1000)}mok`)
    assert.equal(filterTerminalOutput(longCsi).toString(), 'ok')
  })

  it('cancels a sequence on CAN/SUB and restarts on ESC, as terminals do', () => {
    assert.equal(filterTerminalOutput(`a${ESC}[6\x18b`).toString(), 'ab')
    assert.equal(filterTerminalOutput(`a${ESC}]52;c;eA==${ESC}[31mb`).toString(), `a${ESC}[31mb`)
  })

  it('tracks the alternate screen and hidden cursor, and says how to restore them', () => {
    const filter = new TerminalSafetyFilter()
    filter.write(Buffer.from(`${ESC}[?1049h${ESC}[?25lvim`))
    assert.equal(filter.altScreen, true)
    assert.equal(filter.cursorHidden, true)
    assert.equal(filter.restoreSequence(), `${ESC}[0m${ESC}[?1049l${ESC}[?25h`)
    filter.write(Buffer.from(`${ESC}[?1049l${ESC}[?25h$ `))
    assert.equal(filter.altScreen, false)
    assert.equal(filter.restoreSequence(), `${ESC}[0m`)
  })

  it('passes everything when disabled, still tracking screen state', () => {
    const filter = new TerminalSafetyFilter(false)
    const input = Buffer.from(`${ESC}[?1049h${ESC}]52;c;eA==\x07${ESC}[6n`)
    assert.deepEqual(Buffer.concat([filter.write(input), filter.end()]), input)
    assert.equal(filter.altScreen, true)
  })

  it('flags an unfinished sequence at the end of the stream instead of passing it', () => {
    assert.equal(filterTerminalOutput(`ok${ESC}]52;c;eA==`).toString(), 'ok')
    assert.equal(filterTerminalOutput(`ok${ESC}[6`).toString(), 'ok')
  })

  it('tokenizes CSI parameters, prefix, intermediates and final', () => {
    const t = tokens(Buffer.from(`${ESC}[?2004$p`))[0]!
    assert.equal(t.kind, 'csi')
    if (t.kind === 'csi') {
      assert.deepEqual([t.prefix, t.params, t.intermediates, t.final], ['?', '2004', '$', 'p'])
      assert.equal(dropReason(t), 'query')
    }
    const split = tokens(Buffer.from(`x${ESC}[38;5;196mY`), [3, 7])
    assert.deepEqual(
      split.map((k) => k.kind),
      ['text', 'csi', 'text'],
    )
  })
})

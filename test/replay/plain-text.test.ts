// Plain-text rendering of terminal output (replay --format text).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {PlainTextRenderer} from '../../src/replay/terminal/plain-text.js'

function render(...chunks: string[]): string {
  const r = new PlainTextRenderer()
  let out = ''
  for (const chunk of chunks) out += r.write(Buffer.from(chunk, 'utf8'))
  return out + r.end()
}

describe('plain text', () => {
  it('turns CRLF into LF and strips colours, titles and cursor keys', () => {
    assert.equal(render('\x1b]0;title\x07\x1b[1;32mok\x1b[0m\r\n\x1b[?1h\x1b=done\r\n'), 'ok\ndone\n')
  })
  it('applies CR (later text overwrites) and backspace', () => {
    assert.equal(render('50%\r100%\r\n'), '100%\n')
    assert.equal(render('cat fiel\b\ble\r\n'), 'cat file\n')
    assert.equal(render('abc\b \b\b \bX\r\n'), 'aX\n')
  })
  it('applies erase-in-line and cursor moves within the line', () => {
    assert.equal(render('long line\r\x1b[Kshort\r\n'), 'short\n')
    assert.equal(render('ab\x1b[3Cc\r\n'), 'ab   c\n')
    assert.equal(render('abcdef\x1b[3Dx\r\n'), 'abcxef\n')
  })
  it('keeps multi-byte characters cut between chunks, and tabs', () => {
    const bytes = Buffer.from('日本\tok\n', 'utf8')
    const r = new PlainTextRenderer()
    let out = ''
    for (const b of bytes) out += r.write(Buffer.from([b]))
    assert.equal(out + r.end(), '日本\tok\n')
  })
  it('drops other controls and trailing blanks, keeps a last line without newline', () => {
    assert.equal(render('a\x07b  \r\nlast'), 'ab\nlast')
  })
})

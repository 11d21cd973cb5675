// Renders terminal output as plain text: escape sequences removed, CR/BS/erase applied within the line.
import {StringDecoder} from 'node:string_decoder'

import {TerminalTokenizer, type Token} from './tokenizer.js'

/** A line longer than this is written out as it is (bounded memory for output without newlines). */
const MAX_LINE_CHARS = 1024 * 1024

/**
 * Streaming terminal → text converter for `replay --format text`.
 *
 * Applied: LF ends a line; CR returns to the line start (later text overwrites, so `\r\n` is a
 * plain newline and progress bars keep their last state); BS moves back one character; CSI K
 * erases in the line; CSI C/D/G move within the line; TAB is kept. Dropped: every other control,
 * escape sequence, OSC/DCS/APC string. Trailing blanks of each line are removed.
 * Cursor movement across lines (full-screen programs) is not emulated: their text appears in
 * the order it was written.
 */
export class PlainTextRenderer {
  private readonly tokenizer: TerminalTokenizer
  private readonly decoder = new StringDecoder('utf8')
  private line = ''
  private cursor = 0
  private out: string[] = []

  constructor() {
    this.tokenizer = new TerminalTokenizer((token) => this.onToken(token))
  }

  /** Feed output bytes; returns the text of the lines completed so far. */
  write(chunk: Buffer): string {
    this.tokenizer.write(chunk)
    return this.take()
  }

  /** End of output: the unfinished last line (without a newline). */
  end(): string {
    this.tokenizer.end()
    this.put(this.decoder.end())
    const last = trimBlanks(this.line)
    this.line = ''
    this.cursor = 0
    return this.take() + last
  }

  private take(): string {
    if (this.out.length === 0) return ''
    const text = this.out.join('')
    this.out = []
    return text
  }

  private onToken(token: Token): void {
    switch (token.kind) {
      case 'text':
        this.put(this.decoder.write(token.raw))
        return
      case 'c0':
        this.put(this.decoder.end())
        if (token.byte === 0x0a) this.newline()
        else if (token.byte === 0x0d) this.cursor = 0
        else if (token.byte === 0x08) this.cursor = Math.max(0, this.cursor - 1)
        return
      case 'csi':
        if (token.prefix === '' && token.intermediates === '') this.csi(token.params, token.final)
        return
      default:
        return
    }
  }

  private csi(params: string, final: string): void {
    const n = Math.max(1, Number(params.split(';')[0]) || 1)
    switch (final) {
      case 'K': {
        const mode = Number(params || '0')
        if (mode === 0) this.line = this.line.slice(0, this.cursor)
        else if (mode === 1) this.line = ' '.repeat(Math.min(this.cursor + 1, this.line.length)) + this.line.slice(this.cursor + 1)
        else if (mode === 2) this.line = ''
        return
      }
      case 'C':
        this.cursor += n
        return
      case 'D':
        this.cursor = Math.max(0, this.cursor - n)
        return
      case 'G':
        this.cursor = n - 1
        return
      default:
        return
    }
  }

  private put(text: string): void {
    if (text === '') return
    if (this.cursor > this.line.length) this.line += ' '.repeat(this.cursor - this.line.length)
    if (this.cursor === this.line.length) this.line += text
    else this.line = this.line.slice(0, this.cursor) + text + this.line.slice(this.cursor + text.length)
    this.cursor += text.length
    if (this.line.length > MAX_LINE_CHARS) {
      this.out.push(this.line)
      this.line = ''
      this.cursor = 0
    }
  }

  private newline(): void {
    this.out.push(trimBlanks(this.line), '\n')
    this.line = ''
    this.cursor = 0
  }
}

function trimBlanks(line: string): string {
  let end = line.length
  while (end > 0 && line.charCodeAt(end - 1) === 0x20) end--
  return end === line.length ? line : line.slice(0, end)
}

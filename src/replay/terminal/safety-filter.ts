// Makes recorded (untrusted) terminal output safe to write to a real terminal: drops sequences that make it answer or act.
import {TerminalTokenizer, type Token} from './tokenizer.js'

/**
 * Why a piece was dropped (for tests and `--debug` style reporting).
 * - query: the terminal would answer (the answer would arrive as keyboard input)
 * - clipboard: OSC 52 would read or write the clipboard
 * - input-mode: a mode that makes the terminal send reports as input (mouse, focus, paste, resize)
 * - window: window manipulation (CSI t): move, resize, iconify, report
 * - string: DCS/APC/PM/SOS strings (DECRQSS, XTGETTCAP, tmux passthrough, kitty graphics, …)
 * - osc: an OSC other than the harmless ones (title, cwd, hyperlink, colour set, shell marks)
 * - print: media copy (CSI i) would print
 * - control: ENQ (answerback), C1 controls (UTF-8 encoded, or raw bytes outside a UTF-8
 *   character), switches of the character set or of the C1 mode, overlong or cut sequences
 */
export type DropReason = 'query' | 'clipboard' | 'input-mode' | 'window' | 'string' | 'osc' | 'print' | 'control'

/** DEC private modes whose effect is that the terminal sends reports as input. */
const INPUT_MODES = new Set([9, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1015, 1016, 2004, 2048])
/** Alternate screen modes. */
const ALT_SCREEN_MODES = new Set([47, 1047, 1049])
/** OSC numbers passed through (all others are dropped). 4/10–19 only when they set, never when they query. */
const OSC_ALLOWED = new Set([0, 1, 2, 4, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 104, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 133])

/** Decides, token by token, whether a recorded piece may reach a real terminal. */
export function dropReason(token: Token): DropReason | undefined {
  switch (token.kind) {
    case 'text':
      return undefined
    case 'c0':
      return token.byte === 0x05 ? 'control' : undefined // ENQ: the terminal sends its answerback string
    case 'c1':
      return 'control'
    case 'string':
      return 'string'
    case 'esc':
      if (token.intermediates === '' && token.final === 'Z') return 'query' // DECID
      // An interrupted ESC does nothing, and a stray ST (ESC \\) ends nothing: drop both, so what
      // is left of a dropped string (e.g. tmux passthrough's doubled ESC) cannot combine into anything.
      if (token.final === '' || (token.intermediates === '' && token.final === '\\')) return 'control'
      // ESC % @ (and other ESC % but "select UTF-8") leaves UTF-8, after which raw 8-bit bytes act
      // as C1 controls; ESC SP F/G/L/M/N switch C1 transmission and conformance levels.
      if (token.intermediates.startsWith('%') && !(token.intermediates === '%' && token.final === 'G')) return 'control'
      if (token.intermediates.startsWith(' ')) return 'control'
      return undefined
    case 'osc':
      return oscDropReason(token.payload, token.overflow)
    case 'csi':
      return csiDropReason(token)
  }
}

function oscDropReason(payload: Buffer, overflow: boolean): DropReason | undefined {
  // A cut OSC would be written unterminated, and the terminal would take what follows into it.
  if (overflow) return 'control'
  // A terminal that takes raw 8-bit controls ends the OSC at a raw 0x9C and runs what follows.
  if (hasStrayC1(payload)) return 'control'
  const text = payload.toString('latin1')
  const match = /^(\d+)(?:;|$)/.exec(text)
  if (!match) return 'osc'
  const number = Number(match[1])
  if (number === 52) return 'clipboard'
  if (!OSC_ALLOWED.has(number)) return 'osc'
  // Colour queries: OSC 4;n;? and OSC 10;? … OSC 19;? make the terminal answer.
  if ((number === 4 || (number >= 10 && number <= 19)) && /(^|;)\?($|;)/.test(text.slice(match[1]!.length))) return 'query'
  return undefined
}

function csiDropReason(token: Token & {kind: 'csi'}): DropReason | undefined {
  const {raw, prefix, params, intermediates, final, overflow} = token
  if (overflow || final === '') return 'control'
  // A byte >= 0x80 has no place in a CSI; a raw 0x9B there starts a new one on some terminals.
  for (let i = 2; i < raw.length; i++) if (raw[i]! >= 0x80) return 'control'
  switch (intermediates) {
    case '#':
      if (final === '|' || final === 'R') return 'query' // XTREPORTSGR, XTREPORTCOLORS
      break
    case '&':
      if (final === 'u') return 'query' // DECRQUPSS
      break
    case '"':
      if (final === 'v') return 'query' // DECRQDE
      break
    case "'":
      if (final === '|') return 'query' // DECRQLP (locator position)
      if (final === 'z' || final === '{') return 'input-mode' // DECELR, DECSLE: locator reports
      break
  }
  switch (final) {
    case 'c': // DA1 (CSI c), DA2 (CSI > c), DA3 (CSI = c)
    case 'n': // DSR/CPR (5n, 6n, ?6n, ?15n …), XTMODKEYS reset (> n) is harmless but rare
    case 'x': // DECREQTPARM
      return intermediates === '' ? 'query' : undefined
    case 't':
      if (prefix === '' && intermediates === '') {
        const first = Number(params.split(';')[0] || '0')
        return first === 22 || first === 23 ? undefined : 'window' // 22/23: push/pop title
      }
      return prefix === '>' ? 'window' : undefined // XTSMTITLE; ' t' (DECSWBV) etc. pass
    case 'p':
      return intermediates === '$' ? 'query' : undefined // DECRQM (CSI ? Ps $ p / CSI Ps $ p)
    case 'q':
      return prefix === '>' && intermediates === '' ? 'query' : undefined // XTVERSION; 'SP q' cursor style passes
    case 'u':
      if (prefix === '?' || prefix === '>' || prefix === '<' || prefix === '=') return 'input-mode' // kitty keyboard protocol
      return intermediates === '$' ? 'query' : undefined // DECRQTSR
    case 'w':
      return intermediates === '$' ? 'query' : undefined // DECRQPSR
    case 'y':
      return intermediates === '*' ? 'query' : undefined // DECRQCRA (checksum report)
    case 'S':
      return prefix === '?' ? 'query' : undefined // XTSMGRAPHICS
    case 'i':
      return 'print' // media copy
    case 'm':
      return prefix === '>' || prefix === '?' ? 'input-mode' : undefined // XTMODKEYS / XTQMODKEYS
    case 'h':
    case 'l':
      if (prefix === '?' && intermediates === '') {
        const modes = params.split(';').map(Number)
        if (modes.some((mode) => INPUT_MODES.has(mode))) return 'input-mode'
      }
      return undefined
    default:
      return undefined
  }
}

export interface FilterStats {
  /** Dropped pieces per reason. */
  dropped: Partial<Record<DropReason, number>>
}

/**
 * Filters a recorded byte stream for writing to a real terminal. Also tracks a little screen
 * state so the player can put the terminal back afterwards (alternate screen, hidden cursor) and
 * knows whether the output is at the start of a line.
 *
 * Stream it: `write(chunk)` returns the bytes to send now (a sequence cut by a chunk boundary is
 * held back until it is complete); `end()` returns what was held back, if it is safe.
 */
export class TerminalSafetyFilter {
  readonly stats: FilterStats = {dropped: {}}
  /** The alternate screen is active (a full-screen program is running). */
  altScreen = false
  /** The cursor was hidden (CSI ? 25 l) and not shown again. */
  cursorHidden = false
  /** The last byte passed was LF (or nothing passed yet). */
  atLineStart = true

  private readonly tokenizer: TerminalTokenizer
  private out: Buffer[] = []
  /** The start of a UTF-8 character at the end of the last text, held until its end comes. */
  private utf8Tail: Buffer = EMPTY

  /** @param enabled false: pass everything through, only track the screen state. */
  constructor(readonly enabled = true) {
    this.tokenizer = new TerminalTokenizer((token) => this.onToken(token))
  }

  write(chunk: Buffer): Buffer {
    this.tokenizer.write(chunk)
    return this.take()
  }

  end(): Buffer {
    this.tokenizer.end()
    this.flushUtf8Tail()
    return this.take()
  }

  /** Bytes that put a terminal back after an interrupted replay: normal screen, visible cursor, plain attributes. */
  restoreSequence(): string {
    let out = '\x1b[0m'
    if (this.altScreen) out += '\x1b[?1049l'
    if (this.cursorHidden) out += '\x1b[?25h'
    return out
  }

  private take(): Buffer {
    if (this.out.length === 0) return EMPTY
    const result = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out)
    this.out = []
    return result
  }

  private onToken(token: Token): void {
    if (this.enabled) {
      if (token.kind === 'text') {
        this.text(token.raw)
        return
      }
      this.flushUtf8Tail()
      const reason = dropReason(token)
      if (reason !== undefined) {
        this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1
        return
      }
    }
    if (token.kind === 'csi' && token.prefix === '?' && token.intermediates === '' && (token.final === 'h' || token.final === 'l')) {
      for (const mode of token.params.split(';').map(Number)) {
        if (ALT_SCREEN_MODES.has(mode)) this.altScreen = token.final === 'h'
        if (mode === 25) this.cursorHidden = token.final === 'l'
      }
    } else if (token.kind === 'esc' && token.final === 'c' && token.intermediates === '') {
      this.altScreen = false // RIS
      this.cursorHidden = false
    }
    if (token.kind === 'text') this.atLineStart = false
    else if (token.kind === 'c0' && token.byte === 0x0a) this.atLineStart = true
    this.out.push(token.raw)
  }

  /**
   * Text, without the raw bytes 0x80-0x9F that are not part of a UTF-8 character: a terminal
   * that takes 8-bit controls (or one sent out of UTF-8 by ESC % @) runs 0x9B as CSI, 0x9D as
   * OSC, 0x90 as DCS. A character cut by the end of the text is held until the next token.
   */
  private text(raw: Buffer): void {
    const data = this.utf8Tail.length === 0 ? raw : Buffer.concat([this.utf8Tail, raw])
    const {clean, tail, dropped} = cleanUtf8(data)
    this.utf8Tail = tail.length === 0 ? EMPTY : Buffer.from(tail)
    if (dropped > 0) this.stats.dropped.control = (this.stats.dropped.control ?? 0) + dropped
    if (clean.length > 0) {
      this.atLineStart = false
      this.out.push(clean)
    }
  }

  /** A held character that did not complete: its lead byte goes out, its 0x80-0x9F bytes do not. */
  private flushUtf8Tail(): void {
    if (this.utf8Tail.length === 0) return
    const tail = this.utf8Tail
    this.utf8Tail = EMPTY
    const kept = Buffer.from([...tail].filter((b, i) => i === 0 || b > 0x9f))
    if (kept.length < tail.length) this.stats.dropped.control = (this.stats.dropped.control ?? 0) + tail.length - kept.length
    this.atLineStart = false
    this.out.push(kept)
  }
}

/**
 * Splits `data` into its bytes without the 0x80-0x9F ones outside a well-formed UTF-8 character
 * (decoded as the WHATWG Encoding Standard does), and the start of a character cut by its end.
 */
export function cleanUtf8(data: Buffer): {clean: Buffer; tail: Buffer; dropped: number} {
  const n = data.length
  let i = 0
  while (i < n && data[i]! < 0x80) i++
  if (i === n) return {clean: data, tail: EMPTY, dropped: 0}
  const parts: Buffer[] = []
  let keep = 0 // start of the bytes not yet added to parts
  let dropped = 0
  const drop = (at: number): void => {
    if (at > keep) parts.push(data.subarray(keep, at))
    keep = at + 1
    dropped++
  }
  let end = n
  while (i < n) {
    const b = data[i]!
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let lower = 0x80
    let upper = 0xbf
    if (b >= 0xc2 && b <= 0xdf) need = 1
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2
      if (b === 0xe0) lower = 0xa0
      if (b === 0xed) upper = 0x9f
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3
      if (b === 0xf0) lower = 0x90
      if (b === 0xf4) upper = 0x8f
    } else {
      if (b <= 0x9f) drop(i)
      i++
      continue
    }
    let j = i + 1
    let seen = 0
    while (seen < need && j < n && data[j]! >= lower && data[j]! <= upper) {
      lower = 0x80
      upper = 0xbf
      j++
      seen++
    }
    if (seen === need) {
      i = j
    } else if (j === n) {
      end = i // cut by the end of the data: the caller holds it
      break
    } else {
      for (let k = i + 1; k < j; k++) if (data[k]! <= 0x9f) drop(k)
      i = j
    }
  }
  if (end > keep) parts.push(data.subarray(keep, end))
  const clean = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  return {clean, tail: data.subarray(end), dropped}
}

/** True when `data` holds a byte 0x80-0x9F outside a complete UTF-8 character. */
function hasStrayC1(data: Buffer): boolean {
  const {dropped, tail} = cleanUtf8(data)
  return dropped > 0 || tail.subarray(1).some((b) => b <= 0x9f)
}

const EMPTY = Buffer.alloc(0)

/** One-shot helper: filter a whole buffer. */
export function filterTerminalOutput(data: Buffer | string): Buffer {
  const filter = new TerminalSafetyFilter()
  const buffer = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  return Buffer.concat([filter.write(buffer), filter.end()])
}

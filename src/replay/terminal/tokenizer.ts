// Splits a terminal output byte stream into text runs, controls and escape sequences, across chunk boundaries.

/** A piece of terminal output. `raw` is always the exact bytes of the piece. */
export type Token =
  /** Printable bytes (ASCII, UTF-8, tab). */
  | {kind: 'text'; raw: Buffer}
  /** A C0 control other than ESC (LF, CR, BS, BEL, ENQ, …) or DEL. */
  | {kind: 'c0'; raw: Buffer; byte: number}
  /** A UTF-8 encoded C1 control (U+0080–U+009F) that does not introduce a sequence. */
  | {kind: 'c1'; raw: Buffer; code: number}
  /** ESC with optional intermediates (0x20–0x2F) and a final byte, e.g. `ESC 7`, `ESC ( 0`. */
  | {kind: 'esc'; raw: Buffer; intermediates: string; final: string}
  /** Control sequence: ESC [ (or C1 CSI) prefix? params intermediates final. */
  | {kind: 'csi'; raw: Buffer; prefix: string; params: string; intermediates: string; final: string; overflow: boolean}
  /**
   * Operating system command: ESC ] payload (BEL | ST). `overflow`: too long to keep, or cut short
   * by an ESC other than ST or by the end of the stream — not a complete sequence.
   */
  | {kind: 'osc'; raw: Buffer; payload: Buffer; overflow: boolean}
  /** DCS, APC, PM or SOS string: ESC P/_/^/X payload ST (`overflow` as for osc). */
  | {kind: 'string'; type: StringType; raw: Buffer; payload: Buffer; overflow: boolean}

export type StringType = 'dcs' | 'apc' | 'pm' | 'sos'

const ESC = 0x1b
const BEL = 0x07
const CAN = 0x18
const SUB = 0x1a

/** Longest CSI kept (params + intermediates); longer ones are consumed and flagged `overflow`. */
export const MAX_CSI_BYTES = 256
/** Longest OSC/DCS/APC/PM/SOS payload kept; longer ones are consumed and flagged `overflow`. */
export const MAX_STRING_BYTES = 64 * 1024

type State =
  | 'ground'
  | 'c2' // saw 0xC2 at the end of a chunk: maybe a UTF-8 encoded C1 control
  | 'esc'
  | 'csi'
  | 'osc'
  | 'osc-esc'
  | 'str'
  | 'str-esc'

/**
 * A streaming tokenizer (after the VT500 parser model, simplified): feed it chunks with `write`,
 * get tokens through the callback in order. A sequence cut by a chunk boundary is completed by the
 * next chunk; `end()` flushes an unfinished one as text/esc so nothing is silently kept.
 * Memory is bounded: sequences longer than MAX_CSI_BYTES / MAX_STRING_BYTES are consumed without
 * keeping their bytes (their token has `overflow: true` and a truncated `raw`).
 */
export class TerminalTokenizer {
  private state: State = 'ground'
  /** Bytes of the sequence in progress from earlier chunks. */
  private pending: Buffer[] = []
  private pendingLength = 0
  private overflow = false
  private stringType: StringType = 'dcs'
  private escIntermediates = ''
  /** Inside a string, the previous byte was 0xC2 (a C1 ST would be C2 9C). */
  private stringC2 = false

  constructor(private readonly emit: (token: Token) => void) {}

  write(chunk: Buffer): void {
    let i = 0
    let start = 0 // start of the current text run or sequence in this chunk
    const n = chunk.length
    while (i < n) {
      const b = chunk[i]!
      switch (this.state) {
        case 'ground': {
          if (b === ESC) {
            if (i > start) this.emit({kind: 'text', raw: chunk.subarray(start, i)})
            start = i
            this.state = 'esc'
            this.escIntermediates = ''
          } else if (b < 0x20 ? b !== 0x09 : b === 0x7f) {
            if (i > start) this.emit({kind: 'text', raw: chunk.subarray(start, i)})
            this.emit({kind: 'c0', raw: chunk.subarray(i, i + 1), byte: b})
            start = i + 1
          } else if (b === 0xc2) {
            if (i + 1 >= n) {
              if (i > start) this.emit({kind: 'text', raw: chunk.subarray(start, i)})
              start = i
              this.state = 'c2'
            } else {
              const next = chunk[i + 1]!
              if (next >= 0x80 && next <= 0x9f) {
                if (i > start) this.emit({kind: 'text', raw: chunk.subarray(start, i)})
                start = i
                i++
                this.c1(next, chunk, start, i + 1)
                start = i + 1
              }
            }
          }
          i++
          break
        }
        case 'c2': {
          // Only reached at i === 0 of a new chunk (pending holds 0xC2).
          if (b >= 0x80 && b <= 0x9f) {
            this.c1(b, chunk, 0, 1)
            i = 1
            start = 1
          } else {
            // Not a C1: 0xC2 starts an ordinary character; keep it with the following text.
            const lead = this.takePending(chunk, 0, 0)
            this.state = 'ground'
            this.emit({kind: 'text', raw: lead})
            start = 0
          }
          break
        }
        case 'esc': {
          if (b >= 0x20 && b <= 0x2f) {
            this.escIntermediates += String.fromCharCode(b)
            i++
          } else if (this.escIntermediates === '' && b === 0x5b /* [ */) {
            this.state = 'csi'
            this.overflow = false
            i++
          } else if (this.escIntermediates === '' && b === 0x5d /* ] */) {
            this.state = 'osc'
            this.overflow = false
            this.stringC2 = false
            i++
          } else if (this.escIntermediates === '' && (b === 0x50 || b === 0x5f || b === 0x5e || b === 0x58)) {
            this.stringType = b === 0x50 ? 'dcs' : b === 0x5f ? 'apc' : b === 0x5e ? 'pm' : 'sos'
            this.state = 'str'
            this.overflow = false
            this.stringC2 = false
            i++
          } else if (b >= 0x30 && b <= 0x7e) {
            const raw = this.takePending(chunk, start, i + 1)
            this.emit({kind: 'esc', raw, intermediates: this.escIntermediates, final: String.fromCharCode(b)})
            this.state = 'ground'
            i++
            start = i
          } else {
            // ESC interrupted by a control or ESC: emit what we have as an incomplete escape.
            const raw = this.takePending(chunk, start, i)
            this.emit({kind: 'esc', raw, intermediates: this.escIntermediates, final: ''})
            this.state = 'ground'
            start = i
            if (b === CAN || b === SUB) {
              i++
              start = i
            }
          }
          break
        }
        case 'csi': {
          if (b >= 0x40 && b <= 0x7e) {
            const raw = this.takePending(chunk, start, i + 1)
            this.emit(parseCsi(raw, this.overflow))
            this.state = 'ground'
            i++
            start = i
          } else if (b === ESC || b === CAN || b === SUB) {
            // Cancelled: dropped (terminals drop it too).
            this.resetPending()
            this.state = 'ground'
            start = i
            if (b !== ESC) {
              i++
              start = i
            }
          } else if (b < 0x20) {
            // C0 controls inside a CSI are executed immediately.
            this.emit({kind: 'c0', raw: Buffer.from([b]), byte: b})
            this.cutControl(chunk, start, i)
            start = i + 1
            i++
          } else {
            i++
            if (this.pendingLength + (i - start) > MAX_CSI_BYTES + 2) {
              this.overflow = true
              this.keepHead(chunk, start, i, MAX_CSI_BYTES + 2)
              start = i
            }
          }
          break
        }
        case 'osc':
        case 'str': {
          const afterC2 = this.stringC2
          this.stringC2 = b === 0xc2
          if (afterC2 && b === 0x9c) {
            // C1 ST (UTF-8 C2 9C) ends the string.
            const raw = this.takePending(chunk, start, i + 1)
            this.emit(this.stringToken(raw, 2))
            this.state = 'ground'
            i++
            start = i
          } else if (b === BEL && this.state === 'osc') {
            const raw = this.takePending(chunk, start, i + 1)
            this.emit(this.stringToken(raw, 1))
            this.state = 'ground'
            i++
            start = i
          } else if (b === ESC) {
            this.state = this.state === 'osc' ? 'osc-esc' : 'str-esc'
            i++
          } else if (b === CAN || b === SUB) {
            this.resetPending()
            this.state = 'ground'
            i++
            start = i
          } else {
            i++
            if (this.pendingLength + (i - start) > MAX_STRING_BYTES + 4) {
              this.overflow = true
              this.keepHead(chunk, start, i, MAX_STRING_BYTES + 4)
              start = i
            }
          }
          break
        }
        case 'osc-esc':
        case 'str-esc': {
          const wasOsc = this.state === 'osc-esc'
          if (b === 0x5c /* \ */) {
            const raw = this.takePending(chunk, start, i + 1)
            this.emit(wasOsc ? this.stringToken(raw, 2, 'osc') : this.stringToken(raw, 2))
            this.state = 'ground'
            i++
            start = i
          } else {
            // ESC ends the string (without ST); this ESC starts a new escape sequence. The string
            // is flagged cut: written as it is, it would be unterminated.
            const raw = this.takePending(chunk, start, i)
            const withoutEsc = raw.subarray(0, raw.length - 1)
            this.emit(wasOsc ? this.stringToken(withoutEsc, 0, 'osc', true) : this.stringToken(withoutEsc, 0, undefined, true))
            this.pending = [Buffer.from([ESC])]
            this.pendingLength = 1
            this.state = 'esc'
            this.escIntermediates = ''
            start = i
          }
          break
        }
      }
    }
    // Keep what is in progress for the next chunk.
    if (this.state === 'ground') {
      if (n > start) this.emit({kind: 'text', raw: chunk.subarray(start, n)})
    } else if (n > start) {
      const part = Buffer.from(chunk.subarray(start, n))
      const limit = this.state === 'csi' ? MAX_CSI_BYTES + 2 : this.state === 'esc' || this.state === 'c2' ? 64 : MAX_STRING_BYTES + 4
      if (this.pendingLength + part.length > limit) {
        this.overflow = true
        const room = Math.max(0, limit - this.pendingLength)
        if (room > 0) {
          this.pending.push(part.subarray(0, room))
          this.pendingLength += room
        }
      } else {
        this.pending.push(part)
        this.pendingLength += part.length
      }
    }
  }

  /** The stream ended: an unfinished sequence is emitted as it is (an incomplete esc/csi/string). */
  end(): void {
    if (this.pendingLength === 0 && this.state === 'ground') return
    const raw = Buffer.concat(this.pending)
    const state = this.state
    this.resetPending()
    this.state = 'ground'
    if (state === 'c2') this.emit({kind: 'text', raw})
    else if (state === 'esc') this.emit({kind: 'esc', raw, intermediates: this.escIntermediates, final: ''})
    else if (state === 'csi') this.emit({...parseCsi(raw, true), final: ''})
    else if (state === 'osc' || state === 'osc-esc') this.emit(this.stringToken(raw, 0, 'osc', true))
    else this.emit(this.stringToken(raw, 0, undefined, true))
  }

  /** True while a sequence is incomplete (its bytes are held back). */
  get inSequence(): boolean {
    return this.state !== 'ground'
  }

  private c1(code: number, chunk: Buffer, from: number, to: number): void {
    // `from..to` covers the two bytes C2 xx (or only xx when 0xC2 is pending).
    const introduces: Partial<Record<number, State>> = {0x9b: 'csi', 0x9d: 'osc', 0x90: 'str', 0x9f: 'str', 0x9e: 'str', 0x98: 'str'}
    const next = introduces[code]
    if (next === undefined) {
      const raw = this.takePending(chunk, from, to)
      this.emit({kind: 'c1', raw, code})
      this.state = 'ground'
      return
    }
    // Keep the introducer in pending: the sequence's raw bytes start with it.
    this.pending.push(Buffer.from(chunk.subarray(from, to)))
    this.pendingLength += to - from
    this.overflow = false
    this.stringC2 = false
    this.state = next
    if (next === 'str') this.stringType = code === 0x90 ? 'dcs' : code === 0x9f ? 'apc' : code === 0x9e ? 'pm' : 'sos'
  }

  /** Called when the C1 introducer was moved to pending and the chunk continues after it. */
  private cutControl(chunk: Buffer, start: number, i: number): void {
    // Remove the control byte at i from the sequence: keep start..i in pending.
    if (i > start) {
      this.pending.push(Buffer.from(chunk.subarray(start, i)))
      this.pendingLength += i - start
    }
  }

  /** Keep at most `limit` bytes of the sequence (its head); the rest is consumed unseen. */
  private keepHead(chunk: Buffer, start: number, i: number, limit: number): void {
    const room = Math.max(0, limit - this.pendingLength)
    const take = Math.min(room, i - start)
    if (take > 0) {
      this.pending.push(Buffer.from(chunk.subarray(start, start + take)))
      this.pendingLength += take
    }
  }

  private takePending(chunk: Buffer, from: number, to: number): Buffer {
    if (this.pendingLength === 0) return chunk.subarray(from, to)
    const raw = Buffer.concat([...this.pending, chunk.subarray(from, to)])
    this.resetPending()
    return raw
  }

  private resetPending(): void {
    this.pending = []
    this.pendingLength = 0
  }

  private stringToken(raw: Buffer, terminatorLength: number, forceKind?: 'osc', cut = false): Token {
    const introducer = 2 // ESC x, or C2 xx
    const payload = raw.subarray(Math.min(introducer, raw.length), Math.max(introducer, raw.length - terminatorLength))
    const overflow = this.overflow || cut
    this.overflow = false
    const isOsc = forceKind === 'osc' || (forceKind === undefined && (this.state === 'osc' || this.state === 'osc-esc'))
    if (isOsc) return {kind: 'osc', raw, payload, overflow}
    return {kind: 'string', type: this.stringType, raw, payload, overflow}
  }
}

function parseCsi(raw: Buffer, overflow: boolean): Token & {kind: 'csi'} {
  // raw = ESC [ … final, or C2 9B … final
  let i = 2
  const end = raw.length - 1
  let prefix = ''
  const first = raw[i]
  if (first !== undefined && i < end && first >= 0x3c && first <= 0x3f) {
    prefix = String.fromCharCode(first)
    i++
  }
  let params = ''
  while (i < end && raw[i]! >= 0x30 && raw[i]! <= 0x3f) params += String.fromCharCode(raw[i++]!)
  let intermediates = ''
  while (i < end && raw[i]! >= 0x20 && raw[i]! <= 0x2f) intermediates += String.fromCharCode(raw[i++]!)
  const last = raw[raw.length - 1]
  const final = last !== undefined && last >= 0x40 && last <= 0x7e ? String.fromCharCode(last) : ''
  return {kind: 'csi', raw, prefix, params, intermediates, final, overflow}
}

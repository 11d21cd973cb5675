// The bytes a recorded line must hold to match an event filter, so that a search reads (parses)
// only the lines that hold them (docs/ARCHITECTURE.md, "Searching this host's files").
//
// Sound by construction: a literal is taken only from what the filter provably requires, and a
// line holding a backslash is always read, because a JSON escape (`\u0063url`, `\"`) can hide
// the bytes of a value. Without an escape, a JSON string's bytes are its text's UTF-8 bytes.
import type {EventFilter} from './event-filter.js'
import {isPlainTime} from './time.js'

/** The type that is numbered (#N) and remembered for process ends: its lines are never skipped when exits are shown. */
const EXIT_TYPE = 'session.process_exit'

/** What a line must show to be read (src/storage/reader.ts, ScanOptions). */
export interface LinePrefilter {
  /** Bytes every line that can match holds (unless it holds a backslash). */
  literal?: Buffer
  /** For the value of a line's only `time` key (a JSON string without escapes): false when no event of that time can match. */
  timeWithin?: (time: string) => boolean
}

/**
 * What a line must show to match `filter`. `json`: the output is JSON lines; a table also
 * describes a process end with its command's line (CommandMemory), which needs every command
 * line read, so then nothing is required.
 */
export function linePrefilter(filter: EventFilter, options: {json: boolean}): LinePrefilter {
  if (!options.json && (filter.types === undefined ? false : filter.types.has(EXIT_TYPE))) return {}
  return {literal: lineLiteral(filter), timeWithin: timeGate(filter)}
}

/** Bytes every line that can match `filter` holds (unless it holds a backslash), or undefined when the filter requires none. */
function lineLiteral(filter: EventFilter): Buffer | undefined {
  const candidates: string[] = []
  if (filter.program) candidates.push(...regexLiterals(filter.program))
  // The command text is the path and arguments joined by spaces: a literal across a space is
  // not in the line as such, its space-free pieces are.
  if (filter.command) for (const literal of regexLiterals(filter.command)) candidates.push(...literal.split(' '))
  // user or login equals it: the JSON string, quotes included, is in the line.
  if (filter.user !== undefined && !filter.user.includes(String.fromCharCode(REPLACEMENT))) candidates.push(JSON.stringify(filter.user))
  let best: Buffer | undefined
  for (const text of candidates) {
    const bytes = Buffer.from(text, 'utf8')
    if (bytes.length > (best?.length ?? 0)) best = bytes
  }
  return best
}

const REPLACEMENT = 0xfffd

/**
 * For a time range: whether a line whose only `time` key holds `time` (a JSON string without
 * escapes) can match. False only for a plain time outside the range: such times compare as
 * strings as Date.parse reads them. Undefined without a bounded range in four-digit years.
 */
function timeGate(filter: EventFilter): ((time: string) => boolean) | undefined {
  const iso = (ms: number | undefined): string | undefined => {
    if (ms === undefined) return undefined
    const text = new Date(ms).toISOString()
    return text.length === 24 ? text : undefined
  }
  const {since, until} = filter.range
  if (since === undefined && until === undefined) return undefined
  const from = iso(since)
  const to = iso(until)
  if ((since !== undefined && from === undefined) || (until !== undefined && to === undefined)) return undefined
  return (time) => !isPlainTime(time) || ((from === undefined || time >= from) && (to === undefined || time <= to))
}

/**
 * Runs of characters every match of `regex` contains, read conservatively from its source: only
 * the top-level sequence of a pattern without alternation and without flags that change what a
 * character matches (i, u, v); anything not plainly one character (classes, groups, `.`, escapes
 * of letters and digits) ends a run, and a character a quantifier may drop (`?`, `*`, `{0,`) is
 * taken out of it. An empty list: nothing is provably required.
 */
export function regexLiterals(regex: RegExp): string[] {
  if (/[iuv]/.test(regex.flags)) return []
  const source = regex.source
  const runs: string[] = []
  let run = ''
  const end = (): void => {
    if (run !== '') runs.push(run)
    run = ''
  }
  let depth = 0
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      const next = source[i + 1]
      i++
      if (depth > 0 || inClass) continue
      if (next !== undefined && /[$()*+./?[\\\]^{|}\- /#%&,:;<=>@_`~!"']/.test(next)) {
        // An escaped punctuation character stands for itself; what follows may quantify it.
        run += next
        continue
      }
      // A class (\d, \w …), an assertion (\b) or an escape whose text follows: \xHH, \uHHHH,
      // \cX, octal digits. Its characters are no run's.
      const tail = next === 'x' ? /^[0-9a-fA-F]{0,2}/ : next === 'u' ? /^[0-9a-fA-F]{0,4}/ : next === 'c' ? /^[a-zA-Z]?/ : /^\d*/
      if (next !== undefined && /[xuc0-9]/.test(next)) i += tail.exec(source.slice(i + 1))![0].length
      end()
      continue
    }
    if (inClass) {
      if (c === ']') inClass = false
      continue
    }
    if (c === '[') {
      inClass = true
      if (depth === 0) end()
      continue
    }
    if (c === '(') {
      if (depth === 0) end()
      depth++
      continue
    }
    if (c === ')') {
      depth--
      continue
    }
    if (c === '|') {
      if (depth === 0) return []
      continue
    }
    if (depth > 0) continue
    if (c === '?' || c === '*') {
      // The character before may be absent: not required.
      run = [...run].slice(0, -1).join('')
      end()
      continue
    }
    if (c === '+') {
      // At least once: the character before stays, the run ends with it.
      end()
      continue
    }
    if (c === '{' || c === '}') {
      const quantifier = /^\{(\d+)(,\d*)?\}/.exec(source.slice(i))
      if (quantifier && Number(quantifier[1]) === 0) run = [...run].slice(0, -1).join('')
      if (quantifier) i += quantifier[0].length - 1
      end()
      continue
    }
    if (c === '.' || c === '^' || c === '$') {
      end()
      continue
    }
    const code = c.charCodeAt(0)
    if ((code >= 0xd800 && code <= 0xdfff) || code === REPLACEMENT) {
      // A surrogate in a pattern without the u flag matches one UTF-16 unit, and U+FFFD is also
      // what undecodable bytes read as: the bytes of either in a line are not sure.
      end()
      continue
    }
    run += c
  }
  end()
  return runs
}

// A session's disk filter: which opens (session.disk events) are recorded. The pattern syntax of
// `record --disk-include/--disk-exclude`, `disk_filter` and the `quiet` preset, its checks, the
// semantics, and the automaton the kernel runs over each path, written once.
//
// Pattern syntax (matched against bytes: a pattern is taken as UTF-8):
//   - a pattern ending in "/" is a directory prefix: it matches everything below that directory
//     (`/proc/`, `/sys/`), not the directory itself (`/proc`);
//   - a pattern with "*" is a glob in which "*" matches any run of bytes, "/" included, the empty
//     run too (`*.so`, `/home/*/.ssh/*`); there are no other metacharacters: "?", "[" and "\" are
//     themselves. A glob ending in "/" is a prefix too (`/home/*/` is `/home/*/*`);
//   - any other pattern matches exactly that path (`/dev/null`).
// A pattern starts with "/" or "*", is 1 to 255 bytes and has no NUL; at most 64 patterns in all
// (include, exclude and the preset's together; the same pattern in one list counts once).
//
// Semantics (decideDisk), the network policy's shape: no include pattern = every open is recorded
// except those an exclude pattern matches; any include pattern = only opens an include pattern
// matches are recorded; exclude wins over include. The path matched is the path as recorded:
// absolute, as the process sees it (for a successful open, the file the kernel opened, symbolic
// links resolved). A relative path that could not be made absolute is never filtered: it is
// recorded whatever the patterns say (the automaton is only run over paths starting with "/").
//
// In the kernel (compileDiskFilter): one DFA over bytes for all patterns at once. Its final state's
// accept bits say whether some include (bit 0) and some exclude (bit 1) pattern matched; the open is
// recorded when (no include patterns || bit 0) && !bit 1, and counted as filtered otherwise. It has
// at most 256 states: about one per pattern byte that no other pattern shares (the quiet preset
// takes 130), more for globs with several "*"; a filter that needs more is refused in one line.
import type {Checked} from '../config/schema.js'
import {show} from '../config/schema.js'
import {ConfigError} from '../errors/index.js'

export type DiskAction = 'include' | 'exclude'
export type DiskDecision = 'record' | 'drop'

/** Patterns as written (checked, deduplicated per list). Both empty = no filter: every open recorded. */
export interface DiskFilter {
  include: string[]
  exclude: string[]
}

export const DISK_PRESETS = ['quiet'] as const
export type DiskPreset = (typeof DISK_PRESETS)[number]

/**
 * What each preset adds to the exclude patterns. `quiet`: the noise every dynamically linked program
 * makes before main(), as recorded on Debian 12 (`record --events command,disk -- ls`, `-- python3
 * -c 1`, `-- date`, `-- id`): the loader's cache and the shared libraries it maps, with its
 * glibc-hwcaps and tls/haswell probes (`*.so` for plugins and Python extensions, `*\/lib*.so.*` for
 * versioned libraries: `*.so.*` would also match /etc/ld.so.preload, whose opens are recorded);
 * locale data, gconv and time zones; /proc/self, /proc/thread-self (a successful open there is
 * recorded as /proc/PID/..., which these match only if the kernel matches the path as passed) and
 * libselinux's /proc/filesystems; /sys (sysconf's /sys/devices/system/cpu/online, ...), /dev/null.
 */
export const DISK_PRESET_PATTERNS: Readonly<Record<DiskPreset, readonly string[]>> = {
  quiet: [
    '/etc/ld.so.cache',
    '*.so',
    '*/lib*.so.*',
    '/etc/locale.alias',
    '/usr/lib/locale/',
    '/usr/share/locale/',
    '/usr/lib/x86_64-linux-gnu/gconv/',
    '/usr/lib/aarch64-linux-gnu/gconv/',
    '/usr/share/zoneinfo/',
    '/proc/self/',
    '/proc/thread-self/',
    '/proc/filesystems',
    '/sys/',
    '/dev/null',
  ],
}

/** At most this many distinct patterns, include and exclude together. */
export const MAX_DISK_PATTERNS = 64
/** A pattern's longest length, in UTF-8 bytes. */
export const MAX_DISK_PATTERN_BYTES = 255
/** The kernel's transition table has room for this many states (dead and start included). */
export const MAX_DISK_STATES = 256

/** The syntax, as messages and help show it. */
export const DISK_PATTERN_SYNTAX = 'a path, a directory prefix ending in "/", or a glob with "*"'

/** What an error says for the first distinct pattern beyond MAX_DISK_PATTERNS; reads after the setting's name. */
export const TOO_MANY_DISK_PATTERNS = `is one pattern too many: at most ${MAX_DISK_PATTERNS} disk filter patterns in all (include, exclude and presets together)`

export function emptyDiskFilter(): DiskFilter {
  return {include: [], exclude: []}
}

/** True when the filter has a pattern: the kernel gets an automaton, and opens may be filtered. */
export function isDiskFilterActive(filter: DiskFilter): boolean {
  return filter.include.length > 0 || filter.exclude.length > 0
}

/** With any include pattern, only what an include pattern matches is recorded. */
export function hasIncludes(filter: DiskFilter): boolean {
  return filter.include.length > 0
}

/** Checks one pattern; the problem reads after the setting's name (`--disk-exclude "proc/": …`). */
export function checkDiskPattern(value: unknown): Checked<string> {
  if (typeof value !== 'string') return {ok: false, problem: `must be a pattern (${DISK_PATTERN_SYNTAX}), got ${show(value)}`}
  const problem = patternProblem(value)
  return problem === undefined ? {ok: true, value} : {ok: false, problem: `${show(value)}: ${problem}`}
}

function patternProblem(text: string): string | undefined {
  if (text === '') return `a pattern is ${DISK_PATTERN_SYNTAX}, like /etc/shadow, /proc/ or *.so`
  if (text.includes('\0')) return 'a pattern has no NUL byte'
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > MAX_DISK_PATTERN_BYTES) return `a pattern is at most ${MAX_DISK_PATTERN_BYTES} bytes, this one is ${bytes}`
  if (!text.startsWith('/') && !text.startsWith('*')) {
    return `a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /${text.replace(/^\.?\/*/, '')} or *${text}`
  }
  return undefined
}

/** Parses a preset name: `quiet`. */
export function checkDiskPreset(value: unknown): Checked<DiskPreset> {
  if (typeof value === 'string' && (DISK_PRESETS as readonly string[]).includes(value)) return {ok: true, value: value as DiskPreset}
  return {ok: false, problem: `must be ${DISK_PRESETS.join(' or ')} (the only preset), got ${show(value)}`}
}

/** Collects distinct patterns up to MAX_DISK_PATTERNS: the same pattern twice in one list counts once. */
export class DiskPatternSet {
  readonly include: string[] = []
  readonly exclude: string[] = []

  /** 'full' when `pattern` is new and MAX_DISK_PATTERNS are there already (the caller says where). */
  add(action: DiskAction, pattern: string): 'added' | 'duplicate' | 'full' {
    const list = this[action]
    if (list.includes(pattern)) return 'duplicate'
    if (this.size >= MAX_DISK_PATTERNS) return 'full'
    list.push(pattern)
    return 'added'
  }

  get size(): number {
    return this.include.length + this.exclude.length
  }

  filter(): DiskFilter {
    return {include: [...this.include], exclude: [...this.exclude]}
  }
}

/**
 * A filter from lists as typed and presets (for callers without positions to report): throws a
 * ConfigError naming the first bad pattern, or the first beyond MAX_DISK_PATTERNS.
 */
export function diskFilterFromLists(lists: {include?: readonly string[]; exclude?: readonly string[]; presets?: readonly DiskPreset[]}): DiskFilter {
  const set = new DiskPatternSet()
  const add = (action: DiskAction, text: string) => {
    const checked = checkDiskPattern(text)
    if (!checked.ok) throw new ConfigError({setting: `${action} pattern`}, `${action} pattern ${checked.problem}`)
    if (set.add(action, checked.value) === 'full') {
      throw new ConfigError({setting: `${action} pattern`}, `${action} pattern ${show(text)} ${TOO_MANY_DISK_PATTERNS}`)
    }
  }
  for (const text of lists.include ?? []) add('include', text)
  for (const text of lists.exclude ?? []) add('exclude', text)
  for (const preset of lists.presets ?? []) for (const text of DISK_PRESET_PATTERNS[preset]) add('exclude', text)
  return set.filter()
}

// ---------------------------------------------------------------------------------------------
// Semantics: straight glob matching, the reference the automaton is tested against.

const STAR = 0x2a
const SLASH = 0x2f

/** Does `pattern` match `path` (bytes)? */
export function diskPatternMatches(pattern: string, path: string | Uint8Array): boolean {
  return globMatches(globOf(pattern), typeof path === 'string' ? Buffer.from(path, 'utf8') : path)
}

/** The verdict for one path: relative paths are always recorded; exclude wins; with includes, only what they match. */
export function decideDisk(filter: DiskFilter, path: string | Uint8Array): DiskDecision {
  const bytes = typeof path === 'string' ? Buffer.from(path, 'utf8') : path
  if (bytes[0] !== SLASH) return 'record'
  if (filter.exclude.some((pattern) => globMatches(globOf(pattern), bytes))) return 'drop'
  if (!hasIncludes(filter)) return 'record'
  return filter.include.some((pattern) => globMatches(globOf(pattern), bytes)) ? 'record' : 'drop'
}

/** A pattern as a glob's bytes: a trailing "/" gets a "*" (everything below). */
function globOf(pattern: string): Uint8Array {
  return Buffer.from(pattern.endsWith('/') ? `${pattern}*` : pattern, 'utf8')
}

/**
 * Glob matching with "*" only: the text between stars must appear in order, the first piece at the
 * start and the last at the end; each middle piece is taken at its leftmost place (which is always
 * right for "*"-only globs).
 */
function globMatches(glob: Uint8Array, path: Uint8Array): boolean {
  const pieces: Uint8Array[] = []
  let start = 0
  for (let i = 0; i <= glob.length; i++) {
    if (i === glob.length || glob[i] === STAR) {
      pieces.push(glob.subarray(start, i))
      start = i + 1
    }
  }
  const first = pieces[0]!
  if (pieces.length === 1) return equalBytes(first, path)
  const last = pieces[pieces.length - 1]!
  if (path.length < first.length + last.length) return false
  if (!equalBytes(first, path.subarray(0, first.length))) return false
  if (!equalBytes(last, path.subarray(path.length - last.length))) return false
  let at = first.length
  const end = path.length - last.length
  for (const piece of pieces.slice(1, -1)) {
    const found = indexOfBytes(path.subarray(0, end), piece, at)
    if (found < 0) return false
    at = found + piece.length
  }
  return true
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.length).indexOf(needle, from)
}

// ---------------------------------------------------------------------------------------------
// The automaton.

/** What the kernel gets: a DFA over the bytes of a path. */
export interface CompiledDiskFilter {
  /** 256 × 256 bytes: next[state * 256 + byte]. State 0 is dead (no pattern can match any more; it loops to itself), 1 the start. */
  next: Uint8Array
  /** 256 bytes, one per state: bit 0 = some include pattern matches, bit 1 = some exclude pattern matches. */
  accept: Uint8Array
  /** States in use (0 and 1 included); next and accept are zero beyond them. */
  states: number
}

export const ACCEPT_INCLUDE = 1
export const ACCEPT_EXCLUDE = 2

/** The kernel's verdict from the final state's accept bits (for an absolute path). */
export function decideAccept(includes: boolean, bits: number): DiskDecision {
  return (!includes || (bits & ACCEPT_INCLUDE) !== 0) && (bits & ACCEPT_EXCLUDE) === 0 ? 'record' : 'drop'
}

/**
 * Subset states (before minimizing) explored before giving up: the quiet preset makes 318 that
 * minimize to 130, and a filter that needs this many is far beyond 256; bounds the work (~0.5 s).
 */
const MAX_RAW_STATES = 2048

/**
 * Compiles the filter's patterns into one DFA (subset construction over the patterns' glob NFA, then
 * minimized). Throws a ConfigError (one line) when it needs more than MAX_DISK_STATES states.
 */
export function compileDiskFilter(filter: DiskFilter): CompiledDiskFilter {
  const next = new Uint8Array(MAX_DISK_STATES * 256)
  const accept = new Uint8Array(MAX_DISK_STATES)
  if (!isDiskFilterActive(filter)) return {next, accept, states: 2} // the start leads nowhere

  const globs: Array<{bytes: Uint8Array; bit: number}> = []
  for (const pattern of filter.include) globs.push({bytes: collapseStars(globOf(pattern)), bit: ACCEPT_INCLUDE})
  for (const pattern of filter.exclude) globs.push({bytes: collapseStars(globOf(pattern)), bit: ACCEPT_EXCLUDE})

  // NFA positions: position base[g] + i is "the first i bytes of glob g are matched". A star at
  // offset i loops on every byte and may match nothing: the closure of i adds i + 1.
  const base: number[] = []
  const glob: number[] = [] // position → glob
  const offset: number[] = [] // position → offset in it
  globs.forEach((g, index) => {
    base.push(glob.length)
    for (let i = 0; i <= g.bytes.length; i++) {
      glob.push(index)
      offset.push(i)
    }
  })
  const byteAt = (pos: number): number | undefined => globs[glob[pos]!]!.bytes[offset[pos]!]
  // A set of positions is built in `members` (sorted at the end), `seen` stamping who is in it.
  const seen = new Int32Array(glob.length)
  let stamp = 0
  let members: number[] = []
  const begin = () => {
    stamp++
    members = []
  }
  const add = (pos: number) => {
    if (seen[pos] === stamp) return
    seen[pos] = stamp
    members.push(pos)
    if (byteAt(pos) === STAR) add(pos + 1) // a star may match nothing (collapseStars: never two in a row)
  }
  const built = (): number[] => members.sort((a, b) => a - b)

  // Subset construction: raw state 0 is the empty set (dead), 1 the start. A row is sparse: the
  // target of every byte no position of the set waits for (only the stars go on), and the bytes
  // some position waits for with their own targets.
  const ids = new Map<string, number>([['', 0]])
  const sets: number[][] = [[]]
  const intern = (set: number[]): number => {
    const key = set.join(',')
    let id = ids.get(key)
    if (id === undefined) {
      id = sets.length
      if (id >= MAX_RAW_STATES) throw tooManyStates(filter)
      ids.set(key, id)
      sets.push(set)
    }
    return id
  }
  begin()
  base.forEach(add)
  intern(built())
  const rows: SparseRow[] = []
  const rawAccept: number[] = []
  for (let id = 0; id < sets.length; id++) {
    const set = sets[id]!
    let bits = 0
    const bytes: number[] = []
    for (const pos of set) {
      const c = byteAt(pos)
      if (c === undefined) bits |= globs[glob[pos]!]!.bit
      else if (c !== STAR && !bytes.includes(c)) bytes.push(c)
    }
    rawAccept.push(bits)
    const step = (byte: number): number => {
      begin()
      for (const pos of set) {
        const c = byteAt(pos)
        if (c === STAR) add(pos)
        else if (c === byte) add(pos + 1)
      }
      return members.length === 0 ? 0 : intern(built())
    }
    bytes.sort((a, b) => a - b)
    rows.push({other: step(-1), bytes, targets: bytes.map(step)})
  }

  // Minimized, and numbered: the dead class 0 (every state from which nothing can match any
  // more), the start's 1, the others in the order they were found.
  const {classes, count} = minimize(rows, rawAccept)
  if (count > MAX_DISK_STATES) throw tooManyStates(filter, count)
  const number = new Int32Array(count).fill(-1)
  let numbered = 0
  for (let raw = 0; raw < sets.length; raw++) {
    const cls = classes[raw]!
    if (number[cls] !== -1) continue
    const state = (number[cls] = numbered++)
    accept[state] = rawAccept[raw]!
  }
  const written = new Uint8Array(count)
  for (let raw = 0; raw < sets.length; raw++) {
    const state = number[classes[raw]!]!
    if (written[state]) continue
    written[state] = 1
    const row = rows[raw]!
    const at = state * 256
    next.fill(number[classes[row.other]!]!, at, at + 256)
    row.bytes.forEach((byte, i) => (next[at + byte] = number[classes[row.targets[i]!]!]!))
  }
  return {next, accept, states: count}
}

interface SparseRow {
  /** The target of every byte not in `bytes`. */
  other: number
  /** Ascending. */
  bytes: number[]
  targets: number[]
}

/** Moore's partition refinement over sparse rows: raw state → class, classes numbered from 0. */
function minimize(rows: readonly SparseRow[], accept: readonly number[]): {classes: Int32Array; count: number} {
  const n = rows.length
  let classes = Int32Array.from(accept)
  let count = new Set(accept).size
  for (;;) {
    const ids = new Map<string, number>()
    const refined = new Int32Array(n)
    for (let s = 0; s < n; s++) {
      const row = rows[s]!
      const other = classes[row.other]!
      // The row as classes, canonical: only the bytes whose class differs from the others'.
      let key = `${classes[s]} ${other}`
      for (let i = 0; i < row.bytes.length; i++) {
        const target = classes[row.targets[i]!]!
        if (target !== other) key += ` ${row.bytes[i]}:${target}`
      }
      let id = ids.get(key)
      if (id === undefined) {
        id = ids.size
        ids.set(key, id)
      }
      refined[s] = id
    }
    classes = refined
    if (ids.size === count) return {classes, count}
    count = ids.size
  }
}

function collapseStars(glob: Uint8Array): Uint8Array {
  return Uint8Array.from(glob.filter((byte, i) => byte !== STAR || glob[i - 1] !== STAR))
}

function tooManyStates(filter: DiskFilter, needed?: number): ConfigError {
  const patterns = filter.include.length + filter.exclude.length
  const need =
    needed === undefined
      ? `more states than the kernel's automaton has room for (${MAX_DISK_STATES})`
      : `${needed} states in the kernel's automaton, which has room for ${MAX_DISK_STATES}`
  return new ConfigError({setting: 'disk_filter'}, `the disk filter's ${patterns} patterns need ${need}: use fewer patterns, or fewer "*" in them`)
}

// ---------------------------------------------------------------------------------------------
// Printing.

/** One line: `include /home/; exclude *.so, /proc/; everything else dropped`, or `none (every open recorded)`. */
export function describeDiskFilter(filter: DiskFilter): string {
  if (!isDiskFilterActive(filter)) return 'none (every open recorded)'
  const parts: string[] = []
  if (filter.include.length > 0) parts.push(`include ${filter.include.join(', ')}`)
  if (filter.exclude.length > 0) parts.push(`exclude ${filter.exclude.join(', ')}`)
  return `${parts.join('; ')}; everything else ${hasIncludes(filter) ? 'dropped' : 'recorded'}`
}

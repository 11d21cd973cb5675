// Reads recordings back: list sessions, resolve a sid prefix, stream events and terminal chunks.
import * as fs from 'node:fs'
import * as path from 'node:path'
import {StringDecoder} from 'node:string_decoder'
import * as zlib from 'node:zlib'

import {AmbiguousSessionError, DataDirNotFoundError, RecordingReadError, SessionNotFoundError} from '../errors/index.js'
import type {AuditEvent, LostEvents} from '../events/types.js'
import {LOG_DIR, NAMESPACE, SESSIONS_DIR, sessionPaths, type SessionPaths} from './layout.js'

/** Where a recorded session lives. */
export interface SessionRef {
  sid: string
  serverId: string
  paths: SessionPaths
  /** `<sid>.completed` exists. */
  completed: boolean
}

export interface ReadOptions {
  /**
   * Called with one line naming the file and what was recovered when a file is truncated
   * (recorder killed: no gzip trailer) or damaged. Reading still yields everything recovered.
   */
  onWarning?: (message: string) => void
}

/** One line of `er-shell sessions`; field names follow `sessions --json` in docs/INTERFACE.md. */
export interface SessionSummary {
  sid: string
  server_id: string
  /** RFC 3339; from session.start (else the first event), null when no event could be read. */
  session_start: string | null
  /** From session.end; null while running or when the recorder died. */
  session_stop: string | null
  interactive: boolean | null
  exit_code: number | null
  commands: number
  network: number
  disk: number
  /** Opens the session's disk filter dropped in the kernel (session.end's event_counts), else 0. */
  disk_filtered: number
  /** From session.end; null when there is none. */
  lost_events: LostEvents | null
  /** No `<sid>.completed` or no session.end: still running, or the recorder died. */
  unfinished: boolean
  login: string | null
  user: string | null
  initial_command: string[] | null
  /** Time of the last event read (for unfinished sessions: roughly when it stopped). */
  last_event_time: string | null
  /** Processes that left the session cgroup (er-shell session.cgroup_escape events). */
  cgroup_escapes: number
  /** Terminal output bytes (sum of print events). */
  output_bytes: number
  /** Only with `sessions --verify` (src/integrity/verify.ts). */
  integrity?: 'intact' | 'damaged' | 'unsealed' | 'not checked'
  /** From the fleet store (src/fleet/query.ts): the host name that recorded it. */
  host?: string | null
  /** From the fleet store: its recording is there complete (replay works from any host). */
  recording?: boolean
  /** Local, with a fleet store configured (src/fleet/reading.ts): shipped, behind by N, failing: … */
  shipping?: string
}

const MAX_LINE = 16 * 1024 * 1024

/** Raw gunzip of a (possibly truncated or damaged) file; yields decompressed buffers. */
async function* gunzipTolerant(file: string, unit: {count: () => string; abnormal?: boolean}, options: ReadOptions): AsyncGenerator<Buffer> {
  let size: number
  try {
    size = fs.statSync(file).size
  } catch (error) {
    throw new RecordingReadError(file, describeFsError(error), error)
  }
  if (size === 0) {
    options.onWarning?.(`${file}: empty (the recorder stopped before writing to it); nothing recovered`)
    return
  }
  // Large pieces: a search's work per piece is a few indexOf calls (scanEventFile).
  const input = fs.createReadStream(file, {highWaterMark: 256 * 1024})
  const gunzip = zlib.createGunzip({chunkSize: 256 * 1024})
  let inputError: unknown
  input.on('error', (error) => {
    inputError = error
    gunzip.destroy(error)
  })
  input.pipe(gunzip)
  try {
    for await (const chunk of gunzip) yield chunk as Buffer
  } catch (error) {
    if (inputError !== undefined) throw new RecordingReadError(file, describeFsError(inputError), inputError)
    const code = (error as NodeJS.ErrnoException).code
    const message = (error as Error).message
    unit.abnormal = true
    if (code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(message)) {
      options.onWarning?.(`${file}: truncated after ${unit.count()} (no gzip trailer: the recorder did not finish it)`)
    } else {
      options.onWarning?.(`${file}: damaged after ${unit.count()} (${message}); the rest is unreadable`)
    }
  } finally {
    input.destroy()
    gunzip.destroy()
  }
}

export interface ScanOptions extends ReadOptions {
  /**
   * Parse only the lines that hold these bytes or a backslash (src/query/prefilter.ts: the lines
   * without them cannot match the search). Skipped lines are still numbered (NumberedEvent).
   */
  literal?: Buffer
  /**
   * Read only the lines whose one `time` key this accepts (src/query/prefilter.ts; lines with more
   * or no such key, or with a backslash, are read).
   */
  timeWithin?: (time: string) => boolean
  /** Numbers are not wanted (JSON output): skipped lines are not looked at, `commands` counts parsed lines only. */
  unnumbered?: boolean
}

/**
 * A recorded event and its file's count of session.command events up to and including it (the #N
 * of `events`). From the fleet store (src/fleet/query.ts), a command's stored number, 0 when the
 * store has none.
 */
export interface NumberedEvent {
  event: AuditEvent
  commands: number
}

/**
 * How every writer writes a command's type (src/events/stamp.ts, native/src/lines.cc): a skipped
 * line holding it is counted as a command without being parsed. Lines with escapes are parsed.
 */
const COMMAND_MARKER = Buffer.from('"event":"session.command"')
/** The marker's end, searched for (Buffer.indexOf is quicker with a short needle), then its start is compared. */
const MARKER_TAIL = COMMAND_MARKER.subarray(COMMAND_MARKER.length - '.command"'.length)

/**
 * The part of `literal` to search for (any part of it is in every line that holds it):
 * Buffer.indexOf finds the needle's first byte, then compares, so the part that starts with the
 * byte rarest in `sample` is the quickest to find (`"alice"` 244 ms, `lice"` 109 ms over the text
 * of a 451 MB host log). At least 3 bytes, so that few lines hold it only by chance.
 */
function needleFor(literal: Buffer, sample: Buffer): Buffer {
  if (literal.length <= 3) return literal
  const counts = new Uint32Array(256)
  for (let i = 0; i < sample.length; i++) counts[sample[i]!]!++
  let best = 0
  for (let i = 1; i + 3 <= literal.length; i++) if (counts[literal[i]!]! < counts[literal[best]!]!) best = i
  return literal.subarray(best)
}

/** Where the next whole command marker starts in buffer at or after `from`, or -1. */
function nextCommandMarker(buffer: Buffer, from: number): number {
  const head = COMMAND_MARKER.length - MARKER_TAIL.length
  for (let at = buffer.indexOf(MARKER_TAIL, from + head); at >= 0; at = buffer.indexOf(MARKER_TAIL, at + 1)) {
    if (buffer.compare(COMMAND_MARKER, 0, head, at - head, at) === 0) return at - head
  }
  return -1
}
const NEWLINE = 0x0a
const BACKSLASH = 0x5c

/**
 * Streams the JSON lines of a gzip event file (`<sid>-0.events.gz` or a per-kind file) in batches,
 * with bounded memory. Tolerates a missing trailer and garbage: yields what was recovered, and
 * reports one warning per problem through options.onWarning. Throws RecordingReadError only when
 * the file cannot be opened. With options.literal, lines without it (and without an escape) are
 * counted, not parsed; a problem then makes a second, full pass name it exactly as without.
 */
export async function* scanEventFile(file: string, options: ScanOptions = {}): AsyncGenerator<NumberedEvent[]> {
  if (options.literal === undefined && options.timeWithin === undefined) {
    yield* scanLines(file, options, {numbered: true})
    return
  }
  let problem = false
  const gate = {literal: options.literal, timeWithin: options.timeWithin, numbered: options.unnumbered !== true}
  yield* scanLines(file, {onWarning: () => (problem = true)}, gate)
  if (problem && options.onWarning) for await (const batch of scanLines(file, options, {numbered: true})) void batch
}

/** What scanLines reads: lines holding `literal` and whose time `timeWithin` accepts (or with a backslash); all without either. */
interface LineGate {
  literal?: Buffer
  timeWithin?: (time: string) => boolean
  /** Count the commands of skipped lines. */
  numbered: boolean
}

/** `time"`: preceded by a quote and followed by a colon, a `time` key (in a line without a backslash). */
const TIME_WORD = Buffer.from('time"')
const QUOTE = 0x22
const COLON = 0x3a
const isSpace = (byte: number | undefined): boolean => byte === 0x20 || byte === 0x09 || byte === 0x0d

/**
 * The value of the one `time` key in buffer[from, lineEnd) as latin1 text when it is a string
 * of 24 characters, '' when it is something else; undefined when the line has no or several
 * `time` keys (at any depth). `key` is the first TIME_WORD at or after `from`; returns the next
 * one after the line too.
 */
function lineTime(buffer: Buffer, key: number, lineEnd: number): {value: string | undefined; next: number} {
  let keys = 0
  let value = ''
  for (; key >= 0 && key < lineEnd; key = buffer.indexOf(TIME_WORD, key + 1)) {
    if (buffer[key - 1] !== QUOTE) continue
    let i = key + TIME_WORD.length
    while (isSpace(buffer[i])) i++
    if (buffer[i] !== COLON) continue
    keys++
    i++
    while (isSpace(buffer[i])) i++
    value = buffer[i] === QUOTE && i + 25 < lineEnd && buffer[i + 25] === QUOTE ? buffer.toString('latin1', i + 1, i + 25) : ''
  }
  return {value: keys === 1 ? value : undefined, next: key}
}

async function* scanLines(file: string, options: ReadOptions, gate: LineGate): AsyncGenerator<NumberedEvent[]> {
  const {literal, timeWithin, numbered} = gate
  let events = 0
  let skipped = 0
  let commands = 0
  let carry: Buffer | undefined
  let needle = literal
  let sampled = false
  const unit: {count: () => string; abnormal?: boolean} = {count: () => `${events} event${events === 1 ? '' : 's'}`}
  const take = (batch: NumberedEvent[], text: string): void => {
    const event = parseLine(text)
    if (event === undefined) {
      if (text.trim() !== '') skipped++
      return
    }
    events++
    if (event.event === 'session.command') commands++
    batch.push({event, commands})
  }
  /** The whole lines in buffer[start, end) (end just after a newline). */
  const lines = (batch: NumberedEvent[], buffer: Buffer, start: number, end: number): void => {
    if (timeWithin !== undefined) return timedLines(batch, buffer, start, end, timeWithin)
    if (needle === undefined) {
      for (let at = start; at < end;) {
        const newline = buffer.indexOf(NEWLINE, at)
        take(batch, buffer.toString('utf8', at, newline))
        at = newline + 1
      }
      return
    }
    let nextLiteral = buffer.indexOf(needle, start)
    let nextEscape = buffer.indexOf(BACKSLASH, start)
    let nextMarker = numbered ? nextCommandMarker(buffer, start) : -1
    let at = start
    while (at < end) {
      const hit = Math.min(nextLiteral < 0 ? end : nextLiteral, nextEscape < 0 ? end : nextEscape)
      const lineStart = hit >= end ? end : buffer.lastIndexOf(NEWLINE, hit) + 1
      // Skipped lines up to the next line to read: counted, not parsed.
      while (nextMarker >= 0 && nextMarker < lineStart) {
        commands++
        nextMarker = nextCommandMarker(buffer, nextMarker + COMMAND_MARKER.length)
      }
      if (hit >= end) return
      const lineEnd = buffer.indexOf(NEWLINE, hit)
      while (nextMarker >= 0 && nextMarker < lineEnd) nextMarker = nextCommandMarker(buffer, nextMarker + COMMAND_MARKER.length)
      take(batch, buffer.toString('utf8', lineStart, lineEnd))
      at = lineEnd + 1
      if (nextLiteral >= 0 && nextLiteral < at) nextLiteral = buffer.indexOf(needle, at)
      if (nextEscape >= 0 && nextEscape < at) nextEscape = buffer.indexOf(BACKSLASH, at)
    }
  }
  /** Every line's time looked at (with the literal, if any): lines are gone through one by one. */
  const timedLines = (batch: NumberedEvent[], buffer: Buffer, start: number, end: number, within: (time: string) => boolean): void => {
    let nextLiteral = needle === undefined ? -1 : buffer.indexOf(needle, start)
    let nextEscape = buffer.indexOf(BACKSLASH, start)
    let nextMarker = numbered ? nextCommandMarker(buffer, start) : -1
    let nextKey = buffer.indexOf(TIME_WORD, start)
    for (let at = start; at < end;) {
      const lineEnd = buffer.indexOf(NEWLINE, at)
      if (nextEscape >= 0 && nextEscape < at) nextEscape = buffer.indexOf(BACKSLASH, at)
      if (needle !== undefined && nextLiteral >= 0 && nextLiteral < at) nextLiteral = buffer.indexOf(needle, at)
      if (nextKey >= 0 && nextKey < at) nextKey = buffer.indexOf(TIME_WORD, at)
      let read = nextEscape >= 0 && nextEscape < lineEnd
      if (!read && (needle === undefined || (nextLiteral >= 0 && nextLiteral < lineEnd))) {
        const time = lineTime(buffer, nextKey, lineEnd)
        nextKey = time.next
        read = time.value === undefined || within(time.value)
      }
      if (read) {
        while (nextMarker >= 0 && nextMarker < at) {
          commands++
          nextMarker = nextCommandMarker(buffer, nextMarker + COMMAND_MARKER.length)
        }
        while (nextMarker >= 0 && nextMarker < lineEnd) nextMarker = nextCommandMarker(buffer, nextMarker + COMMAND_MARKER.length)
        take(batch, buffer.toString('utf8', at, lineEnd))
      }
      at = lineEnd + 1
    }
    while (nextMarker >= 0 && nextMarker < end) {
      commands++
      nextMarker = nextCommandMarker(buffer, nextMarker + COMMAND_MARKER.length)
    }
  }
  for await (const chunk of gunzipTolerant(file, unit, options)) {
    if (needle !== undefined && !sampled) needle = needleFor(needle, chunk)
    sampled = true
    const batch: NumberedEvent[] = []
    const first = chunk.indexOf(NEWLINE)
    if (first < 0) {
      carry = carry === undefined ? chunk : Buffer.concat([carry, chunk])
    } else {
      // The line the last chunk began, then this chunk's whole lines; its tail waits for the next.
      const head = carry === undefined ? chunk.subarray(0, first + 1) : Buffer.concat([carry, chunk.subarray(0, first + 1)])
      lines(batch, head, 0, head.length)
      const last = chunk.lastIndexOf(NEWLINE)
      lines(batch, chunk, first + 1, last + 1)
      carry = last + 1 < chunk.length ? chunk.subarray(last + 1) : undefined
    }
    if (carry !== undefined && carry.length > MAX_LINE) {
      skipped++
      carry = undefined
    }
    if (batch.length > 0) yield batch
  }
  if (carry !== undefined) {
    // A last line without newline: keep it if it is whole JSON. When the stream was truncated or
    // damaged it is the cut-off line the warning already covers, so it is not counted again.
    const text = carry.toString('utf8')
    const event = parseLine(text)
    if (event !== undefined) {
      events++
      if (event.event === 'session.command') commands++
      yield [{event, commands}]
    } else if (text.trim() !== '' && !unit.abnormal) {
      skipped++
    }
  }
  if (skipped > 0) options.onWarning?.(`${file}: skipped ${skipped} unreadable line${skipped === 1 ? '' : 's'} (kept ${unit.count()})`)
}

/** Every event of a gzip event file, in order (scanEventFile, one event at a time). */
export async function* readEventFile(file: string, options: ReadOptions = {}): AsyncGenerator<AuditEvent> {
  for await (const batch of scanEventFile(file, options)) for (const {event} of batch) yield event
}

/** Numbers events read one at a time (a followed session, the fleet store) as scanEventFile does. */
export async function* numberEvents(events: AsyncIterable<AuditEvent>): AsyncGenerator<NumberedEvent[]> {
  let commands = 0
  for await (const event of events) {
    if (event.event === 'session.command') commands++
    yield [{event, commands}]
  }
}

/**
 * Streams the raw terminal output of `<sid>-0.chunks.gz`, byte-exact, with the same tolerance as
 * readEventFile ("…chunks.gz: truncated after 1234 bytes").
 */
export async function* readChunkFile(file: string, options: ReadOptions = {}): AsyncGenerator<Buffer> {
  let bytes = 0
  const unit = {count: () => `${bytes} byte${bytes === 1 ? '' : 's'}`}
  for await (const chunk of gunzipTolerant(file, unit, options)) {
    bytes += chunk.length
    yield chunk
  }
}

/** Every event of a session, in order (print and resize included). */
export function readSessionEvents(ref: SessionRef, options: ReadOptions = {}): AsyncGenerator<AuditEvent> {
  return readEventFile(ref.paths.events, options)
}

/** The session's terminal output stream (print events' `offset`/`bytes` index into it). */
export function readSessionChunks(ref: SessionRef, options: ReadOptions = {}): AsyncGenerator<Buffer> {
  return readChunkFile(ref.paths.chunks, options)
}

export interface FollowOptions extends ReadOptions {
  /** Stops following (the iterator then returns). */
  signal?: AbortSignal
  /** How often to look for new bytes. Default 200 ms. */
  pollMs?: number
}

/**
 * Streams a live session's events as the recorder writes them (`events --follow`): yields what is
 * in `<sid>-0.events.gz` so far, then keeps reading as sync-flushed blocks arrive, until
 * session.end, until `<sid>.completed` appears with no new bytes, or until `signal` aborts.
 * Waits for the events file to appear. A session whose recorder died never ends: abort `signal`
 * (e.g. when listSessions shows it unfinished and idle). Reads a finished session like readSessionEvents().
 */
export async function* followSessionEvents(ref: SessionRef, options: FollowOptions = {}): AsyncGenerator<AuditEvent> {
  const file = ref.paths.events
  const pollMs = options.pollMs ?? 200
  const sleep = (): Promise<void> =>
    new Promise((resolve) => {
      if (options.signal?.aborted) return resolve()
      const timer = setTimeout(done, pollMs)
      function done(): void {
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', done)
        resolve()
      }
      options.signal?.addEventListener('abort', done, {once: true})
    })
  let fd: number | undefined
  while (fd === undefined) {
    if (options.signal?.aborted) return
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new RecordingReadError(file, describeFsError(error), error)
      await sleep()
    }
  }
  const gunzip = zlib.createGunzip()
  const out: Buffer[] = []
  let failure: Error | undefined
  gunzip.on('data', (chunk: Buffer) => out.push(chunk))
  gunzip.on('error', (error) => (failure = error))
  const decoder = new StringDecoder('utf8')
  const buffer = Buffer.alloc(256 * 1024)
  let position = 0
  let rest = ''
  let events = 0
  try {
    for (;;) {
      if (options.signal?.aborted) return
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(fd!, buffer, 0, buffer.length, position, (error, bytes) => (error ? reject(error) : resolve(bytes))),
      )
      if (n > 0) {
        position += n
        if (!failure && gunzip.writable) await new Promise<void>((resolve) => gunzip.write(Buffer.from(buffer.subarray(0, n)), () => resolve()))
        // zlib may emit the output of this write on a later tick.
        await new Promise((resolve) => setImmediate(resolve))
      }
      if (out.length > 0) {
        const text = rest + decoder.write(Buffer.concat(out.splice(0)))
        const lines = text.split('\n')
        rest = lines.pop() ?? ''
        for (const line of lines) {
          const event = parseLine(line)
          if (event === undefined) continue
          events++
          yield event
          if (event.event === 'session.end') return
        }
      }
      if (failure) {
        options.onWarning?.(`${file}: damaged after ${events} events (${failure.message}); the rest is unreadable`)
        return
      }
      if (n > 0) continue
      if (fs.existsSync(ref.paths.completed) && fs.fstatSync(fd).size <= position && out.length === 0) return
      await sleep()
    }
  } finally {
    gunzip.destroy()
    fs.closeSync(fd)
  }
}

function parseLine(line: string): AuditEvent | undefined {
  if (line.length === 0) return undefined
  try {
    const value: unknown = JSON.parse(line)
    if (value !== null && typeof value === 'object' && typeof (value as {event?: unknown}).event === 'string') return value as AuditEvent
  } catch {
    // Counted by the caller as an unreadable line.
  }
  return undefined
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied'
  return (error as Error).message
}

/** Every recorded session under `<data_dir>/log/*\/sessions/default/` (all server ids). */
export function findSessions(dataDir: string): SessionRef[] {
  checkDataDir(dataDir)
  const root = path.join(dataDir, LOG_DIR)
  let servers: fs.Dirent[]
  try {
    servers = fs.readdirSync(root, {withFileTypes: true})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new RecordingReadError(root, describeFsError(error), error)
  }
  const refs: SessionRef[] = []
  for (const server of servers) {
    if (!server.isDirectory()) continue
    const dir = path.join(root, server.name, SESSIONS_DIR, NAMESPACE)
    let names: string[]
    try {
      names = fs.readdirSync(dir)
    } catch {
      continue // A server directory without sessions (host log only).
    }
    const present = new Set(names)
    const sids = new Set<string>()
    for (const name of names) {
      const match = /^(.+?)(?:\.index|-0\.events\.gz)$/.exec(name)
      if (match) sids.add(match[1]!)
    }
    for (const sid of sids) {
      refs.push({sid, serverId: server.name, paths: sessionPaths(dir, sid), completed: present.has(`${sid}.completed`)})
    }
  }
  return refs
}

function checkDataDir(dataDir: string): void {
  let st: fs.Stats
  try {
    st = fs.statSync(dataDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new DataDirNotFoundError(dataDir)
    throw new DataDirNotFoundError(dataDir, `cannot be read (${describeFsError(error)})`)
  }
  if (!st.isDirectory()) throw new DataDirNotFoundError(dataDir, 'is not a directory')
}

/**
 * Resolves a full session id or a unique prefix of one. Throws DataDirNotFoundError,
 * SessionNotFoundError, or AmbiguousSessionError (its message lists the candidates).
 */
export function resolveSession(dataDir: string, query: string): SessionRef {
  const refs = findSessions(dataDir)
  const wanted = query.trim().toLowerCase()
  if (wanted === '') throw new SessionNotFoundError(query, dataDir)
  const exact = refs.filter((ref) => ref.sid.toLowerCase() === wanted)
  const matches = exact.length > 0 ? exact : refs.filter((ref) => ref.sid.toLowerCase().startsWith(wanted))
  if (matches.length === 0) throw new SessionNotFoundError(query, dataDir)
  if (matches.length > 1) {
    const sids = new Set(matches.map((ref) => ref.sid))
    const candidates = sids.size === matches.length ? [...sids].sort() : matches.map((ref) => `${ref.sid} (server ${ref.serverId})`).sort()
    throw new AmbiguousSessionError(query, candidates)
  }
  return matches[0]!
}

/** Reads one session's events and summarises it (bounded memory: print lines are not kept). */
export async function summarizeSession(ref: SessionRef, options: ReadOptions = {}): Promise<SessionSummary> {
  const summary: SessionSummary = {
    sid: ref.sid,
    server_id: ref.serverId,
    session_start: null,
    session_stop: null,
    interactive: null,
    exit_code: null,
    commands: 0,
    network: 0,
    disk: 0,
    disk_filtered: 0,
    lost_events: null,
    unfinished: true,
    login: null,
    user: null,
    initial_command: null,
    last_event_time: null,
    cgroup_escapes: 0,
    output_bytes: 0,
  }
  let sawEnd = false
  try {
    for await (const event of readSessionEvents(ref, options)) {
      if (summary.session_start === null && typeof event.time === 'string') summary.session_start = event.time
      if (typeof event.time === 'string') summary.last_event_time = event.time
      summary.login ??= typeof event.login === 'string' ? event.login : null
      summary.user ??= typeof event.user === 'string' ? event.user : null
      switch (event.event) {
        case 'print':
          summary.output_bytes += typeof event.bytes === 'number' ? event.bytes : 0
          break
        case 'session.start':
          summary.session_start = event.time
          summary.interactive = event.interactive ?? null
          summary.initial_command = event.initial_command ?? null
          break
        case 'session.command':
          summary.commands++
          break
        case 'session.network':
          summary.network++
          break
        case 'session.disk':
          summary.disk++
          break
        case 'session.cgroup_escape':
          summary.cgroup_escapes++
          break
        case 'session.end':
          sawEnd = true
          summary.session_stop = event.session_stop ?? event.time
          summary.interactive = event.interactive ?? summary.interactive
          summary.exit_code = typeof event.exit_code === 'number' ? event.exit_code : null
          summary.lost_events = event.lost_events ?? null
          if (typeof event.event_counts?.disk_filtered === 'number') summary.disk_filtered = event.event_counts.disk_filtered
          if (event.session_start) summary.session_start = event.session_start
          break
        default:
          break
      }
    }
  } catch (error) {
    if (!(error instanceof RecordingReadError)) throw error
    options.onWarning?.(error.message)
  }
  summary.unfinished = !(sawEnd && ref.completed)
  return summary
}

/** Every session in the data dir, newest first. Warnings name each damaged file. */
export async function listSessions(dataDir: string, options: ReadOptions = {}): Promise<SessionSummary[]> {
  const summaries: SessionSummary[] = []
  for (const ref of findSessions(dataDir)) summaries.push(await summarizeSession(ref, options))
  summaries.sort((a, b) => (b.session_start ?? '').localeCompare(a.session_start ?? '') || a.sid.localeCompare(b.sid))
  return summaries
}

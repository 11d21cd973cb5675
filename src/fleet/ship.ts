// Ships the host audit log (the durable spool: <data_dir>/log/<server_id>/<date>.00:00:00.log) into
// the fleet store, exactly once (docs/postgres-store.md, "Shipping"):
//
// - The cursor (file, byte position) of each host log file lives in the store, in
//   er_shell_cursors, and advances in the same transaction that inserts the lines it passes over:
//   a batch is in the store with its cursor, or neither is (a shipper killed mid-batch, a server
//   stopped, a connection cut: the transaction rolls back and the next run starts at the old cursor).
// - The cursor row is locked (SELECT … FOR UPDATE) for the batch: two shippers of one host take
//   turns, and each reads the cursor the other left.
// - Rows are keyed on the event's own uid and time (Teleport's primary key (event_time, event_id))
//   and inserted with ON CONFLICT DO NOTHING, so a line shipped twice anyway (a cursor lost with a
//   restored database) is one row.
// - Only complete lines (ending in "\n") are shipped: a line a recorder is still writing waits.
import {createHash} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {setImmediate} from 'node:timers/promises'
import {gzipSync} from 'node:zlib'

import {LOG_DIR, NAMESPACE, SESSIONS_DIR, isUuid, sessionFileNames, sessionPaths} from '../storage/layout.js'
import {summarizeSession} from '../storage/reader.js'
import {NIL_UUID} from './schema.js'
import type {StoreConnection} from './store.js'

/** `YYYY-MM-DD.00:00:00.log`: the host log files (src/storage/layout.ts hostLogName). */
const HOST_LOG_RE = /^\d{4}-\d{2}-\d{2}\.00:00:00\.log$/

/** er-shell's namespace for name-based (v5) UUIDs: session ids that are not UUIDs, events without a uid. */
export const ER_SHELL_UUID_NAMESPACE = '6f1c4e4e-8a55-5b8e-9c4a-0e5d3f1a2b7c'

export function uuidV5(name: string, namespace = ER_SHELL_UUID_NAMESPACE): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The store's session_id of a sid: itself when it is a UUID, else its v5 UUID (as Teleport maps non-UUID ids). */
export function sessionUuid(sid: string | undefined): string {
  if (sid === undefined || sid === '') return NIL_UUID
  return isUuid(sid) ? sid.toLowerCase() : uuidV5(`sid:${sid}`)
}

export interface HostLogFile {
  serverId: string
  name: string
  path: string
  size: number
}

/** Every host log file under <data_dir>/log/*, oldest day first. */
export function listHostLogs(dataDir: string): HostLogFile[] {
  const root = path.join(dataDir, LOG_DIR)
  const out: HostLogFile[] = []
  let servers: fs.Dirent[]
  try {
    servers = fs.readdirSync(root, {withFileTypes: true})
  } catch {
    return []
  }
  for (const server of servers) {
    if (!server.isDirectory()) continue
    const dir = path.join(root, server.name)
    for (const name of fs.readdirSync(dir).filter((n) => HOST_LOG_RE.test(n))) {
      const file = path.join(dir, name)
      const st = fs.lstatSync(file)
      if (st.isFile()) out.push({serverId: server.name, name, path: file, size: st.size})
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.serverId.localeCompare(b.serverId))
}

/** One parsed host log line, as the store takes it. */
export interface ShipRow {
  time: string
  id: string
  type: string
  sessionId: string
  data: string
  /**
   * The parsed event, kept only where it is read later (holding every parsed object made the
   * shipper's garbage collection cost as much as its parsing): on session.start and session.end
   * lines, and on a session's first line of each parseLines call (its names, for er_shell_sessions).
   */
  event?: Record<string, unknown>
  /** A command's program, as `event_data->>'program'` gives it ('' when there is none). */
  program?: string
}

/**
 * Parses complete lines; a line that is not an event object is skipped (counted). `base` and the
 * line's byte offset in the batch (`firstAt` is that of `text`'s first line) name lines without a uid.
 */
export function parseLines(text: string, base: string, firstAt = 0): {rows: ShipRow[]; skipped: number} {
  const rows: ShipRow[] = []
  const sessions = new Set<string>()
  let skipped = 0
  let offset = firstAt
  for (const line of text.split('\n')) {
    const at = offset
    offset += Buffer.byteLength(line, 'utf8') + 1
    if (line.trim() === '') continue
    let event: Record<string, unknown>
    try {
      const value: unknown = JSON.parse(line)
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object')
      event = value as Record<string, unknown>
    } catch {
      skipped++
      continue
    }
    const time = typeof event.time === 'string' && !Number.isNaN(Date.parse(event.time)) ? event.time : undefined
    const type = typeof event.event === 'string' ? event.event : undefined
    if (time === undefined || type === undefined) {
      skipped++
      continue
    }
    const uid = typeof event.uid === 'string' && isUuid(event.uid) ? event.uid.toLowerCase() : uuidV5(`line:${base}:${at}`)
    const sessionId = sessionUuid(typeof event.sid === 'string' ? event.sid : undefined)
    const row: ShipRow = {time, id: uid, type, sessionId, data: line}
    if (type === 'session.command') row.program = commandProgram(event.program)
    if (type === 'session.start' || type === 'session.end' || !sessions.has(sessionId)) row.event = event
    sessions.add(sessionId)
    rows.push(row)
  }
  return {rows, skipped}
}

/** The session rows of a batch, from the rows the store did not have yet (counts stay exact when lines come again). */
const UPSERT_SESSIONS = `
INSERT INTO er_shell_sessions AS s (session_id, sid, server_id, hostname, cluster_name, login, "user", last_event_time,
  events, commands, network, disk, cgroup_escapes)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
  $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])
ON CONFLICT (session_id) DO UPDATE SET
  events = s.events + excluded.events, commands = s.commands + excluded.commands, network = s.network + excluded.network,
  disk = s.disk + excluded.disk, cgroup_escapes = s.cgroup_escapes + excluded.cgroup_escapes,
  last_event_time = greatest(s.last_event_time, excluded.last_event_time),
  server_id = coalesce(s.server_id, excluded.server_id), hostname = coalesce(s.hostname, excluded.hostname),
  cluster_name = coalesce(s.cluster_name, excluded.cluster_name), login = coalesce(s.login, excluded.login), "user" = coalesce(s."user", excluded."user")
RETURNING session_id, commands`

/** session.start and session.end rows of a batch, one statement each (arrays, like the insert). */
const SESSION_STARTS = `
UPDATE er_shell_sessions s SET session_start = v.t, interactive = v.i, initial_command = v.c
FROM unnest($1::uuid[], $2::timestamptz[], $3::boolean[], $4::json[]) AS v(id, t, i, c) WHERE s.session_id = v.id`
const SESSION_ENDS = `
UPDATE er_shell_sessions s SET ended = true, session_start = coalesce(v.start, s.session_start), session_stop = v.stop,
  interactive = coalesce(v.i, s.interactive), exit_code = v.exit, lost_events = v.lost, initial_command = coalesce(s.initial_command, v.c),
  disk_filtered = coalesce(v.filtered, 0)
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[], $4::boolean[], $5::integer[], $6::json[], $7::json[], $8::bigint[])
  AS v(id, start, stop, i, exit, lost, c, filtered)
WHERE s.session_id = v.id`

/** Teleport's columns, in the order of copyRows' fields. */
const COPY_EVENTS = 'COPY events (event_time, event_id, event_type, session_id, event_data) FROM STDIN'

/**
 * The slow path, for a batch holding rows the store has already (a cursor lost with a restored
 * database, a uid twice): Teleport's own ON CONFLICT DO NOTHING; RETURNING names the new rows. The
 * lines go as one text the server splits at newlines (a JSON line holds none).
 */
const INSERT_NEW = `
INSERT INTO events (event_time, event_id, event_type, session_id, event_data)
SELECT * FROM unnest($1::timestamptz[], $2::uuid[], $3::text[], $4::uuid[], string_to_array($5, E'\\n')::json[])
ON CONFLICT DO NOTHING
RETURNING event_id`

/** er_shell_commands' columns, in the order of insertCommands' fields. */
const COPY_COMMANDS = 'COPY er_shell_commands (program, event_time, event_id, session_id, number) FROM STDIN'
const INSERT_COMMANDS = `
INSERT INTO er_shell_commands (program, event_time, event_id, session_id, number)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::integer[])
ON CONFLICT DO NOTHING`

/** PostgreSQL's unique_violation. */
const UNIQUE_VIOLATION = '23505'

export interface BatchResult {
  /** Lines passed over (shipped, or skipped as unreadable). */
  lines: number
  /** Rows the store did not have yet. */
  inserted: number
  skipped: number
  /** The cursor after the batch. */
  position: number
  /** Nothing more to ship in this file for now. */
  caughtUp: boolean
  /** The file is shorter than the store's cursor: it was truncated or replaced after shipping. */
  shrunk?: boolean
}

export interface ShipLimits {
  /** Most lines per batch (default 5000). */
  maxLines?: number
  /** Most bytes read per batch (default 4 MiB). */
  maxBytes?: number
}

/** A batch as read from its host log file: its complete lines, parsed. */
interface ReadBatch {
  bytes: number
  lines: number
  rows: ShipRow[]
  /** The rows in COPY's text format. */
  copy: Buffer
  skipped: number
  /** It ends before the limits: the file has nothing more now. */
  last: boolean
}

/**
 * Characters of a batch parsed between two turns of the event loop while reading ahead (about 150
 * lines, under a millisecond: the store's replies wait no longer than that).
 */
const PARSE_SLICE = 64 * 1024

/**
 * Reads a host log file's batches, each while the store works on the one before: shipBatch starts
 * reading and parsing batch N+1 once batch N's COPY is queued, and parses it in slices between the
 * driver's I/O (one slice per turn of the event loop), so this process's parsing and the server's
 * inserting overlap (two CPUs). A batch read ahead is used only at the position the locked cursor
 * then names: the host log is only ever appended to, so the bytes at a position are the same
 * whenever they are read, and exactly-once rests on the cursor alone, as without reading ahead.
 */
export class BatchReader {
  private ahead: {path: string; position: number; batch: Promise<ReadBatch | undefined>} | undefined
  private readonly maxLines: number
  private readonly maxBytes: number

  constructor(limits: ShipLimits = {}) {
    this.maxLines = limits.maxLines ?? 5000
    this.maxBytes = limits.maxBytes ?? 4 * 1024 * 1024
  }

  /** The batch at `position`: the one read ahead when it is that one, else read now. */
  async take(file: HostLogFile, position: number): Promise<ReadBatch> {
    const ahead = this.ahead
    this.ahead = undefined
    const batch = ahead?.path === file.path && ahead.position === position ? await ahead.batch : undefined
    return batch ?? this.read(file, position, false)
  }

  /** A batch is being read ahead. */
  get readingAhead(): boolean {
    return this.ahead !== undefined
  }

  /** Starts reading the batch at `position` (a failure is left for take() to meet again). */
  readAhead(file: HostLogFile, position: number): void {
    this.ahead = {path: file.path, position, batch: this.read(file, position, true).catch(() => undefined)}
  }

  private async read(file: HostLogFile, position: number, yielding: boolean): Promise<ReadBatch> {
    if (yielding) await setImmediate()
    const chunk = readComplete(file.path, position, this.maxBytes, this.maxLines)
    const base = `${file.serverId}/${file.name}:${position}`
    const rows: ShipRow[] = []
    const copy: Buffer[] = []
    let skipped = chunk.oversized ? 1 : 0
    const {text} = chunk
    for (let at = 0, firstAt = 0; at < text.length;) {
      const newline = text.indexOf('\n', Math.min(at + PARSE_SLICE, text.length - 1))
      const end = newline < 0 ? text.length : newline
      const slice = text.slice(at, end)
      const parsed = parseLines(slice, base, firstAt)
      rows.push(...parsed.rows)
      copy.push(copyRows(parsed.rows))
      skipped += parsed.skipped
      firstAt += Buffer.byteLength(slice, 'utf8') + 1
      at = end + 1
      if (yielding && at < text.length) await setImmediate()
    }
    const last = chunk.lines < this.maxLines && chunk.bytes < this.maxBytes - 65536
    return {bytes: chunk.bytes, lines: chunk.lines, rows, copy: Buffer.concat(copy), skipped, last}
  }
}

/**
 * Ships the next batch of one host log file: one transaction that locks the file's cursor, inserts
 * the complete lines after it and advances it. Throws StoreError; nothing of the batch is then in
 * the store. `reader` (one per file and pass) reads the next batch ahead.
 */
export async function shipBatch(store: StoreConnection, file: HostLogFile, reader: BatchReader = new BatchReader()): Promise<BatchResult> {
  return store.transaction(async () => {
    // The cursor commits with the rows it passes over, so a commit lost to a server crash loses
    // both, and the lines ship again (docs/postgres-store.md, "Shipping"): no need to wait for the
    // commit's WAL flush.
    await store.query('SET LOCAL synchronous_commit = off')
    await store.query('INSERT INTO er_shell_cursors (server_id, file, position) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING', [file.serverId, file.name])
    const {rows} = await store.query<{position: string}>('SELECT position FROM er_shell_cursors WHERE server_id = $1 AND file = $2 FOR UPDATE', [
      file.serverId,
      file.name,
    ])
    const position = Number(rows[0]?.position ?? 0)
    const batch = await reader.take(file, position)
    if (batch.bytes === 0) return {lines: 0, inserted: 0, skipped: 0, position, caughtUp: true, shrunk: position > fs.statSync(file.path).size}
    const next = position + batch.bytes
    let inserted = 0
    if (batch.rows.length > 0) {
      inserted = await insertBatch(store, batch, () => {
        if (!batch.last) reader.readAhead(file, next)
      })
      await updateStartsAndEnds(store, batch.rows)
    }
    if (!batch.last && !reader.readingAhead) reader.readAhead(file, next)
    await store.query('UPDATE er_shell_cursors SET position = $3, lines = lines + $4, updated = now() WHERE server_id = $1 AND file = $2', [
      file.serverId,
      file.name,
      next,
      batch.lines,
    ])
    return {lines: batch.lines, inserted, skipped: batch.skipped, position: next, caughtUp: batch.last}
  })
}

/**
 * Inserts a batch's rows, adds them to their sessions' counts and numbers their commands; returns
 * how many rows were new. `sent` is called once the statements that take long are on their way.
 *
 * First the fast path, inside a savepoint: the session rows (their update returns each session's
 * command count, from which the commands are numbered), then the events and the commands as two
 * COPYs (the server's cheapest path: no conflict check per row), queued at once. When a row is
 * there already (a lost cursor, a uid twice), a COPY fails whole (unique_violation) and all of it
 * is rolled back to the savepoint (the cursor's lock, taken before, is kept); then the rows go
 * through ON CONFLICT DO NOTHING, whose RETURNING names the new ones, and only those are counted
 * and numbered. The session rows stay locked to COMMIT: no two shippers number one session at once.
 */
async function insertBatch(store: StoreConnection, batch: ReadBatch, sent: () => void): Promise<number> {
  const {rows} = batch
  try {
    const [, {rows: totals}] = await Promise.all([
      store.query('SAVEPOINT er_shell_batch'),
      store.query<SessionTotal>(UPSERT_SESSIONS, sessionColumns(rows, rows)),
    ])
    const copies = [store.copyFrom(COPY_EVENTS, batch.copy), store.copyFrom(COPY_COMMANDS, commandRows(rows.filter(isCommand), totals))]
    sent()
    await Promise.all(copies)
    await store.query('RELEASE SAVEPOINT er_shell_batch')
    return rows.length
  } catch (error) {
    if ((error as {cause?: {code?: string}}).cause?.code !== UNIQUE_VIOLATION) throw error
    await store.query('ROLLBACK TO SAVEPOINT er_shell_batch')
  }
  // The driver's array serialisation escapes every quote of every line: the lines go as one text.
  const {rows: returned} = await store.query<{event_id: string}>(INSERT_NEW, [
    arrayLiteral(rows.map((r) => r.time)),
    arrayLiteral(rows.map((r) => r.id)),
    arrayLiteral(rows.map((r) => r.type)),
    arrayLiteral(rows.map((r) => r.sessionId)),
    rows.map((r) => r.data).join('\n'),
  ])
  const left = new Map<string, number>()
  for (const {event_id: id} of returned) left.set(id, (left.get(id) ?? 0) + 1)
  const isNew = (row: ShipRow): boolean => {
    const n = left.get(row.id) ?? 0
    if (n > 0) left.set(row.id, n - 1)
    return n > 0
  }
  const added = rows.filter(isNew)
  if (added.length === 0) return 0
  const {rows: totals} = await store.query<SessionTotal>(UPSERT_SESSIONS, sessionColumns(rows, added))
  const commands = added.filter(isCommand)
  const numbers = numberCommands(commands, totals)
  await store.query(INSERT_COMMANDS, [
    commands.map((c) => c.program ?? ''),
    commands.map((c) => c.time),
    commands.map((c) => c.id),
    commands.map((c) => c.sessionId),
    numbers,
  ])
  return added.length
}

/** A session's command count after a batch (UPSERT_SESSIONS' RETURNING). */
interface SessionTotal {
  session_id: string
  commands: string
}

/**
 * Numbers commands in their sessions: after the session's commands before the batch (its count
 * after the batch, `totals`, less the batch's), in the order of the host log, which is the order
 * of the session's files. Commands without a session (or one not in `totals`) get no number.
 */
function numberCommands(commands: ShipRow[], totals: SessionTotal[]): Array<number | null> {
  const last = new Map<string, number>()
  for (const t of totals) last.set(t.session_id, Number(t.commands))
  for (const c of commands) if (last.has(c.sessionId)) last.set(c.sessionId, last.get(c.sessionId)! - 1)
  return commands.map((c) => {
    const n = last.get(c.sessionId)
    if (n === undefined) return null
    last.set(c.sessionId, n + 1)
    return n + 1
  })
}

/** The er_shell_commands rows of commands, numbered, in COPY's text format. */
function commandRows(commands: ShipRow[], totals: SessionTotal[]): Buffer {
  const numbers = numberCommands(commands, totals)
  let text = ''
  commands.forEach((c, i) => {
    text += `${copyField(c.program ?? '')}\t${copyField(c.time)}\t${c.id}\t${c.sessionId}\t${numbers[i] ?? '\\N'}\n`
  })
  return Buffer.from(text, 'utf8')
}

const isCommand = (row: ShipRow): boolean => row.type === 'session.command'

/** A command's program as `event_data->>'program'` gives it ('' when there is none). */
function commandProgram(program: unknown): string {
  if (program === undefined || program === null) return ''
  return typeof program === 'string' ? program : JSON.stringify(program)
}

/** Rows in COPY's text format: tab-separated fields, one line each; backslash, tab, newline and CR escaped. */
function copyRows(rows: ShipRow[]): Buffer {
  let text = ''
  for (const r of rows) text += `${copyField(r.time)}\t${r.id}\t${copyField(r.type)}\t${r.sessionId}\t${copyField(r.data)}\n`
  return Buffer.from(text, 'utf8')
}

const COPY_SPECIAL = /[\\\t\n\r]/g
const COPY_ESCAPES: Record<string, string> = {'\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r'}

function copyField(value: string): string {
  return value.search(COPY_SPECIAL) < 0 ? value : value.replace(COPY_SPECIAL, (c) => COPY_ESCAPES[c]!)
}

/**
 * UPSERT_SESSIONS' arrays: per session of the new rows, its names (from its first line in the
 * batch) and what the new rows add to its counts.
 */
function sessionColumns(rows: ShipRow[], added: ShipRow[]): unknown[] {
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null)
  const sessions = new Map<string, {e: Record<string, unknown>; last: string; lastMs: number; counts: number[]}>()
  for (const row of rows) {
    if (row.sessionId !== NIL_UUID && !sessions.has(row.sessionId))
      sessions.set(row.sessionId, {e: row.event ?? {}, last: row.time, lastMs: -Infinity, counts: [0, 0, 0, 0, 0]})
  }
  for (const row of added) {
    const s = sessions.get(row.sessionId)
    if (s === undefined) continue
    const ms = Date.parse(row.time)
    if (ms > s.lastMs) {
      s.lastMs = ms
      s.last = row.time
    }
    s.counts[0]!++
    const kind = COUNTED.indexOf(row.type)
    if (kind >= 0) s.counts[kind + 1]!++
  }
  const columns: unknown[][] = Array.from({length: 13}, () => [])
  for (const [id, s] of sessions) {
    if (s.counts[0] === 0) continue
    const {e} = s
    const values = [id, text(e.sid) ?? id, text(e.server_id), text(e.server_hostname), text(e.cluster_name), text(e.login), text(e.user), s.last, ...s.counts]
    values.forEach((value, i) => columns[i]!.push(value))
  }
  return columns
}

/** The event types er_shell_sessions counts, in UPSERT_SESSIONS' order (after `events`). */
const COUNTED = ['session.command', 'session.network', 'session.disk', 'session.cgroup_escape']

/** The session.start and session.end lines of a batch set the sessions' times, exit code and command. */
async function updateStartsAndEnds(store: StoreConnection, rows: ShipRow[]): Promise<void> {
  const starts = rows.filter((r) => r.type === 'session.start')
  if (starts.length > 0) {
    await store.query(SESSION_STARTS, [
      starts.map((r) => r.sessionId),
      starts.map((r) => r.time),
      starts.map((r) => bool(r.event?.interactive)),
      starts.map((r) => json(r.event?.initial_command)),
    ])
  }
  const ends = rows.filter((r) => r.type === 'session.end')
  if (ends.length > 0) {
    const e = ends.map((r) => r.event ?? {})
    await store.query(SESSION_ENDS, [
      ends.map((r) => r.sessionId),
      e.map((x) => (typeof x.session_start === 'string' ? x.session_start : null)),
      ends.map((r, i) => (typeof e[i]!.session_stop === 'string' ? e[i]!.session_stop : r.time)),
      e.map((x) => bool(x.interactive)),
      e.map((x) => (typeof x.exit_code === 'number' ? x.exit_code : null)),
      e.map((x) => json(x.lost_events)),
      e.map((x) => json(x.initial_command)),
      e.map((x) => {
        const filtered = (x.event_counts as {disk_filtered?: unknown} | undefined)?.disk_filtered
        return typeof filtered === 'number' ? String(filtered) : null
      }),
    ])
  }
}

/** A PostgreSQL array literal of plain tokens (times, UUIDs, event types); anything else quoted. */
function arrayLiteral(values: string[]): string {
  return `{${values.map((v) => (/^[\w.:+-]+$/.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`)).join(',')}}`
}

function bool(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null
}

function json(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value)
}

/**
 * Complete lines of `file` from `position`: at most maxBytes and maxLines, ending at a "\n". A line
 * longer than maxBytes (no event line is: arguments are cut at 24 KiB) is passed over whole once its
 * newline is there, as `oversized` (counted as skipped), so that it cannot stall the file.
 */
export function readComplete(
  file: string,
  position: number,
  maxBytes: number,
  maxLines: number,
): {text: string; bytes: number; lines: number; oversized?: boolean} {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  try {
    const buffer = Buffer.alloc(maxBytes)
    const n = fs.readSync(fd, buffer, 0, maxBytes, position)
    let end = 0
    let lines = 0
    for (let i = buffer.indexOf(10); i >= 0 && i < n; i = buffer.indexOf(10, i + 1)) {
      end = i + 1
      if (++lines >= maxLines) break
    }
    if (end === 0 && n === maxBytes) {
      for (let at = position + n; ;) {
        const m = fs.readSync(fd, buffer, 0, maxBytes, at)
        if (m === 0) break // Its newline is not written yet.
        const i = buffer.subarray(0, m).indexOf(10)
        if (i >= 0) return {text: '', bytes: at + i + 1 - position, lines: 1, oversized: true}
        at += m
      }
    }
    return {text: buffer.toString('utf8', 0, end), bytes: end, lines}
  } finally {
    fs.closeSync(fd)
  }
}

// ---------------------------------------------------------------- recordings

/** Bytes of one stored part of a recording file. */
const PART_BYTES = 1024 * 1024

export interface StoredFile {
  name: string
  bytes: number
  /** The file was gzip-compressed for the store (the .gz files are stored as they are). */
  gzip: boolean
}

/** Finished sessions (`<sid>.completed` present) of a server that the store has no complete recording of. */
export async function pendingRecordings(store: StoreConnection, dataDir: string, serverId: string): Promise<string[]> {
  const dir = path.join(dataDir, LOG_DIR, serverId, SESSIONS_DIR, NAMESPACE)
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  const finished = names.filter((n) => n.endsWith('.completed')).map((n) => n.slice(0, -'.completed'.length))
  if (finished.length === 0) return []
  const {rows} = await store.query<{sid: string}>('SELECT sid FROM er_shell_recordings WHERE complete AND sid = ANY($1::text[])', [finished])
  const stored = new Set(rows.map((r) => r.sid))
  return finished.filter((sid) => !stored.has(sid)).sort()
}

/**
 * Uploads one finished session's files in one transaction: its parts and the row that marks the
 * recording complete commit together, so a partial upload is never seen (nor left behind).
 */
export async function uploadRecording(store: StoreConnection, dataDir: string, serverId: string, sid: string): Promise<{bytes: number; files: number}> {
  const dir = path.join(dataDir, LOG_DIR, serverId, SESSIONS_DIR, NAMESPACE)
  const names = sessionFileNames(sid)
  // The integrity file (docs/integrity.md) goes too: `er-shell verify` can check a fetched copy.
  const wanted = [names.index, names.events, names.chunks, ...Object.values(names.enhanced), names.integrity, names.completed]
  const files: StoredFile[] = []
  let total = 0
  return store.transaction(async () => {
    await store.query('DELETE FROM er_shell_recording_parts WHERE sid = $1', [sid])
    for (const name of wanted) {
      let data: Buffer
      try {
        data = fs.readFileSync(path.join(dir, name))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw error
      }
      const gzip = !name.endsWith('.gz')
      const stored = gzip ? gzipSync(data) : data
      for (let part = 0, at = 0; at < stored.length || part === 0; part++, at += PART_BYTES) {
        await store.query('INSERT INTO er_shell_recording_parts (sid, name, part, data) VALUES ($1, $2, $3, $4)', [
          sid,
          name,
          part,
          stored.subarray(at, at + PART_BYTES),
        ])
      }
      files.push({name, bytes: data.length, gzip})
      total += stored.length
    }
    // The output's size as local `sessions` gives it (the sum of the print events' bytes).
    const {output_bytes: output} = await summarizeSession({sid, serverId, paths: sessionPaths(dir, sid), completed: true})
    await store.query(
      `INSERT INTO er_shell_recordings (sid, server_id, files, bytes, complete, output_bytes) VALUES ($1, $2, $3::json, $4, true, $5)
       ON CONFLICT (sid) DO UPDATE SET server_id = excluded.server_id, files = excluded.files, bytes = excluded.bytes, complete = true,
         output_bytes = excluded.output_bytes, uploaded = now()`,
      [sid, serverId, JSON.stringify(files), total, output],
    )
    return {bytes: total, files: files.length}
  })
}

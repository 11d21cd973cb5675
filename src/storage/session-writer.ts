// The record pipeline's line maker: numbers and formats each of a session's events once and fans
// the line out to its sinks (src/record/sink.ts): the session's files, the host audit log, and any
// others given (the live printer). Backpressure and disk failures are handled here, for all of them.
import * as fs from 'node:fs'
import * as path from 'node:path'

import type {KernelLine, LineFormat} from '../engine/events.js'
import {IntegrityKeyError, SessionExistsError, StorageWriteError, UnsafeLogTreeError} from '../errors/index.js'
import type {EventLine, EventLines, Sink} from '../record/sink.js'
import {EventLineFormatter, formatEventTime} from '../events/stamp.js'
import type {EmittableBody, PrintBody, SessionCommon, SessionEndBody} from '../events/types.js'
import {IntegrityChain} from '../integrity/chain.js'
import {claimSessionNumber, type RatchetState} from '../integrity/keys.js'
import type {OutputDigest} from '../native/types.js'
import {HostAuditLog} from './host-log.js'
import {assertValidSid, ensureLogTree, sessionFileNames, sessionsDir, type SessionPaths} from './layout.js'
import {type CreatedFiles, SessionFiles, createSessionFiles} from './session-files.js'

export interface SessionWriterOptions {
  dataDir: string
  /** Session id (a UUID). */
  sid: string
  /** Stamped on every event; server_id comes from ensureServerId(dataDir). */
  common: SessionCommon
  /** Session start: the origin of print events' `ms`. Default: now. */
  startedAt?: Date | number
  /** Called once when a write fails (ENOSPC, EROFS, EACCES, …); the writer then stops writing. */
  onError?: (error: StorageWriteError) => void
  /** Non-fatal problems (e.g. the events.log symlink could not be updated). */
  onWarning?: (message: string) => void
  /** How often dirty gzip streams are sync-flushed (ms). Default 500, at most 1000. */
  flushIntervalMs?: number
  /** gzip level of the chunks file (terminal output). Default 1: fast, and output compresses well anyway. */
  chunksLevel?: number
  /**
   * Terminal output waiting this long for zlib is stored uncompressed (gzip level 0) until the
   * backlog is below a quarter of it: a burst of output is never held back by compression, at the
   * cost of a larger chunks file. Default 2 MiB; 0: always compress.
   */
  storeChunksWhenBehind?: number
  /**
   * gzip level of the event files. Default 1: every command event is compressed twice (the
   * session's events file and its per-kind file), on the threadpool next to the session's own
   * processes; level 6 costs ~1.7x the CPU for files ~5 % smaller.
   */
  eventsLevel?: number
  /** Backpressure: print()/emit() return false above this many pending bytes. Default 8 MiB. */
  highWaterMark?: number
  /** Called when writing may resume after print()/emit() returned false. */
  onDrain?: () => void
  /**
   * More sinks for every line (the live printer). Their owner ends them; a failure of theirs is
   * theirs to report and stops nothing here, and they still get lines after a storage failure.
   */
  sinks?: Sink[]
}

/** Fields of session.end the writer cannot infer; the rest default (see end()). */
export type SessionEndFields = Omit<SessionEndBody, 'event' | 'enhanced_recording' | 'participants' | 'session_start' | 'session_stop'> &
  Partial<Pick<SessionEndBody, 'participants' | 'session_start' | 'session_stop'>>

export interface EndResult {
  /** True when every file was finished and `<sid>.completed` written. */
  completed: boolean
  /** The write failure that stopped the recording, if any. */
  error?: StorageWriteError
}

/**
 * One session's recording, written as it goes (docs/file-layout.md).
 *
 * Backpressure: `print()` and `emit()` return false once more than `highWaterMark` bytes are
 * accepted but not yet compressed and written; nothing is ever dropped. Stop reading the pty until
 * `await writer.drained()` resolves (or `onDrain` is called). Compression runs on the libuv
 * threadpool; the main thread only batches buffers and serialises event JSON.
 *
 * Durability: every dirty gzip stream is sync-flushed every `flushIntervalMs` (≤ 1 s), so a
 * recorder killed with SIGKILL leaves files that replay up to about that long before the kill.
 *
 * Disk trouble: the first write failure (session files or host log) is reported once through
 * `onError` (and kept in `writer.error`); the writer then writes nothing more to either, the
 * files write out what they were already given (where the disk still takes it) and close, and
 * everything written stays readable. It never throws asynchronously and never emits an 'error'
 * event.
 *
 * `onDrain` (option) is called each time pending bytes fall back below half the high-water mark.
 */
export class SessionWriter {
  readonly sid: string
  readonly dataDir: string
  readonly paths: SessionPaths
  readonly common: SessionCommon
  readonly startedAt: number

  private readonly formatter: EventLineFormatter
  private readonly files: SessionFiles
  private readonly hostLog: HostAuditLog
  /** Sinks that are not the recording: they get every line, also after a storage failure. */
  private readonly others: Sink[]
  private readonly onErrorCallback?: (error: StorageWriteError) => void
  private readonly onDrainCallback?: () => void
  private readonly highWaterMark: number
  private nextEi = 0
  private nextCi = 0
  private chunkOffset = 0
  private needDrain = false
  /** Bytes accepted since the pending bytes were last summed (checkHigh). */
  private writtenSinceCheck = 0
  private drainWaiters: Array<() => void> = []
  private ended = false
  private failure: StorageWriteError | undefined
  /** After a failure: settles when the other files have written out what they held. */
  private salvaged: Promise<void> = Promise.resolve()

  private constructor(options: SessionWriterOptions, created: CreatedFiles & {claim: RatchetState}) {
    this.sid = options.sid
    this.dataDir = options.dataDir
    this.paths = created.paths
    this.common = {...options.common}
    this.formatter = new EventLineFormatter(this.sid, this.common)
    this.startedAt = options.startedAt === undefined ? Date.now() : +options.startedAt
    this.onErrorCallback = options.onError
    this.onDrainCallback = options.onDrain
    this.highWaterMark = options.highWaterMark ?? 8 * 1024 * 1024
    this.others = [...(options.sinks ?? [])]
    this.files = new SessionFiles(this.sid, created, {
      flushIntervalMs: Math.min(Math.max(options.flushIntervalMs ?? 500, 10), 1000),
      chunksLevel: options.chunksLevel ?? 1,
      eventsLevel: options.eventsLevel ?? 1,
      storeChunksWhenBehind: options.storeChunksWhenBehind ?? 2 * 1024 * 1024,
      onError: (file, error) => this.fail(file, error),
      onProgress: () => this.checkDrain(),
      chain: new IntegrityChain({
        path: created.paths.integrity,
        fd: created.fds.integrity,
        sid: options.sid,
        serverId: options.common.server_id,
        claim: created.claim,
        timeMs: this.startedAt,
        onError: (error) => this.fail(created.paths.integrity, error),
      }),
    })
    this.hostLog = new HostAuditLog({
      dataDir: options.dataDir,
      serverId: options.common.server_id,
      onError: (error, file) => this.fail(file, error),
      onWarning: options.onWarning ?? (() => {}),
    })
  }

  /**
   * Creates `<data_dir>/log/<server_id>/sessions/default/` (dirs 0700) and the session's files
   * (O_EXCL|O_NOFOLLOW, 0600 whatever the umask), writes `<sid>.index`, and opens today's host log.
   * Throws UnsafeLogTreeError (symlink / foreign owner in the log tree), SessionExistsError,
   * InvalidSessionIdError, or StorageWriteError (cannot create directories or files).
   */
  static async create(options: SessionWriterOptions): Promise<SessionWriter> {
    assertValidSid(options.sid)
    assertValidSid(options.common.server_id)
    const dir = sessionsDir(options.dataDir, options.common.server_id)
    try {
      ensureLogTree(options.dataDir, dir)
    } catch (error) {
      if (error instanceof UnsafeLogTreeError) throw error
      throw new StorageWriteError(dir, error)
    }
    const names = sessionFileNames(options.sid)
    const existing = fs.readdirSync(dir).find((name) => name === names.index || name === names.completed || name.startsWith(`${options.sid}-`))
    if (existing !== undefined) throw new SessionExistsError(options.sid, path.join(dir, existing))

    let created: (CreatedFiles & {claim?: RatchetState}) | undefined
    try {
      created = createSessionFiles(dir, options.sid)
      // The host's next session number (docs/integrity.md), taken once the files exist: a number
      // is skipped only when the header cannot be written just below.
      created.claim = claimSessionNumber(options.dataDir)
      const writer = new SessionWriter(options, created as CreatedFiles & {claim: RatchetState})
      writer.hostLog.open(writer.startedAt)
      return writer
    } catch (error) {
      if (created) {
        created.remove()
      }
      if (error instanceof SessionExistsError || error instanceof UnsafeLogTreeError || error instanceof IntegrityKeyError) throw error
      const file = (error as {path?: string}).path ?? dir
      throw new StorageWriteError(file, error)
    }
  }

  /** The write failure that stopped the recording, if any. */
  get error(): StorageWriteError | undefined {
    return this.failure
  }

  /** Events written so far (the next event's `ei`). */
  get eventCount(): number {
    return this.nextEi
  }

  /** Terminal output bytes accepted so far. */
  get chunkBytes(): number {
    return this.chunkOffset
  }

  /** Bytes accepted but not yet written, in every sink. */
  get pendingBytes(): number {
    let n = this.files.pendingBytes
    for (const sink of this.others) n += sink.pendingBytes ?? 0
    return n
  }

  /**
   * Writes an event: stamps ei, uid, time (from `at`, default now) and the common fields, then
   * appends it to `<sid>-0.events.gz`, to the per-kind file for session.command/disk/network, and
   * to the host audit log. Returns false when the caller should wait for drained().
   * session.end goes through end(); terminal output through print().
   */
  emit(body: EmittableBody, at?: Date | number): boolean {
    if (body.event === 'session.end') throw new TypeError('SessionWriter.emit: write session.end with end()')
    this.assertOpen()
    return this.write(body, at ?? Date.now())
  }

  /**
   * Kernel events whose lines the native addon already formatted (one poll-thread batch; each
   * line's tail is the line after `{"ei":N,`): they are numbered into one buffer, which the
   * session files and the host log take in one piece (Sink.writeLines); no string is made. Returns
   * false when the caller should wait for drained().
   */
  emitFormattedLines(lines: readonly KernelLine[]): boolean {
    this.assertOpen()
    const first = this.nextEi
    this.nextEi += lines.length
    if ((this.failure && this.others.length === 0) || lines.length === 0) return true
    const batch = numberLines(lines, first)
    if (!this.failure) {
      this.files.writeLines(batch)
      this.hostLog.writeLines(batch)
    }
    for (const sink of this.others) {
      if (sink.writeLines) sink.writeLines(batch)
      else for (let i = 0; i < lines.length; i++) sink.write(new BatchLine(batch, i))
    }
    return this.checkHigh(batch.data.length)
  }

  /** What the native addon needs to format this session's kernel event lines (emitFormattedLines). */
  lineFormat(): LineFormat {
    return this.formatter.lineFormat()
  }

  /** Shorthand for emit({event: 'resize', size: 'COLS:ROWS'}). */
  resize(cols: number, rows: number, at?: Date | number): boolean {
    return this.emit({event: 'resize', size: `${cols}:${rows}`}, at)
  }

  /**
   * The producer of the terminal bytes hashes them for the integrity chain as it hands them to
   * print() (the native pump, on its thread); `digest` gives the hash of all it handed over so far.
   * Before the first print().
   */
  hashOutputElsewhere(digest: () => OutputDigest): void {
    this.files.hashOutputElsewhere(digest)
  }

  /**
   * Terminal output: appends `data` to `<sid>-0.chunks.gz` and writes the print event (bytes, ms
   * since session start, offset into the chunk stream, ci). Takes ownership of `data` (do not
   * reuse the buffer). Returns false when the caller should pause the pty until drained().
   */
  print(data: Buffer, at?: Date | number): boolean {
    this.assertOpen()
    if (data.length === 0) return !this.needDrain
    const time = at ?? Date.now()
    const body: PrintBody = {
      event: 'print',
      bytes: data.length,
      ms: Math.max(0, Math.round(+time - this.startedAt)),
      offset: this.chunkOffset,
      ci: this.nextCi++,
    }
    this.chunkOffset += data.length
    if (!this.failure) this.files.output(data)
    for (const sink of this.others) sink.output?.(data)
    return this.write(body, time, data.length)
  }

  /** Resolves when pending bytes are below the low-water mark (at once if they are, or after a failure). */
  drained(): Promise<void> {
    if (!this.needDrain || this.failure) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Sync-flush every dirty stream now and wait until the bytes are in the files. */
  async flush(): Promise<void> {
    if (this.ended || this.failure) return
    await this.files.flush()
  }

  /**
   * Writes session.end (enhanced_recording: true; participants defaults to [user], session_start
   * to the start time, session_stop to `at`), finishes and closes every file, then writes
   * `<sid>.completed`. Never rejects: a write failure is returned (and was reported via onError).
   */
  async end(fields: SessionEndFields, at?: Date | number): Promise<EndResult> {
    this.assertOpen()
    const time = at ?? Date.now()
    const body: SessionEndBody = {
      event: 'session.end',
      enhanced_recording: true,
      ...fields,
      participants: fields.participants ?? [this.common.user],
      session_start: fields.session_start ?? formatEventTime(this.startedAt),
      session_stop: fields.session_stop ?? formatEventTime(time),
    }
    this.write(body, time)
    this.ended = true
    await Promise.all([this.files.end(), this.hostLog.end(), this.salvaged])
    if (!this.failure) {
      try {
        this.files.seal()
      } catch (error) {
        this.fail(this.paths.integrity, error as NodeJS.ErrnoException)
      }
    }
    if (!this.failure) {
      try {
        this.files.complete()
      } catch (error) {
        this.fail(this.paths.completed, error as NodeJS.ErrnoException)
      }
    }
    this.releaseDrainWaiters()
    return this.failure ? {completed: false, error: this.failure} : {completed: true}
  }

  /**
   * Stops at once without session.end (e.g. the caller is about to die): pending bytes are
   * dropped, files are closed; what was flushed stays readable as an unfinished session.
   */
  abort(): void {
    if (this.ended) return
    this.ended = true
    this.files.abort()
    this.hostLog.abort()
    this.releaseDrainWaiters()
  }

  /** `dataBytes`: terminal output accepted with this event (print), which counts as pending too. */
  private write(body: EmittableBody | PrintBody, at: Date | number, dataBytes = 0): boolean {
    const ei = this.nextEi++
    if (this.failure && this.others.length === 0) return true
    const line = this.formatter.line(body, ei, at)
    const bytes = Buffer.byteLength(line, 'utf8')
    this.fanOut(body.event, line, bytes, +at)
    return this.checkHigh(bytes + dataBytes)
  }

  /** The one line, to every sink: the recording's (until it failed), then the others. */
  private fanOut(event: string, text: string, bytes: number, timeMs: number): void {
    const line = {event, text, bytes, timeMs}
    if (!this.failure) {
      this.files.write(line)
      this.hostLog.write(line)
    }
    for (const sink of this.others) sink.write(line)
  }

  private checkHigh(bytes: number): boolean {
    if (this.failure) return true
    // Summing every file's pending bytes per event is measurable on the hot path: they are summed
    // again once 64 KiB more were written (the mark is soft: it may be passed by that much).
    this.writtenSinceCheck += bytes
    if (!this.needDrain && this.writtenSinceCheck >= CHECK_EVERY_BYTES) {
      this.writtenSinceCheck = 0
      if (this.pendingBytes > this.highWaterMark) this.needDrain = true
    }
    return !this.needDrain
  }

  private checkDrain(): void {
    if (this.needDrain && this.pendingBytes <= this.highWaterMark / 2) {
      this.needDrain = false
      this.releaseDrainWaiters()
      this.onDrainCallback?.()
    }
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const wake of waiters) wake()
  }

  private fail(file: string, cause: NodeJS.ErrnoException): void {
    if (this.failure) return
    this.failure = new StorageWriteError(file, cause)
    // The other files keep what they were given: each writes out what it accepted (where the
    // disk still takes it) and closes. end() waits for that.
    this.salvaged = Promise.all([this.files.salvage(), this.hostLog.end()]).then(() => undefined)
    this.needDrain = false
    this.releaseDrainWaiters()
    try {
      this.onErrorCallback?.(this.failure)
    } catch {
      // A throwing callback must not turn a reported disk error into an uncaught exception.
    }
  }

  private assertOpen(): void {
    if (this.ended) throw new Error(`session ${this.sid}: the recording was already ended`)
  }
}

/** checkHigh sums the files' pending bytes again after this many more were written. */
const CHECK_EVERY_BYTES = 64 * 1024

/** Line i of a batch, for a sink without writeLines: its text is decoded only when read. */
class BatchLine implements EventLine {
  readonly event: string
  readonly timeMs: number
  readonly bytes: number
  private readonly start: number

  constructor(
    private readonly batch: EventLines,
    i: number,
  ) {
    this.event = batch.lines[i]!.event
    this.timeMs = batch.lines[i]!.timeMs
    this.start = i > 0 ? batch.ends[i - 1]! : 0
    this.bytes = batch.ends[i]! - this.start
  }

  get text(): string {
    return this.batch.data.toString('utf8', this.start, this.start + this.bytes)
  }
}

const HEAD_BYTES = 6 // {"ei":
const COMMA = 0x2c
const ZERO = 0x30

/**
 * `{"ei":N,` + tail for each line, N counting up from `first`, in one buffer. Digits and bytes are
 * written in place: no string per line.
 */
function numberLines(lines: readonly KernelLine[], first: number): EventLines {
  const digitsMax = String(first + lines.length - 1).length
  let size = 0
  for (const line of lines) size += line.tailBytes
  const data = Buffer.allocUnsafe(size + lines.length * (HEAD_BYTES + digitsMax + 1))
  const ends = new Uint32Array(lines.length)
  let pos = 0
  let ei = first
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    data[pos] = 0x7b // {"ei":
    data[pos + 1] = 0x22
    data[pos + 2] = 0x65
    data[pos + 3] = 0x69
    data[pos + 4] = 0x22
    data[pos + 5] = 0x3a
    pos += HEAD_BYTES
    let scale = 1
    while (scale * 10 <= ei) scale *= 10
    for (let v = ei; scale >= 1; scale /= 10) {
      const digit = Math.floor(v / scale)
      data[pos++] = ZERO + digit
      v -= digit * scale
    }
    data[pos++] = COMMA
    pos += line.bytes.copy(data, pos, line.tailStart, line.tailStart + line.tailBytes)
    ends[i] = pos
    ei++
  }
  return {data: pos === data.length ? data : data.subarray(0, pos), ends, lines}
}

// Writes one session's recording (events, terminal chunks, index, completed marker) and its host-log lines.
import * as fs from 'node:fs'
import * as path from 'node:path'

import {SessionExistsError, StorageWriteError, UnsafeLogTreeError} from '../errors/index.js'
import {EventLineFormatter, formatEventTime} from '../events/stamp.js'
import {
  ENHANCED_EVENT_TYPES,
  type EmittableBody,
  type EnhancedEventType,
  type PrintBody,
  type SessionCommon,
  type SessionEndBody,
} from '../events/types.js'
import {GzipFileSink, type GzipFileSinkOptions} from './gzip-sink.js'
import {HostAuditLog} from './host-log.js'
import {FILE_MODE, assertValidSid, ensureLogTree, sessionFileNames, sessionPaths, sessionsDir, type SessionPaths} from './layout.js'

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

type Sinks = {events: GzipFileSink; chunks: GzipFileSink} & Record<EnhancedEventType, GzipFileSink>

/**
 * One session's recording, written as it goes (docs/STORAGE.md).
 *
 * Backpressure: `print()` and `emit()` return false once more than `highWaterMark` bytes are
 * accepted but not yet compressed and written; nothing is ever dropped. Stop reading the pty until
 * `await writer.drained()` resolves (or the 'drain' event fires). Compression runs on the libuv
 * threadpool; the main thread only batches buffers and serialises event JSON.
 *
 * Durability: every dirty gzip stream is sync-flushed every `flushIntervalMs` (≤ 1 s), so a
 * recorder killed with SIGKILL leaves files that replay up to about that long before the kill.
 *
 * Disk trouble: the first write failure is reported once through `onError` (and kept in
 * `writer.error`); the writer then accepts nothing more, the other files write out what they were
 * already given (where the disk still takes it) and close, and everything written stays readable.
 * It never throws asynchronously and never emits an 'error' event.
 *
 * `onDrain` (option) is called each time pending bytes fall back below half the high-water mark.
 */
export class SessionWriter {
  readonly sid: string
  readonly dataDir: string
  readonly paths: SessionPaths
  readonly common: SessionCommon
  readonly startedAt: number

  private readonly sinks: Sinks
  private readonly formatter: EventLineFormatter
  /** The sinks as an array: pendingBytes is read after every write. */
  private readonly sinkList: GzipFileSink[]
  private readonly hostLog: HostAuditLog
  private readonly onErrorCallback?: (error: StorageWriteError) => void
  private readonly onDrainCallback?: () => void
  private readonly highWaterMark: number
  private readonly timer: NodeJS.Timeout
  private nextEi = 0
  private nextCi = 0
  private chunkOffset = 0
  private needDrain = false
  /** Bytes accepted since the pending bytes were last summed (checkHigh). */
  private writtenSinceCheck = 0
  private drainWaiters: Array<() => void> = []
  private flushing = false
  private ended = false
  private failure: StorageWriteError | undefined
  /** After a failure: settles when the other files have written out what they held. */
  private salvaged: Promise<void> = Promise.resolve()

  private constructor(init: {
    options: SessionWriterOptions
    paths: SessionPaths
    fds: Record<'events' | 'chunks' | EnhancedEventType, number>
  }) {
    const {options, paths, fds} = init
    this.sid = options.sid
    this.dataDir = options.dataDir
    this.paths = paths
    this.common = {...options.common}
    this.formatter = new EventLineFormatter(this.sid, this.common)
    this.startedAt = options.startedAt === undefined ? Date.now() : +options.startedAt
    this.onErrorCallback = options.onError
    this.onDrainCallback = options.onDrain
    this.highWaterMark = options.highWaterMark ?? 8 * 1024 * 1024
    const chunksLevel = options.chunksLevel ?? 1
    const eventsLevel = options.eventsLevel ?? 1
    const sink = (file: string, fd: number, level: number, extra: Partial<GzipFileSinkOptions> = {}): GzipFileSink =>
      new GzipFileSink({
        path: file,
        fd,
        level,
        onError: (error) => this.fail(file, error),
        onProgress: () => this.checkDrain(),
        ...extra,
      })
    this.sinks = {
      events: sink(paths.events, fds.events, eventsLevel),
      chunks: sink(paths.chunks, fds.chunks, chunksLevel, {
        storeWhenBehind: options.storeChunksWhenBehind ?? 2 * 1024 * 1024,
        chunkSize: 256 * 1024,
      }),
      'session.command': sink(paths.enhanced['session.command'], fds['session.command'], eventsLevel),
      'session.disk': sink(paths.enhanced['session.disk'], fds['session.disk'], eventsLevel),
      'session.network': sink(paths.enhanced['session.network'], fds['session.network'], eventsLevel),
    }
    this.sinkList = Object.values(this.sinks)
    const onWarning = options.onWarning ?? (() => {})
    this.hostLog = new HostAuditLog({
      dataDir: options.dataDir,
      serverId: options.common.server_id,
      onError: (error, file) => this.fail(file, error),
      onWarning,
    })
    const interval = Math.min(Math.max(options.flushIntervalMs ?? 500, 10), 1000)
    this.timer = setInterval(() => void this.flush(), interval)
    this.timer.unref()
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

    const paths = sessionPaths(dir, options.sid)
    const created: Array<{file: string; fd: number}> = []
    const openNew = (file: string): number => {
      const fd = openExclusive(file, options.sid)
      created.push({file, fd})
      return fd
    }
    let writer: SessionWriter
    try {
      const indexFd = openNew(paths.index)
      const fds = {
        events: openNew(paths.events),
        chunks: openNew(paths.chunks),
        'session.command': openNew(paths.enhanced['session.command']),
        'session.disk': openNew(paths.enhanced['session.disk']),
        'session.network': openNew(paths.enhanced['session.network']),
      }
      // The index names every file of the recording, as Teleport's session index does.
      const entry = (fileName: string, type: string) => JSON.stringify({file_name: fileName, type, index: 0, offset: 0}) + '\n'
      const index =
        entry(names.events, 'events') +
        entry(names.chunks, 'chunks') +
        ENHANCED_EVENT_TYPES.map((type) => entry(names.enhanced[type], type)).join('')
      writeFully(indexFd, index)
      fs.fsyncSync(indexFd)
      fs.closeSync(indexFd)
      created[0]!.fd = -1
      writer = new SessionWriter({options, paths, fds})
      writer.hostLog.open(writer.startedAt)
    } catch (error) {
      for (const {file, fd} of created) {
        if (fd >= 0) fs.closeSync(fd)
        // Only remove what this call created (O_EXCL guarantees these are ours).
        fs.rmSync(file, {force: true})
      }
      if (error instanceof SessionExistsError || error instanceof UnsafeLogTreeError) throw error
      const file = (error as {path?: string}).path ?? dir
      throw new StorageWriteError(file, error)
    }
    return writer
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

  /** Bytes accepted but not yet written (uncompressed + compressed queues). */
  get pendingBytes(): number {
    let n = 0
    for (const sink of this.sinkList) n += sink.pendingBytes
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
    return this.write(body, at ?? Date.now()).ok
  }

  /**
   * Writes a session.command, session.disk or session.network event whose line was already formatted (by the
   * native addon: `tail` is the line after `{"ei":N,`, `tailBytes` its UTF-8 length): numbers it
   * and appends it where emit() would. Returns false when the caller should wait for drained().
   */
  emitFormatted(event: 'session.command' | 'session.disk' | 'session.network', tail: string, tailBytes: number, at: number): boolean {
    this.assertOpen()
    const ei = this.nextEi++
    if (this.failure) return true
    const head = `{"ei":${ei},`
    const bytes = head.length + tailBytes
    this.appendLine(event, head + tail, bytes, at)
    return this.checkHigh(bytes)
  }

  /** What the native addon needs to format this session's command, disk and network lines (emitFormatted). */
  lineFormat(): {commandHead: string; diskHead: string; networkHead: string; common: string} {
    return this.formatter.lineFormat()
  }

  /** Shorthand for emit({event: 'resize', size: 'COLS:ROWS'}). */
  resize(cols: number, rows: number, at?: Date | number): boolean {
    return this.emit({event: 'resize', size: `${cols}:${rows}`}, at)
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
    if (!this.failure) this.sinks.chunks.write(data)
    return this.write(body, time, data.length).ok
  }

  /** Resolves when pending bytes are below the low-water mark (at once if they are, or after a failure). */
  drained(): Promise<void> {
    if (!this.needDrain || this.failure) return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  /** Sync-flush every dirty stream now and wait until the bytes are in the files. */
  async flush(): Promise<void> {
    if (this.flushing || this.ended || this.failure) return
    this.flushing = true
    try {
      await Promise.all(Object.values(this.sinks).filter((sink) => sink.isDirty).map((sink) => sink.flush()))
    } finally {
      this.flushing = false
    }
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
    clearInterval(this.timer)
    await Promise.all([...this.sinkList.map((sink) => sink.end()), this.hostLog.close(), this.salvaged])
    if (!this.failure) {
      try {
        const fd = openExclusive(this.paths.completed, this.sid)
        fs.fsyncSync(fd)
        fs.closeSync(fd)
        syncDir(this.paths.dir)
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
    clearInterval(this.timer)
    for (const sink of Object.values(this.sinks)) sink.abort()
    this.hostLog.abort()
    this.releaseDrainWaiters()
  }

  /** `dataBytes`: terminal output accepted with this event (print), which counts as pending too. */
  private write(body: EmittableBody | PrintBody, at: Date | number, dataBytes = 0): {ok: boolean} {
    const ei = this.nextEi++
    if (this.failure) return {ok: true}
    const line = this.formatter.line(body, ei, at)
    const bytes = Buffer.byteLength(line, 'utf8')
    this.appendLine(body.event, line, bytes, at)
    return {ok: this.checkHigh(bytes + dataBytes)}
  }

  /** Where an event's line goes: the events file, its kind's file (enhanced events), the host log (all but print). */
  private appendLine(event: string, line: string, bytes: number, at: Date | number): void {
    this.sinks.events.writeText(line, bytes)
    if (isEnhanced(event)) this.sinks[event].writeText(line, bytes)
    if (event !== 'print') this.hostLog.append(line, at)
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
    clearInterval(this.timer)
    // The other files keep what they were given: each writes out what it accepted (where the
    // disk still takes it) and closes. end() waits for that.
    this.salvaged = Promise.all([...this.sinkList.map((sink) => sink.salvage()), this.hostLog.close()]).then(() => undefined)
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

function isEnhanced(event: string): event is EnhancedEventType {
  return (ENHANCED_EVENT_TYPES as readonly string[]).includes(event)
}

/** O_CREAT|O_EXCL|O_NOFOLLOW, then fchmod 0600 so the umask cannot loosen it. */
function openExclusive(file: string, sid: string): number {
  const flags =
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW
  let fd: number
  try {
    fd = fs.openSync(file, flags, FILE_MODE)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new SessionExistsError(sid, file)
    throw error
  }
  fs.fchmodSync(fd, FILE_MODE)
  return fd
}

function writeFully(fd: number, text: string): void {
  const data = Buffer.from(text, 'utf8')
  let done = 0
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done)
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

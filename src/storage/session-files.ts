// A session's own files (docs/file-layout.md): `<sid>.index`, the events file, the terminal chunks,
// one file per enhanced event kind, and `<sid>.completed` at the very end. A Sink of the record
// pipeline: every event line goes to the events file and, for an enhanced event, to its kind's file.
import * as fs from 'node:fs'

import {type EventLine, type EventLines, type Sink, forEachRun} from '../record/sink.js'
import {SessionExistsError} from '../errors/index.js'
import {ENHANCED_EVENT_TYPES, type EnhancedEventType} from '../events/types.js'
import type {IntegrityChain} from '../integrity/chain.js'
import type {OutputDigest} from '../native/types.js'
import {GzipFile, type GzipFileOptions} from './gzip-file.js'
import {FILE_MODE, sessionFileNames, sessionPaths, type SessionPaths} from './layout.js'

type FileKey = 'events' | 'chunks' | 'integrity' | EnhancedEventType

/** The files createSessionFiles() made, open for writing (the index is written and closed). */
export interface CreatedFiles {
  paths: SessionPaths
  fds: Record<FileKey, number>
  /** Closes and deletes them: the session could not start after all. */
  remove(): void
}

/**
 * Creates the session's files in `dir` (O_EXCL|O_NOFOLLOW, 0600 whatever the umask) and writes
 * and fsyncs `<sid>.index`. Throws SessionExistsError when one exists; on any failure removes
 * what it created (O_EXCL guarantees that is ours) and rethrows.
 */
export function createSessionFiles(dir: string, sid: string): CreatedFiles {
  const names = sessionFileNames(sid)
  const paths = sessionPaths(dir, sid)
  const created: Array<{file: string; fd: number}> = []
  const remove = (): void => {
    for (const {file, fd} of created) {
      if (fd >= 0) fs.closeSync(fd)
      fs.rmSync(file, {force: true})
    }
  }
  const openNew = (file: string): number => {
    const fd = openExclusive(file, sid)
    created.push({file, fd})
    return fd
  }
  try {
    const indexFd = openNew(paths.index)
    const fds = {
      events: openNew(paths.events),
      chunks: openNew(paths.chunks),
      'session.command': openNew(paths.enhanced['session.command']),
      'session.disk': openNew(paths.enhanced['session.disk']),
      'session.network': openNew(paths.enhanced['session.network']),
      integrity: openNew(paths.integrity),
    }
    // The index names every file of the recording, as Teleport's session index does.
    const entry = (fileName: string, type: string) => JSON.stringify({file_name: fileName, type, index: 0, offset: 0}) + '\n'
    const index = entry(names.events, 'events') + entry(names.chunks, 'chunks') + ENHANCED_EVENT_TYPES.map((type) => entry(names.enhanced[type], type)).join('')
    writeFully(indexFd, index)
    fs.fsyncSync(indexFd)
    fs.closeSync(indexFd)
    created[0]!.fd = -1
    return {paths, fds, remove}
  } catch (error) {
    remove()
    throw error
  }
}

export interface SessionFilesOptions {
  /** How often dirty gzip streams are sync-flushed (ms), 10 to 1000. */
  flushIntervalMs: number
  chunksLevel: number
  storeChunksWhenBehind: number
  eventsLevel: number
  /** A file failed to write (reported by each file once). */
  onError: (file: string, error: NodeJS.ErrnoException) => void
  /** Pending bytes went down. */
  onProgress: () => void
  /** The session's hash chain (src/integrity/chain.ts): given every byte, checkpointed after each flush. */
  chain: IntegrityChain
}

/**
 * The session's gzip files, written as the session goes. Every dirty stream is sync-flushed every
 * `flushIntervalMs`, so a recorder killed with SIGKILL leaves files that replay up to about that
 * long before the kill.
 */
export class SessionFiles implements Sink {
  readonly paths: SessionPaths
  private readonly sid: string
  private readonly files: {events: GzipFile; chunks: GzipFile} & Record<EnhancedEventType, GzipFile>
  /** The files as an array: pendingBytes is read often. */
  private readonly list: GzipFile[]
  private readonly timer: NodeJS.Timeout
  private readonly chain: IntegrityChain
  private flushing = false
  private closed = false

  constructor(sid: string, created: CreatedFiles, options: SessionFilesOptions) {
    const {paths, fds} = created
    this.sid = sid
    this.paths = paths
    this.chain = options.chain
    const file = (path: string, fd: number, level: number, extra: Partial<GzipFileOptions> = {}): GzipFile =>
      new GzipFile({
        path,
        fd,
        level,
        onError: (error) => options.onError(path, error),
        onProgress: options.onProgress,
        ...extra,
      })
    this.files = {
      // The chain hashes the events file's bytes as they go to its compressor (docs/integrity.md).
      events: file(paths.events, fds.events, options.eventsLevel, {onInput: (data) => this.chain.addEvents(data)}),
      chunks: file(paths.chunks, fds.chunks, options.chunksLevel, {
        storeWhenBehind: options.storeChunksWhenBehind,
        chunkSize: 256 * 1024,
      }),
      'session.command': file(paths.enhanced['session.command'], fds['session.command'], options.eventsLevel),
      'session.disk': file(paths.enhanced['session.disk'], fds['session.disk'], options.eventsLevel),
      'session.network': file(paths.enhanced['session.network'], fds['session.network'], options.eventsLevel),
    }
    this.list = Object.values(this.files)
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs)
    this.timer.unref()
  }

  get pendingBytes(): number {
    let n = 0
    for (const file of this.list) n += file.pendingBytes
    return n
  }

  /** Every line to the events file; an enhanced event's also to its kind's file. */
  write(line: EventLine): void {
    this.files.events.writeText(line.text, line.bytes)
    if (isEnhanced(line.event)) this.files[line.event].writeText(line.text, line.bytes)
  }

  /** write() for each line: all of them to the events file, each kind's runs (views of data) to its file. */
  writeLines(batch: EventLines): void {
    this.files.events.write(batch.data)
    forEachRun(
      batch,
      (line) => line.event,
      (bytes, event) => {
        if (isEnhanced(event)) this.files[event].write(bytes)
      },
    )
  }

  /** The chain takes the terminal bytes' hash from their producer (IntegrityChain.hashOutputElsewhere). */
  hashOutputElsewhere(digest: () => OutputDigest): void {
    this.chain.hashOutputElsewhere(digest)
  }

  output(data: Buffer): void {
    this.chain.addOutput(data)
    this.files.chunks.write(data)
  }

  /**
   * Sync-flush every dirty stream now and wait until the bytes are in the files; then the chain's
   * checkpoint for what they hold. The snapshot is taken once each flush has handed its batch to
   * zlib (the chain has hashed it): all of that is in the files when the flushes are done.
   */
  async flush(): Promise<void> {
    if (this.flushing || this.closed) return
    this.flushing = true
    try {
      const flushes = this.list.filter((file) => file.isDirty).map((file) => file.flush())
      const snapshot = this.chain.snapshot()
      await Promise.all(flushes)
      if (!this.list.some((file) => file.hasFailed)) this.chain.commit(snapshot)
    } finally {
      this.flushing = false
    }
  }

  /** Another part of the recording failed: each file writes out what it accepted (where the disk still takes it) and closes. */
  salvage(): Promise<void> {
    this.stop()
    this.chain.close()
    return Promise.all(this.list.map((file) => file.salvage())).then(() => undefined)
  }

  /** Finishes every gzip stream and closes the files. */
  async end(): Promise<void> {
    this.stop()
    await Promise.all(this.list.map((file) => file.end()))
  }

  /** After end(): the chain's last checkpoint, sealed, synced. Throws when it cannot be written. */
  seal(): void {
    this.chain.seal()
  }

  /** Writes `<sid>.completed` and syncs the directory: the recording is whole. Throws on failure. */
  complete(): void {
    const fd = openExclusive(this.paths.completed, this.sid)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    syncDir(this.paths.dir)
  }

  abort(): void {
    this.stop()
    this.chain.close()
    for (const file of this.list) file.abort()
  }

  /** No more periodic flushes. */
  private stop(): void {
    this.closed = true
    clearInterval(this.timer)
  }
}

function isEnhanced(event: string): event is EnhancedEventType {
  return (ENHANCED_EVENT_TYPES as readonly string[]).includes(event)
}

/** O_CREAT|O_EXCL|O_NOFOLLOW, then fchmod 0600 so the umask cannot loosen it. */
function openExclusive(file: string, sid: string): number {
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW
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

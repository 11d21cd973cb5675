// The host audit log: `<data_dir>/log/<server_id>/<YYYY-MM-DD>.00:00:00.log`, one JSON line per event.
import {randomBytes} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {UnsafeLogTreeError} from '../errors/index.js'
import {type EventLine, type EventLines, type Sink, forEachRun} from '../record/sink.js'
import {EVENTS_LOG_SYMLINK, FILE_MODE, hostLogName, logDir, serverDir} from './layout.js'

const COALESCE_MS = 50
const DAY_MS = 86_400_000

/**
 * Appends event lines to the day's host log (UTC day of the event's time): a Sink of the record
 * pipeline that takes every event line but print (terminal output is the session's alone).
 *
 * The file is opened O_APPEND and every batch of complete lines goes out in one write(), so
 * several recorders (several sessions, several processes) never interleave partial lines. Writes
 * are serialised (one in flight), which keeps this session's lines in order. Opening a day's file
 * also points `<data_dir>/log/events.log` at it, replaced atomically (temp symlink + rename).
 */
export class HostAuditLog implements Sink {
  private readonly dataDir: string
  private readonly serverId: string
  private readonly onError: (error: NodeJS.ErrnoException, file: string) => void
  private readonly onWarning: (message: string) => void
  private fd: number | undefined
  private currentName: string | undefined
  private queue: Array<{name: string; line: string | Buffer}> = []
  private writing = false
  private failed = false
  private closed = false
  private idleWaiters: Array<() => void> = []
  /** Lines wait up to COALESCE_MS to go out together: each write() is a threadpool round trip. */
  private kickTimer: NodeJS.Timeout | undefined
  private dayCache: {day: number; name: string} | undefined

  constructor(options: {
    dataDir: string
    serverId: string
    onError: (error: NodeJS.ErrnoException, file: string) => void
    onWarning: (message: string) => void
  }) {
    this.dataDir = options.dataDir
    this.serverId = options.serverId
    this.onError = options.onError
    this.onWarning = options.onWarning
  }

  /** Path of the day's file for a time. */
  fileFor(at: Date | number): string {
    return path.join(serverDir(this.dataDir, this.serverId), hostLogName(at))
  }

  /** Opens today's file now (so problems show at session start, not at the first event). */
  open(at: Date | number): void {
    this.switchTo(hostLogName(at))
  }

  write(line: EventLine): void {
    if (line.event !== 'print') this.append(line.text, line.timeMs)
  }

  /** Every line but print's; a day's run of lines in one piece (no line is print: kernel events). */
  writeLines(batch: EventLines): void {
    forEachRun(
      batch,
      (line) => Math.floor(line.timeMs / DAY_MS),
      (bytes, _day, first) => this.append(bytes, batch.lines[first]!.timeMs),
    )
  }

  /** Queue complete lines (each ending in '\n'; bytes are not modified afterwards) for the day of `at`. */
  append(line: string | Buffer, at: Date | number): void {
    if (this.failed || this.closed) return
    this.queue.push({name: this.nameFor(at), line})
    if (this.kickTimer === undefined && !this.writing) {
      this.kickTimer = setTimeout(() => {
        this.kickTimer = undefined
        this.kick()
      }, COALESCE_MS)
    }
  }

  /** Wait for queued lines to be written, then close. */
  async end(): Promise<void> {
    this.closed = true
    this.clearKickTimer()
    this.kick()
    if (this.writing || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    this.closeFd()
  }

  abort(): void {
    this.clearKickTimer()
    this.failed = true
    this.queue = []
    if (!this.writing) this.closeFd()
    this.wake()
  }

  /** hostLogName(at), computed once per UTC day. */
  private nameFor(at: Date | number): string {
    const day = Math.floor(+at / DAY_MS)
    if (this.dayCache?.day !== day) this.dayCache = {day, name: hostLogName(at)}
    return this.dayCache.name
  }

  private clearKickTimer(): void {
    if (this.kickTimer === undefined) return
    clearTimeout(this.kickTimer)
    this.kickTimer = undefined
  }

  private kick(): void {
    if (this.writing || this.failed) return
    const first = this.queue[0]
    if (first === undefined) {
      this.wake()
      return
    }
    if (first.name !== this.currentName) {
      try {
        this.switchTo(first.name)
      } catch (error) {
        this.fail(error as NodeJS.ErrnoException, path.join(serverDir(this.dataDir, this.serverId), first.name))
        return
      }
    }
    // Every queued line for the same file goes out in one write().
    let count = 0
    let text = ''
    let parts: Buffer[] | undefined // once lines come as bytes
    for (const item of this.queue) {
      if (item.name !== first.name) break
      if (typeof item.line === 'string') {
        text += item.line
      } else {
        parts ??= []
        if (text !== '') parts.push(Buffer.from(text, 'utf8'))
        text = ''
        parts.push(item.line)
      }
      count++
    }
    this.queue.splice(0, count)
    if (parts && text !== '') parts.push(Buffer.from(text, 'utf8'))
    this.writeAll(parts ? (parts.length === 1 ? parts[0]! : Buffer.concat(parts)) : Buffer.from(text, 'utf8'))
  }

  private writeAll(data: Buffer): void {
    const fd = this.fd!
    const file = this.fileFor(Date.now())
    this.writing = true
    fs.write(fd, data, 0, data.length, null, (error, written) => {
      this.writing = false
      if (this.failed) {
        this.closeFd()
        this.wake()
        return
      }
      if (error) {
        this.fail(error, this.currentName ? path.join(serverDir(this.dataDir, this.serverId), this.currentName) : file)
        return
      }
      if (written < data.length) {
        this.writeAll(data.subarray(written))
        return
      }
      this.kick()
    })
  }

  private switchTo(name: string): void {
    this.closeFd()
    const file = path.join(serverDir(this.dataDir, this.serverId), name)
    const fd = openHostLog(file)
    this.fd = fd
    this.currentName = name
    this.pointSymlink(name)
  }

  /** `<data_dir>/log/events.log -> <server_id>/<name>`, replaced atomically. */
  private pointSymlink(name: string): void {
    const link = path.join(logDir(this.dataDir), EVENTS_LOG_SYMLINK)
    const target = path.join(this.serverId, name)
    let current: fs.Stats | undefined
    try {
      current = fs.lstatSync(link)
    } catch {
      // Missing: created below.
    }
    // Only a symlink is ours to replace: a file or directory there is someone else's (rename()
    // would silently clobber it).
    if (current !== undefined && !current.isSymbolicLink()) {
      this.onWarning(`${link} is not a symbolic link; left as it is`)
      return
    }
    if (current !== undefined && fs.readlinkSync(link) === target) return
    const temp = `${link}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      fs.symlinkSync(target, temp)
      fs.renameSync(temp, link)
    } catch (error) {
      try {
        fs.unlinkSync(temp)
      } catch {
        // The temp link was never created.
      }
      this.onWarning(`cannot point ${link} at ${target}: ${(error as Error).message}`)
    }
  }

  private fail(error: NodeJS.ErrnoException, file: string): void {
    if (this.failed) return
    this.clearKickTimer()
    this.failed = true
    this.queue = []
    this.closeFd()
    this.wake()
    this.onError(error, file)
  }

  private wake(): void {
    if (this.writing || this.queue.length > 0) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }

  private closeFd(): void {
    if (this.fd === undefined || this.writing) return
    const fd = this.fd
    this.fd = undefined
    this.currentName = undefined
    try {
      fs.closeSync(fd)
    } catch {
      // Already reported through onError when it matters.
    }
  }
}

/**
 * Opens a day's host log for appending: created 0600 (O_EXCL, whatever the umask), or an existing
 * one that is a regular file of ours no one else may read. O_NOFOLLOW and O_NONBLOCK: a symlink or
 * a FIFO planted at the name is refused (a FIFO with no reader would otherwise block forever), and
 * audit lines never go into someone else's file. Throws UnsafeLogTreeError for those.
 */
function openHostLog(file: string): number {
  const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY
  let fd: number
  try {
    fd = fs.openSync(file, flags | fs.constants.O_CREAT | fs.constants.O_EXCL, FILE_MODE)
    try {
      fs.fchmodSync(fd, FILE_MODE)
    } catch (error) {
      fs.closeSync(fd)
      throw error
    }
    return fd
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  try {
    fd = fs.openSync(file, flags)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw new UnsafeLogTreeError(file, 'it is a symbolic link (the log tree never follows symlinks)')
    if (code === 'ENXIO') throw new UnsafeLogTreeError(file, 'it is a FIFO, not a regular file')
    throw error
  }
  const st = fs.fstatSync(fd)
  const euid = process.geteuid?.() ?? st.uid
  let problem: string | undefined
  if (!st.isFile()) problem = 'it is not a regular file'
  else if (st.uid !== euid) problem = `it is owned by uid ${st.uid}, not by uid ${euid}`
  else if ((st.mode & 0o077) !== 0) problem = `other users may read or write it (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`
  if (problem) {
    fs.closeSync(fd)
    throw new UnsafeLogTreeError(file, problem)
  }
  return fd
}

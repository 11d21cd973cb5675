// Names and paths of Teleport's file-based audit-log layout (docs/file-layout.md), and the host's server_id.
import {randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import type {EnhancedEventType} from '../events/types.js'
import {InvalidSessionIdError, ServerIdError, UnsafeLogTreeError} from '../errors/index.js'
import {untrustedAncestor} from './trusted-path.js'

export const NAMESPACE = 'default'
export const LOG_DIR = 'log'
export const SESSIONS_DIR = 'sessions'
export const HOST_UUID_FILE = 'host_uuid'
export const EVENTS_LOG_SYMLINK = 'events.log'

export const DIR_MODE = 0o700
export const FILE_MODE = 0o600

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const SID_RE = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/

export function isUuid(value: string): boolean {
  return UUID_RE.test(value)
}

/** Throws InvalidSessionIdError unless sid can safely name files. */
export function assertValidSid(sid: string): void {
  if (!SID_RE.test(sid)) throw new InvalidSessionIdError(sid)
}

/** `<data_dir>/log` */
export function logDir(dataDir: string): string {
  return path.join(dataDir, LOG_DIR)
}

/** `<data_dir>/log/<server_id>` — holds the host audit log files. */
export function serverDir(dataDir: string, serverId: string): string {
  return path.join(dataDir, LOG_DIR, serverId)
}

/** `<data_dir>/log/<server_id>/sessions/default` */
export function sessionsDir(dataDir: string, serverId: string): string {
  return path.join(dataDir, LOG_DIR, serverId, SESSIONS_DIR, NAMESPACE)
}

/** File names (not paths) of one session's recording. */
export interface SessionFileNames {
  index: string
  events: string
  chunks: string
  enhanced: Record<EnhancedEventType, string>
  completed: string
  /** er-shell's own: the session's hash chain and checkpoints (docs/integrity.md); not in the index. */
  integrity: string
}

export function sessionFileNames(sid: string): SessionFileNames {
  return {
    index: `${sid}.index`,
    events: `${sid}-0.events.gz`,
    chunks: `${sid}-0.chunks.gz`,
    enhanced: {
      'session.command': `${sid}-0.session.command-events.gz`,
      'session.disk': `${sid}-0.session.disk-events.gz`,
      'session.network': `${sid}-0.session.network-events.gz`,
    },
    completed: `${sid}.completed`,
    integrity: `${sid}.integrity`,
  }
}

/** Absolute paths of one session's files. */
export interface SessionPaths {
  dir: string
  index: string
  events: string
  chunks: string
  enhanced: Record<EnhancedEventType, string>
  completed: string
  integrity: string
}

export function sessionPaths(dir: string, sid: string): SessionPaths {
  const names = sessionFileNames(sid)
  return {
    dir,
    index: path.join(dir, names.index),
    events: path.join(dir, names.events),
    chunks: path.join(dir, names.chunks),
    enhanced: {
      'session.command': path.join(dir, names.enhanced['session.command']),
      'session.disk': path.join(dir, names.enhanced['session.disk']),
      'session.network': path.join(dir, names.enhanced['session.network']),
    },
    completed: path.join(dir, names.completed),
    integrity: path.join(dir, names.integrity),
  }
}

/** Host audit log file name for a UTC day: `YYYY-MM-DD.00:00:00.log`. */
export function hostLogName(at: Date | number = Date.now()): string {
  const day = new Date(at).toISOString().slice(0, 10)
  return `${day}.00:00:00.log`
}

/**
 * Checks one existing directory of the log tree: a real directory (not a symlink), owned by the
 * effective uid, writable by neither group nor others. Returns false when it does not exist.
 */
export function checkTreeDir(dir: string): boolean {
  let st: fs.Stats
  try {
    st = fs.lstatSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
  if (st.isSymbolicLink()) throw new UnsafeLogTreeError(dir, 'it is a symbolic link (the log tree never follows symlinks)')
  if (!st.isDirectory()) throw new UnsafeLogTreeError(dir, 'it is not a directory')
  const euid = process.geteuid?.() ?? st.uid
  if (st.uid !== euid) throw new UnsafeLogTreeError(dir, `it is owned by uid ${st.uid}, not by uid ${euid}`)
  if ((st.mode & 0o022) !== 0)
    throw new UnsafeLogTreeError(dir, `it is writable by ${(st.mode & 0o002) !== 0 ? 'every user' : `group ${st.gid}`} (mode ${modeOf(st)})`)
  return true
}

function modeOf(st: fs.Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0')
}

/**
 * An existing data dir must be ours and writable by no one else: whoever can write to it can swap
 * `log/` for a symlink or another tree between our checks, or replace recordings (docs/file-layout.md:
 * private, never follow a planted symlink). So must every directory above it, as for sudo's I/O
 * logs (untrustedAncestor: a root-owned sticky /tmp is fine). A symlink as the data dir is an
 * admin's choice only when root or we own it; its target is checked like the directory.
 * Missing: fine (created 0700 below safe ancestors).
 */
export function checkDataDir(dataDir: string): void {
  const unsafe = untrustedAncestor(dataDir)
  if (unsafe) throw new UnsafeLogTreeError(dataDir, `${unsafe.path} ${unsafe.problem} (that user could replace the recordings)`)
  let st: fs.Stats
  try {
    st = fs.statSync(dataDir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  if (!st.isDirectory()) throw new UnsafeLogTreeError(dataDir, 'it is not a directory')
  const euid = process.geteuid?.() ?? st.uid
  if (st.uid !== euid) {
    throw new UnsafeLogTreeError(dataDir, `it is owned by uid ${st.uid}, not by uid ${euid} (that user could replace the recordings)`)
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafeLogTreeError(dataDir, `it is writable by ${(st.mode & 0o002) !== 0 ? 'every user' : `group ${st.gid}`} (mode ${modeOf(st)})`)
  }
}

/**
 * Creates (0700, whatever the umask) or checks each directory from `<data_dir>/log` down to `dir`.
 * data_dir itself is created 0700 when missing, but may be a symlink (an admin's choice).
 */
export function ensureLogTree(dataDir: string, dir: string): void {
  ensureDataDir(dataDir)
  const root = logDir(dataDir)
  const rel = path.relative(root, dir)
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${dir} is not inside ${root}`)
  let current = root
  const parts = rel === '' ? [] : rel.split(path.sep)
  for (let i = -1; i < parts.length; i++) {
    if (i >= 0) current = path.join(current, parts[i]!)
    if (!checkTreeDir(current)) {
      try {
        fs.mkdirSync(current, {mode: DIR_MODE})
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      fs.chmodSync(current, DIR_MODE)
      checkTreeDir(current)
    }
  }
}

function ensureDataDir(dataDir: string): void {
  checkDataDir(dataDir)
  if (fs.existsSync(dataDir)) return
  fs.mkdirSync(dataDir, {recursive: true, mode: DIR_MODE})
  fs.chmodSync(dataDir, DIR_MODE)
}

/**
 * The host's stable server_id, kept in `<data_dir>/host_uuid` as Teleport does: read it, or create
 * it once (0600, O_EXCL so two first recorders agree on one id).
 */
export function ensureServerId(dataDir: string): string {
  ensureDataDir(dataDir)
  const file = path.join(dataDir, HOST_UUID_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    const existing = readServerId(dataDir)
    if (existing !== undefined) return existing
    const id = randomUUID()
    let fd: number
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, FILE_MODE)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw new ServerIdError(file, `cannot be created: ${(error as Error).message}`, error)
    }
    try {
      fs.fchmodSync(fd, FILE_MODE)
      fs.writeSync(fd, id)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    return id
  }
  // Created concurrently but still empty: a writer is between open and write.
  const again = readServerId(dataDir)
  if (again !== undefined) return again
  throw new ServerIdError(file, 'is empty')
}

/** The server_id in `<data_dir>/host_uuid`, or undefined when there is none yet. */
export function readServerId(dataDir: string): string | undefined {
  const file = path.join(dataDir, HOST_UUID_FILE)
  let text: string
  try {
    // Non-blocking: a FIFO planted at the name is refused below instead of hanging the recorder.
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
    try {
      if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error('it is not a regular file'), {code: 'EFTYPE'})
      text = fs.readFileSync(fd, 'utf8').trim()
    } finally {
      fs.closeSync(fd)
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code === 'ELOOP') throw new ServerIdError(file, 'is a symbolic link; refusing to follow it', error)
    if (code === 'EFTYPE') throw new ServerIdError(file, 'is not a regular file', error)
    throw new ServerIdError(file, `cannot be read: ${(error as Error).message}`, error)
  }
  if (text === '') return undefined
  if (!isUuid(text)) throw new ServerIdError(file, `does not hold a UUID (found ${JSON.stringify(text.slice(0, 40))})`)
  return text
}

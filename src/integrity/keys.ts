// The host's integrity keys (docs/integrity.md): the verification key (the ratchet's start, k0), the
// ratchet's current state (k_n and the host's next session number n), and the key derivations.
import {createHash, createHmac, randomBytes, timingSafeEqual} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {IntegrityKeyError} from '../errors/index.js'
import {DIR_MODE, FILE_MODE} from '../storage/layout.js'

export const INTEGRITY_DIR = 'integrity'
export const RATCHET_FILE = 'ratchet'
export const VERIFY_KEY_FILE = 'verify.key'
const LOCK_FILE = 'lock'
const KEY_BYTES = 32
/** The first word of a verification key line. */
export const KEY_LINE_TAG = 'er-shell-verify-key-v1'

/** A verification key: the start of a host's ratchet. */
export interface VerificationKey {
  /** Names the key without revealing it (recorded in every session's integrity file). */
  id: string
  key: Buffer
}

/** The ratchet's next step: k_{i+1} = SHA-256(label ‖ k_i). One-way: k_i cannot be computed from k_{i+1}. */
export function ratchet(key: Buffer): Buffer {
  return createHash('sha256').update('er-shell ratchet v1\0').update(key).digest()
}

/** k_n from k_0 (n steps). */
export function ratchetTo(start: Buffer, steps: number): Buffer {
  let key = start
  for (let i = 0; i < steps; i++) key = ratchet(key)
  return key
}

/** The key id of a verification key: the first 16 hex digits of a labelled SHA-256 of it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('er-shell key id v1\0').update(key).digest('hex').slice(0, 16)
}

/** A session's first checkpoint key, from the host's key for its sequence number. */
export function sessionKey(hostKey: Buffer, sid: string, seq: number): Buffer {
  return createHmac('sha256', hostKey).update(`er-shell session v1\0${sid}\0${seq}`).digest()
}

/** HMAC-SHA-256 of text, hex. */
export function macOf(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex')
}

export function macEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))
}

/** The one-line text form of a verification key (what `verify --show-key` prints and `--key FILE` reads). */
export function formatVerificationKey(key: VerificationKey): string {
  return `${KEY_LINE_TAG} ${key.id} ${key.key.toString('hex')}`
}

/** Parses formatVerificationKey's line (leading/trailing blank lines and `#` comments allowed). Throws IntegrityKeyError. */
export function parseVerificationKey(text: string, source: string): VerificationKey {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
  const m = lines.length === 1 ? /^er-shell-verify-key-v1 ([0-9a-f]{16}) ([0-9a-f]{64})$/.exec(lines[0]!) : null
  if (!m) throw new IntegrityKeyError(source, `does not hold a verification key (one line "${KEY_LINE_TAG} <id> <64 hex digits>")`)
  const key = Buffer.from(m[2]!, 'hex')
  if (keyIdOf(key) !== m[1]) throw new IntegrityKeyError(source, 'holds a damaged verification key (its id does not match the key)')
  return {id: m[1]!, key}
}

/** Reads a verification key file (`--key FILE`). Throws IntegrityKeyError. */
export function readVerificationKeyFile(file: string): VerificationKey {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    throw new IntegrityKeyError(file, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error)
  }
  return parseVerificationKey(text, file)
}

export function integrityDir(dataDir: string): string {
  return path.join(dataDir, INTEGRITY_DIR)
}

/** The verification key kept on this host, or undefined when there is none (never created, or removed by the operator). */
export function readHostVerificationKey(dataDir: string): VerificationKey | undefined {
  const file = path.join(integrityDir(dataDir), VERIFY_KEY_FILE)
  if (!fs.existsSync(file)) return undefined
  return readVerificationKeyFile(file)
}

/** The ratchet's state on disk. */
export interface RatchetState {
  keyId: string
  /** The next session's number (= how many sessions this key numbered). */
  seq: number
  /** k_seq: the key the next session starts from. */
  key: Buffer
}

export function readRatchet(dataDir: string): RatchetState | undefined {
  const file = path.join(integrityDir(dataDir), RATCHET_FILE)
  let text: string
  try {
    text = readPrivate(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new IntegrityKeyError(file, `cannot be read: ${(error as Error).message}`, error)
  }
  let value: {v?: unknown; key_id?: unknown; seq?: unknown; key?: unknown}
  try {
    value = JSON.parse(text) as typeof value
  } catch {
    value = {}
  }
  if (
    value.v !== 1 ||
    typeof value.key_id !== 'string' ||
    !Number.isSafeInteger(value.seq) ||
    typeof value.key !== 'string' ||
    !/^[0-9a-f]{64}$/.test(value.key)
  ) {
    throw new IntegrityKeyError(file, 'is damaged (not the ratchet state er-shell writes)')
  }
  return {keyId: value.key_id, seq: value.seq as number, key: Buffer.from(value.key, 'hex')}
}

/**
 * Creates the host's keys when there are none: a random k0, kept as the verification key (for the
 * operator to copy elsewhere, `verify --show-key`) and as the ratchet's start. Returns the
 * verification key when it was created now or is still on the host.
 */
export function ensureHostKeys(dataDir: string): VerificationKey | undefined {
  const dir = ensureIntegrityDir(dataDir)
  return withLock(dir, () => {
    if (readRatchet(dataDir) === undefined) return createKeys(dir)
    return readHostVerificationKey(dataDir)
  })
}

/**
 * Takes the host's next session number: returns (n, k_n) and leaves (n+1, k_{n+1}) on disk, k_n
 * erased from the file (replaced by rename). Under the host's lock, so concurrent recorders never
 * share a number. Creates the keys on first use.
 */
export function claimSessionNumber(dataDir: string): RatchetState {
  const dir = ensureIntegrityDir(dataDir)
  return withLock(dir, () => {
    let state = readRatchet(dataDir)
    if (state === undefined) {
      const vk = createKeys(dir)
      state = {keyId: vk.id, seq: 0, key: Buffer.from(vk.key)}
    }
    writeRatchet(dir, {keyId: state.keyId, seq: state.seq + 1, key: ratchet(state.key)})
    return state
  })
}

/** A random k0: the verification key (kept until the operator removes it) and the ratchet's start. Under the lock. */
function createKeys(dir: string): VerificationKey {
  const k0 = randomBytes(KEY_BYTES)
  const vk = {id: keyIdOf(k0), key: k0}
  writeAtomic(path.join(dir, VERIFY_KEY_FILE), `${formatVerificationKey(vk)}\n`)
  writeRatchet(dir, {keyId: vk.id, seq: 0, key: k0})
  return vk
}

function writeRatchet(dir: string, state: RatchetState): void {
  writeAtomic(path.join(dir, RATCHET_FILE), `${JSON.stringify({v: 1, key_id: state.keyId, seq: state.seq, key: state.key.toString('hex')})}\n`)
}

function ensureIntegrityDir(dataDir: string): string {
  const dir = integrityDir(dataDir)
  try {
    fs.mkdirSync(dir, {mode: DIR_MODE})
    fs.chmodSync(dir, DIR_MODE)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new IntegrityKeyError(dir, `cannot be created: ${(error as Error).message}`, error)
  }
  const st = fs.lstatSync(dir)
  const euid = process.geteuid?.() ?? st.uid
  if (!st.isDirectory() || st.uid !== euid || (st.mode & 0o077) !== 0) {
    throw new IntegrityKeyError(dir, `must be a directory of uid ${euid} that no one else may use (mode 0700)`)
  }
  return dir
}

/** Reads a file that must be ours: no symlink, no FIFO. */
function readPrivate(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error('not a regular file')
    return fs.readFileSync(fd, 'utf8')
  } finally {
    fs.closeSync(fd)
  }
}

/** Temp file (0600), fsync, rename over, fsync the directory: the old content is gone from the name at once. */
function writeAtomic(file: string, text: string): void {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, FILE_MODE)
  try {
    fs.fchmodSync(fd, FILE_MODE)
    fs.writeSync(fd, text)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(temp, file)
  const dirFd = fs.openSync(path.dirname(file), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  try {
    fs.fsyncSync(dirFd)
  } finally {
    fs.closeSync(dirFd)
  }
}

/**
 * Runs fn holding `<dir>/lock` (O_EXCL, our pid inside). A lock whose holder is gone, or older than
 * 10 s (the critical sections take milliseconds), is taken over.
 */
function withLock<T>(dir: string, fn: () => T): T {
  const lock = path.join(dir, LOCK_FILE)
  const deadline = Date.now() + 15_000
  for (;;) {
    let fd: number | undefined
    try {
      fd = fs.openSync(lock, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, FILE_MODE)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new IntegrityKeyError(lock, `cannot be created: ${(error as Error).message}`, error)
    }
    if (fd !== undefined) {
      try {
        fs.writeSync(fd, String(process.pid))
        fs.closeSync(fd)
        return fn()
      } finally {
        fs.rmSync(lock, {force: true})
      }
    }
    if (staleLock(lock)) {
      // Renamed away first: of two takers only one succeeds, the other retries.
      try {
        fs.renameSync(lock, `${lock}.stale.${process.pid}`)
        fs.rmSync(`${lock}.stale.${process.pid}`, {force: true})
      } catch {
        // someone else took it over
      }
      continue
    }
    if (Date.now() > deadline) throw new IntegrityKeyError(lock, 'is held by another recorder for more than 15 s')
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
  }
}

function staleLock(lock: string): boolean {
  try {
    const st = fs.statSync(lock)
    const pid = Number(fs.readFileSync(lock, 'utf8'))
    if (Date.now() - st.mtimeMs > 10_000) return true
    if (!Number.isSafeInteger(pid) || pid <= 0) return Date.now() - st.mtimeMs > 1000
    try {
      process.kill(pid, 0)
      return false
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH'
    }
  } catch {
    return false
  }
}

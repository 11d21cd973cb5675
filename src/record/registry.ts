// Which session cgroups belong to running recorders. Each recorder registers its session in
// /run/er-shell/sessions/<sid>.json (its pid and process start time); a registered session whose
// recorder is gone (killed with SIGKILL, crashed) is stale, and the next `er-shell` run cleans it.
// Cgroups that were never registered (e.g. Teleport's own under /teleport) are never touched, and
// neither is anything an entry names unless the entry is root's and names a session cgroup.
import {closeSync, constants as fsc, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {isUuid} from '../storage/layout.js'

export const REGISTRY_DIR = '/run/er-shell/sessions'

export interface Registration {
  sid: string
  pid: number
  /** Field 22 of /proc/<pid>/stat: tells a reused pid from the recorder. */
  starttime: string
  cgroupDir: string
  dataDir: string
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

export function register(reg: Omit<Registration, 'pid' | 'starttime'>, dir = REGISTRY_DIR): string {
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const file = join(dir, `${reg.sid}.json`)
  const full: Registration = {...reg, pid: process.pid, starttime: processStartTime(process.pid) ?? ''}
  writeFileSync(file, JSON.stringify(full) + '\n', {mode: 0o600, flag: 'wx'})
  return file
}

export function unregister(sid: string, dir = REGISTRY_DIR): void {
  rmSync(join(dir, `${sid}.json`), {force: true})
}

export function isAlive(reg: Registration): boolean {
  return processStartTime(reg.pid) === reg.starttime
}

/**
 * What makes a stale entry unfit to act on, if anything: the cleaner SIGHUPs every process in
 * its cgroupDir and removes that cgroup, so cgroupDir must be exactly <cgroupRoot>/<sid>, sid a
 * session id (a UUID, as record makes them) matching the file name, and, when it exists, a real
 * directory.
 */
function entryProblem(reg: Registration, name: string, cgroupRoot: string): string | undefined {
  if (typeof reg.sid !== 'string' || !isUuid(reg.sid)) return `its sid ${JSON.stringify(reg.sid)} is not a session id`
  if (name !== `${reg.sid}.json`) return `its sid ${reg.sid} does not match the file name`
  const expected = join(cgroupRoot, reg.sid)
  if (reg.cgroupDir !== expected) return `its cgroupDir ${JSON.stringify(reg.cgroupDir)} is not ${expected}`
  try {
    if (!lstatSync(expected).isDirectory()) return `its cgroupDir ${expected} is not a directory`
  } catch {
    // gone: only the entry is left to remove
  }
  return undefined
}

/** What makes the entry file untrustworthy (someone other than root could have written it). */
function fileProblem(fd: number): string | undefined {
  const st = fstatSync(fd)
  const euid = process.geteuid?.() ?? st.uid
  if (!st.isFile()) return 'the file is not a regular file'
  if (st.uid !== euid) return `the file is owned by uid ${st.uid}, not by root`
  if ((st.mode & 0o022) !== 0) return `the file is writable by other users (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`
  return undefined
}

/**
 * Registered sessions whose recorder no longer runs, under `cgroupRoot` (<cgroup_path>/<root_path>).
 * An entry that is not root's or names anything but a session cgroup there is reported through
 * `onInvalid` (one line) and left alone: acting on it would signal and remove whatever it names.
 */
export function staleSessions(cgroupRoot: string, dir = REGISTRY_DIR, onInvalid: (line: string) => void = () => {}): Registration[] {
  let names: string[]
  try {
    const st = lstatSync(dir)
    const euid = process.geteuid?.() ?? st.uid
    if (!st.isDirectory() || st.uid !== euid || (st.mode & 0o022) !== 0) {
      onInvalid(`ignoring the session registry ${dir}: it is not a directory of root's that only root may write`)
      return []
    }
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: Registration[] = []
  for (const name of names) {
    if (!name.endsWith('.json')) continue
    const file = join(dir, name)
    let reg: Registration
    try {
      const fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK)
      try {
        const problem = fileProblem(fd)
        if (problem) {
          onInvalid(`ignoring session registry entry ${file}: ${problem}`)
          continue
        }
        reg = JSON.parse(readFileSync(fd, 'utf8')) as Registration
      } finally {
        closeSync(fd)
      }
    } catch {
      // unreadable, or being written by a recorder that is starting: not ours to judge
      continue
    }
    if (typeof reg !== 'object' || reg === null || !Number.isSafeInteger(reg.pid) || reg.pid <= 0 || typeof reg.starttime !== 'string') {
      onInvalid(`ignoring session registry entry ${file}: its pid or starttime is malformed`)
      continue
    }
    // A running recorder's entry is never acted on, whatever cgroup_path it was started with.
    if (isAlive(reg)) continue
    const problem = entryProblem(reg, name, cgroupRoot)
    if (problem) {
      onInvalid(`ignoring session registry entry ${file}: ${problem}`)
      continue
    }
    out.push(reg)
  }
  return out
}

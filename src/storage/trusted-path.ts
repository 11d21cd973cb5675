// Whether only root (or the effective user) controls what a path names, as OpenSSH's StrictModes
// and sudo's I/O log directory require: every directory a lookup of the path passes through — and,
// for each symbolic link on the way, the link itself and the directories of where it leads — must
// be owned by root or the effective uid and writable by no other user. A sticky directory owned by
// root (/tmp) is the exception: others may add entries there but not rename or remove ours.
import {lstatSync, readlinkSync} from 'node:fs'
import * as path from 'node:path'

export interface PathProblem {
  /** The directory or symbolic link at fault. */
  path: string
  /** What is wrong with it, e.g. "is owned by uid 65534". */
  problem: string
}

const MAX_LINKS = 40

function mode(st: {mode: number}): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0')
}

/** What makes `dir` (a real directory) unsafe to pass through, if anything. */
function dirProblem(dir: string, euid: number): string | undefined {
  const st = lstatSync(dir)
  if (st.uid !== 0 && st.uid !== euid) return `is owned by uid ${st.uid}`
  if ((st.mode & 0o022) === 0) return undefined
  if ((st.mode & 0o1000) !== 0 && st.uid === 0) return undefined
  return `is writable by ${(st.mode & 0o002) !== 0 ? 'every user' : `group ${st.gid}`} (mode ${mode(st)})`
}

/**
 * The first directory or symlink on the way to `target` (absolute or relative to the cwd) that
 * another user controls, or undefined. `target` itself is not judged (callers check the file or
 * directory they open), except that a symlink there must be root's or ours and is followed. The
 * walk stops quietly at the first missing component: what is missing is created by the caller.
 */
export function untrustedAncestor(target: string): PathProblem | undefined {
  const euid = process.geteuid?.() ?? 0
  let rest = path.resolve(target).split('/').filter(Boolean)
  let current = '/'
  let links = 0
  while (rest.length > 0) {
    const problem = dirProblem(current, euid)
    if (problem) return {path: current, problem}
    const next = path.join(current, rest.shift()!)
    let st
    try {
      st = lstatSync(next)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
      throw error
    }
    if (st.isSymbolicLink()) {
      if (st.uid !== 0 && st.uid !== euid) return {path: next, problem: `is a symbolic link owned by uid ${st.uid}`}
      if (++links > MAX_LINKS) return {path: next, problem: 'leads through too many symbolic links'}
      // Resolved against its directory (which holds no symlink: `current` was walked), then walked
      // again from / so the directories it leads through are judged too.
      rest = [...path.resolve(current, readlinkSync(next)).split('/').filter(Boolean), ...rest]
      current = '/'
      continue
    }
    if (rest.length > 0 && !st.isDirectory()) return undefined // ENOTDIR: the open itself fails
    current = next
  }
  return undefined
}

// cgroup v2 directories: ids, depth, members, creation and removal of a session cgroup.
import {existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {CgroupError} from '../errors/index.js'

/** The cgroup id: the inode of the cgroup directory (what bpf_get_current_cgroup_id() returns). */
export function cgroupId(dir: string): bigint {
  return statSync(dir, {bigint: true}).ino
}

/** Depth below the cgroup2 root (the root's inode is 1): /teleport/<sid> is level 2. */
export function cgroupLevel(dir: string): number {
  let level = 0
  let current = dir
  for (;;) {
    if (statSync(current, {bigint: true}).ino === 1n) return level
    const parent = dirname(current)
    if (parent === current) throw CgroupError.notInHierarchy(dir)
    current = parent
    level++
  }
}

/** Child cgroups of dir, depth first, deepest last. */
export function descendants(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    if (!entry.isDirectory()) continue
    const child = join(dir, entry.name)
    out.push(child, ...descendants(child))
  }
  return out
}

/** Pids in dir and every descendant cgroup. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = []
  for (const d of [dir, ...descendants(dir)]) {
    try {
      for (const line of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        const pid = Number(line)
        if (line && Number.isInteger(pid)) pids.push(pid)
      }
    } catch {
      // removed meanwhile
    }
  }
  return pids
}

export function createCgroup(dir: string): void {
  try {
    mkdirSync(dirname(dir), {recursive: true, mode: 0o755})
    mkdirSync(dir, {mode: 0o755})
  } catch (error) {
    throw CgroupError.create(dir, error)
  }
}

/**
 * Removes dir and the child cgroups in it (root may mkdir there: a session can make its own),
 * deepest first, since rmdir of a cgroup that still has children fails. They must be empty of
 * processes. Nothing to do when dir is gone.
 */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return
  for (const d of [dir, ...descendants(dir)].reverse()) removeDir(d)
}

/** Removes a directory, retrying briefly while the kernel still holds it busy (a cgroup just emptied). */
export function removeDir(path: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(path)
      return
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      if (code !== 'EBUSY' || attempt >= 20) throw error
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25)
    }
  }
}

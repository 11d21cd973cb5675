// Undo stack for what a check creates (mounts, directories, cgroups): run newest first, report failures.
import {existsSync, mkdirSync, rmdirSync} from 'node:fs'
import {dirname} from 'node:path'

import {assertMountPoint} from '../cgroup/mounts.js'
import type {KernelProbes} from '../native/types.js'
import {topMountAt} from './host.js'

export class Cleanup {
  private readonly steps: {what: string; run: () => void}[] = []

  push(what: string, run: () => void): void {
    this.steps.push({what, run})
  }

  /** Runs every step, newest first, even when one fails; returns one line per failure. */
  runAll(): string[] {
    const failures: string[] = []
    while (this.steps.length > 0) {
      const step = this.steps.pop()!
      try {
        step.run()
      } catch (error) {
        failures.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    return failures
  }
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

/**
 * Creates `path` (and missing parents); the cleanup removes exactly the directories it created.
 * With `shared`, a directory that someone else started using meanwhile (a session cgroup appeared
 * in it: EBUSY/ENOTEMPTY) is left in place instead of being reported.
 */
export function makeDir(path: string, cleanup: Cleanup, options: {shared?: boolean} = {}): boolean {
  if (existsSync(path)) return false
  const first = mkdirSync(path, {recursive: true})
  if (first === undefined) return false
  const created: string[] = []
  for (let dir = path; ; dir = dirname(dir)) {
    created.push(dir)
    if (dir === first || dir === dirname(dir)) break
  }
  for (const dir of created.reverse()) {
    cleanup.push(`remove ${dir}`, () => {
      try {
        removeDir(dir)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (!options.shared || (code !== 'EBUSY' && code !== 'ENOTEMPTY')) throw error
      }
    })
  }
  return true
}

export interface MountResult {
  /** True when the check mounted it (and the cleanup will unmount it). */
  mountedHere: boolean
}

/**
 * Makes sure a `fstype` filesystem is mounted at `target`, mounting it (and creating the
 * directory) when nothing is there and the directory is empty or new (assertMountPoint). The
 * cleanup unmounts only the mount this call made, only while it is still the topmost one at
 * `target`, and not when `keepIf()` says someone now relies on it.
 */
export function ensureMounted(
  probes: KernelProbes,
  fstype: string,
  target: string,
  cleanup: Cleanup,
  options: {keepIf?: () => boolean} = {},
): MountResult {
  const existing = topMountAt(target)
  if (existing?.fsType === fstype) return {mountedHere: false}
  if (existing) throw new Error(`${target} is a ${existing.fsType} mount, not ${fstype}`)
  assertMountPoint(fstype, target)
  makeDir(target, cleanup)
  probes.mount(fstype, target)
  const mine = topMountAt(target)
  cleanup.push(`unmount ${target}`, () => {
    const top = topMountAt(target)
    if (top === undefined) return
    if (mine !== undefined && top.id !== mine.id) throw new Error('another mount now covers it; left it mounted')
    if (options.keepIf?.()) return
    probes.unmount(target)
  })
  return {mountedHere: true}
}

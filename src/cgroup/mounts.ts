// Finds and makes the mounts recording needs: cgroup2 at cgroup_path, tracefs at /sys/kernel/tracing.
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync} from 'node:fs'

import {ErShellError} from '../errors/base.js'

export const TRACEFS = '/sys/kernel/tracing'

interface MountEntry {
  mountPoint: string
  fsType: string
}

/** Mounts from /proc/self/mountinfo (mount point and filesystem type). */
export function listMounts(): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue
    const [left, right] = line.split(' - ')
    const mountPoint = left?.split(' ')[4]
    const fsType = right?.split(' ')[0]
    if (mountPoint && fsType) out.push({mountPoint: mountPoint.replace(/\\040/g, ' '), fsType})
  }
  return out
}

export function mountedAs(path: string): string | undefined {
  return listMounts()
    .filter((m) => m.mountPoint === path)
    .at(-1)?.fsType
}

/**
 * Makes sure `fsType` is mounted at `path`. Returns true when this call mounted it (so that a
 * caller that must leave nothing behind can unmount it again).
 */
export function ensureMounted(fsType: 'cgroup2' | 'tracefs', path: string): boolean {
  const current = mountedAs(path)
  if (current === fsType) return false
  if (current) {
    throw new ErShellError('EMOUNT', `${path} is a ${current} mount, not ${fsType}: choose another cgroup_path`)
  }
  try {
    if (!existsSync(path)) mkdirSync(path, {recursive: true, mode: 0o755})
    execFileSync('mount', ['-t', fsType, fsType === 'cgroup2' ? 'cgroup2' : 'nodev', path], {stdio: ['ignore', 'ignore', 'pipe']})
  } catch (error) {
    const stderr = (error as {stderr?: Buffer}).stderr?.toString().trim()
    throw new ErShellError('EMOUNT', `cannot mount ${fsType} at ${path}: ${stderr || (error as Error).message}`, {cause: error})
  }
  return true
}

export function unmount(path: string): void {
  execFileSync('umount', [path], {stdio: ['ignore', 'ignore', 'pipe']})
}

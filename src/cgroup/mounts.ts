// Makes the mounts recording needs and keeps them: cgroup2 at cgroup_path, tracefs at
// /sys/kernel/tracing (a recorder mounts them as a system would; check-kernel's probes instead
// undo theirs, see src/kernel/cleanup.ts). Mounting goes through mount(2) in the native addon.
import {existsSync, mkdirSync} from 'node:fs'

import {ErShellError} from '../errors/base.js'
import {readMounts, topMountAt} from '../kernel/host.js'
import {loadNative} from '../native/index.js'

export const TRACEFS = '/sys/kernel/tracing'

/** Filesystem type mounted at exactly `path` (the topmost mount), if any. */
export function mountedAs(path: string): string | undefined {
  return topMountAt(path)?.fsType
}

/** Mount points and types, in mount order. */
export function listMounts(): Array<{mountPoint: string; fsType: string}> {
  return readMounts()
}

/** Makes sure `fsType` is mounted at `path`; true when this call mounted it. */
export function ensureMounted(fsType: 'cgroup2' | 'tracefs', path: string): boolean {
  const current = mountedAs(path)
  if (current === fsType) return false
  if (current) {
    throw new ErShellError('EMOUNT', `${path} is a ${current} mount, not ${fsType}: choose another cgroup_path`)
  }
  try {
    if (!existsSync(path)) mkdirSync(path, {recursive: true, mode: 0o755})
    loadNative().probe.mount(fsType, path)
  } catch (error) {
    if (error instanceof ErShellError) throw error
    throw new ErShellError('EMOUNT', `cannot mount ${fsType} at ${path}: ${(error as Error).message}`, {cause: error})
  }
  return true
}

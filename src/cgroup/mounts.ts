// Makes the mounts recording needs and keeps them: cgroup2 at cgroup_path, tracefs at
// /sys/kernel/tracing (a recorder mounts them as a system would; check-kernel's probes instead
// undo theirs, see src/kernel/cleanup.ts). Mounting goes through mount(2) in the native addon.
import {existsSync, lstatSync, mkdirSync, readdirSync} from 'node:fs'

import {ErShellError, MountError, UnsafeMountPointError} from '../errors/index.js'
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

/** Where a system mounts these filesystems: their directories are the kernel's, never content. */
const KNOWN_MOUNT_POINTS: Record<string, readonly string[]> = {
  cgroup2: ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'],
  tracefs: [TRACEFS],
  securityfs: ['/sys/kernel/security'],
}

/**
 * Throws UnsafeMountPointError unless `fsType` may be mounted at `path` (where nothing is mounted
 * yet): a missing path, an empty real directory, or the filesystem's known mount point. A mount
 * over content (cgroup_path=/etc) would hide it from every process on the host until unmounted,
 * and a symlink would put the mount wherever it leads.
 */
export function assertMountPoint(fsType: string, path: string): void {
  if (KNOWN_MOUNT_POINTS[fsType]?.includes(path)) return
  let st
  try {
    st = lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  if (st.isSymbolicLink()) throw new UnsafeMountPointError(fsType, path, 'it is a symbolic link (choose an empty directory)')
  if (!st.isDirectory()) throw new UnsafeMountPointError(fsType, path, 'it is not a directory (choose an empty directory)')
  if (readdirSync(path).length > 0) throw new UnsafeMountPointError(fsType, path, 'the directory is not empty and would be hidden (choose an empty directory)')
}

/** Makes sure `fsType` is mounted at `path`; true when this call mounted it. */
export function ensureMounted(fsType: 'cgroup2' | 'tracefs', path: string): boolean {
  const current = mountedAs(path)
  if (current === fsType) return false
  if (current) {
    throw MountError.otherType(path, current, fsType)
  }
  assertMountPoint(fsType, path)
  try {
    if (!existsSync(path)) mkdirSync(path, {recursive: true, mode: 0o755})
    loadNative().probe.mount(fsType, path)
  } catch (error) {
    if (error instanceof ErShellError) throw error
    throw MountError.failed(fsType, path, error)
  }
  return true
}

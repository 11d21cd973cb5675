// The mounts er-shell needs: cgroup2 at cgroup_path, tracefs at /sys/kernel/tracing (securityfs
// for check-kernel). A recorder mounts them as a system would and keeps them; check-kernel's probes
// undo theirs through a Cleanup (src/kernel/cleanup.ts). Mounting goes through mount(2) in the
// native addon.
import {existsSync, lstatSync, mkdirSync, readdirSync} from 'node:fs'

import {ErShellError, MountError, UnsafeMountPointError} from '../errors/index.js'
import {type Cleanup, makeDir} from '../kernel/cleanup.js'
import {readMounts, topMountAt} from '../kernel/host.js'
import {loadNative} from '../native/index.js'
import type {KernelProbes} from '../native/types.js'

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

export interface MountOptions {
  /**
   * Undo what this call does: unmount (only the mount it made, only while it is still the
   * topmost one at `path`, and not when `keepIf()` says someone now relies on it) and remove the
   * directories it created. check-kernel's probes pass one; a recorder's mounts stay, as a
   * system's would.
   */
  cleanup?: Cleanup
  keepIf?: () => boolean
  /** mount(2)/umount(2); default the addon's. */
  probes?: Pick<KernelProbes, 'mount' | 'unmount'>
}

/**
 * Makes sure `fsType` is mounted at `path`, mounting it (and creating the directory) when nothing
 * is there and the directory is empty or new (assertMountPoint); true when this call mounted it.
 * Without a cleanup (a recorder) the errors are ErShellErrors that say what to do; with one (a
 * check, which words its own report) they are the system's.
 */
export function ensureMounted(fsType: 'cgroup2' | 'tracefs' | 'securityfs', path: string, options: MountOptions = {}): boolean {
  const {cleanup} = options
  const current = mountedAs(path)
  if (current === fsType) return false
  if (current) {
    if (cleanup) throw new Error(`${path} is a ${current} mount, not ${fsType}`)
    throw MountError.otherType(path, current, fsType)
  }
  assertMountPoint(fsType, path)
  const probes = options.probes ?? loadNative().probe
  if (cleanup) {
    makeDir(path, cleanup)
    probes.mount(fsType, path)
    const mine = topMountAt(path)
    cleanup.push(`unmount ${path}`, () => {
      const top = topMountAt(path)
      if (top === undefined) return
      if (mine !== undefined && top.id !== mine.id) throw new Error('another mount now covers it; left it mounted')
      if (options.keepIf?.()) return
      probes.unmount(path)
    })
    return true
  }
  try {
    if (!existsSync(path)) mkdirSync(path, {recursive: true, mode: 0o755})
    probes.mount(fsType, path)
  } catch (error) {
    if (error instanceof ErShellError) throw error
    throw MountError.failed(fsType, path, error)
  }
  return true
}

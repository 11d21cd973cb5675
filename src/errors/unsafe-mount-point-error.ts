// Raised when a filesystem would be mounted over a directory that has content (e.g. cgroup_path=/etc).
import {ErShellError} from './base.js'

export class UnsafeMountPointError extends ErShellError {
  readonly path: string

  constructor(fsType: string, path: string, reason: string) {
    super('EUNSAFE_MOUNT_POINT', `refusing to mount ${fsType} at ${path}: ${reason}`)
    this.path = path
  }
}

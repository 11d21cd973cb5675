// Raised when cgroup2 or tracefs cannot be mounted where the configuration says.
import {ErShellError} from './base.js'

export class MountError extends ErShellError {
  readonly path: string

  private constructor(path: string, message: string, cause?: unknown) {
    super('EMOUNT', message, {cause})
    this.path = path
  }

  /** Another filesystem (`current`) is mounted at `path`. */
  static otherType(path: string, current: string, fsType: string): MountError {
    return new MountError(path, `${path} is a ${current} mount, not ${fsType}: choose another cgroup_path`)
  }

  /** mount(2) (or the mkdir before it) failed with `cause`. */
  static failed(fsType: string, path: string, cause: unknown): MountError {
    return new MountError(path, `cannot mount ${fsType} at ${path}: ${(cause as Error).message}`, cause)
  }
}

// Raised when the session's cgroup cannot be placed or created.
import {ErShellError} from './base.js'

export class CgroupError extends ErShellError {
  readonly path: string

  private constructor(path: string, message: string, cause?: unknown) {
    super('ECGROUP', message, {cause})
    this.path = path
  }

  /** `dir` has no cgroup2 root (inode 1) above it. */
  static notInHierarchy(dir: string): CgroupError {
    return new CgroupError(dir, `${dir} is not inside a cgroup2 hierarchy`)
  }

  /** mkdir of the cgroup `dir` failed with `cause`. */
  static create(dir: string, cause: unknown): CgroupError {
    const exists = (cause as {code?: unknown} | undefined)?.code === 'EEXIST'
    return new CgroupError(dir, exists ? `cgroup ${dir} exists already` : `cannot create cgroup ${dir}: ${(cause as Error).message}`, cause)
  }
}

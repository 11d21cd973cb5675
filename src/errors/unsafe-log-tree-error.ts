// Raised when a directory of the log tree is a symlink, not a directory, or not owned by us.
import {ErShellError} from './base.js'

export class UnsafeLogTreeError extends ErShellError {
  readonly path: string

  constructor(path: string, reason: string) {
    super('EUNSAFE_LOG_TREE', `refusing to record into ${path}: ${reason}`, {exitCode: 1})
    this.path = path
  }
}

// Raised (once, through the writer's onError) when a recording file cannot be written.
import {ErShellError} from './base.js'

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'I/O error',
}

export class StorageWriteError extends ErShellError {
  readonly path: string
  /** errno name of the failure (ENOSPC, EROFS, …) when there is one. */
  readonly errno?: string

  constructor(path: string, cause: unknown) {
    const errno = (cause as {code?: unknown} | undefined)?.code
    const code = typeof errno === 'string' ? errno : undefined
    const reason = code ? `${REASONS[code] ?? (cause as Error).message} (${code})` : String((cause as Error)?.message ?? cause)
    super('ESTORAGE_WRITE', `cannot write ${path}: ${reason}; recording stopped, what was written so far stays readable`, {cause})
    this.path = path
    this.errno = code
  }
}

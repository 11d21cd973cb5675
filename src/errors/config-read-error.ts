// Raised when a configuration file that must be read cannot be (missing, unreadable, a directory).
import {ErShellError} from './base.js'

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a parent is not a directory',
  ELOOP: 'too many symbolic links',
}

export class ConfigReadError extends ErShellError {
  readonly file: string
  /** errno name of the failure (ENOENT, EACCES, …) when there is one. */
  readonly errno?: string

  /** `namedBy` says who asked for the file: `--config`, `ER_SHELL_CONFIG` or `default`. */
  constructor(file: string, namedBy: string, cause: unknown) {
    const errno = (cause as {code?: unknown} | undefined)?.code
    const code = typeof errno === 'string' ? errno : undefined
    const reason = code === undefined ? String((cause as Error | undefined)?.message ?? cause) : `${REASONS[code] ?? (cause as Error).message} (${code})`
    const by = namedBy === 'default' ? '' : ` (named by ${namedBy})`
    super('ECONFIG_READ', `cannot read config file ${file}${by}: ${reason}`, {cause, exitCode: 2})
    this.file = file
    this.errno = code
  }
}

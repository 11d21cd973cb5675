// Raised when a configuration value (in a file, a flag or an environment variable) is invalid.
import {ErShellError} from './base.js'

/** Where the bad value was found: a file position, or just the flag / variable name. */
export interface ConfigErrorOrigin {
  /** The setting as the user wrote it: `command_buffer_size`, `--events`, `ER_SHELL_DATA_DIR`… */
  setting: string
  file?: string
  line?: number
  col?: number
}

export class ConfigError extends ErShellError {
  readonly setting: string
  readonly file?: string
  readonly line?: number
  readonly col?: number

  /** `detail` is the whole sentence (it names the setting); a file position is put in front of it. */
  constructor(origin: ConfigErrorOrigin, detail: string) {
    const where = origin.file === undefined ? '' : `${origin.file}:${origin.line ?? 1}:${origin.col ?? 1}: `
    super('ECONFIG', `${where}${detail}`, {exitCode: 2})
    this.setting = origin.setting
    this.file = origin.file
    this.line = origin.line
    this.col = origin.col
  }
}

// Raised, when er-shell runs as root, for a config file another user could have written (or could
// rewrite): root obeys its data_dir, live target, events and `enabled: false`.
import {ErShellError} from './base.js'

export class UnsafeConfigFileError extends ErShellError {
  readonly file: string

  /** `namedBy` says who asked for the file: `--config`, `ER_SHELL_CONFIG` or `default`. */
  constructor(file: string, namedBy: string, reason: string) {
    const by = namedBy === 'default' ? '' : ` (named by ${namedBy})`
    super('EUNSAFE_CONFIG', `refusing to read config file ${file}${by}: ${reason}`, {exitCode: 2})
    this.file = file
  }
}

// Raised when command-line arguments are wrong in a way the flag parser cannot see (exit status 2).
import {ErShellError} from './base.js'

export class UsageError extends ErShellError {
  /** `message` is the whole sentence; it names the flag. */
  constructor(message: string) {
    super('EUSAGE', message, {exitCode: 2})
  }
}

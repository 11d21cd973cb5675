// Raised when a filter option (--since, --until, --type, a regular expression, …) has a bad value.
import {ErShellError} from './base.js'

export class InvalidFilterError extends ErShellError {
  readonly option: string

  constructor(option: string, message: string) {
    super('EINVALID_FILTER', `${option}: ${message}`, {exitCode: 2})
    this.option = option
  }
}

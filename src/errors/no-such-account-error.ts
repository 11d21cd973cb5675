// Raised when `record --login USER` names an account the passwd database does not have.
import {ErShellError} from './base.js'

export class NoSuchAccountError extends ErShellError {
  readonly account: string

  constructor(account: string) {
    super('ENOUSER', `--login ${account}: no such account`, {exitCode: 1})
    this.account = account
  }
}

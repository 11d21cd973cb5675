// Raised when `record --login USER` would open an interactive shell for an account that may not log in.
import {ErShellError} from './base.js'

export class LoginRefusedError extends ErShellError {
  readonly account: string

  constructor(account: string, loginShell: string) {
    super('ENOLOGIN', `--login ${account}: the account's login shell is ${loginShell}, so it cannot log in; give a command with -c or --`, {exitCode: 1})
    this.account = account
  }
}

// Raised when the join helper (build/Release/er-shell-join) fails; the message is its own line.
import {ErShellError} from './base.js'

export class HelperError extends ErShellError {
  constructor(message: string, cause?: unknown) {
    super('EHELPER', message, {cause})
  }
}

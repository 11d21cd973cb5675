// Raised when a session id cannot safely name files (it must be a UUID-like token).
import {ErShellError} from './base.js'

export class InvalidSessionIdError extends ErShellError {
  constructor(sid: string) {
    super('ESID_INVALID', `invalid session id ${JSON.stringify(sid)}: expected letters, digits and '-' (a UUID)`)
  }
}

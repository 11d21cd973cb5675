// Raised when a recording for the session id already exists: recordings are never overwritten.
import {ErShellError} from './base.js'

export class SessionExistsError extends ErShellError {
  readonly sid: string

  constructor(sid: string, path: string) {
    super('ESESSION_EXISTS', `a recording of session ${sid} already exists (${path}); refusing to overwrite it`)
    this.sid = sid
  }
}

// Raised when no recorded session matches a session id or prefix.
import {ErShellError} from './base.js'

export class SessionNotFoundError extends ErShellError {
  readonly query: string

  constructor(query: string, dataDir: string) {
    super('ESESSION_NOT_FOUND', `no recorded session matches ${JSON.stringify(query)} in ${dataDir}`)
    this.query = query
  }
}

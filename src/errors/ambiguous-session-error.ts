// Raised when a session id prefix matches more than one recorded session.
import {ErShellError} from './base.js'

export class AmbiguousSessionError extends ErShellError {
  readonly query: string
  readonly candidates: string[]

  constructor(query: string, candidates: string[]) {
    const shown = candidates.slice(0, 10).join(', ') + (candidates.length > 10 ? `, … (${candidates.length - 10} more)` : '')
    super('ESESSION_AMBIGUOUS', `session prefix ${JSON.stringify(query)} matches ${candidates.length} sessions: ${shown}; give more characters`)
    this.query = query
    this.candidates = candidates
  }
}

// Raised when the live lines' target could leak the session (another user's file, FIFO or terminal).
import {ErShellError} from './base.js'

export class UnsafeLiveTargetError extends ErShellError {
  readonly target: string

  constructor(target: string, reason: string) {
    super('EUNSAFE_LIVE', `refusing to write live lines to ${target}: ${reason}`)
    this.target = target
  }
}

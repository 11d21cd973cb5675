// Raised when the live lines' target cannot be opened for writing.
import {ErShellError} from './base.js'

export class LiveWriteError extends ErShellError {
  readonly target: string

  constructor(target: string, reason: string, cause?: unknown) {
    super('ELIVE', `cannot write live lines to ${target}: ${reason}`, {cause})
    this.target = target
  }
}

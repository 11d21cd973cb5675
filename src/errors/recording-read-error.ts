// Raised when a recording file cannot be read at all (missing, unreadable, not gzip).
import {ErShellError} from './base.js'

export class RecordingReadError extends ErShellError {
  readonly path: string

  constructor(path: string, detail: string, cause?: unknown) {
    super('ERECORDING_READ', `cannot read ${path}: ${detail}`, {cause})
    this.path = path
  }
}

// Raised when an integrity key cannot be created, read or used (docs/integrity.md).
import {ErShellError} from './base.js'

export class IntegrityKeyError extends ErShellError {
  readonly path: string

  constructor(path: string, detail: string, cause?: unknown) {
    super('EINTEGRITY_KEY', `${path} ${detail}`, {cause})
    this.path = path
  }
}

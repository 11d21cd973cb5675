// Raised by `er-shell check-kernel` when at least one check failed: this host cannot record.
import {ErShellError} from './base.js'

export class KernelCheckError extends ErShellError {
  readonly failed: string[]

  constructor(failed: string[], hint: string) {
    super('EKERNELCHECK', `this host cannot record sessions: ${failed.length} check${failed.length === 1 ? '' : 's'} failed (${failed.join(', ')}); ${hint}`, {
      exitCode: 1,
    })
    this.failed = failed
  }
}

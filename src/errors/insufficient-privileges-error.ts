// Raised when `record` runs without root or the capabilities the BPF capture needs.
import {ErShellError} from './base.js'

export class InsufficientPrivilegesError extends ErShellError {
  /** Names of the missing capabilities (CAP_BPF, …). */
  readonly missing: string[]

  constructor(missing: string[]) {
    super('EPERM', `recording needs root (or ${missing.join(', ')}): run it as \`sudo er-shell record\``, {exitCode: 77})
    this.missing = missing
  }
}

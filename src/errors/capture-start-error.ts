// Raised when the kernel capture cannot start (BPF load, attach or the first probe failed).
import {ErShellError} from './base.js'
import {type ErrnoCode, isErrnoCode} from './codes.js'

export class CaptureStartError extends ErShellError {
  /**
   * `cause` is the native addon's error: its code is the errno name of the failed call (kept as
   * this error's code), or none (EBPF); the first line of its message is shown.
   */
  constructor(cause: unknown) {
    const e = cause as {code?: unknown; message?: unknown} | undefined
    const code: ErrnoCode | 'EBPF' = isErrnoCode(e?.code) ? e.code : 'EBPF'
    const first = String(e?.message ?? cause).split('\n')[0]
    super(code, `cannot start kernel capture: ${first} (run \`er-shell check-kernel\` for details)`, {cause, exitCode: 1})
  }
}

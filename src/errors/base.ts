// Base error class: every er-shell error carries a stable `code` (see codes.ts) and an optional `cause`.
import {type ErrorCode, isErrorCode} from './codes.js'

export class ErShellError extends Error {
  readonly code: ErrorCode
  /** Exit status the CLI uses when this error ends a command. */
  readonly exitCode: number

  /** Build a subclass (index.ts lists them); an unknown code is refused, by the type and at run time. */
  constructor(code: ErrorCode, message: string, options: {cause?: unknown; exitCode?: number} = {}) {
    if (!isErrorCode(code)) throw new TypeError(`unknown er-shell error code ${JSON.stringify(code)} (see src/errors/codes.ts)`)
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.code = code
    this.exitCode = options.exitCode ?? 1
  }
}

// Base error class: every er-shell error carries a stable `code` and an optional `cause`.

export class ErShellError extends Error {
  readonly code: string
  /** Exit status the CLI uses when this error ends a command. */
  readonly exitCode: number

  constructor(code: string, message: string, options: {cause?: unknown; exitCode?: number} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = new.target.name
    this.code = code
    this.exitCode = options.exitCode ?? 1
  }
}

// Raised when a configuration file is not valid YAML; names the parser's line and column.
import {ErShellError} from './base.js'

export class ConfigSyntaxError extends ErShellError {
  readonly file: string
  readonly line: number
  readonly col: number

  constructor(file: string, line: number, col: number, parserMessage: string, cause?: unknown) {
    super('ECONFIG_SYNTAX', `${file}:${line}:${col}: not valid YAML: ${parserMessage}`, {cause, exitCode: 2})
    this.file = file
    this.line = line
    this.col = col
  }
}

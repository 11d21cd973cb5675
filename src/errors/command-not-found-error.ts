// Raised when `replay --at-command N` / `--at REGEX` names no command of the session.
import {ErShellError} from './base.js'

export class CommandNotFoundError extends ErShellError {
  constructor(sid: string, wanted: string, commands: number) {
    super(
      'ECOMMAND_NOT_FOUND',
      `session ${sid} has no command ${wanted} (it has ${commands} command event${commands === 1 ? '' : 's'}; list them with: er-shell events ${sid.slice(0, 8)} --type command)`,
    )
  }
}

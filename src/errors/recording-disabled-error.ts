// Raised when the configuration turns enhanced recording off (`enabled: false`) and a command needs it.
import {ErShellError} from './base.js'

export class RecordingDisabledError extends ErShellError {
  /** `where` is `file:line:col` of the setting; `setting` its name as written there. */
  constructor(where: string, setting: string) {
    super(
      'ERECORDING_DISABLED',
      `${where}: ${setting} is false: enhanced recording is disabled by this configuration; set it to true (or remove it) to record`,
      {exitCode: 2},
    )
  }
}

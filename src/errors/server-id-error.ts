// Raised when <data_dir>/host_uuid exists but does not hold a UUID, or cannot be created.
import {ErShellError} from './base.js'

export class ServerIdError extends ErShellError {
  readonly path: string

  constructor(path: string, detail: string, cause?: unknown) {
    super('ESERVER_ID', `host id file ${path} ${detail}`, {cause})
    this.path = path
  }
}

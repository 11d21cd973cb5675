// Raised when the data directory (or its log/ tree) does not exist or is not a directory.
import {ErShellError} from './base.js'

export class DataDirNotFoundError extends ErShellError {
  readonly dataDir: string

  constructor(dataDir: string, detail = 'does not exist') {
    super('EDATA_DIR', `data directory ${dataDir} ${detail}: nothing has been recorded there (set --data-dir or ER_SHELL_DATA_DIR)`)
    this.dataDir = dataDir
  }
}

// Raised by `events --follow` without a session id when no session is being recorded.
import {ErShellError} from './base.js'

export class NoLiveSessionError extends ErShellError {
  readonly dataDir: string

  constructor(dataDir: string) {
    super('ENO_LIVE_SESSION', `no session is being recorded in ${dataDir}; give a session id to follow`)
    this.dataDir = dataDir
  }
}

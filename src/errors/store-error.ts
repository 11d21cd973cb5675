// Raised when the fleet store (PostgreSQL, audit_events_uri) cannot be reached or refuses a request.
import {ErShellError} from './base.js'

export class StoreError extends ErShellError {
  /** The store's URI with its password redacted. */
  readonly store: string

  /** `store` must already be redacted (redactUri); `reason` is one line without secrets. */
  constructor(store: string, reason: string, cause?: unknown) {
    super('ESTORE', `fleet store ${store}: ${reason}`, {cause})
    this.store = store
  }
}

// Raised when the fleet store's schema is newer than this er-shell knows: it never writes into it.
import {ErShellError} from './base.js'

export class StoreSchemaError extends ErShellError {
  readonly found: number
  readonly known: number

  constructor(store: string, found: number, known: number) {
    super(
      'ESTORE_SCHEMA',
      `fleet store ${store}: its er-shell schema is version ${found}, newer than this er-shell knows (${known}): upgrade er-shell on this host; nothing was written`,
    )
    this.found = found
    this.known = known
  }
}

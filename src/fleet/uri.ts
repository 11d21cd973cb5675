// The fleet store's address: a postgres:// or postgresql:// URI (docs/postgres-store.md). What comes
// before `#` is libpq's connection URI (its query string holds libpq options such as sslmode); the
// fragment holds the store's own options, as Teleport's PostgreSQL audit backend takes them:
// retention_period, cleanup_interval, disable_cleanup. A password in it is never shown: every
// message and output uses redactUri().

/** The store's options from the URI fragment, with Teleport's defaults. */
export interface StoreOptions {
  /** Rows whose creation_time is older are deleted (default 8766h, about 365 days). */
  retentionMs: number
  /** How often `ship --follow` runs the retention cleanup (default 1h). */
  cleanupIntervalMs: number
  /** No cleanup at all (retention by partition drops or pg_cron instead). */
  disableCleanup: boolean
  /**
   * er-shell's own: `partitioning=monthly` creates a new store's `events` partitioned by month of
   * event_time, so that retention drops whole partitions (docs/postgres-store.md).
   */
  partitioning?: 'monthly'
}

export interface StoreAddress {
  /** The URI as given (holds the password: never print it). */
  readonly uri: string
  /** The URI with its password replaced by `****`: what messages show. */
  readonly redacted: string
  /** libpq's part: the URI without its fragment, for the driver. */
  readonly connectionString: string
  readonly options: StoreOptions
}

const HOUR = 3_600_000
export const DEFAULT_STORE_OPTIONS: StoreOptions = {retentionMs: 8766 * HOUR, cleanupIntervalMs: HOUR, disableCleanup: false}

const FRAGMENT_KEYS = ['retention_period', 'cleanup_interval', 'disable_cleanup', 'partitioning'] as const

/** The URI with any password replaced by `****` (also in text that is not a valid URI). */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:#?]*:)[^@/#?]*@/i, '$1****@').replace(/([?&]password=)[^&#]*/i, '$1****')
}

/** Replaces every occurrence of a secret of `uri` (its password) in `text`; for driver messages. */
export function redactIn(text: string, uri: string): string {
  const password = passwordOf(uri)
  let out = text.split(uri).join(redactUri(uri))
  if (password !== undefined && password.length > 0) {
    out = out.split(password).join('****')
    const decoded = safeDecode(password)
    if (decoded.length > 0) out = out.split(decoded).join('****')
  }
  return out
}

function passwordOf(uri: string): string | undefined {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/@:#?]*:([^@/#?]*)@/i.exec(uri) ?? /[?&]password=([^&#]*)/i.exec(uri)
  return match?.[1]
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Whether the URI names the PostgreSQL store (a teleport.yaml's list also holds file://, stdout://, …). */
export function isPostgresUri(uri: string): boolean {
  return /^postgres(ql)?:\/\//i.test(uri)
}

/** Parses and checks one URI; the problem reads after the setting's name ("must be …, got …"). */
export function parseStoreUri(uri: string): {ok: true; value: StoreAddress} | {ok: false; problem: string} {
  const shown = JSON.stringify(redactUri(uri))
  if (!isPostgresUri(uri)) return {ok: false, problem: `must be a postgres:// or postgresql:// URI, got ${shown}`}
  const hash = uri.indexOf('#')
  const connectionString = hash < 0 ? uri : uri.slice(0, hash)
  try {
    const url = new URL(connectionString)
    if (url.hostname === '' && !/[?&]host=/.test(url.search)) return {ok: false, problem: `must name a host (postgres://user@host:5432/db), got ${shown}`}
  } catch {
    return {ok: false, problem: `must be a valid URI (postgres://user@host:5432/db?sslmode=…), got ${shown}`}
  }
  const options = {...DEFAULT_STORE_OPTIONS}
  if (hash >= 0) {
    for (const [key, value] of new URLSearchParams(uri.slice(hash + 1))) {
      switch (key) {
        case 'retention_period':
        case 'cleanup_interval': {
          const ms = parseGoDuration(value)
          if (ms === undefined || ms <= 0) return {ok: false, problem: `has ${key}=${JSON.stringify(value)}: must be a positive duration like 2160h or 30m`}
          if (key === 'retention_period') options.retentionMs = ms
          else options.cleanupIntervalMs = ms
          break
        }
        case 'disable_cleanup':
          if (!['true', 'false', '1', '0', ''].includes(value))
            return {ok: false, problem: `has disable_cleanup=${JSON.stringify(value)}: must be true or false`}
          options.disableCleanup = value === 'true' || value === '1' || value === ''
          break
        case 'partitioning':
          if (value !== 'monthly') return {ok: false, problem: `has partitioning=${JSON.stringify(value)}: must be monthly`}
          options.partitioning = 'monthly'
          break
        case 'auth_mode':
          return {ok: false, problem: `has auth_mode=${JSON.stringify(value)}: cloud IAM sign-in is not supported; put the password in the URI or in ~/.pgpass`}
        default:
          return {ok: false, problem: `has an unknown option ${JSON.stringify(key)} after '#': expected ${FRAGMENT_KEYS.join(', ')}`}
      }
    }
  }
  return {ok: true, value: {uri, redacted: redactUri(uri), connectionString, options}}
}

/** A Go duration (`2160h`, `1h30m`, `90s`, `500ms`) in milliseconds; undefined when not one. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = {ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: HOUR}
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return text === '0' ? 0 : undefined
  let total = 0
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(match[1]) * units[match[2]!]!
  return total
}

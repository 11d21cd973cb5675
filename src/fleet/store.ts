// A connection to the fleet store (PostgreSQL through the `pg` driver) and the one-line messages of
// its failures. The driver is loaded on first use: most commands run without a store.
import {createRequire} from 'node:module'
import type {Client, ClientConfig, Connection, QueryResult, QueryResultRow, Submittable} from 'pg'

import {ConfigError, StoreError} from '../errors/index.js'
import {parseStoreUri, redactIn, type StoreAddress} from './uri.js'

let pgLibrary: typeof import('pg') | undefined
function pg(): typeof import('pg') {
  pgLibrary ??= createRequire(import.meta.url)('pg') as typeof import('pg')
  return pgLibrary
}

/** The store the configuration names (its first audit_events_uri), or undefined when none. */
export function storeAddress(uris: readonly string[]): StoreAddress | undefined {
  const uri = uris[0]
  if (uri === undefined) return undefined
  const parsed = parseStoreUri(uri)
  if (!parsed.ok) throw new ConfigError({setting: 'audit_events_uri'}, `audit_events_uri ${parsed.problem}`)
  return parsed.value
}

export interface ConnectOptions {
  /** Give up connecting after this long (default 10 s; libpq's connect_timeout in the URI wins). */
  connectTimeoutMs?: number
  /** application_name the server shows (pg_stat_activity). */
  applicationName?: string
}

/** One session with the store. Every failure is a StoreError with one line and no password. */
export class StoreConnection {
  private constructor(
    readonly address: StoreAddress,
    private readonly client: Client,
  ) {}

  static async open(address: StoreAddress, options: ConnectOptions = {}): Promise<StoreConnection> {
    const config: ClientConfig = {
      connectionString: address.connectionString,
      application_name: options.applicationName ?? 'er-shell',
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      // TCP keepalive: a cut network shows as an error instead of a hang.
      keepAlive: true,
    }
    const client = new (pg().Client)(config)
    const connection = new StoreConnection(address, client)
    // Errors between queries (the server went away) surface on the next query; do not crash.
    client.on('error', () => {})
    try {
      await client.connect()
    } catch (error) {
      try {
        await client.end()
      } catch {
        // Never connected.
      }
      throw connection.failure(error, 'cannot connect')
    }
    return connection
  }

  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    try {
      return await this.client.query<R>(text, values)
    } catch (error) {
      throw this.failure(error)
    }
  }

  /**
   * `COPY … FROM STDIN` (text format) of `data`, already in COPY's text format; returns the rows
   * copied. A failed COPY (say, a duplicate key) leaves the connection usable, its transaction aborted.
   */
  async copyFrom(text: string, data: Buffer): Promise<number> {
    try {
      return await new Promise<number>((resolve, reject) => void this.client.query(new CopyIn(text, data, resolve, reject)))
    } catch (error) {
      throw this.failure(error)
    }
  }

  /** Runs `work` in a transaction; rolls back when it throws. */
  async transaction<T>(work: () => Promise<T>, mode = ''): Promise<T> {
    await this.query(`BEGIN ${mode}`.trim())
    try {
      const result = await work()
      await this.query('COMMIT')
      return result
    } catch (error) {
      try {
        await this.client.query('ROLLBACK')
      } catch {
        // The connection is gone: the server rolls back.
      }
      throw error
    }
  }

  /** A server-side cursor's rows, `fetch` at a time, inside a read-only transaction (for streaming). */
  async *stream<R extends QueryResultRow = QueryResultRow>(text: string, values: unknown[], fetch = 500): AsyncGenerator<R> {
    await this.query('BEGIN READ ONLY')
    let done = false
    try {
      await this.query(`DECLARE er_shell_cursor NO SCROLL CURSOR FOR ${text}`, values)
      for (;;) {
        const {rows} = await this.query<R>(`FETCH ${fetch} FROM er_shell_cursor`)
        for (const row of rows) yield row
        if (rows.length < fetch) break
      }
      done = true
    } finally {
      try {
        await this.client.query(done ? 'COMMIT' : 'ROLLBACK')
      } catch {
        // Gone.
      }
    }
  }

  /** The server's parameter (e.g. crdb_version on CockroachDB), if it reported one. */
  serverParameter(name: string): string | undefined {
    return (this.client as unknown as {connection?: {parameters?: Record<string, string>}}).connection?.parameters?.[name]
  }

  async close(): Promise<void> {
    try {
      await this.client.end()
    } catch {
      // Already closed.
    }
  }

  /** A StoreError for a driver error: one line, the password never in it. */
  failure(error: unknown, doing?: string): StoreError {
    if (error instanceof StoreError) return error
    const reason = describeDriverError(error)
    const line = redactIn(doing ? `${doing}: ${reason}` : reason, this.address.uri)
    return new StoreError(this.address.redacted, line, error)
  }
}

/**
 * COPY FROM STDIN as a query of the `pg` driver (which has no COPY of its own): the driver hands it
 * the connection when it is the query's turn and passes it the server's replies. A server error
 * ends it at once (the driver waits for the server's ReadyForQuery before the next query, and the
 * server drops copy data that arrive after the error); so does a connection that goes away.
 */
class CopyIn implements Submittable {
  private rows = 0
  private settled = false

  constructor(
    private readonly text: string,
    private readonly data: Buffer,
    private readonly resolve: (rows: number) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  submit(connection: Connection): void {
    connection.query(this.text)
  }

  handleCopyInResponse(connection: CopyConnection): void {
    for (let at = 0; at < this.data.length; at += COPY_CHUNK) connection.sendCopyFromChunk(this.data.subarray(at, at + COPY_CHUNK))
    connection.endCopyFrom()
  }

  handleCommandComplete(message: {text?: string}): void {
    this.rows = Number(/\d+$/.exec(message.text ?? '')?.[0] ?? 0)
  }

  handleError(error: unknown): void {
    if (this.settled) return
    this.settled = true
    this.reject(error)
  }

  handleReadyForQuery(): void {
    if (this.settled) return
    this.settled = true
    this.resolve(this.rows)
  }

  handleEmptyQuery(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCopyData(): void {}
}

/** The driver's connection as COPY uses it (methods its type declarations leave out). */
type CopyConnection = Connection & {sendCopyFromChunk(chunk: Buffer): void; endCopyFrom(): void}

/** Bytes per CopyData message. */
const COPY_CHUNK = 1 << 20

/** SQLSTATEs the messages name (PostgreSQL's errcodes). */
const SQLSTATE_HINTS: Record<string, string> = {
  '28P01': 'password authentication failed (check the user and password in audit_events_uri or ~/.pgpass)',
  '28000': 'the server refused this user (pg_hba.conf)',
  '3D000': 'the database does not exist (create it, or name another in the URI)',
  '42501': 'permission denied: the store role lacks a privilege (see "Many hosts" in the README for the grants)',
  '25006': 'the server is in a read-only transaction (a standby, or default_transaction_read_only): nothing was written',
  '53100': 'the database server is out of disk space: nothing was written',
  '57P01': 'the server was shut down during the request',
  '57P03': 'the server is starting up or shutting down',
}

export function describeDriverError(error: unknown): string {
  const e = error as {code?: string; message?: string; errno?: number}
  if (e.code && SQLSTATE_HINTS[e.code]) return SQLSTATE_HINTS[e.code]!
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is PostgreSQL running and listening there?)'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve'
    case 'ETIMEDOUT':
      return 'the connection timed out'
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection was cut'
    default:
      break
  }
  const message = (e.message ?? String(error)).split('\n')[0]!
  if (/timeout/i.test(message)) return 'the connection timed out'
  if (/Connection terminated/i.test(message)) return 'the connection was cut (the server went away)'
  return message
}

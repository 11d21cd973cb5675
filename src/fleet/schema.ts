// The fleet store's schema (docs/postgres-store.md): Teleport's pgevents tables (`events`,
// `audit_version`), created only when missing so that a Teleport auth server pointed at the same
// database reads er-shell's events, and er-shell's own tables beside them, versioned in
// `er_shell_schema` and created by numbered migrations. A store whose er-shell schema is newer than
// this er-shell knows is refused before anything is written.
import {StoreSchemaError} from '../errors/index.js'
import type {StoreConnection} from './store.js'

/** The nil UUID: Teleport's session_id of an event without a session. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000'

/** Teleport's pgevents schema, as its version 1 creates it. */
const TELEPORT_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS audit_version (
    version integer PRIMARY KEY CHECK (version > 0),
    created timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE IF NOT EXISTS events (
    event_time timestamptz NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    session_id uuid NOT NULL,
    event_data json NOT NULL,
    creation_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pkey PRIMARY KEY (event_time, event_id)
  )`,
  `CREATE INDEX IF NOT EXISTS events_search_session_events_idx ON events (session_id, event_time, event_id) WHERE session_id != '${NIL_UUID}'`,
  `INSERT INTO audit_version (version) VALUES (1) ON CONFLICT DO NOTHING`,
]

/** Statements only PostgreSQL takes (CockroachDB has no BRIN and no pg_trgm extension). */
const POSTGRES_ONLY = [`CREATE INDEX IF NOT EXISTS events_creation_time_idx ON events USING brin (creation_time)`]

/**
 * er-shell's migrations, in order; migration N brings the schema to version N. Each runs in the
 * transaction that records its version.
 */
const MIGRATIONS: ReadonlyArray<{postgres: string[]; any: string[]}> = [
  {
    any: [
      // A command's path and arguments joined by spaces, as `events --command` matches it.
      `CREATE OR REPLACE FUNCTION er_shell_command_text(data json) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(data->>'path', '') || coalesce((SELECT string_agg(' ' || a, '') FROM json_array_elements_text(
          CASE WHEN json_typeof(data->'argv') = 'array' THEN data->'argv' ELSE '[]'::json END) AS a), '')
      $$`,
      // Where each host's shipper is in each host log file; advanced in the transaction that inserts the lines.
      `CREATE TABLE er_shell_cursors (
        server_id text NOT NULL,
        file text NOT NULL,
        position bigint NOT NULL,
        lines bigint NOT NULL DEFAULT 0,
        updated timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (server_id, file)
      )`,
      // One row per session, kept by the shipper from the rows it inserts (counts only of new rows).
      `CREATE TABLE er_shell_sessions (
        session_id uuid PRIMARY KEY,
        sid text NOT NULL,
        server_id text,
        hostname text,
        cluster_name text,
        login text,
        "user" text,
        session_start timestamptz,
        session_stop timestamptz,
        last_event_time timestamptz,
        interactive boolean,
        exit_code integer,
        initial_command json,
        lost_events json,
        ended boolean NOT NULL DEFAULT false,
        events bigint NOT NULL DEFAULT 0,
        commands bigint NOT NULL DEFAULT 0,
        network bigint NOT NULL DEFAULT 0,
        disk bigint NOT NULL DEFAULT 0,
        disk_filtered bigint NOT NULL DEFAULT 0,
        cgroup_escapes bigint NOT NULL DEFAULT 0
      )`,
      `CREATE INDEX er_shell_sessions_start_idx ON er_shell_sessions (session_start DESC)`,
      `CREATE INDEX er_shell_sessions_user_idx ON er_shell_sessions ("user", session_start DESC)`,
      `CREATE INDEX er_shell_sessions_login_idx ON er_shell_sessions (login, session_start DESC)`,
      `CREATE INDEX er_shell_sessions_host_idx ON er_shell_sessions (hostname, session_start DESC)`,
      `CREATE INDEX er_shell_sessions_server_idx ON er_shell_sessions (server_id, session_start DESC)`,
      // A finished session's recording files, in parts; `complete` is set in the transaction that stores the last part.
      `CREATE TABLE er_shell_recordings (
        sid text PRIMARY KEY,
        server_id text NOT NULL,
        files json NOT NULL,
        bytes bigint NOT NULL,
        complete boolean NOT NULL DEFAULT false,
        uploaded timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE er_shell_recording_parts (
        sid text NOT NULL,
        name text NOT NULL,
        part integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (sid, name, part)
      )`,
      // The fleet questions on events: by time (the primary key), by session (Teleport's index), by
      // program (this one, commands only). By host, server id and user they go through the session
      // rows (those are session-level keys): an expression index on the JSON per key cost ingest 4×.
      `CREATE INDEX er_shell_events_program_idx ON events ((event_data->>'program'), event_time) WHERE event_type = 'session.command'`,
    ],
    // Trigram indexes for arbitrary regular expressions (pg_trgm) halved the ingest rate
    // (bench/RESULTS.md): not created; docs/postgres-store.md shows how to add them by hand.
    postgres: [],
  },
]

/** The er-shell schema version this er-shell writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

export interface SchemaState {
  version: number
  cockroach: boolean
}

/**
 * Brings the store to SCHEMA_VERSION (creating what is missing), under an advisory lock so that
 * hosts starting together migrate once. Throws StoreSchemaError for a newer schema. With
 * `create: false` (a least-privileged role: INSERT and SELECT only), it only checks.
 */
export async function ensureSchema(store: StoreConnection, options: {create?: boolean} = {}): Promise<SchemaState> {
  const cockroach = store.serverParameter('crdb_version') !== undefined
  const current = await readVersion(store)
  if (current > SCHEMA_VERSION) throw new StoreSchemaError(store.address.redacted, current, SCHEMA_VERSION)
  if (current < SCHEMA_VERSION && options.create !== false) {
    await store.transaction(async () => {
      if (!cockroach) await store.query(`SELECT pg_advisory_xact_lock(hashtext('er-shell schema'))`)
      await store.query(`CREATE TABLE IF NOT EXISTS er_shell_schema (
        version integer PRIMARY KEY CHECK (version > 0),
        created timestamptz NOT NULL DEFAULT now()
      )`)
      const {rows} = await store.query<{v: number | null}>('SELECT max(version) AS v FROM er_shell_schema')
      const now = rows[0]?.v ?? 0
      if (now > SCHEMA_VERSION) throw new StoreSchemaError(store.address.redacted, now, SCHEMA_VERSION)
      for (const statement of TELEPORT_SCHEMA) await store.query(statement)
      if (!cockroach) for (const statement of POSTGRES_ONLY) await store.query(statement)
      for (let version = now + 1; version <= SCHEMA_VERSION; version++) {
        const migration = MIGRATIONS[version - 1]!
        for (const statement of migration.any) await store.query(statement)
        if (!cockroach) for (const statement of migration.postgres) await store.query(statement)
        await store.query('INSERT INTO er_shell_schema (version) VALUES ($1)', [version])
      }
    })
  }
  const version = await readVersion(store)
  if (version > SCHEMA_VERSION) throw new StoreSchemaError(store.address.redacted, version, SCHEMA_VERSION)
  return {version, cockroach}
}

async function readVersion(store: StoreConnection): Promise<number> {
  const exists = await store.query<{t: string | null}>(`SELECT to_regclass('er_shell_schema')::text AS t`)
  if (exists.rows[0]?.t == null) return 0
  const {rows} = await store.query<{v: number | null}>('SELECT coalesce(max(version), 0) AS v FROM er_shell_schema')
  return Number(rows[0]?.v ?? 0)
}

/**
 * Retention as Teleport's backend does it: one DELETE of the rows created before the retention
 * period (on CockroachDB, row-level TTL does it instead; see docs/postgres-store.md). Recordings and
 * session rows older than the period go too. Returns how many events were deleted.
 */
export async function runRetention(store: StoreConnection, retentionMs: number): Promise<number> {
  const interval = `${Math.floor(retentionMs / 1000)} seconds`
  const {rowCount} = await store.query('DELETE FROM events WHERE creation_time < now() - $1::interval', [interval])
  await store.query('DELETE FROM er_shell_recording_parts WHERE sid IN (SELECT sid FROM er_shell_recordings WHERE uploaded < now() - $1::interval)', [interval])
  await store.query('DELETE FROM er_shell_recordings WHERE uploaded < now() - $1::interval', [interval])
  await store.query('DELETE FROM er_shell_sessions WHERE coalesce(last_event_time, session_start) < now() - $1::interval', [interval])
  return rowCount ?? 0
}

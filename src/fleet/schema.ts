// The fleet store's schema (docs/postgres-store.md): Teleport's pgevents tables (`events`,
// `audit_version`), created only when missing so that a Teleport auth server pointed at the same
// database reads er-shell's events, and er-shell's own tables beside them, versioned in
// `er_shell_schema` and created by numbered migrations. A store whose er-shell schema is newer than
// this er-shell knows is refused before anything is written.
import {StoreSchemaError} from '../errors/index.js'
import type {StoreConnection} from './store.js'

/** The nil UUID: Teleport's session_id of an event without a session. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000'

/**
 * Teleport's pgevents schema, as its version 1 creates it; with `partitioned`, `events` is
 * partitioned by range of event_time (its primary key holds event_time, as a partitioned table's
 * must), with a default partition for rows outside the monthly ones.
 */
const teleportSchema = (partitioned: boolean): string[] => [
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
  )${partitioned ? ' PARTITION BY RANGE (event_time)' : ''}`,
  ...(partitioned ? ['CREATE TABLE IF NOT EXISTS events_default PARTITION OF events DEFAULT'] : []),
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
  {
    any: [
      // Each host's integrity verification keys (docs/integrity.md), shipped when a shipper starts:
      // the copy kept off the host. `received` is the store's clock: a key that came later than the
      // host's first one means its secret was replaced.
      `CREATE TABLE er_shell_verification_keys (
        server_id text NOT NULL,
        key_id text NOT NULL,
        key text NOT NULL,
        received timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (server_id, key_id)
      )`,
    ],
    postgres: [],
  },
  {
    any: [
      // Each command's program and its number in its session (the #N of `events`, as the session's
      // files number it), written by the shipper from the lines it parsed: the program index on
      // events' JSON made the server parse every command's JSON on insert (bench/RESULTS.md). Its
      // key also finds a command's row from the events row (the program is in the JSON).
      `CREATE TABLE er_shell_commands (
        program text NOT NULL,
        event_time timestamptz NOT NULL,
        event_id uuid NOT NULL,
        session_id uuid NOT NULL,
        number integer,
        PRIMARY KEY (program, event_time, event_id)
      )`,
      `INSERT INTO er_shell_commands (program, event_time, event_id, session_id, number)
       SELECT coalesce(event_data->>'program', ''), event_time, event_id, session_id,
         CASE WHEN session_id <> '${NIL_UUID}' THEN row_number() OVER (PARTITION BY session_id
           ORDER BY event_time, CASE WHEN json_typeof(event_data->'ei') = 'number' THEN (event_data->>'ei')::numeric END, event_id) END
       FROM events WHERE event_type = 'session.command'`,
      `DROP INDEX IF EXISTS er_shell_events_program_idx`,
    ],
    postgres: [],
  },
  {
    // A recording's terminal output in bytes (sessions' output_bytes), counted when it is uploaded;
    // null for recordings uploaded before.
    any: [`ALTER TABLE er_shell_recordings ADD COLUMN output_bytes bigint`],
    postgres: [],
  },
]

/** The er-shell schema version this er-shell writes. */
export const SCHEMA_VERSION = MIGRATIONS.length
/** The first version with er_shell_verification_keys. */
export const VERIFICATION_KEYS_SCHEMA = 2

export interface SchemaState {
  version: number
  cockroach: boolean
}

/**
 * Brings the store to SCHEMA_VERSION (creating what is missing), under an advisory lock so that
 * hosts starting together migrate once. Throws StoreSchemaError for a newer schema. With
 * `create: false` (a least-privileged role: INSERT and SELECT only), it only checks.
 */
export async function ensureSchema(
  store: StoreConnection,
  options: {create?: boolean; partitioning?: 'monthly'; retentionMs?: number} = {},
): Promise<SchemaState> {
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
      for (const statement of teleportSchema(options.partitioning === 'monthly')) await store.query(statement)
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
  if (options.create !== false && options.partitioning === 'monthly') await ensurePartitions(store, options.retentionMs ?? DEFAULT_RETENTION_MS)
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
  if (await isPartitioned(store)) {
    await dropOldPartitions(store, retentionMs)
    await ensurePartitions(store, retentionMs)
  }
  const {rows} = await store.query<{n: string}>(DELETE_EXPIRED, [interval])
  await store.query('DELETE FROM er_shell_recording_parts WHERE sid IN (SELECT sid FROM er_shell_recordings WHERE uploaded < now() - $1::interval)', [interval])
  await store.query('DELETE FROM er_shell_recordings WHERE uploaded < now() - $1::interval', [interval])
  await store.query('DELETE FROM er_shell_sessions WHERE coalesce(last_event_time, session_start) < now() - $1::interval', [interval])
  return Number(rows[0]?.n ?? 0)
}

const DEFAULT_RETENTION_MS = 8766 * 3_600_000

/**
 * Teleport's retention DELETE, and the er_shell_commands rows of the commands it deletes (found by
 * their key, program from the deleted row's JSON); returns how many events went.
 */
const DELETE_EXPIRED = `
WITH gone AS (
  DELETE FROM events WHERE creation_time < now() - $1::interval RETURNING event_time, event_id, event_type, event_data
), commands AS (
  DELETE FROM er_shell_commands c USING gone WHERE gone.event_type = 'session.command'
    AND c.program = coalesce(gone.event_data->>'program', '') AND c.event_time = gone.event_time AND c.event_id = gone.event_id
)
SELECT count(*) AS n FROM gone`

/**
 * The er_shell_commands rows of a time range (a dropped partition's month), through the table's
 * key one program at a time (the distinct programs found by skipping along the key): a plain
 * range on event_time would read the whole table.
 */
const DELETE_COMMANDS_BETWEEN = `
WITH RECURSIVE programs(p) AS (
  (SELECT program FROM er_shell_commands ORDER BY program LIMIT 1)
  UNION ALL
  SELECT (SELECT program FROM er_shell_commands WHERE program > p ORDER BY program LIMIT 1) FROM programs WHERE p IS NOT NULL
)
DELETE FROM er_shell_commands c USING programs WHERE c.program = programs.p AND c.event_time >= $1 AND c.event_time < $2`

async function isPartitioned(store: StoreConnection): Promise<boolean> {
  const {rows} = await store.query<{n: string}>(`SELECT count(*) AS n FROM pg_partitioned_table WHERE partrelid = to_regclass('events')`)
  return Number(rows[0]?.n ?? 0) > 0
}

/** `events_pYYYYMM` and its bounds, for the month holding `ms`. */
function monthPartition(ms: number): {name: string; from: string; to: string} {
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth()
  const from = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10)
  const to = new Date(Date.UTC(y, m + 1, 1)).toISOString().slice(0, 10)
  return {name: `events_p${from.slice(0, 4)}${from.slice(5, 7)}`, from, to}
}

/**
 * Monthly partitions from the oldest month retention keeps to two months ahead. A month whose rows
 * already sit in the default partition keeps them there (PostgreSQL refuses the new partition).
 */
export async function ensurePartitions(store: StoreConnection, retentionMs: number, now = Date.now()): Promise<void> {
  if (!(await isPartitioned(store))) return
  await store.transaction(() => createMonths(store, retentionMs, now))
}

async function createMonths(store: StoreConnection, retentionMs: number, now: number): Promise<void> {
  for (let ms = now - retentionMs; ;) {
    const p = monthPartition(ms)
    try {
      await store.query('SAVEPOINT er_shell_partition')
      await store.query(`CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF events FOR VALUES FROM ('${p.from}') TO ('${p.to}')`)
      await store.query('RELEASE SAVEPOINT er_shell_partition')
    } catch {
      await store.query('ROLLBACK TO SAVEPOINT er_shell_partition')
    }
    ms = Date.parse(`${p.to}T00:00:00Z`)
    if (ms > now + 62 * 86_400_000) break
  }
}

/** Drops the monthly partitions wholly older than the retention period (the point of partitioning). */
async function dropOldPartitions(store: StoreConnection, retentionMs: number, now = Date.now()): Promise<void> {
  const {rows} = await store.query<{name: string}>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass('events') AND c.relname ~ '^events_p[0-9]{6}$'`,
  )
  for (const {name} of rows) {
    const y = Number(name.slice(8, 12))
    const m = Number(name.slice(12, 14))
    if (Date.UTC(y, m, 1) > now - retentionMs) continue
    await store.query(DELETE_COMMANDS_BETWEEN, [new Date(Date.UTC(y, m - 1, 1)), new Date(Date.UTC(y, m, 1))])
    await store.query(`DROP TABLE ${name}`)
  }
}

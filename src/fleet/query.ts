// Fleet-wide reading: `sessions` and `events` answered from the store for every host. The filters
// run in SQL where an index serves them (docs/postgres-store.md); every row is then checked again
// with the same matchEvent/matchSession as local reading, so the answer is the local one's.
import {AmbiguousSessionError, SessionNotFoundError} from '../errors/index.js'
import type {AuditEvent, LostEvents} from '../events/types.js'
import {wantedTypes, type EventFilter} from '../query/event-filter.js'
import type {SessionFilter} from '../query/session-filter.js'
import type {NumberedEvent, SessionSummary} from '../storage/reader.js'
import {sessionUuid} from './ship.js'
import type {StoreConnection} from './store.js'

/** --host / --server-id: which hosts to answer for. */
export interface HostFilter {
  host?: string
  serverId?: string
}

interface SessionRow {
  sid: string
  server_id: string | null
  hostname: string | null
  session_start: Date | null
  session_stop: Date | null
  last_event_time: Date | null
  interactive: boolean | null
  exit_code: number | null
  commands: string
  network: string
  disk: string
  disk_filtered: string
  cgroup_escapes: string
  lost_events: LostEvents | null
  ended: boolean
  login: string | null
  user: string | null
  initial_command: string[] | null
  recording: boolean | null
  output_bytes: string | null
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString())

/** Sessions of every host, newest first. */
export async function fleetSessions(store: StoreConnection, filter: SessionFilter, hosts: HostFilter): Promise<SessionSummary[]> {
  const where: string[] = []
  const values: unknown[] = []
  const param = (value: unknown): string => {
    values.push(value)
    return `$${values.length}`
  }
  if (filter.range.since !== undefined) where.push(`s.session_start >= ${param(new Date(filter.range.since))}`)
  if (filter.range.until !== undefined) where.push(`s.session_start <= ${param(new Date(filter.range.until))}`)
  if (filter.user !== undefined) {
    const p = param(filter.user)
    where.push(`(s."user" = ${p} OR s.login = ${p})`)
  }
  if (hosts.host !== undefined) where.push(`s.hostname = ${param(hosts.host)}`)
  if (hosts.serverId !== undefined) where.push(`s.server_id = ${param(hosts.serverId)}`)
  const {rows} = await store.query<SessionRow>(
    `SELECT s.*, r.complete AS recording, r.output_bytes FROM er_shell_sessions s LEFT JOIN er_shell_recordings r ON r.sid = s.sid
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY s.session_start DESC NULLS LAST, s.sid`,
    values,
  )
  return rows.map((r) => ({
    sid: r.sid,
    server_id: r.server_id ?? '',
    session_start: iso(r.session_start),
    session_stop: iso(r.session_stop),
    interactive: r.interactive,
    exit_code: r.exit_code,
    commands: Number(r.commands),
    network: Number(r.network),
    disk: Number(r.disk),
    disk_filtered: Number(r.disk_filtered),
    lost_events: r.lost_events,
    unfinished: !r.ended,
    login: r.login,
    user: r.user,
    initial_command: r.initial_command,
    last_event_time: iso(r.last_event_time),
    cgroup_escapes: Number(r.cgroup_escapes),
    // Known once the recording is uploaded (the session has ended), as local `sessions` counts it.
    output_bytes: Number(r.output_bytes ?? 0),
    host: r.hostname,
    recording: r.recording === true,
  }))
}

/** A full sid or a unique prefix, as the store knows it (AmbiguousSessionError, SessionNotFoundError). */
export async function resolveFleetSession(store: StoreConnection, query: string): Promise<{sid: string; serverId: string | null}> {
  const wanted = query.trim().toLowerCase()
  if (wanted === '') throw new SessionNotFoundError(query, store.address.redacted)
  const {rows} = await store.query<{sid: string; server_id: string | null}>(
    `SELECT sid, server_id FROM er_shell_sessions WHERE lower(sid) = $1
     UNION SELECT sid, server_id FROM er_shell_sessions WHERE lower(sid) LIKE $2 AND NOT EXISTS (SELECT 1 FROM er_shell_sessions WHERE lower(sid) = $1)
     UNION SELECT sid, server_id FROM er_shell_recordings WHERE lower(sid) LIKE $2 LIMIT 20`,
    [wanted, `${wanted.replace(/[\\%_]/g, '\\$&')}%`],
  )
  const exact = rows.filter((r) => r.sid.toLowerCase() === wanted)
  const matches = exact.length > 0 ? exact : rows
  const sids = [...new Set(matches.map((r) => r.sid))]
  if (sids.length === 0) throw new SessionNotFoundError(query, store.address.redacted)
  if (sids.length > 1) throw new AmbiguousSessionError(query, sids.sort())
  return {sid: sids[0]!, serverId: matches[0]!.server_id}
}

/**
 * A pattern PostgreSQL's regular expressions read as JavaScript does: letters, digits, spaces and
 * the common operators and escapes only. Anything else (\b is a backspace in PostgreSQL, a word
 * boundary in JavaScript) is matched in JavaScript alone.
 */
export function sqlSafeRegex(source: string): boolean {
  return /^(?:[A-Za-z0-9 _/.,:=@%+*?|^$()[\]-]|\\[.dswDSW\\/()[\]{}|*+?^$-])*$/.test(source) && !/\(\?/.test(source)
}

/**
 * A command's er_shell_commands row (its number, and the program index): found by its key, whose
 * program the events row's JSON holds.
 */
const COMMAND_JOIN = `LEFT JOIN er_shell_commands c ON e.event_type = 'session.command' AND c.program = coalesce(e.event_data->>'program', '')
  AND c.event_time = e.event_time AND c.event_id = e.event_id`

/** The SQL for an event search: conditions an index can serve; matchEvent checks the rest. */
export function eventQuery(filter: EventFilter, hosts: HostFilter, sessionId?: string): {text: string; values: unknown[]} {
  const where: string[] = []
  const values: unknown[] = []
  const param = (value: unknown): string => {
    values.push(value)
    return `$${values.length}`
  }
  const types = wantedTypes(filter)
  if (types !== undefined) where.push(`e.event_type = ANY(${param([...types])}::text[])`)
  else where.push(`e.event_type <> 'print'`)
  if (sessionId !== undefined) where.push(`e.session_id = ${param(sessionId)}::uuid`)
  const since = filter.range.since === undefined ? undefined : param(new Date(filter.range.since))
  const until = filter.range.until === undefined ? undefined : param(new Date(filter.range.until))
  if (since !== undefined) where.push(`e.event_time >= ${since}`)
  if (until !== undefined) where.push(`e.event_time <= ${until}`)
  // User, login, host and server id are the same on every event of a session: they select sessions
  // (er_shell_sessions' indexes), whose events the session index finds.
  const sessionWhere: string[] = []
  if (filter.user !== undefined) {
    const p = param(filter.user)
    sessionWhere.push(`(s."user" = ${p} OR s.login = ${p})`)
  }
  if (hosts.host !== undefined) sessionWhere.push(`s.hostname = ${param(hosts.host)}`)
  if (hosts.serverId !== undefined) sessionWhere.push(`s.server_id = ${param(hosts.serverId)}`)
  if (sessionWhere.length > 0) where.push(`e.session_id IN (SELECT s.session_id FROM er_shell_sessions s WHERE ${sessionWhere.join(' AND ')})`)
  if (filter.program) {
    // On er_shell_commands' key (program, event_time, event_id): `^curl$` (a whole name) is an
    // equality, other patterns PostgreSQL reads alike run as ~ on the programs only.
    const exact = /^\^([A-Za-z0-9_-]+)\$$/.exec(filter.program.source)
    const program = exact ? `c.program = ${param(exact[1])}` : sqlSafeRegex(filter.program.source) ? `c.program ~ ${param(filter.program.source)}` : undefined
    if (program !== undefined) {
      where.push(`e.event_type = 'session.command'`, program)
      // The time range on the commands' key too (the planner carries only equalities across the join).
      if (since !== undefined) where.push(`c.event_time >= ${since}`)
      if (until !== undefined) where.push(`c.event_time <= ${until}`)
    }
  }
  if (filter.command && sqlSafeRegex(filter.command.source)) {
    where.push(`e.event_type = 'session.command' AND er_shell_command_text(e.event_data) ~ ${param(filter.command.source)}`)
  }
  if (filter.denied) where.push(`e.event_type = 'session.network' AND e.event_data->>'action' = '1'`)
  if (filter.protocol !== undefined) where.push(`e.event_type = 'session.network' AND coalesce(e.event_data->>'protocol', 'tcp') = ${param(filter.protocol)}`)
  return {
    text: `SELECT e.event_data::text AS data, c.number FROM events e ${COMMAND_JOIN} WHERE ${where.join(' AND ')} ORDER BY e.event_time, e.event_id`,
    values,
  }
}

/**
 * Events of every host (or of one session), oldest first, streamed through a cursor, each command
 * with its number in its session (`commands`; 0 when the store has none: a command not shipped by
 * er-shell). The store orders by (event_time, event_id) as Teleport pages; events of the same
 * millisecond are put in recorded order (session, then `ei`) here, so one session reads as its
 * files have it. Yielded in batches: the events of one millisecond.
 */
export async function* fleetEvents(store: StoreConnection, filter: EventFilter, hosts: HostFilter, sid?: string): AsyncGenerator<NumberedEvent[]> {
  const {text, values} = eventQuery(filter, hosts, sid === undefined ? undefined : sessionUuid(sid))
  let tied: NumberedEvent[] = []
  const ordered = (): NumberedEvent[] => {
    const batch = tied
    tied = []
    if (batch.length > 1) batch.sort((a, b) => String(a.event.sid).localeCompare(String(b.event.sid)) || (Number(a.event.ei) || 0) - (Number(b.event.ei) || 0))
    return batch
  }
  for await (const row of store.stream<{data: string; number: number | null}>(text, values)) {
    const event = JSON.parse(row.data) as AuditEvent
    if (tied.length > 0 && tied[0]!.event.time !== event.time) yield ordered()
    tied.push({event, commands: row.number ?? 0})
  }
  if (tied.length > 0) yield ordered()
}

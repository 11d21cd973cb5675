// `er-shell events [<sid>]`: search recorded events (one session or all), or follow a live session.
import * as fs from 'node:fs'

import * as Args from '@oclif/core/args'
import {CommandMemory} from '../replay/describe.js'
import {Flags} from '../cli/oclif.js'

import {BaseCommand, warn, note as writeNote} from '../cli/base-command.js'
import {configFlags, loadConfig, storeFlags} from '../config/index.js'
import {NoLiveSessionError, RecordingIncompleteError, UsageError} from '../errors/index.js'
import {fleetEvents, resolveFleetSession} from '../fleet/query.js'
import {openReadingStore, readingFlags} from '../fleet/reading.js'
import {safeJson} from '../events/escape.js'
import type {EnhancedEventType} from '../events/types.js'
import {ENHANCED_EVENT_TYPES} from '../events/types.js'
import {colorWanted} from '../kernel/render.js'
import {compileEventFilter, matchEvent, wantedTypes, type EventFilter} from '../query/index.js'
import {linePrefilter} from '../query/prefilter.js'
import {eventHeader, eventRow} from '../query/render.js'
import {ProblemLog} from '../replay/problems.js'
import {PacedWriter} from '../replay/paced-writer.js'
import {
  findSessions,
  followSessionEvents,
  numberEvents,
  readSessionEvents,
  resolveSession,
  scanEventFile,
  type NumberedEvent,
  type ScanOptions,
  type SessionRef,
} from '../storage/index.js'

export default class Events extends BaseCommand {
  static override summary = 'Search recorded events (who ran what, when, in which session), or follow a live session.'

  static override description = `Without SID, searches every recorded session (oldest first), answering "who ran X, when, in which session"; with SID (or a unique prefix), one session. --follow streams a session's events as they are recorded, from a second terminal, until the session ends (without SID: the newest unfinished session).

Every event type except print (terminal output chunks) is shown unless --type says otherwise. Filters combine with AND: --type (comma list: command, network, disk, cgroup_escape, start, end, resize, data, print; the "session." prefix may be given), --program (regular expression on the program name), --command (regular expression on a command's path and arguments joined by spaces; implies --type command), --user (user or login), --denied (only network attempts the session's network policy refused; implies --type network), --protocol (tcp or udp; implies --type network), --since/--until.

Network events are TCP connects, UDP sends (one event per process and destination per second; "×N" is how many sends it stands for) and DNS queries (their name and type). An attempt the network policy (record --allow-net/--deny-net) refused reads "denied connect" or "denied send", in red on a terminal.

The table shows times in UTC; commands are numbered per session (#N), the N of "er-shell replay SID --at-command N". --json prints JSON lines, one event each, exactly as recorded.

When a file is truncated or damaged, the events that could be read are shown; with SID er-shell then names the file and exits 1, without SID the problem is a warning.`

  static override examples = [
    {
      description: 'Who ran curl, when, in which session',
      command: `<%= config.bin %> <%= command.id %> --command curl
TIME (UTC)               SESSION   USER        LOGIN     TYPE           PROGRAM              PID  WHAT
2026-11-20 09:00:01.220  b0b00000  bob         root      command        curl                 102  #2 /usr/bin/curl -s http://127.0.0.1:8080/
2026-11-22 16:42:19.220  86aca627  alice       root      command        curl                 102  #2 /usr/bin/curl -s http://127.0.0.1:8080/`,
    },
    {
      description: 'Connections and file opens of one session',
      command: `<%= config.bin %> <%= command.id %> 86aca627 --type network,disk
TIME (UTC)               TYPE           PROGRAM              PID  WHAT
2026-11-22 16:42:19.230  network        curl                 102  connect 127.0.0.1 → 127.0.0.1:8080
2026-11-22 16:42:19.300  disk           cat                  103  /etc/passwd O_RDONLY`,
    },
    {
      description: "Network attempts the session's policy refused, in every session",
      command: `<%= config.bin %> <%= command.id %> --denied
TIME (UTC)               SESSION   USER        LOGIN     TYPE           PROGRAM              PID  WHAT
2026-11-22 16:42:19.410  86aca627  alice       root      network        curl                 105  denied connect → 10.0.0.1:443 (tcp)`,
    },
    {description: 'UDP traffic of one session: DNS queries and other datagrams', command: '<%= config.bin %> <%= command.id %> 86aca627 --protocol udp'},
    {description: 'Every exec of base64 in the last day, as JSON lines', command: "<%= config.bin %> <%= command.id %> --program '^base64$' --since 1d --json"},
    {
      description: 'Watch a live session from a second terminal (without SID: the newest unfinished one)',
      command: '<%= config.bin %> <%= command.id %> --follow',
    },
  ]

  static override args = {
    sid: Args.string({description: 'Session id, or a unique prefix of one. Without it: every session.', required: false}),
  }

  static override flags = {
    config: configFlags.config,
    'data-dir': configFlags['data-dir'],
    type: Flags.string({
      char: 't',
      description: 'Event types, comma-separated: command, network, disk, cgroup_escape, start, end, resize, data, print.',
      helpValue: '<types>',
    }),
    program: Flags.string({char: 'p', description: 'Regular expression matched against the program name (comm, ≤ 15 characters).', helpValue: '<regex>'}),
    command: Flags.string({
      char: 'c',
      description: "Regular expression matched against a command's path and arguments joined by spaces.",
      helpValue: '<regex>',
    }),
    user: Flags.string({char: 'u', description: 'Only events of sessions started by this user or running as this login.', helpValue: '<name>'}),
    denied: Flags.boolean({description: "Only network attempts the session's network policy refused (implies --type network).", default: false}),
    protocol: Flags.string({description: 'Only network events of this transport: tcp or udp (implies --type network).', helpValue: '<tcp|udp>'}),
    since: Flags.string({
      description: 'Only events at or after this time: 2026-11-22, 2026-11-22T16:00 (UTC unless a zone is given), or an age like 30m, 2h, 7d.',
      helpValue: '<time>',
    }),
    until: Flags.string({description: 'Only events at or before this time (same forms as --since).', helpValue: '<time>'}),
    follow: Flags.boolean({char: 'f', description: 'Keep streaming new events until the session ends (Ctrl-C stops).', default: false}),
    json: Flags.boolean({description: 'JSON lines: one recorded event per line.', default: false}),
    'audit-events-uri': storeFlags['audit-events-uri'],
    ...readingFlags,
  }

  private output = new PacedWriter(process.stdout)
  private headerWritten = false

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Events)
    const filter = compileEventFilter(flags)
    const {config} = loadConfig(flags)
    const dataDir = config.data_dir
    // Every host's events from the fleet store (--follow watches a local session's files).
    const store = flags.follow ? undefined : await openReadingStore(config, flags.local)
    if (store !== undefined) {
      try {
        const sid = args.sid === undefined ? undefined : (await resolveFleetSession(store, args.sid)).sid
        const render = {json: flags.json, all: sid === undefined, color: colorWanted(process.stdout), host: true}
        const shown = await this.show(fleetEvents(store, filter, {host: flags.host, serverId: flags['server-id']}, sid), filter, render)
        this.output.check()
        if (shown === 0 && !flags.json && !this.output.closed) process.stderr.write('er-shell: no events match\n')
      } finally {
        await store.close()
      }
      return
    }
    if (flags.host !== undefined || flags['server-id'] !== undefined) {
      throw new UsageError(
        `--${flags.host === undefined ? 'server-id' : 'host'} reads the fleet store: configure audit_events_uri (--audit-events-uri), without --local or --follow`,
      )
    }
    const render = {json: flags.json, all: args.sid === undefined && !flags.follow, color: colorWanted(process.stdout)}
    // Only lines holding what the search requires are parsed (src/query/prefilter.ts).
    const prefilter = linePrefilter(filter, {json: flags.json})
    const problems: string[] = []
    let note: string | undefined
    let shown = 0
    /** Warnings of one session: an unfinished session's open end is expected, not a problem. */
    const read = async (ref: SessionRef, events: (onWarning: (m: string) => void) => AsyncIterable<NumberedEvent[]>): Promise<void> => {
      const log = new ProblemLog(ref)
      shown += await this.show(events(log.add), filter, render)
      problems.push(...log.problems)
      note ??= log.note
    }

    if (flags.follow) {
      const ref = args.sid === undefined ? newestUnfinished(dataDir) : resolveSession(dataDir, args.sid)
      const controller = new AbortController()
      const stop = (): void => controller.abort()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
      try {
        await read(ref, (onWarning) => numberEvents(followSessionEvents(ref, {signal: controller.signal, onWarning})))
      } finally {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
      }
    } else if (args.sid !== undefined) {
      const ref = resolveSession(dataDir, args.sid)
      await read(ref, (onWarning) => sessionEvents(ref, filter, {...prefilter, onWarning, unnumbered: flags.json}))
      if (note) writeNote(note)
    } else {
      const refs = await sessionsOldestFirst(findSessions(dataDir))
      for (const ref of refs) {
        if (this.output.closed) break
        await read(ref, (onWarning) => sessionEvents(ref, filter, {...prefilter, onWarning, unnumbered: flags.json}))
      }
    }
    this.output.check()
    if (shown === 0 && !flags.json && !this.output.closed) process.stderr.write('er-shell: no events match\n')
    if (problems.length > 0) {
      if (args.sid === undefined && !flags.follow) {
        for (const problem of problems) warn(problem)
        return
      }
      for (const problem of problems.slice(1)) warn(problem)
      throw new RecordingIncompleteError(problems)
    }
  }

  /** Writes the matching events; returns how many. Commands are numbered per session (NumberedEvent). */
  private async show(
    batches: AsyncIterable<NumberedEvent[]>,
    filter: EventFilter,
    render: {json: boolean; all: boolean; color: boolean; host?: boolean},
  ): Promise<number> {
    let shown = 0
    const commands = new CommandMemory()
    const row: Parameters<typeof eventRow>[1] = {...render, commands}
    for await (const batch of batches) {
      if (this.output.closed) break
      const lines: string[] = []
      for (const {event, commands: commandNumber} of batch) {
        if (!render.json) commands.remember(event)
        if (!matchEvent(event, filter)) continue
        shown++
        if (render.json) {
          lines.push(safeJson(event))
          continue
        }
        if (!this.headerWritten) {
          this.headerWritten = true
          lines.push(eventHeader(render))
        }
        row.commandNumber = event.event === 'session.command' && commandNumber > 0 ? commandNumber : undefined
        lines.push(eventRow(event, row))
      }
      if (lines.length > 0) await this.output.write(lines.join('\n') + '\n')
    }
    return shown
  }
}

/**
 * A session's events for this filter. When only one enhanced kind can match, its small per-kind
 * file (`<sid>-0.session.command-events.gz`, …) is read instead of the full events file, which
 * also holds every terminal output chunk's print event.
 */
function sessionEvents(ref: SessionRef, filter: EventFilter, options: ScanOptions): AsyncIterable<NumberedEvent[]> {
  const types = wantedTypes(filter)
  if (types?.size === 1) {
    const [type] = types
    if ((ENHANCED_EVENT_TYPES as readonly string[]).includes(type!)) {
      const file = ref.paths.enhanced[type as EnhancedEventType]
      if (fs.existsSync(file)) return scanEventFile(file, options)
    }
  }
  return scanEventFile(ref.paths.events, options)
}

/** Orders sessions by the time of their first event (unreadable ones last, by sid). */
async function sessionsOldestFirst(refs: SessionRef[]): Promise<SessionRef[]> {
  const keyed: Array<{ref: SessionRef; start: string}> = []
  for (const ref of refs) {
    let start = '\uffff'
    try {
      for await (const event of readSessionEvents(ref)) {
        start = typeof event.time === 'string' ? event.time : start
        break
      }
    } catch {
      // Unreadable: reported when its events are read.
    }
    keyed.push({ref, start})
  }
  keyed.sort((a, b) => a.start.localeCompare(b.start) || a.ref.sid.localeCompare(b.ref.sid))
  return keyed.map((k) => k.ref)
}

/** The most recently written session that has not finished (for `events --follow` without SID). */
function newestUnfinished(dataDir: string): SessionRef {
  const candidates = findSessions(dataDir)
    .filter((ref) => !ref.completed)
    .map((ref) => {
      let mtime = 0
      try {
        mtime = fs.statSync(ref.paths.events).mtimeMs
      } catch {
        // No events file yet.
      }
      return {ref, mtime}
    })
    .sort((a, b) => b.mtime - a.mtime)
  if (candidates.length === 0) throw new NoLiveSessionError(dataDir)
  return candidates[0]!.ref
}

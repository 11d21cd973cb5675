// `er-shell replay <sid>`: play a recording with its timing, or print it as text/json/yaml/asciicast,
// or write it as a Teleport ProtoStream file; `er-shell replay FILE.tar` plays a Teleport recording.
import * as path from 'node:path'

import * as Args from '@oclif/core/args'
import {Flags} from '../cli/oclif.js'

import {BaseCommand, warn, note as writeNote} from '../cli/base-command.js'
import {configFlags, loadConfig, storeFlags} from '../config/index.js'
import {RecordingIncompleteError, SessionNotFoundError, UsageError} from '../errors/index.js'
import type {AuditEvent} from '../events/types.js'
import {resolveFleetSession} from '../fleet/query.js'
import {openReadingStore} from '../fleet/reading.js'
import {fetchRecording} from '../fleet/recordings.js'
import {colorWanted} from '../kernel/render.js'
import {compileRegex} from '../query/index.js'
import {PacedWriter, Player, Progress, exportAsciicast, exportEvents, exportText, exportTextFrames, readTimeline, type Frame} from '../replay/index.js'
import {ProblemLog} from '../replay/problems.js'
import {findStartPoint} from '../replay/start-point.js'
import {HostKeys, damageWarning, describeVerdict, readHostVerificationKey, verifySession} from '../integrity/index.js'
import {
  MAX_MESSAGE_BYTES,
  exportProtoStream,
  isProtoStreamPath,
  protoStreamFrames,
  readProtoStream,
  type ProtoStreamReadStats,
} from '../replay/protostream/index.js'
import {exportHtml} from '../replay/export/html.js'
import {formatEvent} from '../replay/export/json.js'
import {resolveSession} from '../storage/index.js'

const FORMATS = ['pty', 'text', 'json', 'yaml', 'asciicast', 'teleport', 'html'] as const
type Format = (typeof FORMATS)[number]

const positiveNumber = (name: string, min: number, max: number) =>
  Flags.custom<number>({
    parse: async (input: string) => {
      const value = Number(input)
      if (input.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
        throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(input)}`)
      }
      return value
    },
  })

/** Formats that write a file (--output). */
const FILE_FORMATS: ReadonlySet<Format> = new Set(['teleport', 'html'])

interface ReplayFlags {
  speed: number
  'idle-limit'?: number
  events: boolean
  filter?: boolean
  output?: string
  'at-command'?: number
  at?: string
}

/** The integrity line the HTML page shows: the verdict with this host's verification key (docs/integrity.md), if it has one. */
async function integrityOf(ref: ReturnType<typeof resolveSession>, dataDir: string): Promise<{text: string; bad: boolean}> {
  let key
  try {
    key = readHostVerificationKey(dataDir)
  } catch (error) {
    return {text: `not checked: ${(error as Error).message}`, bad: false}
  }
  if (!key) return {text: 'not checked: no verification key on this host', bad: false}
  const verdict = await verifySession(ref, new HostKeys(key, dataDir))
  return {text: describeVerdict(verdict), bad: verdict.status === 'damaged' || verdict.status === 'unknown key'}
}

export default class Replay extends BaseCommand {
  static override summary =
    'Play a recorded session back with its timing, commands shown in step; or print it as text, JSON, YAML or asciicast, or write it as a Teleport recording or a web page.'

  static override description = `SID is a session id or a unique prefix of one (as "er-shell sessions" shows it).

--format pty (the default) writes the recorded terminal output with its original timing. On a terminal, keys control the playback: space pauses and resumes, "." steps one output chunk while paused, "+" and "-" double and halve the speed, "n" jumps to the next command, "q" quits. Commands, network events (TCP connects, UDP sends with their count, DNS queries with their name and type), file opens and cgroup escapes are shown as "[er-shell] …" lines in step with the output (--no-events hides them); a network attempt the session's policy denied reads "denied connect" or "denied send", in red on a terminal; while a full-screen program runs they are held back until it exits. Recorded bytes are untrusted: sequences that would make your terminal answer, read or write the clipboard, report or change its window, or send mouse and focus reports are dropped (--no-filter writes the bytes as they are).

--at-command N (or --at REGEX) starts at a command: everything before it is written at once, so the screen is caught up, and playback goes on from there.

--format text writes the output as plain text (escape sequences removed, carriage returns and backspaces applied); json and yaml write the session's events (JSON lines, YAML documents); asciicast writes asciicast v2 for asciinema, with enhanced events as markers.

--format teleport writes the session as a Teleport ProtoStream file (default <sid>.tar in the current directory, -o to choose), which "tsh play <sid>.tar" plays with no cluster: session.start, every output chunk with its timing, resizes, commands, file opens, network events and session.end. An event over Teleport's 64 KiB limit is shortened as Teleport's own writer shortens it, with a warning.

A FILE.tar argument (any argument ending in .tar or holding a /) is read as a Teleport ProtoStream recording instead of a session id: it plays, or converts with --format, like a session.

A session that is still running, or whose recorder died, replays up to where its files end (with a note on stderr). When a file is damaged, or truncated although the session finished, what could be read is still played or printed, then er-shell names the file and exits 1. Before anything is played, the recording is checked with the verification key kept on this host (see "er-shell verify"): a recording that was altered is named in a warning first.`

  static override examples = [
    {
      description: 'Play a session by sid prefix at 4x, pauses capped at 2 s; commands are shown as they run',
      command: `<%= config.bin %> <%= command.id %> 86aca627 --speed 4 --idle-limit 2
$ echo hi
[er-shell] command echo: /bin/echo hi
hi
$ curl -s http://127.0.0.1:8080/
[er-shell] command curl: /usr/bin/curl -s http://127.0.0.1:8080/
[er-shell] network curl: connect 127.0.0.1 → 127.0.0.1:8080`,
    },
    {
      description: 'Start where the second command ran (the #N of "er-shell events SID --type command")',
      command: '<%= config.bin %> <%= command.id %> 86aca627 --at-command 2',
    },
    {description: 'Start at the first command that ran curl', command: "<%= config.bin %> <%= command.id %> 86aca627 --at 'curl .*8080'"},
    {
      description: 'The output as plain text (colours and queries stripped, CR and backspace applied)',
      command: `<%= config.bin %> <%= command.id %> 86aca627 --format text
$ echo hi
hi
$ curl -s http://127.0.0.1:8080/
red ok
…`,
    },
    {
      description: 'The events as JSON lines (here abridged)',
      command: `<%= config.bin %> <%= command.id %> 86aca627 --format json | head -2
{"ei":0,"event":"session.start","code":"T2000I","uid":"58e0982f-…","time":"2026-11-22T16:42:18.000Z",…,"size":"80:24","interactive":true}
{"ei":1,"event":"print","uid":"6da50f1a-…","time":"2026-11-22T16:42:18.100Z",…,"bytes":2,"ms":100,"offset":0,"ci":0}`,
    },
    {
      description: 'Export for asciinema: enhanced events become markers',
      command: `<%= config.bin %> <%= command.id %> 86aca627 --format asciicast > s.cast; head -3 s.cast
{"version":2,"width":80,"height":24,"timestamp":1795365738,"title":"er-shell session 86aca627-971d-4883-854d-d309ba04c658"}
[0.1,"o","$ "]
[0.6,"o","echo hi\\r\\n"]`,
    },
  ]

  static override args = {
    sid: Args.string({description: 'Session id, or a unique prefix of one; or a Teleport recording file (FILE.tar).', required: true}),
  }

  static override flags = {
    config: configFlags.config,
    'data-dir': configFlags['data-dir'],
    'audit-events-uri': storeFlags['audit-events-uri'],
    local: Flags.boolean({description: "Only this host's recordings, even when a fleet store is configured.", default: false}),
    // Checked here rather than with `options`: the seven names do not fit --help's flag column.
    format: Flags.string({
      char: 'f',
      description: 'pty (play with timing), text, json, yaml, asciicast; teleport: a <sid>.tar for tsh play; html: a web page with a timeline.',
      default: 'pty',
      helpValue: '<format>',
    }),
    output: Flags.string({
      char: 'o',
      description: 'Where teleport and html write (default <sid>.tar or <sid>.html in the current directory).',
      helpValue: '<file>',
    }),
    speed: positiveNumber(
      'speed',
      1 / 64,
      64,
    )({char: 's', description: 'Speed factor: 2 plays twice as fast, 0.5 half as fast (pty, asciicast).', default: 1, helpValue: '<factor>'}),
    'idle-limit': positiveNumber(
      'idle-limit',
      0,
      86400,
    )({
      char: 'i',
      description: 'Cap every pause in the recording at this many seconds (pty, asciicast, html).',
      helpValue: '<seconds>',
    }),
    events: Flags.boolean({
      description:
        'Show commands, network events, file opens and cgroup escapes in step with the output (pty), or as asciicast markers. --no-events hides them.',
      default: true,
      allowNo: true,
    }),
    filter: Flags.boolean({
      description:
        'Drop sequences that make a terminal answer or act (queries, clipboard, window ops, mouse/focus reports). Default on for pty, off for asciicast.',
      allowNo: true,
    }),
    'at-command': Flags.integer({
      description:
        'Start at command number N (1 = the first command; "er-shell events SID --type command" numbers them), the screen caught up first (pty, text).',
      min: 1,
      helpValue: '<n>',
      exclusive: ['at'],
    }),
    at: Flags.string({
      description: 'Start at the first command whose path and arguments match this regular expression (pty, text).',
      helpValue: '<regex>',
      exclusive: ['at-command'],
    }),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Replay)
    if (!(FORMATS as readonly string[]).includes(flags.format))
      throw new UsageError(`--format must be one of ${FORMATS.join(', ')}; got ${JSON.stringify(flags.format)}`)
    const format = flags.format as Format
    if (flags.output !== undefined && !FILE_FORMATS.has(format))
      throw new UsageError(`--output works with --format ${[...FILE_FORMATS].join(' or ')}, not ${format}`)
    if (isProtoStreamPath(args.sid)) return this.runFile(args.sid, format, flags)
    // --events here is the replay switch, not the recorder's event selection.
    const {config} = loadConfig({config: flags.config, 'data-dir': flags['data-dir'], 'audit-events-uri': flags['audit-events-uri']})
    const {ref, dataDir} = await resolveAnywhere(config, args.sid, flags.local)
    // Tamper evidence (docs/integrity.md): said before anything is played. A recording fetched from
    // the fleet store is checked against the keys its own data dir has (none: another host's).
    const damaged = await damageWarning(ref, dataDir)
    if (damaged) warn(damaged)
    const startWanted = flags['at-command'] !== undefined || flags.at !== undefined
    if (startWanted && format !== 'pty' && format !== 'text') {
      throw new UsageError(`--at-command and --at work with --format pty or text, not ${format}`)
    }
    const regex = flags.at === undefined ? undefined : compileRegex('--at', flags.at)
    const start = startWanted ? await findStartPoint(ref, {command: flags['at-command'], regex}) : undefined

    const log = new ProblemLog(ref)
    const onWarning = log.add
    const output = new PacedWriter(process.stdout)
    const progress = format === 'pty' ? undefined : new Progress(process.stderr).start()
    const fromStart = async function* (frames: AsyncIterable<Frame>): AsyncGenerator<Frame> {
      let started = start === undefined
      for await (const frame of frames) {
        started ||= frame.event.ei === start!.ei
        if (started) yield frame
      }
    }
    try {
      switch (format) {
        case 'json':
        case 'yaml':
          await exportEvents(ref, format, output, {onWarning, progress})
          break
        case 'text':
          if (start) await exportTextFrames(fromStart(readTimeline(ref, {onWarning})), output, {progress})
          else await exportText(ref, output, {onWarning, progress})
          break
        case 'asciicast':
          await exportAsciicast(readTimeline(ref, {onWarning}), output, {
            idleLimit: flags['idle-limit'],
            speed: flags.speed,
            markers: flags.events,
            filter: flags.filter === true,
            sid: ref.sid,
            progress,
          })
          break
        case 'teleport':
          await this.writeTeleport(readTimeline(ref, {onWarning}), flags.output ?? `${ref.sid}.tar`, progress)
          break
        case 'html':
          await this.writeHtml(
            readTimeline(ref, {onWarning}),
            flags.output ?? `${ref.sid}.html`,
            ref.sid,
            flags,
            progress,
            await integrityOf(ref, config.data_dir),
          )
          break
        case 'pty':
          await this.play(readTimeline(ref, {onWarning}), flags, start?.ei, output)
          break
      }
    } finally {
      progress?.stop()
    }
    output.check()
    if (log.note) writeNote(log.note)
    if (log.problems.length > 0) {
      for (const problem of log.problems.slice(1)) warn(problem)
      throw new RecordingIncompleteError(log.problems)
    }
  }

  /** A Teleport ProtoStream file (`tsh play`'s input) played or converted like a session. */
  private async runFile(file: string, format: Format, flags: ReplayFlags): Promise<void> {
    if (flags['at-command'] !== undefined || flags.at !== undefined)
      throw new UsageError('--at-command and --at work with a session id, not with a Teleport recording file')
    const stats: ProtoStreamReadStats = {records: 0, skipped: 0, unknown: 0}
    const records = readProtoStream(file, stats)
    const output = new PacedWriter(process.stdout)
    const progress = format === 'pty' ? undefined : new Progress(process.stderr).start()
    const sid = path.basename(file).replace(/\.tar$/, '')
    try {
      switch (format) {
        case 'json':
        case 'yaml':
          for await (const record of records) {
            if (output.closed) break
            await output.write(formatEvent(record.event as unknown as AuditEvent, format))
          }
          break
        case 'text':
          await exportTextFrames(protoStreamFrames(records), output, {progress})
          break
        case 'asciicast':
          await exportAsciicast(protoStreamFrames(records), output, {
            idleLimit: flags['idle-limit'],
            speed: flags.speed,
            markers: flags.events,
            filter: flags.filter === true,
            sid,
            progress,
          })
          break
        case 'teleport':
          await this.writeTeleport(protoStreamFrames(records), flags.output ?? `${sid}.tar`, progress)
          break
        case 'html':
          await this.writeHtml(protoStreamFrames(records), flags.output ?? `${sid}.html`, sid, flags, progress, {
            text: 'unknown (a Teleport recording file)',
            bad: false,
          })
          break
        case 'pty':
          await this.play(protoStreamFrames(records), flags, undefined, output)
          break
      }
    } finally {
      progress?.stop()
    }
    output.check()
    if (stats.skipped > 0) warn(`${file}: ${stats.skipped} events skipped: their index (ei) was not above every earlier one (Teleport skips them too)`)
  }

  private async writeTeleport(frames: AsyncIterable<Frame>, file: string, progress: Progress | undefined): Promise<void> {
    const result = await exportProtoStream(frames, file, {progress})
    progress?.stop()
    for (const t of result.trimmed) {
      warn(
        `${t.event} (ei ${t.ei}) was ${t.before} bytes, over Teleport's ${MAX_MESSAGE_BYTES}-byte limit: ${t.keys.join(', ')} shortened to ${t.after} bytes, as Teleport does`,
      )
    }
    const leftOut = Object.entries(result.leftOut).map(([type, n]) => `${n} ${type}`)
    if (leftOut.length > 0) writeNote(`note: left out (Teleport has no such event): ${leftOut.join(', ')}`)
    writeNote(
      `wrote ${file}: ${result.events} events (${result.prints} prints, ${result.outputBytes} bytes of output) in ${result.parts} part${result.parts === 1 ? '' : 's'}`,
    )
  }

  private async writeHtml(
    frames: AsyncIterable<Frame>,
    file: string,
    sid: string,
    flags: ReplayFlags,
    progress: Progress | undefined,
    integrity: {text: string; bad: boolean},
  ): Promise<void> {
    const result = await exportHtml(frames, file, {sid, idleLimit: flags['idle-limit'], progress, integrity})
    progress?.stop()
    writeNote(
      `wrote ${file}: ${result.events} events, ${result.outputBytes} bytes of output, ${result.bytes} bytes in all (open it in a browser; it needs no network)`,
    )
  }

  private async play(frames: AsyncIterable<Frame>, flags: ReplayFlags, startEi: number | undefined, output: PacedWriter): Promise<void> {
    const stdin = process.stdin
    const interactive = stdin.isTTY === true
    const restoreKeyboard = (): void => {
      if (interactive && stdin.isRaw) stdin.setRawMode(false)
    }
    // The keyboard goes back to cooked mode on every way out, including signals.
    const onSignal = (signal: NodeJS.Signals): void => {
      restoreKeyboard()
      if (process.stdout.isTTY) process.stdout.write('\x1b[0m\x1b[?25h\r\n')
      process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15))
    }
    process.once('SIGTERM', onSignal)
    process.once('SIGHUP', onSignal)
    process.once('SIGINT', onSignal)
    process.once('exit', restoreKeyboard)
    const player = new Player({
      output,
      speed: flags.speed,
      idleLimit: flags['idle-limit'],
      events: flags.events,
      filter: flags.filter !== false,
      color: colorWanted(process.stdout),
      keys: interactive ? stdin : undefined,
      startEi,
      restoreTerminal: process.stdout.isTTY === true,
    })
    try {
      await player.play(frames)
    } finally {
      restoreKeyboard()
      process.off('SIGTERM', onSignal)
      process.off('SIGHUP', onSignal)
      process.off('SIGINT', onSignal)
      process.off('exit', restoreKeyboard)
    }
  }
}

/**
 * The session in this host's files, else (with a fleet store, without --local) its complete
 * recording fetched from the store into a private temporary data dir, removed at exit.
 */
async function resolveAnywhere(
  config: ReturnType<typeof loadConfig>['config'],
  sid: string,
  local: boolean,
): Promise<{ref: ReturnType<typeof resolveSession>; dataDir: string}> {
  let notHere: SessionNotFoundError
  try {
    return {ref: resolveSession(config.data_dir, sid), dataDir: config.data_dir}
  } catch (error) {
    if (!(error instanceof SessionNotFoundError) || local || config.audit_events_uri.length === 0) throw error
    notHere = error
  }
  const store = await openReadingStore(config, false)
  if (store === undefined) throw notHere
  try {
    const found = await resolveFleetSession(store, sid)
    const fetched = await fetchRecording(store, found.sid)
    if (fetched === undefined) {
      throw new SessionNotFoundError(
        sid,
        `${config.data_dir} nor as a complete recording in ${store.address.redacted} (a session's recording is shipped once it has ended)`,
      )
    }
    process.once('exit', fetched.remove)
    return {ref: resolveSession(fetched.dataDir, found.sid), dataDir: fetched.dataDir}
  } finally {
    await store.close()
  }
}

// Live event lines: one compact human line per recorded event, as it happens. On the session's own
// terminal (raw mode) they go through the terminal pump, which writes a line only at the start of
// an output line, so it never splits the session's output (after a second of waiting, on a fresh
// line).
import {type WriteStream, closeSync, constants as fsc, createWriteStream, fstatSync, lstatSync, openSync, readFileSync, realpathSync} from 'node:fs'
import {isatty} from 'node:tty'

import {LiveWriteError, UnsafeLiveTargetError} from '../errors/index.js'
import {visible} from '../events/escape.js'
import type {EmittableBody, LostEvents} from '../events/index.js'
import {networkParts, shellQuote} from '../replay/describe.js'
import type {EventLine, EventLines, Sink} from './sink.js'

const MAX_ARG_CHARS = 120

function shorten(text: string, max = MAX_ARG_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** Control characters in recorded strings must not act on the operator's terminal. */
const printable = visible

/** An argument made visible, then quoted as a shell user would read it back (only when needed). */
function quoteArg(arg: string): string {
  return shellQuote(visible(arg))
}

/** One line for an event; undefined for events that get no live line. */
export function formatLiveLine(body: EmittableBody, c: Palette): string | undefined {
  switch (body.event) {
    case 'session.command': {
      const args = body.argv.map(quoteArg).join(' ')
      const rc = body.return_code === 0 ? c.green('→ 0') : c.red(`→ ${body.return_code}`)
      const cut = body.argv_truncated ? c.yellow(' [argv truncated]') : ''
      return `${c.cyan('command')}  pid ${body.pid}  ${shorten(`${printable(body.path)}${args ? ` ${args}` : ''}`)}${cut}  ${rc}`
    }
    case 'session.network': {
      // Connects read as before (`src → dst`); sends say so, with their count and DNS question;
      // a denied attempt says "denied", in red, and has no source (none was chosen yet).
      const n = networkParts(body as unknown as Record<string, unknown>)
      const transport = `(${printable(n.protocol ?? 'tcp')}/ipv${printable(String(body.version))})`
      const dns = n.dns === undefined ? '' : `  ${shorten(printable(n.dns))}`
      const head = `${c.magenta('network')}  pid ${body.pid}  ${printable(body.program)}  `
      if (n.denied) return `${head}${c.red(`denied ${n.verb}`)} → ${printable(n.destination)}  ${transport}${dns}`
      const verb = n.verb === 'send' ? 'send ' : ''
      return `${head}${verb}${printable(n.source)} → ${printable(n.destination)}  ${transport}${n.times}${dns}`
    }
    case 'session.disk': {
      const rc = body.return_code >= 0 ? c.green(`→ fd ${body.return_code}`) : c.red(`→ ${body.return_code}`)
      return `${c.blue('disk')}     pid ${body.pid}  ${printable(body.program)}  ${shorten(printable(body.path))}  flags 0${body.flags.toString(8)}  ${rc}`
    }
    case 'session.cgroup_escape':
      return `${c.yellow('escape')}   pid ${body.pid}  left the session cgroup for ${printable(body.new_cgroup_path ?? String(body.new_cgroup_id))} (still recorded)`
    default:
      return undefined
  }
}

export function formatLossLine(lost: LostEvents, c: Palette): string {
  const parts = (['command', 'disk', 'network'] as const).filter((k) => lost[k] > 0).map((k) => `${lost[k]} ${k}`)
  return c.red(`events lost: ${parts.join(', ')} (ring buffer full; raise *_buffer_size)`)
}

/** /dev/null's device number (major 1, minor 3), and /dev/tty's (5, 0: "my controlling terminal"). */
const DEV_NULL = (1 << 8) | 3
const DEV_TTY = (5 << 8) | 0

/**
 * The terminals that are the caller's own: its controlling terminal (tty_nr in /proc/self/stat)
 * and whatever terminal its standard streams are on.
 */
function ownTerminals(): Set<number> {
  const own = new Set<number>()
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    // comm may contain spaces and parentheses: fields start after the last ')'; tty_nr is field 7.
    const ttyNr = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4])
    if (ttyNr > 0) own.add(ttyNr)
  } catch {
    // no /proc: the standard streams below still count
  }
  for (const fd of [0, 1, 2]) {
    try {
      if (isatty(fd)) own.add(fstatSync(fd).rdev)
    } catch {
      // closed
    }
  }
  return own
}

/**
 * Opens the --live target for appending. Live lines name every command, so they get the
 * recording's care; the only targets are the caller's own terminal, /dev/null, or a regular file
 * or FIFO owned by the effective user that no other user may read or write (a new file is created
 * 0600). Everything else is refused before the session starts: a FIFO another user made is a tap
 * on the session, another terminal is another user's screen, and a symlink planted in /tmp could
 * point at any file root can write. The open is non-blocking, so a FIFO nobody reads is refused
 * (ENXIO) instead of hanging the recorder, and never follows a final symlink; a symlink is
 * resolved first and may only lead to /dev/null or the caller's terminal (/dev/stderr, /dev/tty).
 * Throws a one-line ErShellError.
 */
export function openLiveFile(target: string): number {
  let viaLink = false
  try {
    viaLink = lstatSync(target).isSymbolicLink()
  } catch {
    // missing: created below
  }
  const flags = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_NOCTTY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW
  let fd: number
  try {
    fd = viaLink ? openSync(realpathSync(target), flags) : openSync(target, flags | fsc.O_CREAT, 0o600)
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    if (e.code === 'ENXIO') throw new UnsafeLiveTargetError(target, 'it is a FIFO that nobody reads')
    const text = e.message.replace(/^\w+: /, '').replace(/, open .*$/, '')
    const why = e.code === 'ELOOP' ? 'it is a symbolic link' : e.code ? `${text} (${e.code})` : text
    throw new LiveWriteError(target, why, error)
  }
  const st = fstatSync(fd)
  const euid = process.geteuid?.() ?? st.uid
  let problem: string | undefined
  if (st.isCharacterDevice()) {
    if (st.rdev !== DEV_NULL && st.rdev !== DEV_TTY && !ownTerminals().has(st.rdev)) {
      problem = 'it is a device other than /dev/null or your own terminal'
    }
  } else if (st.isFile() || st.isFIFO()) {
    const what = st.isFile() ? 'file' : 'FIFO'
    if (viaLink) problem = `it is a symbolic link to a ${what} (live lines never follow a symlink into a ${what})`
    else if (st.uid !== euid) problem = `it is owned by uid ${st.uid}, not by uid ${euid}`
    else if ((st.mode & 0o077) !== 0) problem = `other users may read or write it (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}): chmod 600 it`
  } else {
    problem = 'it is neither a file, a FIFO, /dev/null nor your own terminal'
  }
  if (problem) {
    closeSync(fd)
    throw new UnsafeLiveTargetError(target, problem)
  }
  if (st.isCharacterDevice()) {
    // Checked: reopened blocking (the same device, through the fd) so a busy terminal slows the
    // lines down instead of failing them with EAGAIN. A FIFO stays non-blocking: a reader that
    // stops reading stops the live lines (one notice), never the recorder.
    const blocking = openSync(`/proc/self/fd/${fd}`, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_NOCTTY)
    closeSync(fd)
    return blocking
  }
  return fd
}

export interface LiveOptions {
  /** 'stderr', 'off', or a file path (appended to). */
  target: string
  /** The session's output goes to the same terminal in raw mode. */
  sharesTerminal: boolean
  color: boolean
  /** A write to the --live file failed (then live lines stop). */
  onError?: (error: Error) => void
}

/** The styles live lines use: chalk's when they are coloured. */
export interface Palette {
  green(text: string): string
  red(text: string): string
  yellow(text: string): string
  cyan(text: string): string
  magenta(text: string): string
  blue(text: string): string
  dim(text: string): string
}

const plain = (text: string): string => text
const PLAIN: Palette = {green: plain, red: plain, yellow: plain, cyan: plain, magenta: plain, blue: plain, dim: plain}

/** The events that get a live line (formatLiveLine); no other line is parsed. */
const LIVE_EVENTS: ReadonlySet<string> = new Set(['session.command', 'session.disk', 'session.network', 'session.cgroup_escape'])

/**
 * A Sink of the record pipeline: a kernel event's line, parsed only when live lines are on, becomes
 * one human line on the terminal or the --live file.
 */
export class LivePrinter implements Sink {
  private file?: WriteStream
  private stopped = false
  private ending: Promise<void> | undefined
  private readonly enabled: boolean
  /** Once the session's output runs: where lines for the shared terminal go. */
  private terminalLine?: (text: string) => void

  static async create(options: LiveOptions): Promise<LivePrinter> {
    const colored = options.color && options.target === 'stderr'
    const palette = colored ? new (await import('chalk')).Chalk({level: 1}) : PLAIN
    return new LivePrinter(options, palette)
  }

  private constructor(
    private readonly options: LiveOptions,
    private readonly chalk: Palette,
  ) {
    this.enabled = options.target !== 'off'
    const toFile = this.enabled && options.target !== 'stderr'
    if (toFile) {
      const file = createWriteStream(options.target, {fd: openLiveFile(options.target)})
      file.once('error', (error) => {
        if (this.file === file) this.file = undefined
        this.stopped = true
        options.onError?.(error)
      })
      this.file = file
    }
  }

  /** False when live lines are off (`--live off`, --quiet): write() shows nothing. */
  get wantsEvents(): boolean {
    return this.enabled && !this.stopped
  }

  /** Lines go to the session's terminal, in raw mode, alongside its output. */
  get sharesTerminal(): boolean {
    return this.enabled && this.options.sharesTerminal
  }

  /** From now on, lines for the shared terminal go to `writeLine` (the pump's line()); undefined: to stderr again. */
  toTerminal(writeLine: ((text: string) => void) | undefined): void {
    this.terminalLine = writeLine
  }

  write(line: EventLine): void {
    if (this.wantsEvents && LIVE_EVENTS.has(line.event)) this.show(line.text)
  }

  /** A batch of kernel lines: with live lines off, one check for the batch, no line decoded. */
  writeLines(batch: EventLines): void {
    if (!this.wantsEvents) return
    for (let i = 0; i < batch.lines.length; i++) {
      if (LIVE_EVENTS.has(batch.lines[i]!.event)) this.show(batch.data.toString('utf8', i > 0 ? batch.ends[i - 1] : 0, batch.ends[i]))
    }
  }

  private show(lineText: string): void {
    let body: EmittableBody
    try {
      body = JSON.parse(lineText) as EmittableBody
    } catch {
      return // not JSON: nothing to show (a Sink never throws into the pipeline)
    }
    const text = formatLiveLine(body, this.chalk)
    if (text) this.line(text)
  }

  loss(lost: LostEvents): void {
    if (this.enabled) this.line(formatLossLine(lost, this.chalk))
  }

  /** A line that bypasses --live (start/end notices, warnings): always stderr unless quiet. */
  private line(text: string): void {
    const tagged = `${this.chalk.dim('er-shell ▸')} ${text}`
    if (this.stopped) return
    if (this.file) {
      this.file.write(`${new Date().toISOString()} ${tagged}\n`)
      return
    }
    if (this.terminalLine) this.terminalLine(tagged)
    else process.stderr.write(this.options.sharesTerminal ? `${tagged}\r\n` : `${tagged}\n`)
  }

  /** Writes out the lines given to the --live file and closes it (once, however often called). */
  end(): Promise<void> {
    this.terminalLine = undefined
    const file = this.file
    if (!file) return Promise.resolve()
    this.ending ??= new Promise((resolve) => file.end(resolve))
    return this.ending
  }

  abort(): void {
    this.terminalLine = undefined
    this.stopped = true
    this.file?.destroy()
  }
}

// `er-shell record`: a recorded session end to end, as four phases that each do one job and
// push what they create onto one cleanup stack (src/kernel/cleanup.ts), so that every path (shell
// exit, SIGTERM/SIGHUP, errors) ends cleanly:
//   prepare host   (phases/prepare-host.ts)  privileges, data dir, live target, cgroup2, session cgroup
//   start capture  (phases/start-capture.ts) kernel capture, the recording and its sinks, session.start
//   run terminal   (phases/run-terminal.ts)  pty, output pump, input, resize, signals, until exit
//   finish         (phases/finish.ts)        leftovers, drain, session.end, cleanup, summary
// Commands stay thin; this is the logic.
import type {CompiledDiskFilter} from '../disk/filter.js'
import type {ErShellConfig} from '../config/index.js'
import type {LostEvents} from '../events/index.js'
import {Cleanup} from '../kernel/cleanup.js'
import type {Leftover, LeftoverPolicy} from './leftovers.js'
import {finish} from './phases/finish.js'
import {type Notices, prepareHost} from './phases/prepare-host.js'
import {runTerminal} from './phases/run-terminal.js'
import {startCapture} from './phases/start-capture.js'
import {mark} from './timings.js'

export {assertPrivileges, assertSafeDataDir, cleanStaleSessions} from './phases/prepare-host.js'

export type SessionCommand = {kind: 'interactive'} | {kind: 'shell-c'; command: string} | {kind: 'argv'; argv: string[]}

export interface RecordOptions {
  config: ErShellConfig
  command: SessionCommand
  /** Run the session as this account (the recorded user then cannot unload the probes). */
  login?: string
  /** Let the session use io_uring (unrecorded I/O); otherwise the join helper denies it. */
  allowIoUring?: boolean
  /** With `login`: variables of our environment the session gets besides its login environment. */
  keepEnv?: string[]
  quiet: boolean
  leftovers: LeftoverPolicy
  graceMs: number
  /** Notices (sid at start and end, warnings) go here; default stderr. */
  notice?: (line: string) => void
  /** config.disk_filter compiled (assertDiskFilterUsable); none: every open recorded. */
  diskFilter?: CompiledDiskFilter
}

export interface RecordResult {
  sid: string
  exitCode: number
  lost: LostEvents
  counts: {commands: number; network: number; disk: number}
  leftovers: Leftover[]
  completed: boolean
}

export async function recordSession(opts: RecordOptions): Promise<RecordResult> {
  mark('entry')
  survivePipeErrors()
  const out = noticesFor(opts)
  const cleanup = new Cleanup()
  try {
    const host = await prepareHost(opts, out, cleanup)
    const capture = await startCapture(host, cleanup)
    const ran = await runTerminal(host, capture, cleanup)
    return await finish(host, capture, ran, cleanup)
  } catch (error) {
    for (const failure of await cleanup.unwind()) out.notice(`cleanup: ${failure}`)
    throw error
  }
}

function noticesFor(opts: RecordOptions): Notices {
  const notice = opts.notice ?? ((l: string) => process.stderr.write(`er-shell: ${l}\n`))
  return {
    notice,
    say: (l: string) => {
      if (!opts.quiet) notice(l)
    },
  }
}

/**
 * A reader of er-shell's stdout or stderr that goes away (`record … 2>&1 | head -1`) must not end
 * the recording: Node ignores SIGPIPE, so a write gets EPIPE, which is an 'error' event that kills
 * the process when nothing handles it — the session was then UNFINISHED, its cgroup left for the
 * next run, and a session could make itself unrecorded that way. What would have gone to a closed
 * stream is dropped (the session's output still reaches the recording through the pump, which
 * stops writing to a closed stdout by itself); any other write error there is no reason to stop
 * recording either. Stays for the life of the process: the end notice comes after the session.
 */
function survivePipeErrors(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listeners('error').includes(ignoreStdioError)) continue
    stream.on('error', ignoreStdioError)
  }
}

function ignoreStdioError(): void {}

// Phase 2 of record: the kernel capture and the recording it feeds. The probes were most likely
// loaded while er-shell started (bin/run.js → preload.ts); prepare() scopes them to the session
// cgroup and starts the cgroup id check (Teleport #3212: on some hosts the id BPF saw differed
// from user space's and nothing was recorded), which runs while the recording's files are
// created; begin() waits for it. Then session.start is written and on disk before the session
// program runs. Kernel lines from here on go to the writer, which numbers each once and fans it
// out to the session files, the host log and the live printer (src/record/sink.ts).
import {hasIncludes} from '../../disk/filter.js'
import {mkdirSync} from 'node:fs'
import {hostname, userInfo} from 'node:os'
import {join} from 'node:path'
import {createRequire} from 'node:module'

import type * as NodePty from 'node-pty'

import {CaptureEngine} from '../../engine/capture.js'
import type {KernelLine} from '../../engine/events.js'
import type {LostEvents, SessionCommon} from '../../events/index.js'
import type {Cleanup} from '../../kernel/cleanup.js'
import {ensureServerId} from '../../storage/layout.js'
import {ShipperSink} from '../ship-sink.js'
import {SessionWriter} from '../../storage/session-writer.js'
import {Backpressure} from '../backpressure.js'
import {mark} from '../timings.js'
import type {PreparedHost} from './prepare-host.js'

/** Commands, network events and file opens recorded (for session.end and the summary). */
export interface EventCounts {
  commands: number
  /** session.network events, denied attempts included. */
  network: number
  disk: number
  /** Network attempts the session's policy denied. */
  denied: number
  /** Session processes that ended (session.process_exit). */
  exits: number
}

export interface StartedCapture {
  engine: CaptureEngine
  writer: SessionWriter
  /** Pauses the kernel capture and the pty pump while the recording is behind. */
  flow: Backpressure
  /** True once a storage error stopped the recording (the session goes on, unrecorded). */
  readonly storageFailed: boolean
  counts: EventCounts
  /** Losses already shown as a live line. */
  readonly lossShown: LostEvents
  /** No more loss lines from the timer (before the engine stops being asked). */
  stopLossLines: () => void
  interactive: boolean
  size: {cols: number; rows: number}
  /** node-pty, loaded while the cgroup id check ran. */
  pty: typeof NodePty
}

export async function startCapture(host: PreparedHost, cleanup: Cleanup): Promise<StartedCapture> {
  const {cfg, opts, out, live, sid, cgroupDir} = host
  const feed = new KernelFeed()
  const engine = CaptureEngine.prepare({
    cgroupDir,
    cgroupCheck: {joinHelper: host.joinHelper, program: '/bin/true'},
    kinds: cfg.events,
    bufferPages: {command: cfg.command_buffer_size, disk: cfg.disk_buffer_size, network: cfg.network_buffer_size},
    netRules: cfg.network_policy.rules,
    ...(opts.diskFilter ? {diskFilter: {next: opts.diskFilter.next, accept: opts.diskFilter.accept, includes: hasIncludes(cfg.disk_filter)}} : {}),
    onLines: (lines) => feed.take(lines),
    onError: (error) => out.notice(`kernel capture: ${error.message}`),
  })
  cleanup.push('stop the kernel capture', () => engine.stop().catch(() => undefined))
  mark('enginePrepared')

  const login = opts.login ?? userInfo().username
  mkdirSync(cfg.data_dir, {recursive: true, mode: 0o700})
  const common: SessionCommon = {
    cluster_name: cfg.cluster_name,
    server_id: ensureServerId(cfg.data_dir),
    server_hostname: cfg.nodename || hostname(),
    login,
    user: process.env.SUDO_USER || login,
  }
  const interactive = opts.command.kind === 'interactive'
  const stdoutTTY = Boolean(process.stdout.isTTY)
  const size = {cols: (stdoutTTY && process.stdout.columns) || 80, rows: (stdoutTTY && process.stdout.rows) || 24}

  const flow = new Backpressure()
  let storageFailed = false
  const writer = await SessionWriter.create({
    dataDir: cfg.data_dir,
    sid,
    common,
    // With a fleet store, its shipper (a process of its own reading the host log) rides along.
    sinks:
      cfg.audit_events_uri.length > 0
        ? [live, ShipperSink.start({dataDir: cfg.data_dir, uri: cfg.audit_events_uri[0]!, onWarning: (m) => out.notice(m)})]
        : [live],
    // e.g. log/events.log is not a symlink and was left alone
    onWarning: (message) => out.notice(message),
    onError: (error) => {
      storageFailed = true
      // The message already says the recording stopped and what was written stays readable.
      out.notice(`${error.message}; the session goes on, unrecorded`)
      flow.release()
    },
    onDrain: () => flow.release(),
  })
  // The kernel capture must have stopped (drained into the writer) before the writer is dropped.
  cleanup.push('abort the recording', async () => {
    await engine.stop().catch(() => undefined)
    writer.abort()
  })

  writer.emit({event: 'session.start', size: `${size.cols}:${size.rows}`, interactive, ...(host.initial ? {initial_command: host.initial} : {})}, Date.now())
  // On disk before the session program runs: a session that ran is never missing its start,
  // whatever happens to er-shell or the disk in its first flush interval.
  const started = writer.flush()
  const counts = feed.begin({writer, engine, flow})
  mark('writerCreated')
  // node-pty loads (~5-10 ms) while the cgroup id check's helper runs; begin() waits for it.
  const pty = createRequire(import.meta.url)('node-pty') as typeof NodePty
  // Moves into the session cgroup or below it are no escape (native/src/lines.cc).
  engine.begin({format: writer.lineFormat(), sessionCgroupRel: join(cfg.root_path, sid)})
  await started
  mark('engineStarted')

  // Lost events are shown as a live line once a second, when there are more.
  const loss = {shown: {command: 0, disk: 0, network: 0} as LostEvents}
  const lossTimer = setInterval(() => {
    const lost = engine.lost()
    if (lost.command > loss.shown.command || lost.disk > loss.shown.disk || lost.network > loss.shown.network) {
      live.loss(lost)
      loss.shown = lost
    }
  }, 1000)
  const stopLossLines = (): void => clearInterval(lossTimer)
  cleanup.push('stop the loss lines', stopLossLines)

  return {
    engine,
    writer,
    flow,
    get storageFailed() {
      return storageFailed
    },
    counts,
    get lossShown() {
      return loss.shown
    },
    stopLossLines,
    interactive,
    size,
    pty,
  }
}

/**
 * Kernel events into the recording. Each arrives as its audit line (a KernelLine: formatted on the
 * poll thread, native/src/lines.h), which the writer numbers and fans out; the live printer parses
 * it only when live lines are on. Nothing may arrive before begin().
 */
class KernelFeed {
  /** Where lines go, from begin() on. */
  private into: {writer: SessionWriter; engine: CaptureEngine; flow: Backpressure} | undefined
  private readonly counts: EventCounts = {commands: 0, network: 0, disk: 0, denied: 0, exits: 0}

  begin(into: {writer: SessionWriter; engine: CaptureEngine; flow: Backpressure}): EventCounts {
    this.into = into
    return this.counts
  }

  take(lines: KernelLine[]): void {
    const into = this.into
    if (!into) throw new Error('kernel events before the session began')
    for (const line of lines) this.count(line)
    // One buffer for the batch's lines, no string per line (SessionWriter.emitFormattedLines).
    // After a storage failure the writer still numbers lines for the live printer (and says
    // true). A writer that is behind pauses consumption: records wait in the kernel rings (and are
    // dropped and counted there if those fill), so memory stays bounded.
    if (!into.writer.emitFormattedLines(lines)) into.flow.pause(into.engine)
  }

  private count({event, denied}: KernelLine): void {
    if (event === 'session.command') this.counts.commands++
    else if (event === 'session.network') {
      this.counts.network++
      if (denied) this.counts.denied++
    } else if (event === 'session.disk') this.counts.disk++
    else if (event === 'session.process_exit') this.counts.exits++
  }
}

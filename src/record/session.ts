// A recorded session end to end: cgroup, probes, pty, recording, live lines, and a clean end on
// every path (shell exit, SIGTERM/SIGHUP, errors). Commands stay thin; this is the logic.
import {randomUUID} from 'node:crypto'
import {spawnSync} from 'node:child_process'
import {closeSync, constants as fsc, existsSync, mkdirSync, openSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {hostname, userInfo} from 'node:os'
import {basename, join} from 'node:path'
import {performance} from 'node:perf_hooks'

import type * as NodePty from 'node-pty'

import {cgroupId as cgroupIdOf, createCgroup, removeCgroupTree} from '../cgroup/cgroup.js'
import {ensureMounted} from '../cgroup/mounts.js'
import type {ErShellConfig} from '../config/index.js'
import {CaptureEngine} from '../engine/capture.js'
import type {CapturedEvent, LostCounts} from '../engine/events.js'
import {InsufficientPrivilegesError, LoginRefusedError, NoSuchAccountError} from '../errors/index.js'
import type {SessionCommon} from '../events/index.js'
import {CAPABILITY_NAMES, REQUIRED_CAPABILITIES, currentCapEff, hasCapability} from '../kernel/host.js'
import {joinHelperPath, loadNative} from '../native/index.js'
import type {NativePump} from '../native/types.js'
import {checkDataDir, ensureServerId} from '../storage/layout.js'
import {SessionWriter} from '../storage/session-writer.js'
import {type Leftover, type LeftoverPolicy, handleLeftovers} from './leftovers.js'
import {LivePrinter} from './live.js'
import {type MappingContext, toAuditBody} from './mapping.js'
import {REGISTRY_DIR, register, staleSessions, unregister} from './registry.js'
import {TIMINGS, mark, marks} from './timings.js'

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
}

export interface RecordResult {
  sid: string
  exitCode: number
  lost: LostCounts
  counts: {commands: number; network: number; disk: number}
  leftovers: Leftover[]
  completed: boolean
}

/** Root, or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN. */
export function assertPrivileges(): void {
  if (process.getuid?.() === 0) return
  const eff = currentCapEff()
  const missing = REQUIRED_CAPABILITIES.filter((c) => !hasCapability(eff, c)).map((c) => CAPABILITY_NAMES[c] ?? `cap ${c}`)
  if (missing.length === 0) return
  throw new InsufficientPrivilegesError(missing)
}

/** See checkDataDir: the data dir, and every directory above it, must be ours alone. */
export function assertSafeDataDir(dataDir: string): void {
  checkDataDir(dataDir)
}

function accountOf(login: string | undefined): string {
  return login ?? userInfo().username
}

function shellFor(login: string | undefined): string {
  if (!login && process.env.SHELL && existsSync(process.env.SHELL)) return process.env.SHELL
  return existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh'
}

/**
 * The login shell of `account` from the passwd database (through NSS, as the join helper sees
 * it); /bin/sh when the entry has none (passwd(5)). Throws when there is no such account.
 */
function loginShellOf(account: string): string {
  const r = spawnSync('getent', ['passwd', account], {encoding: 'utf8'})
  const fields = r.status === 0 ? r.stdout.split('\n')[0]!.split(':') : []
  if (fields.length < 7) throw new NoSuchAccountError(account)
  return fields[6] || '/bin/sh'
}

/** A shell that refuses logins: nologin(8), false(1), or one that is not there. */
function refusesLogin(shell: string): boolean {
  return ['nologin', 'false'].includes(basename(shell)) || !existsSync(shell)
}

/**
 * What the pty runs: the join helper, which joins the cgroup and then execs the session program.
 * An interactive --login session is the account's own login shell, as with login(1); a command
 * (-c, --) runs with bash (else sh) whatever that shell is.
 */
function sessionArgv(
  cmd: SessionCommand,
  login: string | undefined,
  loginShell: string | undefined,
): {program: string; args: string[]; initial?: string[]} {
  const shell = shellFor(login)
  switch (cmd.kind) {
    case 'interactive':
      return {program: loginShell ?? shell, args: ['-l']}
    case 'shell-c':
      return {program: shell, args: ['-c', cmd.command], initial: [cmd.command]}
    case 'argv':
      return {program: cmd.argv[0]!, args: cmd.argv.slice(1), initial: cmd.argv}
  }
}

/** The foreground process group of pid's controlling terminal (tpgid in /proc/<pid>/stat), or 0. */
function foregroundGroup(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: fields start after the last ')'; tpgid is field 8.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[5]) || 0
  } catch {
    return 0
  }
}

/**
 * What the native pump needs of a node-pty terminal: its master fd, the slave's name (to hold a
 * slave fd, which keeps the master from reading EIO before the last output is read: node-pty
 * otherwise lost the last 3-14 KB at exit in 11 of 18 runs measured), and its socket, whose
 * reader is stopped here.
 * node-pty's socket starts reading in its constructor; no byte is read before the event loop
 * runs, so stopping it right after spawn leaves every byte to the pump.
 */
function ptyParts(term: NodePty.IPty): {masterFd: number; ptsName: string; socket: {destroy(): void}} {
  const t = term as unknown as {
    ptsName?: string
    _fd?: number
    _socket?: {destroy(): void; removeAllListeners(event: string): void; _read: () => void; _handle?: {readStop(): number; reading?: boolean}}
  }
  const socket = t._socket
  if (!t.ptsName || t._fd === undefined || !socket?._handle) {
    throw new Error('node-pty did not expose its terminal (ptsName, fd, socket): unsupported node-pty version')
  }
  socket.removeAllListeners('data')
  socket._read = () => {}
  socket._handle.reading = false
  socket._handle.readStop()
  return {masterFd: t._fd, ptsName: t.ptsName, socket}
}

/**
 * Cleans sessions whose recorder died (SIGKILL, crash): processes, cgroup, registration.
 * `cgroupRoot` is <cgroup_path>/<root_path>, where session cgroups live; `registryDir` is
 * REGISTRY_DIR except in tests. Entries that are not root's or name anything but a session
 * cgroup under cgroupRoot are reported (one line each) and left alone.
 */
export async function cleanStaleSessions(notice: (l: string) => void, cgroupRoot: string, registryDir = REGISTRY_DIR): Promise<void> {
  for (const reg of staleSessions(cgroupRoot, registryDir, notice)) {
    let left: Leftover[] = []
    if (existsSync(reg.cgroupDir)) {
      left = await handleLeftovers(reg.cgroupDir, 'kill', 1000)
      try {
        removeCgroupTree(reg.cgroupDir)
      } catch (error) {
        notice(`cannot remove stale session cgroup ${reg.cgroupDir}: ${(error as Error).message}`)
        continue
      }
    }
    unregister(reg.sid, registryDir)
    notice(
      `cleaned up session ${reg.sid} left by a recorder that died (pid ${reg.pid})` +
        (left.length > 0 ? `: ended ${left.length} leftover process(es) ${left.map((l) => `${l.pid}/${l.program}`).join(' ')}` : '') +
        `; its recording stays readable (er-shell replay ${reg.sid.slice(0, 8)})`,
    )
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

export async function recordSession(opts: RecordOptions): Promise<RecordResult> {
  mark('entry')
  survivePipeErrors()
  const cfg = opts.config
  const notice = opts.notice ?? ((l: string) => process.stderr.write(`er-shell: ${l}\n`))
  const say = (l: string) => {
    if (!opts.quiet) notice(l)
  }
  assertPrivileges()
  assertSafeDataDir(cfg.data_dir)
  const joinHelper = joinHelperPath()
  const native = loadNative()

  // An account that may not log in gets no interactive login shell (its own would be nologin,
  // which says so and exits); a command given with -c or -- still runs, with a warning.
  let loginShell: string | undefined
  if (opts.login) {
    loginShell = loginShellOf(opts.login)
    if (refusesLogin(loginShell)) {
      if (opts.command.kind === 'interactive') {
        throw new LoginRefusedError(opts.login, loginShell)
      }
      say(`--login ${opts.login}: the account's login shell is ${loginShell}; running the command anyway`)
    }
  }

  const sid = randomUUID()
  const undo: Array<() => void | Promise<void>> = []
  const runUndo = async () => {
    while (undo.length > 0) {
      try {
        await undo.pop()!()
      } catch (error) {
        notice(`cleanup: ${(error as Error).message}`)
      }
    }
  }

  let engine: CaptureEngine | undefined
  let pump: NativePump | undefined
  let writer: SessionWriter | undefined
  let live: LivePrinter | undefined
  let restoreTerminal = () => {}
  try {
    // First, before anything is created: a --live target that cannot be used safely is refused.
    live = await LivePrinter.create({
      target: opts.quiet ? 'off' : cfg.live,
      sharesTerminal: Boolean(process.stdin.isTTY && process.stdout.isTTY && process.stderr.isTTY) && cfg.live === 'stderr',
      color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
      onError: (error) => notice(`live lines stopped: ${error.message}`),
    })
    ensureMounted('cgroup2', cfg.cgroup_path)
    await cleanStaleSessions(notice, join(cfg.cgroup_path, cfg.root_path))

    const rootDir = join(cfg.cgroup_path, cfg.root_path)
    const cgroupDir = join(rootDir, sid)
    createCgroup(cgroupDir)
    undo.push(() => removeCgroupTree(cgroupDir))
    register({sid, cgroupDir, dataDir: cfg.data_dir})
    undo.push(() => unregister(sid))

    mark('cgroupCreated')

    // The programs were most likely loaded and attached while er-shell started (bin/run.js →
    // preload.ts); prepare() waits for that if need be and starts the cgroup id check (Teleport
    // #3212: on some hosts the id BPF saw differed from user space's and nothing was recorded),
    // which runs while the recording files are created; begin() below waits for it. No event can
    // arrive before begin(), which comes after the writer exists.
    let onEvents: (events: CapturedEvent[]) => void = () => {
      throw new Error('kernel events before the session began')
    }
    engine = CaptureEngine.prepare({
      cgroupDir,
      cgroupCheck: {joinHelper, program: '/bin/true'},
      kinds: cfg.events,
      bufferPages: {command: cfg.command_buffer_size, disk: cfg.disk_buffer_size, network: cfg.network_buffer_size},
      onEvents: (events) => onEvents(events),
      onError: (error) => notice(`kernel capture: ${error.message}`),
    })
    const eng = engine
    mark('enginePrepared')

    const login = accountOf(opts.login)
    mkdirSync(cfg.data_dir, {recursive: true, mode: 0o700})
    const common: SessionCommon = {
      cluster_name: cfg.cluster_name,
      server_id: ensureServerId(cfg.data_dir),
      server_hostname: cfg.nodename || hostname(),
      login,
      user: process.env.SUDO_USER || login,
    }

    const interactive = opts.command.kind === 'interactive'
    const stdinTTY = Boolean(process.stdin.isTTY)
    const stdoutTTY = Boolean(process.stdout.isTTY)
    const cols = (stdoutTTY && process.stdout.columns) || 80
    const rows = (stdoutTTY && process.stdout.rows) || 24

    let storageFailed = false
    // The session's output and the kernel records wait while the recording is behind.
    let captureBehind = false
    let resumeOutput: () => void = () => {}
    writer = await SessionWriter.create({
      dataDir: cfg.data_dir,
      sid,
      common,
      // e.g. log/events.log is not a symlink and was left alone
      onWarning: (message) => notice(message),
      onError: (error) => {
        storageFailed = true
        // The message already says the recording stopped and what was written stays readable.
        notice(`${error.message}; the session goes on, unrecorded`)
        resumeOutput()
      },
      onDrain: () => {
        if (captureBehind) {
          captureBehind = false
          engine?.resume()
        }
        resumeOutput()
      },
    })
    const w = writer

    const lp = live

    const {program, args, initial} = sessionArgv(opts.command, opts.login, loginShell)
    const startedAt = Date.now()
    w.emit({event: 'session.start', size: `${cols}:${rows}`, interactive, ...(initial ? {initial_command: initial} : {})}, startedAt)
    // On disk before the session program runs: a session that ran is never missing its start,
    // whatever happens to er-shell or the disk in its first flush interval.
    const started = w.flush()

    const ctx: MappingContext = {sessionCgroupId: cgroupIdOf(cgroupDir), sessionCgroupRel: join(cfg.root_path, sid)}
    const counts = {commands: 0, network: 0, disk: 0}
    let lossShown: LostCounts = {command: 0, disk: 0, network: 0}
    onEvents = (events) => {
      for (const ev of events) {
        let ok = true
        if (ev.kind === 'formatted') {
          // Execs, opens and connects come with their lines, written on the poll thread (lines.h).
          if (ev.event === 'session.command') counts.commands++
          else if (ev.event === 'session.network') counts.network++
          else counts.disk++
          if (!storageFailed) ok = w.emitFormatted(ev.event, ev.tail, ev.tailBytes, ev.timeMs)
          if (lp.wantsEvents) {
            const decoded = ev.decode()
            const body = decoded && toAuditBody(decoded, ctx)
            if (body) lp.event(body)
          }
        } else {
          const body = toAuditBody(ev, ctx)
          if (!body) continue
          if (body.event === 'session.command') counts.commands++
          else if (body.event === 'session.network') counts.network++
          else if (body.event === 'session.disk') counts.disk++
          if (!storageFailed) ok = w.emit(body, ev.timeMs)
          lp.event(body)
        }
        // A writer that is behind pauses consumption: records wait in the kernel rings (and are
        // dropped and counted there if those fill), so memory stays bounded.
        if (!ok && !captureBehind) {
          captureBehind = true
          eng.pause()
        }
      }
    }
    mark('writerCreated')
    // node-pty loads (~5-10 ms) while the cgroup id check's helper runs; begin() waits for it.
    const pty = createRequire(import.meta.url)('node-pty') as typeof NodePty
    eng.begin(w.lineFormat())
    await started
    mark('engineStarted')
    const lossTimer = setInterval(() => {
      const lost = eng.lost()
      if (lost.command > lossShown.command || lost.disk > lossShown.disk || lost.network > lossShown.network) {
        lp.loss(lost)
        lossShown = lost
      }
    }, 1000)
    undo.push(() => clearInterval(lossTimer))

    say(`recording session ${sid} (events: ${cfg.events.join(',')}); exit the shell to end it`)

    // ---- the pty: join the cgroup first, then exec the session program
    const helperArgs = [
      ...(opts.allowIoUring || cfg.allow_io_uring ? ['--allow-io-uring'] : []),
      // The helper gives a --login session a login environment; these pass on by name.
      ...(opts.login ? [...new Set([...cfg.env, ...(opts.keepEnv ?? [])])].flatMap((name) => ['--keep-env', name]) : []),
      ...(opts.login ? ['--user', opts.login] : []),
      cgroupDir,
      program,
      ...args,
    ]
    const term = pty.spawn(joinHelper, helperArgs, {
      name: process.env.TERM || 'xterm-256color',
      cols,
      rows,
      cwd: process.cwd(),
      env: process.env as Record<string, string>,
      encoding: null,
    })
    // Holding a slave fd keeps the master from reading EIO before the last output is read
    // (node-pty otherwise loses the last 3-14 KB at exit, in 11 of 18 runs measured).
    const {masterFd, ptsName, socket} = ptyParts(term)
    const slaveFd = openSync(ptsName, fsc.O_RDWR | fsc.O_NOCTTY)
    // The output path is native (native/src/pump.cc): a thread copies the master to our stdout as
    // script(1) does and hands the same bytes here in batches for the recording. Live lines on
    // the shared terminal go through it too, so they are written where a line of output starts.
    const thePump = new native.Pump(
      {masterFd, outFd: 1, ...(lp.sharesTerminal ? {lineFd: 2} : {})},
      (chunk, timeMs) => {
        tx += chunk.length
        if (!storageFailed && !w.print(chunk, timeMs) && !paused) {
          paused = true
          thePump.pause()
        }
      },
      (error) => {
        thePump.stop()
        lp.toTerminal(undefined)
        if (error) notice(`session terminal: ${error.message}`)
        // node-pty reports the exit once its socket is closed
        socket.destroy()
      },
    )
    pump = thePump
    if (lp.sharesTerminal) lp.toTerminal((line) => thePump.line(line))
    mark('ptySpawned')

    let rx = 0
    let tx = 0
    let paused = false
    resumeOutput = () => {
      if (paused) {
        paused = false
        thePump.resume()
      }
    }

    // ---- input
    if (stdinTTY) {
      process.stdin.setRawMode(true)
      const restore = () => {
        try {
          process.stdin.setRawMode(false)
        } catch {
          // stdin gone
        }
      }
      // Even a crash must not leave the operator's terminal in raw mode.
      process.once('exit', restore)
      restoreTerminal = () => {
        process.off('exit', restore)
        restore()
      }
    }
    const onInput = (d: Buffer) => {
      rx += d.length
      term.write(d.toString('binary'))
    }
    process.stdin.on('data', onInput)
    process.stdin.on('end', () => {
      if (!stdinTTY) term.write('\x04')
    })
    process.stdin.resume()

    const onResize = () => {
      const c = process.stdout.columns
      const r = process.stdout.rows
      if (!c || !r) return
      term.resize(c, r)
      if (!storageFailed) w.resize(c, r)
    }
    if (stdoutTTY) process.stdout.on('resize', onResize)

    // ---- signals to er-shell end the session cleanly
    const forward = (sig: NodeJS.Signals) => () => {
      try {
        if (sig === 'SIGINT') {
          // As Control-C on a terminal: the foreground process group of the session's terminal
          // gets it (the shell alone would wait for its running command and then go on).
          const fg = foregroundGroup(term.pid)
          process.kill(fg > 0 ? -fg : term.pid, 'SIGINT')
        } else {
          say(`${sig}: ending session ${sid}`)
          term.kill('SIGHUP')
        }
      } catch {
        // exited
      }
    }
    const handlers: Array<[NodeJS.Signals, () => void]> = [
      ['SIGTERM', forward('SIGTERM')],
      ['SIGHUP', forward('SIGHUP')],
      ['SIGINT', forward('SIGINT')],
    ]
    for (const [s, h] of handlers) process.on(s, h)

    const exited = new Promise<{exitCode: number; signal?: number}>((resolve) =>
      term.onExit((e) => resolve({exitCode: e.exitCode, signal: e.signal})),
    )
    // node-pty reports the exit only once its socket closes, which the held slave fd prevents
    // until its 200 ms fallback timer. Instead: learn of the exit from a pidfd, let the pump read
    // until the master has nothing left, then close the socket ourselves (the pump's onEnd).
    native.watchExit(term.pid, () => thePump.finish())
    const exit = await exited
    pump = undefined
    mark('shellExited')
    for (const [s, h] of handlers) process.off(s, h)
    process.stdin.off('data', onInput)
    process.stdin.pause()
    if (stdoutTTY) process.stdout.off('resize', onResize)
    restoreTerminal()
    closeSync(slaveFd)
    const exitCode = exit.signal ? 128 + exit.signal : exit.exitCode

    // ---- end: leftovers, drain, files, cgroup
    const leftovers = await handleLeftovers(cgroupDir, opts.leftovers, opts.graceMs, rootDir)
    mark('leftoversHandled')
    const stopped = await eng.stop()
    mark('engineStopped')
    engine = undefined
    clearInterval(lossTimer)
    const lost = stopped.lost
    if (lost.command + lost.disk + lost.network > lossShown.command + lossShown.disk + lossShown.network) lp.loss(lost)
    await lp.close()

    let completed = false
    if (!storageFailed) {
      w.emit({event: 'session.data', tx, rx})
      const end = await w.end({
        interactive,
        exit_code: exitCode,
        lost_events: lost,
        leftover_processes: leftovers,
        ...(initial ? {initial_command: initial} : {}),
      })
      completed = end.completed
    } else {
      w.abort()
    }
    writer = undefined
    mark('filesFinished')
    await runUndo()
    mark('cleanedUp')
    if (TIMINGS) process.stderr.write(`${JSON.stringify({er_shell_timings: {origin: performance.timeOrigin, ...marks, engine: eng.timings, drainMs: stopped.drainMs, detachMs: stopped.detachMs}})}\n`)

    const lostTotal = lost.command + lost.disk + lost.network
    say(
      `session ${sid} ended (exit ${exitCode}): ${counts.commands} commands, ${counts.network} connections` +
        (cfg.events.includes('disk') ? `, ${counts.disk} file opens` : '') +
        (lostTotal > 0 ? `, ${lostTotal} EVENTS LOST` : ', nothing lost') +
        (storageFailed ? ', RECORDING INCOMPLETE (it stopped at the storage error above)' : '') +
        (leftovers.length > 0 ? `, ${leftovers.length} leftover process(es) ${opts.leftovers === 'keep' ? 'kept' : 'ended'}` : '') +
        `; replay: er-shell replay ${sid.slice(0, 8)}`,
    )
    return {sid, exitCode, lost, counts, leftovers, completed}
  } catch (error) {
    restoreTerminal()
    pump?.stop()
    if (engine) await engine.stop().catch(() => undefined)
    if (writer) writer.abort()
    await live?.close()
    // A cgroup with processes cannot be removed: end what this session started.
    const cgroupDir = join(cfg.cgroup_path, cfg.root_path, sid)
    if (existsSync(cgroupDir)) await handleLeftovers(cgroupDir, 'kill', 500)
    await runUndo()
    throw error
  }
}

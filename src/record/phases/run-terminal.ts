// Phase 3 of record: the session's terminal. The pty runs the join helper, which joins the
// session cgroup and then execs the session program; a native pump copies its output to our
// stdout and into the recording; our stdin (raw mode on a terminal), window size and signals go
// to the session. Returns when the session program exited and its last output was read.
import {closeSync, constants as fsc, openSync, readFileSync} from 'node:fs'

import type * as NodePty from 'node-pty'

import type {Cleanup} from '../../kernel/cleanup.js'
import {TIMINGS, mark, marks} from '../timings.js'
import type {PreparedHost} from './prepare-host.js'
import type {StartedCapture} from './start-capture.js'

export interface TerminalResult {
  exitCode: number
  /** Bytes the session wrote to its terminal, and bytes typed into it (session.data). */
  tx: number
  rx: number
}

export async function runTerminal(host: PreparedHost, capture: StartedCapture, cleanup: Cleanup): Promise<TerminalResult> {
  const {opts, cfg, out, live, native, sid} = host
  const {writer, flow, size} = capture
  let tx = 0
  let rx = 0
  /** Until the session program exited. */
  let running = true

  out.say(`recording session ${sid} (events: ${cfg.events.join(',')}); exit the shell to end it`)
  const helperArgs = [
    ...(opts.allowIoUring || cfg.allow_io_uring ? ['--allow-io-uring'] : []),
    // The helper gives a --login session a login environment; these pass on by name.
    ...(opts.login ? [...new Set([...cfg.env, ...(opts.keepEnv ?? [])])].flatMap((name) => ['--keep-env', name]) : []),
    ...(opts.login ? ['--user', opts.login] : []),
    host.cgroupDir,
    host.program,
    ...host.args,
  ]
  const term = capture.pty.spawn(host.joinHelper, helperArgs, {
    name: process.env.TERM || 'xterm-256color',
    cols: size.cols,
    rows: size.rows,
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
  // The pump also hashes the output for the integrity chain as it reads it (docs/integrity.md):
  // the main thread hashes none of it.
  const pump = new native.Pump(
    {masterFd, outFd: 1, hashOutput: true, ...(live.sharesTerminal ? {lineFd: 2} : {})},
    (chunk, timeMs) => {
      tx += chunk.length
      if (!capture.storageFailed && !writer.print(chunk, timeMs)) flow.pause(pump)
    },
    (error) => {
      pump.stop()
      if (TIMINGS) marks.pumpHashMs = pump.outputDigest().hashMs
      live.toTerminal(undefined)
      if (error) out.notice(`session terminal: ${error.message}`)
      // node-pty reports the exit once its socket is closed
      socket.destroy()
    },
  )
  writer.hashOutputElsewhere(() => pump.outputDigest())
  cleanup.push('stop the terminal pump', () => {
    if (running) pump.stop()
  })
  if (live.sharesTerminal) live.toTerminal((line) => pump.line(line))
  mark('ptySpawned')

  // ---- input
  const stdinTTY = Boolean(process.stdin.isTTY)
  let restoreTerminal = () => {}
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

  const stdoutTTY = Boolean(process.stdout.isTTY)
  const onResize = () => {
    const c = process.stdout.columns
    const r = process.stdout.rows
    if (!c || !r) return
    term.resize(c, r)
    if (!capture.storageFailed) writer.resize(c, r)
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
        out.say(`${sig}: ending session ${sid}`)
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

  // Once: after the exit, or by the cleanup when something failed before it.
  let attached = true
  const detach = (): void => {
    if (!attached) return
    attached = false
    for (const [s, h] of handlers) process.off(s, h)
    process.stdin.off('data', onInput)
    process.stdin.pause()
    if (stdoutTTY) process.stdout.off('resize', onResize)
    restoreTerminal()
    closeSync(slaveFd)
  }
  cleanup.push('give the terminal back', detach)

  const exited = new Promise<{exitCode: number; signal?: number}>((resolve) => term.onExit((e) => resolve({exitCode: e.exitCode, signal: e.signal})))
  // node-pty reports the exit only once its socket closes, which the held slave fd prevents
  // until its 200 ms fallback timer. Instead: learn of the exit from a pidfd, let the pump read
  // until the master has nothing left, then close the socket ourselves (the pump's onEnd).
  native.watchExit(term.pid, () => pump.finish())
  const exit = await exited
  running = false
  mark('shellExited')
  detach()
  return {exitCode: exit.signal ? 128 + exit.signal : exit.exitCode, tx, rx}
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

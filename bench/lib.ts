// Shared helpers of the benchmarks: child processes with monotonic timing, medians, er-shell
// record runs (phase timings, peak RSS, recording read back), and a cleanup registry.
import {spawnSync, spawn, type ChildProcess} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {findSessions, readEventFile} from '../src/storage/index.js'

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..')
export const RUN_JS = path.join(ROOT, 'bin', 'run.js')
export const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined

export const nowNs = (): bigint => process.hrtime.bigint()
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const m = Math.floor(v.length / 2)
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2
}

/** Median of per-round ratios a[i]/b[i]: each run against its own round's baseline, so load drift cancels. */
export function pairedRatio(a: number[], b: number[]): number {
  return median(a.map((x, i) => x / (b[i] ?? NaN)))
}

export const round = (x: number, digits = 0): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x)

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Wall time from spawn to exit, ms (monotonic). */
  ms: number
  /** Date.now() at exit. */
  endEpochMs: number
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs?: number
  /** Keep at most this many bytes of stdout (terminal benchmarks print hundreds of MB). */
  maxStdout?: number
}

/** Runs a program to completion, stdin from /dev/null. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = nowNs()
    const child = spawn(cmd, args, {env: opts.env ?? process.env, cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outLen = 0
    const max = opts.maxStdout ?? 16 * 1024 * 1024
    child.stdout!.on('data', (d: Buffer) => {
      if (outLen < max) out.push(d)
      outLen += d.length
    })
    child.stderr!.on('data', (d: Buffer) => err.push(d))
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL')
        }, opts.timeoutMs)
      : undefined
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Number(nowNs() - start) / 1e6,
        endEpochMs: Date.now(),
      })
    })
  })
}

/** Runs a bash pipeline. */
export const bash = (script: string, opts: RunOptions = {}) => run('/bin/bash', ['-c', script], opts)

/** Starts a long-running helper (bpftrace, auditd) and resolves once `ready(stdout+stderr)` is true. */
export function startDaemon(
  cmd: string,
  args: string[],
  ready: (output: string) => boolean,
  timeoutMs = 30000,
): Promise<{child: ChildProcess; output: () => string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']})
    let text = ''
    let done = false
    const check = (d: Buffer) => {
      text += d.toString('utf8')
      if (!done && ready(text)) {
        done = true
        clearTimeout(timer)
        resolve({child, output: () => text})
      }
    }
    child.stdout!.on('data', check)
    child.stderr!.on('data', check)
    if (ready('')) {
      done = true
      setImmediate(() => resolve({child, output: () => text}))
    }
    const timer = setTimeout(() => {
      if (!done) {
        done = true
        child.kill('SIGKILL')
        reject(new Error(`${cmd} did not become ready in ${timeoutMs} ms: ${text.slice(-500)}`))
      }
    }, timeoutMs)
    if (done) clearTimeout(timer)
    child.on('error', (e) => {
      if (!done) {
        done = true
        clearTimeout(timer)
        reject(e)
      }
    })
    child.on('exit', (code) => {
      if (!done) {
        done = true
        clearTimeout(timer)
        reject(new Error(`${cmd} exited (${code}) before it was ready: ${text.slice(-500)}`))
      }
    })
  })
}

/** Signals one child we started and waits for it to exit (SIGKILL after graceMs). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs = 10000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.kill(signal)
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(t)
}

// ------------------------------------------------------------------------------ er-shell record

export interface Timings {
  origin: number
  /** When bin/run.js had started the BPF load (absent when it did not preload). */
  preloadStarted?: number
  entry: number
  cgroupCreated: number
  enginePrepared: number
  writerCreated: number
  engineStarted: number
  ptySpawned: number
  shellExited: number
  leftoversHandled: number
  engineStopped: number
  filesFinished: number
  cleanedUp: number
  engine: {preloaded: boolean; preattached: number; waitMs: number; openMs: number; loadMs: number; checkMs: number; attachMs: number; links: number}
  drainMs: number
  detachMs: number
}

export interface RecordRun extends RunResult {
  timings?: Timings
  /** Peak RSS of the er-shell process, KiB (GNU time %M), if measured. */
  maxRssKb?: number
  dataDir: string
}

/**
 * `er-shell record --quiet --data-dir DIR ARGS… -c CMD` with ER_SHELL_TIMINGS=1, SHELL=/bin/sh,
 * under GNU time for the peak RSS. `pipeTo` (a shell command) consumes stdout when given.
 */
export async function record(
  dataDir: string,
  command: string,
  opts: {extra?: string[]; pipeTo?: string; timeoutMs?: number; maxStdout?: number} = {},
): Promise<RecordRun> {
  fs.mkdirSync(dataDir, {recursive: true, mode: 0o700})
  const rssFile = path.join(dataDir, '.maxrss')
  const argv = [
    ...(GNU_TIME ? [GNU_TIME, '-f', '%M', '-o', rssFile] : []),
    process.execPath,
    RUN_JS,
    'record',
    '--data-dir',
    dataDir,
    '--quiet',
    ...(opts.extra ?? []),
    '-c',
    command,
  ]
  const env = {...process.env, ER_SHELL_TIMINGS: '1', SHELL: '/bin/sh'}
  const quoted = argv.map(shq).join(' ')
  const res = opts.pipeTo
    ? await bash(`set -o pipefail; ${quoted} | ${opts.pipeTo}`, {env, timeoutMs: opts.timeoutMs ?? 600000, maxStdout: opts.maxStdout})
    : await run(argv[0]!, argv.slice(1), {env, timeoutMs: opts.timeoutMs ?? 600000, maxStdout: opts.maxStdout})
  // Its links' kernel teardown (in a detached process) must not overlap the next measurement.
  await waitForErShellDetached()
  let timings: Timings | undefined
  for (const line of res.stderr.split('\n')) {
    if (line.startsWith('{"er_shell_timings"')) timings = (JSON.parse(line) as {er_shell_timings: Timings}).er_shell_timings
  }
  let maxRssKb: number | undefined
  try {
    const n = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop())
    if (Number.isFinite(n)) maxRssKb = n
  } catch {
    // no GNU time
  }
  return {...res, timings, maxRssKb, dataDir}
}

export interface RecordingSummary {
  sid: string
  /** Events matching `match`. */
  matched: number
  events: number
  lost: {command: number; disk: number; network: number}
  lostTotal: number
  endSeen: boolean
  lastCommandEpochMs?: number
}

/** Reads the (single) session recorded under dataDir. */
export async function readRecording(dataDir: string, match: (e: Record<string, unknown>) => boolean): Promise<RecordingSummary> {
  const refs = findSessions(dataDir)
  if (refs.length !== 1) throw new Error(`expected one session under ${dataDir}, found ${refs.length}`)
  const ref = refs[0]!
  let matched = 0
  let events = 0
  let lost = {command: 0, disk: 0, network: 0}
  let endSeen = false
  let lastCommandEpochMs: number | undefined
  for await (const ev of readEventFile(ref.paths.events)) {
    const e = ev as unknown as Record<string, unknown>
    events++
    if (match(e)) matched++
    if (e.event === 'session.command') lastCommandEpochMs = Date.parse(String(e.time))
    if (e.event === 'session.end') {
      endSeen = true
      const l = e.lost_events as typeof lost | undefined
      if (l) lost = {command: l.command ?? 0, disk: l.disk ?? 0, network: l.network ?? 0}
    }
  }
  return {sid: ref.sid, matched, events, lost, lostTotal: lost.command + lost.disk + lost.network, endSeen, lastCommandEpochMs}
}

/**
 * Waits until no er-shell BPF program is loaded (bpf/*.bpf.c: on_*, probe_*): a finished record
 * hands its links to a detached process whose kernel teardown (~70 ms per tracepoint link) runs
 * for a few hundred ms after the record has exited, and would otherwise slow the next measurement.
 */
export async function waitForErShellDetached(timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const r = spawnSync('bpftool', ['prog', 'list', '--json'], {encoding: 'utf8'})
    const progs = r.status === 0 ? (JSON.parse(r.stdout) as {name?: string}[]) : []
    if (!progs.some((p) => /^(on|probe)_/.test(p.name ?? '')) || Date.now() > deadline) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export function shq(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

export function rmrf(p: string): void {
  fs.rmSync(p, {recursive: true, force: true})
}

export function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`)
}

/** A row of the results table, without its section (each section's code adds that). */
export interface BenchRow {
  variant: string
  median: string
  ratio: string
  detail: string
  goal: string
  verdict: string
}

// Shared helpers for the `er-shell record` tests (test/acceptance/): running the real CLI
// asynchronously or in tmux, reading its recording back, and the after-test check that nothing was
// left behind (session cgroups, registrations, BPF programs, processes).
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {AuditEvent} from '../../src/events/types.js'
import {type SessionRef, findSessions, readSessionChunks, readSessionEvents} from '../../src/storage/index.js'
import assert from 'node:assert/strict'
import {after, afterEach, beforeEach} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {CLI, testEnv} from './cli.js'
import {REPORT_EXIT, TmuxPane} from './tmux.js'
import {removeTempDirs, tempDir} from './temp.js'

export const CGROUP_ROOT = '/cgroup2/teleport'
export const REGISTRY = '/run/er-shell/sessions'

export {sleep}

// ---------------------------------------------------------------- running record

export interface Recorded {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
}

export interface Running {
  child: ChildProcess
  pid: number
  /** stdout so far */
  stdout(): Buffer
  /** stderr so far */
  stderr(): string
  done: Promise<Recorded>
  /** Resolves once stdout (or stderr) contains text; rejects after ms. */
  waitFor(text: string | RegExp, ms?: number, stream?: 'stdout' | 'stderr'): Promise<void>
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv
  /** 'null' (stdin from /dev/null, the default), 'pipe' (stdin a pipe; `input` written then closed), or 'inherit'. */
  stdin?: 'null' | 'pipe'
  input?: string | Buffer
  /** Keep stdin open (pipe) until the caller ends it. */
  keepStdinOpen?: boolean
  /** Wrap with setpriv to run as nobody. */
  asNobody?: boolean
  /** Prefix the command (e.g. ['sh', '-c', 'umask 000; exec "$0" "$@"']). */
  wrap?: string[]
  /** Kill the child after this long (ms; default 120 s). */
  timeoutMs?: number
}

const started = new Set<ChildProcess>()

/** Starts `node bin/run.js ARGS` (no TTY) and collects its output. */
export function startCli(args: string[], options: StartOptions = {}): Running {
  let command = process.execPath
  let argv = [CLI, ...args]
  if (options.asNobody) {
    argv = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', command, ...argv]
    command = 'setpriv'
  }
  if (options.wrap) {
    argv = [...options.wrap.slice(1), command, ...argv]
    command = options.wrap[0]!
  }
  const env = testEnv(options.env)
  if (options.asNobody) env.HOME = '/nonexistent'
  const stdinMode = options.stdin ?? 'null'
  const child = spawn(command, argv, {env, stdio: [stdinMode === 'null' ? 'ignore' : 'pipe', 'pipe', 'pipe'], cwd: '/tmp'})
  started.add(child)
  const out: Buffer[] = []
  let err = ''
  const waiters: Array<() => void> = []
  const poke = () => {
    for (const w of waiters.splice(0)) w()
  }
  child.stdout!.on('data', (d: Buffer) => {
    out.push(d)
    poke()
  })
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
    poke()
  })
  if (stdinMode === 'pipe' && child.stdin) {
    child.stdin.on('error', () => {})
    if (options.input !== undefined) child.stdin.write(options.input)
    if (!options.keepStdinOpen) child.stdin.end()
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  const done = new Promise<Recorded>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      started.delete(child)
      poke()
      resolve({code, signal, stdout: Buffer.concat(out), stderr: err})
    })
  })
  const stdout = () => Buffer.concat(out)
  const stderr = () => err
  const waitFor = async (text: string | RegExp, ms = 20_000, stream: 'stdout' | 'stderr' = 'stdout') => {
    const deadline = Date.now() + ms
    for (;;) {
      const hay = stream === 'stdout' ? stdout().toString('latin1') : stderr()
      if (typeof text === 'string' ? hay.includes(text) : text.test(hay)) return
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`process exited before ${String(text)} appeared on ${stream}; stderr: ${stderr()}`)
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)} on ${stream}; stderr so far: ${stderr()}`)
      await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(200)])
    }
  }
  return {child, pid: child.pid!, stdout, stderr, done, waitFor}
}

/** `record --data-dir D ARGS` to the end. */
export function record(dataDir: string, args: string[], options: StartOptions = {}): Promise<Recorded> {
  return startCli(['record', '--data-dir', dataDir, ...args], options).done
}

/** Kills CLI processes a failed test left running (only those this file started). */
export function killStarted(): void {
  for (const child of started) {
    try {
      child.kill('SIGKILL')
    } catch {
      // gone
    }
  }
  started.clear()
}

/** True once pid has exited (a zombie waiting for init counts as exited); waits up to ms. */
export async function gone(pid: number, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    let state = ''
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    } catch {
      return true
    }
    if (state === 'Z' || state === 'X') return true
    if (Date.now() > deadline) return false
    await sleep(50)
  }
}

// ---------------------------------------------------------------- reading the recording

/** The only session recorded in dataDir. */
export function onlySession(dataDir: string): SessionRef {
  const refs = findSessions(dataDir)
  if (refs.length !== 1) throw new Error(`expected one session in ${dataDir}, found ${refs.length}`)
  return refs[0]!
}

export async function eventsOf(ref: SessionRef, warnings: string[] = []): Promise<AuditEvent[]> {
  const out: AuditEvent[] = []
  for await (const e of readSessionEvents(ref, {onWarning: (w) => warnings.push(w)})) out.push(e)
  return out
}

export async function chunksOf(ref: SessionRef, warnings: string[] = []): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const c of readSessionChunks(ref, {onWarning: (w) => warnings.push(w)})) out.push(c)
  return Buffer.concat(out)
}

export function endOf(events: AuditEvent[]): AuditEvent & Record<string, any> {
  const end = events.find((e) => e.event === 'session.end')
  if (!end) throw new Error(`no session.end among ${events.length} events`)
  return end as AuditEvent & Record<string, any>
}

export function commandsOf(events: AuditEvent[]): Array<Record<string, any>> {
  return events.filter((e) => e.event === 'session.command') as Array<Record<string, any>>
}

/** Every sid recorded under the data dirs (for the leftover check). */
export function sidsIn(dataDirs: string[]): string[] {
  const sids: string[] = []
  for (const d of dataDirs) {
    try {
      sids.push(...findSessions(d).map((r) => r.sid))
    } catch {
      // no data dir
    }
  }
  return sids
}

// ---------------------------------------------------------------- nothing left behind

interface BpfOwner {
  pid: number
  cmdline: string
}

/** Every BPF program id held open by some process (a prog fd or a link fd), with its owners. */
export function bpfProgramOwners(): Map<number, BpfOwner[]> {
  const owners = new Map<number, BpfOwner[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    let cmdline: string | undefined
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      if (target !== 'anon_inode:bpf-prog' && target !== 'anon_inode:bpf_link') continue
      let info: string
      try {
        info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      } catch {
        continue
      }
      const m = /^prog_id:\s*(\d+)/m.exec(info)
      if (!m) continue
      cmdline ??= readCmdline(pid)
      const id = Number(m[1])
      const list = owners.get(id) ?? []
      list.push({pid, cmdline})
      owners.set(id, list)
    }
  }
  return owners
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
  } catch {
    return ''
  }
}

/** Loaded BPF program ids (bpftool prog list). */
export function bpfProgramIds(): Set<number> {
  const r = spawnSync('bpftool', ['prog', 'list', '-j'], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`bpftool prog list failed: ${r.stderr}`)
  return new Set((JSON.parse(r.stdout) as Array<{id: number}>).map((p) => p.id))
}

/** Processes whose command line mentions one of the markers (e.g. a test's data dir). */
export function processesMentioning(markers: string[]): Array<{pid: number; cmdline: string}> {
  const out: Array<{pid: number; cmdline: string}> = []
  if (markers.length === 0) return out
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    const cmdline = readCmdline(Number(name))
    if (markers.some((m) => cmdline.includes(m))) out.push({pid: Number(name), cmdline})
  }
  return out
}

export interface LeakBaseline {
  progs: Set<number>
}

export function leakBaseline(): LeakBaseline {
  return {progs: bpfProgramIds()}
}

/**
 * After a test: no session cgroup or registration for any session recorded under dataDirs, no
 * process mentioning a data dir (recorders, including the detached child that releases the
 * tracepoint links), and no BPF program that appeared since `baseline` unless another, unrelated
 * process (a concurrent er-shell of someone else) holds it. Waits up to `ms` for the detached link
 * release to finish. Returns the problems (empty = clean).
 */
export async function leftBehind(baseline: LeakBaseline, dataDirs: string[], ms = 8000, extraSids: string[] = []): Promise<string[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const problems: string[] = []
    for (const sid of [...sidsIn(dataDirs), ...extraSids]) {
      if (existsSync(join(CGROUP_ROOT, sid))) problems.push(`session cgroup ${join(CGROUP_ROOT, sid)} left`)
      if (existsSync(join(REGISTRY, `${sid}.json`))) problems.push(`registration ${REGISTRY}/${sid}.json left`)
    }
    const procs = processesMentioning(dataDirs)
    for (const p of procs) problems.push(`process ${p.pid} left running: ${p.cmdline}`)
    const owners = bpfProgramOwners()
    const ids = bpfProgramIds()
    for (const id of ids) {
      if (baseline.progs.has(id)) continue
      const who = owners.get(id) ?? []
      const ours = who.filter((o) => dataDirs.some((d) => o.cmdline.includes(d)))
      if (who.length === 0) problems.push(`BPF program ${id} loaded during the test is held by no process (leaked into the kernel)`)
      else if (ours.length > 0) problems.push(`BPF program ${id} still held by ${ours.map((o) => o.pid).join(',')}`)
    }
    if (problems.length === 0 || Date.now() > deadline) return problems
    await sleep(100)
  }
}

// ---------------------------------------------------------------- an interactive recorder in tmux

export const PROMPT = 'er-test-prompt$ '

/**
 * The pane runs er-shell, then reports its exit status and the terminal's modes. The login shell
 * gets a HOME of its own with a plain prompt and no startup work (root's own profile may run slow
 * hooks on every prompt, which swallow type-ahead such as Ctrl-D).
 */
export function recorderPane(dataDir: string, extra = ''): TmuxPane {
  const home = join(dataDir, 'home')
  mkdirSync(home, {recursive: true})
  writeFileSync(join(home, '.bash_profile'), `PS1='${PROMPT}'\nunset PROMPT_COMMAND\n`)
  return new TmuxPane(`sh -c '${process.execPath} ${CLI} record --data-dir ${join(dataDir, 'data')} ${extra}; ${REPORT_EXIT}'`, {
    cols: 100,
    rows: 30,
    env: {HOME: home},
  })
}

/** Waits until the shell shows its prompt after the last line matching `after`. */
export async function promptAfter(pane: TmuxPane, after: RegExp): Promise<void> {
  await pane.waitFor(new RegExp(`${after.source}[\\s\\S]*^${PROMPT.replace(/\$/g, '\\$')}$`, 'm'))
}

export interface LeakGuard {
  /** A fresh data dir for this test, checked for leftovers after it. */
  dataDir(): string
  /** Another data dir this test records into, checked for leftovers too. */
  checkDir(dir: string): void
  /** Sessions recorded outside this test's data dirs that must be checked too. */
  alsoCheck(sid: string): void
}

/**
 * Registers, in the calling suite, the hooks every record test needs: after each test, run
 * `first` (e.g. end tmux sessions), kill what it started, run `cleanup` (e.g. unmount), and assert that nothing it recorded left a session cgroup, a
 * registration, a process or a BPF program; after the suite, remove its temp dirs.
 */
export function guardLeaks(options: {prefix?: string; first?: () => void; cleanup?: () => void} = {}): LeakGuard {
  let baseline: LeakBaseline
  let dirs: string[] = []
  let extraSids: string[] = []
  beforeEach(() => {
    baseline = leakBaseline()
    dirs = []
    extraSids = []
  })
  afterEach(async () => {
    options.first?.()
    killStarted()
    options.cleanup?.()
    const problems = await leftBehind(baseline, dirs, 8000, extraSids)
    assert.deepEqual(problems, [], 'nothing may be left behind after a test')
  })
  after(() => {
    options.cleanup?.()
    removeTempDirs()
  })
  return {
    dataDir: () => {
      const d = tempDir(options.prefix)
      dirs.push(d)
      return d
    },
    checkDir: (dir) => dirs.push(dir),
    alsoCheck: (sid) => extraSids.push(sid),
  }
}

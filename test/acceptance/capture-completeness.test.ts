// Capture completeness (issue 6): real `er-shell record` sessions, asserting on the recorded
// events, for everything a terminal recording misses — obfuscated commands, commands inside
// scripts, commands typed with echo off — and for the many ways a process tree can slip past a
// naive tracer (background jobs, setsid, double forks, interpreters, threads, fexecve, symlinks,
// long argument lists, failed execs, cgroup moves), plus file opens with --events disk.
//
// Every session must end with no lost events; after the suite no session cgroup, no BPF program
// and no process of ours is left.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {join, relative} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {cgroupId} from '../../src/cgroup/cgroup.js'
import type {AuditEvent, SessionCgroupEscapeEvent, SessionCommandEvent, SessionDiskEvent, SessionEndEvent, SessionNetworkEvent} from '../../src/events/types.js'
import {findSessions, readSessionChunks, readSessionEvents} from '../../src/storage/index.js'
import {cgroup2Root, cleanupTestCgroups, makeTestCgroup} from '../helpers/cgroups.js'
import {CLI, kernelTestsSkipReason} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

const skip = kernelTestsSkipReason()
const PY = '/usr/bin/python3'
const PERL = '/usr/bin/perl'
const SESSION_CGROUP_ROOT = '/cgroup2/teleport'
/** Where the session's bash finds a program on PATH (merged /usr: /usr/bin/sh, not /bin/sh). */
const onPath = (name: string) => spawnSync('/bin/bash', ['-c', `command -v ${name}`], {encoding: 'utf8'}).stdout.trim()

/** Every data dir, sid and leftover pid this file created, checked (and cleaned) at the end. */
const sids: string[] = []
const leftoverPids: number[] = []
const tmuxSessions: string[] = []
let tmuxCount = 0

interface Recorded {
  status: number | null
  stdout: string
  stderr: string
  sid: string
  events: AuditEvent[]
  output: string
}

/** er-shell's BPF programs loaded now (bpf/*.bpf.c: on_*, probe_*), whoever loaded them. */
function bpfProgCount(): number {
  const r = spawnSync('bpftool', ['prog', 'list', '--json'], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`bpftool prog list: ${r.stderr}`)
  return (JSON.parse(r.stdout) as Array<{name?: string}>).filter((p) => /^(on|probe)_/.test(p.name ?? '')).length
}

async function readRecording(dataDir: string, sid?: string): Promise<{sid: string; events: AuditEvent[]; output: string}> {
  const refs = findSessions(dataDir)
  const ref = sid ? refs.find((r) => r.sid === sid) : refs[0]
  assert.ok(ref, `session ${sid ?? '(only one)'} is in ${dataDir}`)
  if (!sid) assert.equal(refs.length, 1, 'exactly one session in a fresh data dir')
  const events: AuditEvent[] = []
  for await (const e of readSessionEvents(ref)) events.push(e)
  const chunks: Buffer[] = []
  for await (const c of readSessionChunks(ref)) chunks.push(c)
  return {sid: ref.sid, events, output: Buffer.concat(chunks).toString('utf8')}
}

/** Runs `er-shell record ARGS` with stdin on /dev/null and returns what it recorded. */
function record(dataDir: string, args: string[], options: {cwd?: string; timeoutMs?: number} = {}): Promise<Recorded> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', SHELL: '/bin/bash'}
    delete env.ER_SHELL_DEBUG
    const child = spawn(process.execPath, [CLI, 'record', '--data-dir', dataDir, ...args], {
      cwd: options.cwd ?? dataDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (status) => {
      clearTimeout(timer)
      const sid = /recording session ([0-9a-f-]{36})/.exec(stderr)?.[1]
      if (!sid) return reject(new Error(`no session id on stderr (exit ${status}): ${stderr}`))
      sids.push(sid)
      readRecording(dataDir, sid).then((r) => resolve({status, stdout, stderr, ...r}), reject)
    })
  })
}

const commands = (events: AuditEvent[]) => events.filter((e): e is SessionCommandEvent => e.event === 'session.command')
const disks = (events: AuditEvent[]) => events.filter((e): e is SessionDiskEvent => e.event === 'session.disk')
const networks = (events: AuditEvent[]) => events.filter((e): e is SessionNetworkEvent => e.event === 'session.network')
const endOf = (events: AuditEvent[]): SessionEndEvent => {
  const ends = events.filter((e): e is SessionEndEvent => e.event === 'session.end')
  assert.equal(ends.length, 1, 'exactly one session.end')
  return ends[0]!
}

/** The one session.command whose path and argv are exactly these; checks the common fields. */
function command(events: AuditEvent[], path: string, argv: string[], expect: {program?: string; return_code?: number; exe?: string} = {}): SessionCommandEvent {
  const all = commands(events)
  const found = all.filter((e) => e.path === path && JSON.stringify(e.argv) === JSON.stringify(argv))
  assert.equal(
    found.length,
    1,
    `exactly one session.command ${path} ${JSON.stringify(argv)}; recorded:\n` +
      all.map((e) => `  ${e.pid}/${e.ppid} ${e.program} ${e.path} ${JSON.stringify(e.argv)} -> ${e.return_code}`).join('\n'),
  )
  const e = found[0]!
  assert.equal(e.code, 'T4000I')
  assert.equal(e.return_code, expect.return_code ?? 0)
  if (expect.program !== undefined) assert.equal(e.program, expect.program)
  if (expect.exe !== undefined) assert.equal(e.exe, expect.exe)
  assert.equal(e.argv_truncated, undefined, 'argv not truncated')
  assert.ok(Number.isInteger(e.pid) && e.pid > 1, 'pid')
  assert.ok(Number.isInteger(e.ppid) && e.ppid >= 1, 'ppid (1 when orphaned and reparented)')
  assert.ok(e.cgroup_id > 0, 'cgroup_id')
  return e
}

/** The session's own shell: the first command event, the exec of the session program. */
function sessionShell(events: AuditEvent[]): SessionCommandEvent {
  const first = commands(events)[0]
  assert.ok(first, 'the session shell exec is recorded')
  return first
}

function assertCleanEnd(r: Recorded, exitCode = 0): SessionEndEvent {
  assert.equal(r.status, exitCode, `er-shell exit status; stderr:\n${r.stderr}`)
  const end = endOf(r.events)
  assert.equal(end.exit_code, exitCode)
  assert.deepEqual(end.lost_events, {command: 0, disk: 0, network: 0}, 'nothing lost')
  assert.equal(end.enhanced_recording, true)
  // ei: 0, 1, 2, … with no gaps
  assert.deepEqual(
    r.events.map((e) => e.ei),
    r.events.map((_, i) => i),
  )
  return end
}

/** Running (a zombie waiting for its new parent to reap it counts as ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^\d+ \(.*\) [ZX] /s.test(stat)
  } catch {
    return false
  }
}

describe('capture completeness: what a terminal recording misses is recorded', {skip}, () => {
  let tmp: string
  let bpfBefore = 0

  before(() => {
    bpfBefore = bpfProgCount()
    tmp = tempDir('er-acc-')
    chmodSync(tmp, 0o755) // `nobody` must be able to traverse it (EACCES case)
  })

  after(async () => {
    for (const name of tmuxSessions) spawnSync('tmux', ['kill-session', '-t', name])
    await cleanupTestCgroups()
    for (const pid of leftoverPids) {
      if (alive(pid)) process.kill(pid, 'SIGKILL')
    }
    rmSync(tmp, {recursive: true, force: true})
  })

  let n = 0
  const dataDir = () => {
    const d = join(tmp, `data-${n++}`)
    mkdirSync(d)
    return d
  }

  // ---------------------------------------------------------------- the three blind spots

  it('obfuscation: echo <base64> | base64 --decode | sh records the decoded curl, its argv and its connect', async () => {
    let hits = 0
    const server: Server = createServer((req, res) => {
      hits++
      res.end(`served ${req.url}\n`)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const port = (server.address() as {port: number}).port
      const hidden = `curl -s http://127.0.0.1:${port}/x`
      const b64 = Buffer.from(hidden).toString('base64')
      const r = await record(dataDir(), ['-c', `echo ${b64} | base64 --decode | sh`])
      assertCleanEnd(r)
      assert.equal(hits, 1, 'curl reached the listener')
      // The terminal shows neither the command nor its URL: only base64 and curl's output.
      assert.ok(!r.output.includes('curl') && !r.output.includes(`${port}/x`), 'the terminal recording does not show it')
      assert.ok(r.output.includes('served /x'))

      const b = command(r.events, onPath('base64'), ['--decode'], {program: 'base64'})
      const sh = command(r.events, onPath('sh'), [], {program: 'sh'})
      const curl = command(r.events, onPath('curl'), ['-s', `http://127.0.0.1:${port}/x`], {program: 'curl'})
      const shell = sessionShell(r.events)
      assert.equal(b.ppid, shell.pid)
      assert.equal(sh.ppid, shell.pid)
      assert.equal(curl.ppid, sh.pid, 'curl was started by the sh that read the decoded text')

      const net = networks(r.events)
      assert.equal(net.length, 1, 'one connect')
      const c = net[0]!
      assert.equal(c.code, 'T4002I')
      assert.equal(c.pid, curl.pid)
      assert.equal(c.program, 'curl')
      assert.equal(c.src_addr, '127.0.0.1')
      assert.equal(c.dst_addr, '127.0.0.1')
      assert.equal(c.dst_port, port)
      assert.equal(c.version, 4)
      assert.equal(c.operation, 0)
      assert.equal(c.action, 0)
    } finally {
      server.close()
    }
  })

  it('shell scripts: every command inside a script file is recorded with its argv', async () => {
    const script = join(tmp, 'inner-script.sh')
    writeFileSync(
      script,
      ['#!/bin/sh', '/bin/echo script-step-one', "printf '%s\\n' script-step-two | /usr/bin/tr a-z A-Z", '/usr/bin/id -u', 'exit 3', ''].join('\n'),
      {mode: 0o755},
    )
    const withArg = join(tmp, 'interp-arg-script')
    writeFileSync(withArg, '#!/bin/sh -e\n/bin/echo "inner:$1:$2"\n', {mode: 0o755})
    const r = await record(dataDir(), ['-c', `${withArg} first 'second arg'; ${script}`])
    assertCleanEnd(r, 3)
    // The terminal recording only has the output.
    assert.ok(r.output.includes('script-step-one') && r.output.includes('SCRIPT-STEP-TWO'))
    assert.ok(!r.output.includes('/usr/bin/tr') && !r.output.includes('id -u'))

    const shell = sessionShell(r.events)
    assert.equal(shell.path, '/bin/bash')
    assert.deepEqual(shell.argv, ['-c', `${withArg} first 'second arg'; ${script}`])
    // argv is what the caller passed, not the interpreter's rewritten block ([/bin/sh, -e, path,
    // …]); `exe` names the interpreter that actually runs.
    const sh = realpathSync('/bin/sh')
    const a = command(r.events, withArg, ['first', 'second arg'], {program: 'interp-arg-scri', exe: sh})
    assert.equal(a.ppid, shell.pid)
    command(r.events, '/bin/echo', ['inner:first:second arg'], {program: 'echo'})
    // bash -c execs its last command in place: the script interpreter has the shell's pid.
    const s = command(r.events, script, [], {program: 'inner-script.sh', exe: sh})
    assert.equal(s.pid, shell.pid)
    const echo = command(r.events, '/bin/echo', ['script-step-one'], {program: 'echo'})
    const tr = command(r.events, '/usr/bin/tr', ['a-z', 'A-Z'], {program: 'tr'})
    const id = command(r.events, '/usr/bin/id', ['-u'], {program: 'id'})
    for (const e of [echo, tr, id]) assert.equal(e.ppid, s.pid, `${e.program} is a child of the script`)
  })

  it('terminal controls: a command typed with `stty -echo` never reaches the screen but is recorded', async () => {
    const d = dataDir()
    const marker = join(tmp, 'typed-with-echo-off')
    const name = `er-acc-${process.pid}-${tmuxCount++}`
    tmuxSessions.push(name)
    const tmux = (...args: string[]) => spawnSync('tmux', args, {encoding: 'utf8'})
    const pane = () => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', name).stdout
    const waitFor = async (what: string, ok: () => boolean, ms = 15_000) => {
      const deadline = Date.now() + ms
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; pane:\n${pane()}`)
        await sleep(50)
      }
    }
    const started = tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      '100',
      '-y',
      '30',
      '-c',
      tmp,
      `env NO_COLOR=1 SHELL=/bin/bash ${process.execPath} ${CLI} record --data-dir ${d} --live off`,
    )
    assert.equal(started.status, 0, started.stderr)
    await waitFor('the session to start', () => findSessions(d).length === 1 && /[$#] *$/m.test(pane()))
    tmux('send-keys', '-t', name, 'stty -echo', 'Enter')
    await sleep(300)
    tmux('send-keys', '-t', name, '-l', `/usr/bin/touch ${marker}`)
    tmux('send-keys', '-t', name, 'Enter')
    await waitFor('the typed command to run', () => existsSync(marker))
    tmux('send-keys', '-t', name, 'stty echo', 'Enter')
    await sleep(300)
    const screen = pane()
    assert.ok(screen.includes('stty -echo'), `the pane is the session's terminal:\n${screen}`)
    assert.ok(!screen.includes('typed-with-echo-off'), `the typed command is not on the screen:\n${screen}`)
    tmux('send-keys', '-t', name, 'exit', 'Enter')
    await waitFor('the session to end', () => tmux('has-session', '-t', name).status !== 0)

    const r = await readRecording(d)
    sids.push(r.sid)
    assert.ok(!r.output.includes('typed-with-echo-off'), 'nor in the terminal recording')
    const end = endOf(r.events)
    assert.equal(end.interactive, true)
    assert.deepEqual(end.lost_events, {command: 0, disk: 0, network: 0})
    const touch = command(r.events, '/usr/bin/touch', [marker], {program: 'touch'})
    assert.equal(touch.ppid, sessionShell(r.events).pid, 'run by the interactive shell')
    command(r.events, '/usr/bin/stty', ['-echo'], {program: 'stty'})
  })

  // ---------------------------------------------------------------- shell constructs

  it('sourced files, functions, pipelines, subshells, bash -c, $(...) and backquotes', async () => {
    const sourced = join(tmp, 'sourced.sh')
    writeFileSync(sourced, '/bin/echo from-sourced-file\nsourced_fn() { /usr/bin/printf "%s\\n" from-sourced-function; }\n')
    const script = [
      `. ${sourced}`,
      'sourced_fn',
      'f() { /bin/echo from-function "$1"; }',
      'f arg-one',
      '/bin/echo pipe-left | /usr/bin/tr a-z A-Z | /usr/bin/wc -c',
      '( /bin/echo from-subshell; /bin/true subshell-second )',
      "/bin/bash -c '/bin/echo from-bash-c; /bin/true bash-c-second'",
      'x=$(/bin/echo from-cmdsubst); /bin/echo "got $x"',
      'y=`/bin/echo from-backquote`; /bin/echo "got $y"',
      '{ /bin/echo from-group; } | /bin/cat',
      '',
    ].join('\n')
    const r = await record(dataDir(), ['-c', script])
    assertCleanEnd(r)
    const shell = sessionShell(r.events)
    const child = (path: string, argv: string[], program: string, parent = shell.pid) => {
      const e = command(r.events, path, argv, {program})
      assert.equal(e.ppid, parent, `${path} ${argv.join(' ')}: parent`)
      return e
    }
    child('/bin/echo', ['from-sourced-file'], 'echo')
    child('/usr/bin/printf', ['%s\\n', 'from-sourced-function'], 'printf')
    child('/bin/echo', ['from-function', 'arg-one'], 'echo')
    child('/bin/echo', ['pipe-left'], 'echo')
    child('/usr/bin/tr', ['a-z', 'A-Z'], 'tr')
    child('/usr/bin/wc', ['-c'], 'wc')
    // A subshell is a fork of the shell (no exec); its commands are its children.
    const sub1 = command(r.events, '/bin/echo', ['from-subshell'], {program: 'echo'})
    const sub2 = command(r.events, '/bin/true', ['subshell-second'], {program: 'true'})
    assert.notEqual(sub1.ppid, shell.pid)
    assert.equal(sub2.pid, sub1.ppid, "the subshell's last command replaces the subshell")
    assert.equal(sub2.ppid, shell.pid)
    const bashc = child('/bin/bash', ['-c', '/bin/echo from-bash-c; /bin/true bash-c-second'], 'bash')
    child('/bin/echo', ['from-bash-c'], 'echo', bashc.pid)
    command(r.events, '/bin/true', ['bash-c-second'], {program: 'true'}) // exec'd in place by bash -c
    child('/bin/echo', ['from-cmdsubst'], 'echo')
    child('/bin/echo', ['got from-cmdsubst'], 'echo')
    child('/bin/echo', ['from-backquote'], 'echo')
    child('/bin/echo', ['got from-backquote'], 'echo')
    const grp = command(r.events, '/bin/echo', ['from-group'], {program: 'echo'})
    assert.notEqual(grp.ppid, shell.pid, 'run by the subshell of the pipeline')
    child('/bin/cat', [], 'cat')
  })

  // ---------------------------------------------------------------- detaching

  it('background jobs, nohup, setsid, double forks, and processes still running at exit', async () => {
    const script = [
      '/bin/echo bg-job & wait',
      'nohup /bin/echo nohup-job >/dev/null 2>&1',
      'setsid /bin/echo setsid-job',
      '( ( /bin/echo double-fork & ) & )',
      '( ( setsid /bin/echo double-fork-setsid & ) & )',
      '/bin/sleep 0.3',
      // Still running when the shell exits. A background job of a non-interactive shell shares its
      // process group and gets the terminal's hangup (SIGHUP) from the kernel when the shell
      // exits; a nohup'ed one ignores that and er-shell's SIGHUP, so it is killed after --grace;
      // a setsid one is in another session (no hangup from the terminal) and ends on er-shell's SIGHUP.
      '/bin/sleep 41.25 &',
      'echo "leftover-hup=$!"',
      'nohup /bin/sleep 42.25 >/dev/null 2>&1 &',
      'echo "leftover-nohup=$!"',
      'setsid /bin/sleep 43.25 &',
      'echo "leftover-setsid=$!"',
      '/bin/sleep 0.3',
      '',
    ].join('\n')
    const r = await record(dataDir(), ['--grace', '0.5', '-c', script])
    const end = assertCleanEnd(r)
    const shell = sessionShell(r.events)
    assert.equal(command(r.events, '/bin/echo', ['bg-job'], {program: 'echo'}).ppid, shell.pid)
    const nohup = command(r.events, '/usr/bin/nohup', ['/bin/echo', 'nohup-job'], {program: 'nohup'})
    const nohupEcho = command(r.events, '/bin/echo', ['nohup-job'], {program: 'echo'})
    assert.equal(nohupEcho.pid, nohup.pid, 'nohup execs the command in place')
    const setsid = command(r.events, '/usr/bin/setsid', ['/bin/echo', 'setsid-job'], {program: 'setsid'})
    const setsidEcho = command(r.events, '/bin/echo', ['setsid-job'], {program: 'echo'})
    assert.ok(setsidEcho.pid === setsid.pid || setsidEcho.ppid === setsid.pid)
    const df = command(r.events, '/bin/echo', ['double-fork'], {program: 'echo'})
    assert.notEqual(df.ppid, shell.pid)
    command(r.events, '/bin/echo', ['double-fork-setsid'], {program: 'echo'})

    const pidOf = (label: string) => Number(new RegExp(`${label}=(\\d+)`).exec(r.output)?.[1])
    const hup = pidOf('leftover-hup')
    const nh = pidOf('leftover-nohup')
    const ss = pidOf('leftover-setsid')
    leftoverPids.push(hup, nh, ss)
    assert.equal(command(r.events, '/bin/sleep', ['41.25'], {program: 'sleep'}).pid, hup)
    assert.equal(command(r.events, '/bin/sleep', ['42.25'], {program: 'sleep'}).pid, nh)
    const ssSleep = command(r.events, '/bin/sleep', ['43.25'], {program: 'sleep'})
    assert.ok(ssSleep.pid === ss || ssSleep.ppid === ss)
    const left = end.leftover_processes as Array<{pid: number; program: string; action: string}>
    const byPid = new Map(left.map((l) => [l.pid, l]))
    assert.deepEqual(byPid.get(nh), {pid: nh, program: 'sleep', action: 'killed'}, 'nohup ignores SIGHUP: killed after --grace')
    assert.deepEqual(byPid.get(ssSleep.pid), {pid: ssSleep.pid, program: 'sleep', action: 'hup'}, 'setsid: still in the session cgroup')
    assert.equal(byPid.has(hup), false, 'the plain background job ended on the terminal hangup')
    assert.equal(left.length, 2, JSON.stringify(left))
    for (const pid of [hup, nh, ssSleep.pid]) assert.equal(alive(pid), false, `leftover ${pid} is gone`)
  })

  // ---------------------------------------------------------------- exec variants

  it('exec from interpreters, from a non-main thread, fexecve, execveat, a symlink and env -i', async () => {
    const link = join(tmp, 'innocent-name')
    symlinkSync('/usr/bin/echo', link)
    const py = (name: string, code: string) => {
      const f = join(tmp, `acc_${name}.py`) // not `subprocess.py`: python would import it as the module
      writeFileSync(f, code)
      return `${PY} ${f}`
    }
    const script = [
      'set -e',
      py('execv', 'import os\nos.execv("/bin/echo", ["echo", "py-execv"])\n'),
      py('subprocess', 'import subprocess\nsubprocess.run(["/bin/echo", "py-subprocess"], check=True)\n'),
      py(
        'thread',
        'import os, threading\n' +
          'print("py-thread-main", os.getpid(), flush=True)\n' +
          't = threading.Thread(target=lambda: os.execv("/bin/echo", ["echo", "py-thread"]))\n' +
          't.start()\nt.join()\n',
      ),
      py('fexecve', 'import os\nfd = os.open("/usr/bin/echo", os.O_RDONLY)\nos.execve(fd, ["echo", "py-fexecve"], {})\n'),
      py(
        'execveat',
        'import ctypes, os\n' +
          'libc = ctypes.CDLL(None, use_errno=True)\n' +
          'd = os.open("/usr/bin", os.O_RDONLY | os.O_DIRECTORY)\n' +
          'argv = (ctypes.c_char_p * 3)(b"echo", b"py-execveat", None)\n' +
          'envp = (ctypes.c_char_p * 1)(None)\n' +
          'libc.syscall(322, d, b"echo", argv, envp, 0)\n' + // SYS_execveat on x86_64
          'raise SystemExit(ctypes.get_errno())\n',
      ),
      `${PERL} -e 'system("/bin/echo", "perl-system"); exec("/bin/echo", "perl-exec")'`,
      `${link} through-symlink`,
      'env -i /bin/echo empty-environment',
      `env -i ${PY} -c 'import os; print("env-keys", *sorted(os.environ)); os.execv("/bin/echo", ["echo", "py-empty-env"])'`,
      '',
    ].join('\n')
    const r = await record(dataDir(), ['-c', script])
    assertCleanEnd(r)
    const shell = sessionShell(r.events)
    const pyRun = (name: string) => command(r.events, PY, [join(tmp, `acc_${name}.py`)], {program: 'python3'})

    // os.execv replaces the python process: same pid.
    assert.equal(command(r.events, '/bin/echo', ['py-execv'], {program: 'echo'}).pid, pyRun('execv').pid)
    // subprocess: a child of python.
    assert.equal(command(r.events, '/bin/echo', ['py-subprocess'], {program: 'echo'}).ppid, pyRun('subprocess').pid)
    // exec from a non-main thread: the thread takes the process's pid (tgid) during the exec.
    const thr = pyRun('thread')
    assert.match(r.output, new RegExp(`py-thread-main ${thr.pid}\\b`))
    const te = command(r.events, '/bin/echo', ['py-thread'], {program: 'echo'})
    assert.equal(te.pid, thr.pid)
    assert.equal(te.ppid, shell.pid)
    // fexecve: execveat(fd, "", AT_EMPTY_PATH): no path; the image is named by `exe`.
    const fx = command(r.events, '', ['py-fexecve'], {program: 'echo', exe: '/usr/bin/echo'})
    assert.equal(fx.pid, pyRun('fexecve').pid)
    // execveat(dirfd, "echo"): the relative name as passed, the image resolved in `exe`.
    const ea = command(r.events, 'echo', ['py-execveat'], {program: 'echo', exe: '/usr/bin/echo'})
    assert.equal(ea.pid, pyRun('execveat').pid)
    // perl: system() forks (through no shell: list form), exec() replaces.
    const perl = command(r.events, PERL, ['-e', 'system("/bin/echo", "perl-system"); exec("/bin/echo", "perl-exec")'], {program: 'perl'})
    assert.equal(command(r.events, '/bin/echo', ['perl-system'], {program: 'echo'}).ppid, perl.pid)
    assert.equal(command(r.events, '/bin/echo', ['perl-exec'], {program: 'echo'}).pid, perl.pid)
    // Through a symlink: path and program are the link's name; `exe` names the real image.
    command(r.events, link, ['through-symlink'], {program: 'innocent-name', exe: '/usr/bin/echo'})
    // An empty environment changes nothing for capture.
    const envI = command(r.events, '/usr/bin/env', ['-i', '/bin/echo', 'empty-environment'], {program: 'env'})
    assert.equal(command(r.events, '/bin/echo', ['empty-environment'], {program: 'echo'}).pid, envI.pid, 'env execs in place')
    assert.match(r.output, /env-keys( LC_CTYPE)?\r?\n/, 'nothing but what python itself sets (PEP 538)')
    const pyEnv = command(r.events, PY, ['-c', 'import os; print("env-keys", *sorted(os.environ)); os.execv("/bin/echo", ["echo", "py-empty-env"])'], {
      program: 'python3',
    })
    assert.equal(command(r.events, '/bin/echo', ['py-empty-env'], {program: 'echo'}).pid, pyEnv.pid)
  })

  it('many arguments, a 3000-byte argument, and more than 20 x 1024 bytes (argv_truncated, 20 x 1024 kept)', async () => {
    const many = Array.from({length: 30}, (_, i) => `arg-${i + 1}`)
    const long = `L${'x'.repeat(2998)}Z`
    const big = Array.from({length: 24}, (_, i) => `${String(i).padStart(4, '0')}${String.fromCharCode(97 + i).repeat(1020)}`)
    const f = join(tmp, 'acc_bigargs.py')
    writeFileSync(f, `import subprocess, json, sys\nsubprocess.run(["/bin/echo"] + json.load(open(sys.argv[1])), stdout=subprocess.DEVNULL, check=True)\n`)
    const j = join(tmp, 'acc_bigargs.json')
    writeFileSync(j, JSON.stringify(big))
    const r = await record(dataDir(), ['-c', `set -e\n/bin/echo ${many.join(' ')} ${long} >/dev/null\n${PY} ${f} ${j}\n`])
    assertCleanEnd(r)
    command(r.events, '/bin/echo', [...many, long], {program: 'echo'})

    const cut = commands(r.events).filter((e) => e.path === '/bin/echo' && e.argv[0] === big[0])
    assert.equal(cut.length, 1)
    const e = cut[0]!
    assert.equal(e.return_code, 0)
    assert.equal(e.argv_truncated, true, 'the cut is flagged')
    assert.ok(e.argv.length >= 20 && e.argv.length <= big.length, `kept ${e.argv.length} arguments`)
    assert.deepEqual(e.argv.slice(0, 20), big.slice(0, 20), 'at least 20 arguments of 1024 bytes kept whole')
    e.argv.forEach((a, i) => assert.ok(big[i]!.startsWith(a), `argument ${i} is the original or a prefix of it`))
  })

  it('failed execs are recorded with -ENOENT and -EACCES and their arguments', async () => {
    const notExec = join(tmp, 'not-executable')
    writeFileSync(notExec, '#!/bin/sh\necho never\n', {mode: 0o644})
    const r = await record(dataDir(), ['-c', `/nonexistent/program enoent-arg\n${notExec} eacces-arg\n/bin/echo after-failures\n`])
    assertCleanEnd(r)
    const shell = sessionShell(r.events)
    const enoent = command(r.events, '/nonexistent/program', ['enoent-arg'], {return_code: -2})
    const eacces = command(r.events, notExec, ['eacces-arg'], {return_code: -13})
    // A failed exec leaves the forked shell as it was: program is still the shell's name.
    for (const e of [enoent, eacces]) {
      assert.equal(e.program, 'bash')
      assert.equal(e.ppid, shell.pid)
    }
    command(r.events, '/bin/echo', ['after-failures'], {program: 'echo'})
  })

  // ---------------------------------------------------------------- cgroups

  it('a process that moves itself to another cgroup stays recorded, and the move is reported', async () => {
    const elsewhere = makeTestCgroup('escape')
    const rel = `/${relative(cgroup2Root(), elsewhere)}`
    const script = [`echo "shell=$$"`, `echo $$ > ${elsewhere}/cgroup.procs`, '/bin/echo after-escape', "/bin/sh -c '/bin/echo escaped-grandchild'", ''].join(
      '\n',
    )
    const r = await record(dataDir(), ['-c', script])
    assertCleanEnd(r)
    const shell = sessionShell(r.events)
    assert.match(r.output, new RegExp(`shell=${shell.pid}\\b`))
    const escId = Number(cgroupId(elsewhere))
    const after1 = command(r.events, '/bin/echo', ['after-escape'], {program: 'echo'})
    const sh = command(r.events, '/bin/sh', ['-c', '/bin/echo escaped-grandchild'], {program: 'sh'})
    const gc = command(r.events, '/bin/echo', ['escaped-grandchild'], {program: 'echo'})
    for (const e of [after1, sh, gc]) assert.equal(e.cgroup_id, escId, `${e.argv.join(' ')} ran in the other cgroup`)
    assert.equal(gc.ppid, sh.pid)
    const esc = r.events.filter((e): e is SessionCgroupEscapeEvent => e.event === 'session.cgroup_escape')
    assert.equal(esc.length, 1, JSON.stringify(esc))
    assert.equal(esc[0]!.code, 'ERS0001W')
    assert.equal(esc[0]!.pid, shell.pid)
    assert.equal(esc[0]!.program, 'bash')
    assert.equal(esc[0]!.cgroup_id, shell.cgroup_id)
    assert.equal(esc[0]!.new_cgroup_id, escId)
    assert.equal(esc[0]!.new_cgroup_path, rel)
    // Ordered: the escape is reported before what ran after it.
    assert.ok(esc[0]!.ei < after1.ei)
  })

  it('a child cgroup created inside the session is recorded and cleaned up with the session', async () => {
    const script = [
      'cg=/cgroup2$(sed -n "s/^0:://p" /proc/self/cgroup)',
      'mkdir "$cg/child"',
      'echo "child-id=$(stat -c %i "$cg/child")"',
      'echo $$ > "$cg/child/cgroup.procs"',
      '/bin/echo in-child-cgroup',
      'setsid /bin/sleep 44.25 &', // setsid: not ended by the terminal hangup, so er-shell must find it
      'echo "child-leftover=$!"',
      '/bin/sleep 0.2',
      '',
    ].join('\n')
    const r = await record(dataDir(), ['--grace', '0.5', '-c', script])
    const end = assertCleanEnd(r)
    const childId = Number(/child-id=(\d+)/.exec(r.output)?.[1])
    assert.ok(childId > 0, r.output)
    const e = command(r.events, '/bin/echo', ['in-child-cgroup'], {program: 'echo'})
    assert.equal(e.cgroup_id, childId)
    assert.notEqual(e.cgroup_id, sessionShell(r.events).cgroup_id)
    assert.equal(r.events.filter((x) => x.event === 'session.cgroup_escape').length, 0, 'a move inside the session is no escape')
    const leftover = Number(/child-leftover=(\d+)/.exec(r.output)?.[1])
    leftoverPids.push(leftover)
    assert.deepEqual(
      (end.leftover_processes as Array<{pid: number}>).map((l) => l.pid),
      [leftover],
      'the leftover in the child cgroup is found',
    )
    assert.equal(alive(leftover), false)
    assert.equal(existsSync(join(SESSION_CGROUP_ROOT, r.sid)), false, 'session cgroup and its child removed')
  })

  // ---------------------------------------------------------------- file opens

  it('--events command,disk: relative and absolute opens, ENOENT, EACCES and O_CREAT, with absolute paths', async () => {
    const work = join(tmp, 'disk-work')
    mkdirSync(work, {mode: 0o755})
    writeFileSync(join(work, 'relative.txt'), 'r\n')
    writeFileSync(join(work, 'absolute.txt'), 'a\n')
    writeFileSync(join(work, 'secret.txt'), 's\n', {mode: 0o000})
    chmodSync(join(work, 'secret.txt'), 0o000)
    const opener = join(tmp, 'opener.py')
    writeFileSync(
      opener,
      [
        'import os, sys',
        'for spec in sys.argv[1:]:',
        '    path, flags = spec.rsplit(":", 1)',
        '    try:',
        '        fd = os.open(path, int(flags), 0o640)',
        '        print("opened", path, fd, flush=True)',
        '        os.close(fd)',
        '    except OSError as e:',
        '        print("failed", path, -e.errno, flush=True)',
        '',
      ].join('\n'),
    )
    const O_WRONLY_CREAT_EXCL = 0o1 | 0o100 | 0o200
    const O_CLOEXEC = 0o2000000 // python's os.open adds it (PEP 446)
    const script = [
      `${PY} ${opener} relative.txt:0 ${work}/absolute.txt:0 missing-rel.txt:0 ${work}/missing-abs.txt:0 created.txt:${O_WRONLY_CREAT_EXCL}`,
      `setpriv --reuid=nobody --regid=nogroup --clear-groups ${PY} ${opener} secret.txt:0 ${work}/secret.txt:0`,
      '/bin/cat relative.txt > /dev/null',
      '',
    ].join('\n')
    const r = await record(dataDir(), ['--events', 'command,disk', '-c', script], {cwd: work})
    assertCleanEnd(r)
    assert.ok(statSync(join(work, 'created.txt')).isFile())
    const opens = disks(r.events)
    const root = command(r.events, PY, [
      opener,
      'relative.txt:0',
      `${work}/absolute.txt:0`,
      'missing-rel.txt:0',
      `${work}/missing-abs.txt:0`,
      `created.txt:${O_WRONLY_CREAT_EXCL}`,
    ])
    const nobody = command(r.events, PY, [opener, 'secret.txt:0', `${work}/secret.txt:0`])
    const fdOf = (path: string) => Number(new RegExp(`opened ${path} (\\d+)`).exec(r.output)?.[1])
    const disk = (pid: number, path: string, flags: number, rc: number, times = 1) => {
      const found = opens.filter((o) => o.pid === pid && o.path === path)
      assert.equal(
        found.length,
        times,
        `${times} session.disk ${path} by ${pid}; recorded by it:\n${opens
          .filter((o) => o.pid === pid)
          .map((o) => `  ${o.path} ${o.flags} ${o.return_code}`)
          .join('\n')}`,
      )
      for (const o of found) {
        assert.equal(o.code, 'T4001I')
        assert.equal(o.flags, flags | O_CLOEXEC)
        assert.equal(o.return_code, rc)
        assert.equal(o.program, 'python3')
      }
    }
    disk(root.pid, `${work}/relative.txt`, 0, fdOf('relative.txt'))
    disk(root.pid, `${work}/absolute.txt`, 0, fdOf(`${work}/absolute.txt`))
    disk(root.pid, `${work}/missing-rel.txt`, 0, -2)
    disk(root.pid, `${work}/missing-abs.txt`, 0, -2)
    disk(root.pid, `${work}/created.txt`, O_WRONLY_CREAT_EXCL, fdOf('created.txt'))
    // as nobody: the relative and the absolute open both fail with EACCES, both recorded as the absolute path
    disk(nobody.pid, `${work}/secret.txt`, 0, -13, 2)
    assert.match(r.output, new RegExp(`failed secret.txt -13\\r?\\nfailed ${work}/secret.txt -13`))
    // cat (via the shell's redirection too): relative open resolved.
    const cat = command(r.events, '/bin/cat', ['relative.txt'], {program: 'cat'})
    const catOpen = opens.filter((o) => o.pid === cat.pid && o.path === `${work}/relative.txt`)
    assert.equal(catOpen.length, 1)
    assert.ok(catOpen[0]!.return_code >= 0)
    // Every open of the session is absolute.
    for (const o of opens) assert.ok(o.path.startsWith('/'), `absolute: ${o.path}`)
  })

  // ---------------------------------------------------------------- nothing left behind

  it('leaves no session cgroup, no BPF program and no process behind', async () => {
    assert.ok(sids.length >= 10, `sessions recorded: ${sids.length}`)
    for (const sid of sids) assert.equal(existsSync(join(SESSION_CGROUP_ROOT, sid)), false, `/cgroup2/teleport/${sid} removed`)
    // BPF programs are released when er-shell's links and fds close (links in the background).
    // Not more than before: a concurrent recorder (outside this suite) may have ended meanwhile.
    let count = bpfProgCount()
    for (let i = 0; i < 50 && count > bpfBefore; i++) {
      await sleep(100)
      count = bpfProgCount()
    }
    assert.ok(count <= bpfBefore, `er-shell BPF programs: ${count} now, ${bpfBefore} before the suite`)
    for (const pid of leftoverPids) assert.equal(alive(pid), false, `leftover ${pid} ended`)
    for (const name of tmuxSessions) assert.notEqual(spawnSync('tmux', ['has-session', '-t', name]).status, 0, `tmux ${name} gone`)
    // No process of this test's sessions anywhere: nothing runs a command line with our temp dir.
    // er-shell releases its tracepoint links in a detached child after it exits (each link costs
    // ~70 ms to destroy): give that a few seconds, then nothing may be left.
    const ours = (): string[] => {
      const found: string[] = []
      for (const entry of readdirSync('/proc')) {
        const pid = Number(entry)
        if (!Number.isInteger(pid) || pid === process.pid) continue
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
          if (cmdline.includes(tmp) && alive(pid)) found.push(`${pid}: ${cmdline}`)
        } catch {
          // exited meanwhile
        }
      }
      return found
    }
    let left = ours()
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await sleep(100)
      left = ours()
    }
    assert.deepEqual(left, [], `processes still running from ${tmp}`)
  })
})

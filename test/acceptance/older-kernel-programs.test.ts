// `record` with the programs a kernel older than 5.17 (no bpf_loop) and older than 5.14 (no
// bpf_get_current_ancestor_cgroup_id in tracing programs) loads, forced on this kernel with
// ER_SHELL_BPF_LOOP=0 and ER_SHELL_BPF_ANCESTOR_HELPER=0: a real session must capture exactly what
// the default programs capture (test/acceptance/capture-completeness.test.ts), and those programs
// must be the ones loaded.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {mkdirSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import type {AuditEvent, SessionCommandEvent, SessionDiskEvent, SessionEndEvent} from '../../src/events/types.js'
import {findSessions, readSessionChunks, readSessionEvents} from '../../src/storage/index.js'
import {CLI, kernelTestsSkipReason} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

const skip = kernelTestsSkipReason()
const PY = '/usr/bin/python3'
const OLDER_KERNEL = {ER_SHELL_BPF_LOOP: '0', ER_SHELL_BPF_ANCESTOR_HELPER: '0'}

interface Recorded {
  status: number | null
  stderr: string
  events: AuditEvent[]
  output: string
}

/** Runs `er-shell record ARGS` (stdin on /dev/null) with `env` added, and reads its one session. */
function record(dataDir: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Recorded> {
  return new Promise((resolve, reject) => {
    const full: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', SHELL: '/bin/bash', ...env}
    delete full.ER_SHELL_DEBUG
    const child = spawn(process.execPath, [CLI, 'record', '--data-dir', dataDir, ...args], {cwd, env: full, stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stdout.resume()
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGTERM'), 30_000)
    child.on('error', reject)
    child.on('close', async (status) => {
      clearTimeout(timer)
      try {
        const [ref] = findSessions(dataDir)
        assert.ok(ref, `a session in ${dataDir}; stderr: ${stderr}`)
        const events: AuditEvent[] = []
        for await (const e of readSessionEvents(ref)) events.push(e)
        const chunks: Buffer[] = []
        for await (const c of readSessionChunks(ref)) chunks.push(c)
        resolve({status, stderr, events, output: Buffer.concat(chunks).toString('utf8')})
      } catch (error) {
        reject(error)
      }
    })
  })
}

const commands = (events: AuditEvent[]) => events.filter((e): e is SessionCommandEvent => e.event === 'session.command')
const disks = (events: AuditEvent[]) => events.filter((e): e is SessionDiskEvent => e.event === 'session.disk')

/** The one session.command with this path and argv. */
function command(events: AuditEvent[], path: string, argv: string[]): SessionCommandEvent {
  const found = commands(events).filter((e) => e.path === path && JSON.stringify(e.argv) === JSON.stringify(argv))
  assert.equal(
    found.length,
    1,
    `one session.command ${path} ${JSON.stringify(argv)}; recorded:\n` +
      commands(events)
        .map((e) => `  ${e.path} ${JSON.stringify(e.argv)} -> ${e.return_code}`)
        .join('\n'),
  )
  return found[0]!
}

describe('record with the programs of a kernel without bpf_loop and the ancestor helper', {skip}, () => {
  let tmp: string
  before(() => {
    tmp = tempDir('er-older-')
  })
  after(() => rmSync(tmp, {recursive: true, force: true}))

  it('loads the bounded-loop programs and records execs, failed execs, #! scripts, execveat and deep opens exactly', async () => {
    const bpftool = spawnSync('/bin/sh', ['-c', 'command -v bpftool || echo /usr/sbin/bpftool'], {encoding: 'utf8'}).stdout.trim()
    const deep = join(tmp, ...Array.from({length: 40}, (_, i) => `d${i}`))
    mkdirSync(deep, {recursive: true})
    const script = join(tmp, 'hash-bang')
    writeFileSync(script, '#!/bin/sh -e\n/bin/echo "inner:$1"\n', {mode: 0o755})
    const failArgs = Array.from({length: 70}, (_, i) => `fail-arg-${i}`)
    const py = join(tmp, 'older.py')
    writeFileSync(
      py,
      [
        'import ctypes, os, platform, sys',
        `os.chdir(${JSON.stringify(deep)})`,
        "os.close(os.open('deep.txt', os.O_CREAT | os.O_WRONLY, 0o600))",
        '# execveat(dirfd, "echo", ...) relative to /usr/bin',
        "nr = {'x86_64': 322, 'aarch64': 281}[platform.machine()]",
        'libc = ctypes.CDLL(None, use_errno=True)',
        "d = os.open('/usr/bin', os.O_RDONLY | os.O_DIRECTORY)",
        "argv = (ctypes.c_char_p * 3)(b'echo', b'older-execveat', None)",
        'envp = (ctypes.c_char_p * 1)(None)',
        "libc.syscall(nr, d, b'echo', argv, envp, 0)",
        'sys.exit(ctypes.get_errno())',
        '',
      ].join('\n'),
    )
    const shell = [
      // The programs loaded for this session.
      `${bpftool} prog show | grep -o 'on_[a-z_0-9]*' | sort -u | tr '\\n' ' '; echo`,
      '/bin/echo older-argv "two words"',
      `/nonexistent/many many-fail ${failArgs.join(' ')} 2>/dev/null`,
      `${script} bang-arg`,
      `${PY} ${py}`,
      '',
    ].join('\n')
    const data = join(tmp, 'data')
    mkdirSync(data)
    const r = await record(data, ['--events', 'command,disk', '-c', shell], OLDER_KERNEL, tmp)
    assert.equal(r.status, 0, r.stderr)
    const end = r.events.find((e): e is SessionEndEvent => e.event === 'session.end')
    assert.deepEqual(end?.lost_events, {command: 0, disk: 0, network: 0})

    // The variants, not the bpf_loop programs, were loaded.
    const loaded = r.output.split('\n')[0]!.trim().split(' ')
    for (const name of ['on_exec_enter_noloop', 'on_exec_exit_noloop', 'on_exec_image_noloop', 'on_open_exit_noloop']) {
      assert.ok(loaded.includes(name), `${name} loaded: ${loaded.join(' ')}`)
      assert.ok(!loaded.includes(name.replace('_noloop', '')), `${name.replace('_noloop', '')} not loaded`)
    }

    assert.equal(command(r.events, '/bin/echo', ['older-argv', 'two words']).return_code, 0)
    const failed = commands(r.events).find((e) => e.path === '/nonexistent/many')
    assert.ok(failed, 'the failed exec is recorded')
    assert.equal(failed.return_code, -2)
    assert.equal(failed.argv_truncated, true)
    assert.deepEqual(failed.argv, ['many-fail', ...failArgs].slice(0, 63), 'argv[0] and the next 63 arguments')
    const bang = command(r.events, script, ['bang-arg'])
    assert.equal(bang.exe, realpathSync('/bin/sh'), 'the interpreter is the image')
    command(r.events, '/bin/echo', ['inner:bang-arg'])
    const at = command(r.events, 'echo', ['older-execveat'])
    assert.equal(at.exe, '/usr/bin/echo')
    assert.equal(at.return_code, 0)
    const opened = disks(r.events).filter((o) => o.path === join(deep, 'deep.txt'))
    assert.equal(opened.length, 1, 'the open 40 directories deep, resolved to its absolute path')
    assert.ok(opened[0]!.return_code >= 0)
  })
})

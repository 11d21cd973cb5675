// The capture engine on the real kernel: exact field values for execs, opens and connects, scoping
// (child cgroups, escapes, outsiders, two sessions), and loss accounting.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {cgroupId} from '../../src/cgroup/cgroup.js'
import type {ExecEvent, MigrateEvent, NetworkEvent, OpenEvent} from '../helpers/wire.js'
import type {NativeDiskFilter} from '../../src/native/types.js'
import {type Capture, startCapture} from '../helpers/capture.js'
import {kernelTestsSkipReason} from '../helpers/cli.js'
import {cleanupTestCgroups, makeTestCgroup, runInCgroup, runSh} from '../helpers/cgroups.js'
import {listen} from '../helpers/net.js'
import {tempDir} from '../helpers/temp.js'

const PY = '/usr/bin/python3'

function byArg(cap: Capture, marker: string): ExecEvent[] {
  return cap.execs().filter((e) => e.argv.includes(marker))
}

/**
 * The programs this kernel gets, and those a kernel without bpf_loop (5.17) and without
 * bpf_get_current_ancestor_cgroup_id in tracing programs (5.14) gets: ER_SHELL_BPF_LOOP=0 and
 * ER_SHELL_BPF_ANCESTOR_HELPER=0 load those here, so that every capture test proves them too.
 */
const VARIANTS = [
  {name: 'as probed', env: {}},
  {name: 'bounded loops, no ancestor helper (Linux 5.8-5.13)', env: {ER_SHELL_BPF_LOOP: '0', ER_SHELL_BPF_ANCESTOR_HELPER: '0'}},
] as const

for (const variant of VARIANTS)
  describe(`capture engine, one session cgroup, all kinds (${variant.name})`, {skip: kernelTestsSkipReason()}, () => {
    let cg: string
    let cap: Capture
    let tmp: string

    before(() => {
      cg = makeTestCgroup('engine')
      // The addon reads them when it loads the programs, here.
      const saved = {...process.env}
      Object.assign(process.env, variant.env)
      try {
        cap = startCapture(cg)
      } finally {
        for (const key of Object.keys(variant.env)) {
          if (saved[key] === undefined) delete process.env[key]
          else process.env[key] = saved[key]
        }
      }
      tmp = tempDir('er-engine-')
    })

    if (Object.keys(variant.env).length > 0) {
      it('loaded the bounded-loop programs without the ancestor helper', () => {
        assert.equal(cap.engine.timings.bpfLoop, false)
        assert.equal(cap.engine.timings.ancestorHelper, false)
      })
    }

    after(async () => {
      await cap?.stop()
      await cleanupTestCgroups()
      rmSync(tmp, {recursive: true, force: true})
    })

    it('records a plain exec with exact path, argv, pids, program and cgroup id', async () => {
      const r = await runInCgroup(cg, '/bin/echo plain-exec "two words"; echo "shell=$$"')
      assert.equal(r.code, 0)
      await cap.settle()
      const [e] = byArg(cap, 'plain-exec')
      assert.ok(e, 'exec event recorded')
      assert.equal(e.path, '/bin/echo')
      assert.equal(e.argv0, '/bin/echo')
      assert.deepEqual(e.argv, ['plain-exec', 'two words'])
      assert.equal(e.returnCode, 0)
      assert.equal(e.syscall, 'execve')
      assert.equal(e.task.program, 'echo')
      assert.equal(e.task.ppid, Number(/shell=(\d+)/.exec(r.stdout)?.[1]))
      assert.equal(e.task.cgroupId, cgroupId(cg))
      assert.equal(e.task.scope, 'cgroup')
      assert.equal(e.argvTruncated, false)
      assert.ok(Math.abs(e.timeMs - Date.now()) < 5000, 'wall-clock time')
    })

    it('records failed execs with -ENOENT and -EACCES and their arguments', async () => {
      const noexec = join(tmp, 'not-executable')
      writeFileSync(noexec, '#!/bin/sh\necho never\n')
      chmodSync(noexec, 0o644)
      await runInCgroup(cg, `/nonexistent/prog enoent-arg 2>/dev/null; ${noexec} eacces-arg 2>/dev/null; true`)
      await cap.until(() => byArg(cap, 'enoent-arg').length > 0 && byArg(cap, 'eacces-arg').length > 0)
      const [enoent] = byArg(cap, 'enoent-arg')
      assert.ok(enoent, 'ENOENT exec recorded')
      assert.equal(enoent.returnCode, -2)
      assert.equal(enoent.path, '/nonexistent/prog')
      assert.deepEqual(enoent.argv, ['enoent-arg'])
      const [eacces] = byArg(cap, 'eacces-arg')
      assert.ok(eacces, 'EACCES exec recorded')
      assert.equal(eacces.returnCode, -13)
      assert.equal(eacces.path, noexec)
    })

    it('records an exec from a non-main thread', async () => {
      const py = `import os, threading
def run():
    os.execv('/bin/echo', ['echo', 'from-thread'])
t = threading.Thread(target=run)
t.start()
t.join()`
      const r = await runInCgroup(cg, `exec ${PY} -c "${py}"`)
      assert.equal(r.stdout.trim(), 'from-thread')
      await cap.settle()
      const [e] = byArg(cap, 'from-thread')
      assert.ok(e, 'exec from thread recorded')
      assert.equal(e.returnCode, 0)
      assert.equal(e.task.program, 'echo')
      assert.equal(e.task.pid, r.pid, 'the exec keeps the process id')
    })

    it('records fexecve (execveat with AT_EMPTY_PATH) and resolves the image', async () => {
      const py = `import os
fd = os.open('/bin/echo', os.O_RDONLY)
os.execve(fd, ['echo', 'via-fexecve'], {})`
      const r = await runInCgroup(cg, `${PY} -c "${py}"`)
      assert.equal(r.stdout.trim(), 'via-fexecve')
      await cap.settle()
      const [e] = byArg(cap, 'via-fexecve')
      assert.ok(e, 'fexecve recorded')
      assert.equal(e.syscall, 'execveat')
      assert.equal(e.path, '')
      assert.equal(e.atFlags & 0x1000, 0x1000, 'AT_EMPTY_PATH')
      assert.equal(e.exe, '/usr/bin/echo')
      assert.equal(e.returnCode, 0)
    })

    it('records execveat with a dirfd: the path exactly as passed, relative or absolute, with the image resolved', async () => {
      // A successful exec's path comes from the kernel's copy, which names a dirfd-relative file
      // "/dev/fd/<dirfd>/<path>": the engine gives back what the caller passed. A two-digit dirfd
      // and a path with a directory in it, an absolute path (the dirfd is ignored) and a failed one.
      mkdirSync(join(tmp, 'sub'), {recursive: true})
      symlinkSync('/usr/bin/echo', join(tmp, 'sub', 'echo-link'))
      const py = (marker: string, path: string) =>
        `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
d = os.open(${JSON.stringify(tmp)}, os.O_RDONLY | os.O_DIRECTORY)
d = os.dup2(d, 17)
argv = (ctypes.c_char_p * 3)(b'echo', b'${marker}', None)
envp = (ctypes.c_char_p * 1)(None)
libc.syscall(322, d, b'${path}', argv, envp, 0)
raise SystemExit(ctypes.get_errno())
`
      for (const [name, marker, path] of [
        ['rel', 'at-relative', 'sub/echo-link'],
        ['abs', 'at-absolute', '/bin/echo'],
        ['fail', 'at-missing', 'sub/missing'],
      ] as const) {
        writeFileSync(join(tmp, `at_${name}.py`), py(marker, path))
        await runInCgroup(cg, `${PY} ${join(tmp, `at_${name}.py`)}`)
      }
      await cap.settle()
      const [rel] = byArg(cap, 'at-relative')
      assert.ok(rel, 'relative execveat recorded')
      assert.equal(rel.syscall, 'execveat')
      assert.equal(rel.dirfd, 17)
      assert.equal(rel.path, 'sub/echo-link')
      assert.equal(rel.exe, '/usr/bin/echo')
      assert.equal(rel.returnCode, 0)
      const [abs] = byArg(cap, 'at-absolute')
      assert.ok(abs, 'absolute execveat recorded')
      assert.equal(abs.dirfd, 17)
      assert.equal(abs.path, '/bin/echo')
      assert.equal(abs.exe, '/usr/bin/echo')
      const [fail] = byArg(cap, 'at-missing')
      assert.ok(fail, 'failed execveat recorded')
      assert.equal(fail.path, 'sub/missing')
      assert.equal(fail.returnCode, -2)
      assert.equal(fail.exe, undefined)
    })

    it('records 25 arguments and a 3000-byte argument exactly', async () => {
      const many = Array.from({length: 25}, (_, i) => `arg${i}`)
      const long = 'x'.repeat(3000)
      await runInCgroup(cg, `/bin/true many-args ${many.join(' ')} ${long}`)
      await cap.settle()
      const [e] = byArg(cap, 'many-args')
      assert.ok(e)
      assert.deepEqual(e.argv, ['many-args', ...many, long])
      assert.equal(e.argvTruncated, false)
    })

    it('flags an argument block larger than the limit as truncated', async () => {
      const big = Array.from({length: 30}, () => 'y'.repeat(1024))
      await runInCgroup(cg, `/bin/true big-args ${big.join(' ')}`)
      await cap.settle()
      const [e] = byArg(cap, 'big-args')
      assert.ok(e)
      assert.equal(e.argvTruncated, true)
      assert.ok(e.argv.length >= 21, `at least 20 arguments of 1024 bytes kept, got ${e.argv.length}`)
      assert.deepEqual(e.argv.slice(1, 21), big.slice(0, 20))
    })

    it('records an exec through a symlink with the path as passed', async () => {
      const link = join(tmp, 'echo-link')
      symlinkSync('/bin/echo', link)
      await runInCgroup(cg, `${link} via-symlink`)
      await cap.settle()
      const [e] = byArg(cap, 'via-symlink')
      assert.ok(e)
      assert.equal(e.path, link)
      assert.equal(e.task.program, 'echo-link', 'comm comes from the name executed')
    })

    it('records a #! script with the arguments its caller passed and the interpreter as the image', async () => {
      const script = join(tmp, 'hash-bang')
      writeFileSync(script, '#!/bin/sh -e\nexit 0\n', {mode: 0o755})
      await runInCgroup(cg, `${script} bang-arg "two words"`)
      await cap.settle()
      const [e] = byArg(cap, 'bang-arg')
      assert.ok(e, 'script exec recorded')
      assert.equal(e.path, script)
      assert.deepEqual(e.argv, ['bang-arg', 'two words'], "not the interpreter's rewritten block")
      assert.equal(e.exe, realpathSync('/bin/sh'))
      assert.equal(e.returnCode, 0)
    })

    it('records a failed exec with more arguments than it reads as truncated, the first 64 exact', async () => {
      const args = Array.from({length: 70}, (_, i) => `fail-arg-${i}`)
      await runInCgroup(cg, `/nonexistent/many many-fail ${args.join(' ')} 2>/dev/null; /nonexistent/few few-fail a b 2>/dev/null; true`)
      await cap.settle()
      const [many] = byArg(cap, 'many-fail')
      assert.ok(many, 'failed exec recorded')
      assert.equal(many.returnCode, -2)
      assert.equal(many.argvTruncated, true)
      assert.deepEqual(many.argv, ['many-fail', ...args].slice(0, 63), 'argv[0] and the next 63 arguments')
      const [few] = byArg(cap, 'few-fail')
      assert.ok(few)
      assert.deepEqual(few.argv, ['few-fail', 'a', 'b'])
      assert.equal(few.argvTruncated, false)
    })

    it('resolves an open 40 directories deep exactly, and gives no resolved path past the walk depth', async () => {
      const deep = (n: number) => join(tmp, ...Array.from({length: n}, (_, i) => `level-${i}`))
      mkdirSync(deep(40), {recursive: true})
      mkdirSync(deep(60), {recursive: true})
      const py = `import os
os.chdir('${deep(40)}')
os.close(os.open('deep40.txt', os.O_CREAT | os.O_WRONLY, 0o600))
os.chdir('${deep(60)}')
os.close(os.open('deep60.txt', os.O_CREAT | os.O_WRONLY, 0o600))`
      const r = await runInCgroup(cg, `${PY} -c "${py}"`)
      assert.equal(r.code, 0, r.stderr)
      await cap.settle()
      const opens = cap.events.filter((e): e is OpenEvent => e.kind === 'open')
      const at40 = opens.find((e) => e.path === 'deep40.txt')
      assert.ok(at40, 'open 40 deep recorded')
      assert.equal(at40.resolvedPath, join(deep(40), 'deep40.txt'))
      assert.equal(at40.resolvedFrom, 'fd')
      const at60 = opens.find((e) => e.path === 'deep60.txt')
      assert.ok(at60, 'open 60 deep recorded')
      assert.ok(at60.returnCode >= 0)
      assert.equal(at60.resolvedPath, undefined, 'a path deeper than the walk is not guessed')
    })

    it('records openat with O_CREAT, its flags, fd and resolved path; and a failed relative open', async () => {
      const target = join(tmp, 'created.txt')
      const py = `import os
fd = os.open('${target}', os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
print(fd)
os.chdir('${tmp}')
try:
    os.open('missing/file.txt', os.O_RDONLY)
except FileNotFoundError:
    pass`
      const r = await runInCgroup(cg, `${PY} -c "${py}"`)
      const fd = Number(r.stdout.trim())
      await cap.settle()
      const opens = cap.events.filter((e): e is OpenEvent => e.kind === 'open')
      const created = opens.find((e) => e.path === target)
      assert.ok(created, 'open of the created file recorded')
      assert.equal(created.syscall, 'openat')
      assert.equal(created.returnCode, fd)
      assert.equal(created.flags & 0o301, 0o301, 'O_CREAT|O_WRONLY|O_EXCL... flags kept')
      assert.equal(created.mode, 0o600)
      assert.equal(created.resolvedPath, target)
      assert.equal(created.resolvedFrom, 'fd')
      const missing = opens.find((e) => e.path === 'missing/file.txt')
      assert.ok(missing, 'failed open recorded')
      assert.equal(missing.returnCode, -2)
      assert.equal(missing.resolvedPath, join(tmp, 'missing/file.txt'))
      assert.equal(missing.resolvedFrom, 'joined')
    })

    it('records IPv4 and IPv6 TCP connects to loopback with exact addresses and ports', async () => {
      const v4 = await listen('127.0.0.1')
      const v6 = await listen('::1')
      try {
        const py = `import socket
a = socket.create_connection(('127.0.0.1', ${v4.port})); a.close()
b = socket.create_connection(('::1', ${v6.port})); b.close()`
        const r = await runInCgroup(cg, `${PY} -c "${py}"`)
        assert.equal(r.code, 0, r.stderr)
        await cap.settle()
        const conns = cap.events.filter((e): e is NetworkEvent => e.kind === 'network' && e.protocol === 'tcp' && e.operation === 0)
        const c4 = conns.find((c) => c.dstPort === v4.port)
        assert.ok(c4, 'IPv4 connect recorded')
        assert.deepEqual([c4.version, c4.srcAddr, c4.dstAddr], [4, '127.0.0.1', '127.0.0.1'])
        assert.equal(c4.task.program, 'python3')
        const c6 = conns.find((c) => c.dstPort === v6.port)
        assert.ok(c6, 'IPv6 connect recorded')
        assert.deepEqual([c6.version, c6.srcAddr, c6.dstAddr], [6, '::1', '::1'])
      } finally {
        v4.server.close()
        v6.server.close()
      }
    })

    it('folds UDP sends to one record per destination per second, every send counted', async () => {
      // 2000 sends at once, then one more after the second: a record for the first send, one for
      // the 1999 folded ones and the last; 300 to another port: one record, the rest at stop.
      const py = `import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2000): u.sendto(b'x', ('127.0.0.1', 7))
for i in range(300): u.sendto(b'y', ('127.0.0.1', 13))
time.sleep(1.1)
u.sendto(b'x', ('127.0.0.1', 7))`
      const r = await runInCgroup(cg, `${PY} -c "${py}"`)
      assert.equal(r.code, 0, r.stderr)
      await cap.settle()
      const sends = (port: number): number[] =>
        cap.events.filter((e): e is NetworkEvent => e.kind === 'network' && e.protocol === 'udp' && e.dstPort === port).map((e) => e.sends)
      assert.deepEqual(sends(7), [1, 2000])
      assert.deepEqual(sends(13), [1], 'the other 299 wait for the record written at stop')
    })

    it('records a process in a child cgroup of the session', async () => {
      const child = join(cg, 'child')
      mkdirSync(child)
      await runInCgroup(cg, `echo $$ > ${child}/cgroup.procs && /bin/echo in-child-cgroup`)
      await cap.settle()
      const [e] = byArg(cap, 'in-child-cgroup')
      assert.ok(e, 'exec in child cgroup recorded')
      assert.equal(e.task.cgroupId, cgroupId(child))
      assert.equal(e.task.scope, 'cgroup')
    })

    it('keeps recording a process that moves itself out, and reports the move', async () => {
      const elsewhere = makeTestCgroup('elsewhere')
      const r = await runInCgroup(cg, `sh -c 'echo $$ > ${elsewhere}/cgroup.procs && echo mover=$$ && /bin/echo after-escape'`)
      const mover = Number(/mover=(\d+)/.exec(r.stdout)?.[1])
      await cap.settle()
      const [e] = byArg(cap, 'after-escape')
      assert.ok(e, 'exec after leaving the cgroup is still recorded')
      assert.equal(e.task.scope, 'tracked')
      assert.equal(e.task.cgroupId, cgroupId(elsewhere))
      const moves = cap.events.filter((x): x is MigrateEvent => x.kind === 'migrate' && x.movedPid === mover)
      assert.equal(moves.length, 1, 'the move is reported once')
      assert.equal(moves[0]?.dstCgroupId, cgroupId(elsewhere))
      assert.ok(moves[0]?.dstPath.endsWith(elsewhere.split('/').slice(-2).join('/')), moves[0]?.dstPath)
    })

    it('records nothing from processes outside the session', async () => {
      await runSh('/bin/echo outside-marker')
      await cap.settle()
      assert.equal(byArg(cap, 'outside-marker').length, 0)
    })
  })

/**
 * A DFA that flags every path starting with `prefix` as excluded (accept bit 1), built here by hand
 * and independently of src/disk/filter.ts: states 1.. follow the prefix byte by byte, any other
 * byte goes to the dead state 0, and the state after the whole prefix stays there.
 */
function prefixExcludeDfa(prefix: string): NativeDiskFilter {
  const bytes = Buffer.from(prefix)
  const next = new Uint8Array(256 * 256)
  const accept = new Uint8Array(256)
  for (let i = 0; i < bytes.length; i++) next[(i + 1) * 256 + bytes[i]!] = i + 2
  const last = bytes.length + 1
  for (let b = 0; b < 256; b++) next[last * 256 + b] = last
  accept[last] = 2
  return {next, accept, includes: false}
}

for (const variant of VARIANTS)
  describe(`capture engine, a disk filter in the kernel (${variant.name})`, {skip: kernelTestsSkipReason()}, () => {
    after(cleanupTestCgroups)

    it('drops the opens the filter excludes before they reach the ring, and counts them', async () => {
      const cg = makeTestCgroup('disk-filter')
      const tmp = tempDir('er-engine-filter-')
      mkdirSync(join(tmp, 'drop'))
      mkdirSync(join(tmp, 'keep'))
      const saved = {...process.env}
      Object.assign(process.env, variant.env)
      let cap: Capture
      try {
        cap = startCapture(cg, ['command', 'disk'], {diskFilter: prefixExcludeDfa(`${tmp}/drop/`)})
      } finally {
        for (const key of Object.keys(variant.env)) {
          if (saved[key] === undefined) delete process.env[key]
          else process.env[key] = saved[key]
        }
      }
      try {
        const r = await runInCgroup(cg, `cd ${tmp} && for i in 1 2 3; do : > drop/f$i; : > keep/f$i; done; cat drop/missing keep/missing 2>/dev/null; true`)
        assert.equal(r.code, 0, r.stderr)
        await cap.settle()
        const paths = cap.events.filter((e): e is OpenEvent => e.kind === 'open').map((e) => e.resolvedPath ?? e.path)
        const under = (d: string) => paths.filter((p) => p.startsWith(join(tmp, d)) || p.startsWith(`${d}/`))
        // Only the failed relative open is left: a path the kernel did not resolve is not filtered.
        assert.deepEqual(under('drop'), [join(tmp, 'drop', 'missing')], `under drop/: ${paths.join(', ')}`)
        assert.ok(under('keep').length >= 3, `the opens under keep/: ${paths.join(', ')}`)
        const stopped = await cap.stop()
        assert.ok(stopped.kernel.diskFiltered >= 3, `filtered ${stopped.kernel.diskFiltered}`)
      } finally {
        await cap.stop()
      }
    })
  })

describe('capture engine isolation and load', {skip: kernelTestsSkipReason()}, () => {
  after(cleanupTestCgroups)

  it('keeps two concurrent sessions apart', async () => {
    const a = makeTestCgroup('iso-a')
    const b = makeTestCgroup('iso-b')
    const capA = startCapture(a, ['command'])
    const capB = startCapture(b, ['command'])
    try {
      await Promise.all([
        runInCgroup(a, 'for i in 1 2 3 4 5; do /bin/echo session-a; done'),
        runInCgroup(b, 'for i in 1 2 3 4 5; do /bin/echo session-b; done'),
      ])
      await capA.settle()
      assert.equal(byArg(capA, 'session-a').length, 5)
      assert.equal(byArg(capB, 'session-b').length, 5)
      assert.equal(byArg(capA, 'session-b').length, 0)
      assert.equal(byArg(capB, 'session-a').length, 0)
    } finally {
      await Promise.all([capA.stop(), capB.stop()])
    }
  })

  it('loses nothing over 10,000 execs at default buffer sizes', async () => {
    const cg = makeTestCgroup('storm')
    const cap = startCapture(cg, ['command', 'network'])
    let result
    try {
      const r = await runInCgroup(cg, 'i=0; while [ $i -lt 10000 ]; do /bin/true storm; i=$((i+1)); done')
      assert.equal(r.code, 0)
    } finally {
      result = await cap.stop()
    }
    assert.equal(byArg(cap, 'storm').length, 10000)
    assert.deepEqual(result.lost, {command: 0, disk: 0, network: 0})
    assert.equal(result.kernel.pending, 0)
    assert.equal(result.kernel.tracking, 0)
  })

  it('counts exactly what a stalled consumer loses', async () => {
    const cg = makeTestCgroup('stall')
    const cap = startCapture(cg, ['command'])
    const n = 2000
    let result
    try {
      cap.engine.pause()
      await runInCgroup(cg, `i=0; while [ $i -lt ${n} ]; do /bin/true stalled; i=$((i+1)); done`)
      assert.ok(cap.engine.lost().command > 0, 'the ring overflowed while paused')
      cap.engine.resume()
    } finally {
      result = await cap.stop()
    }
    const received = byArg(cap, 'stalled').length
    assert.ok(received > 0 && received < n, `some received (${received})`)
    // Every record of the command ring counts: the n execs of true and their n ends, and the end of
    // the shell, which moved itself into the cgroup after its own exec.
    const all = cap.events.filter((e) => e.kind === 'exec' || e.kind === 'exit').length
    const produced = 2 * n + 1
    assert.equal(all + result.lost.command, produced, `received ${all} + lost ${result.lost.command} = ${produced}`)
  })
})

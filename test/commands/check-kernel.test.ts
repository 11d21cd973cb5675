// `er-shell check-kernel` end to end: real probes as root, the unprivileged path, nothing left behind.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {readMounts} from '../../src/kernel/host.js'
import type {KernelReport} from '../../src/kernel/types.js'
import {testAddonDir} from '../../src/native/index.js'
import {hasStackTrace, kernelTestsSkipReason, runCli} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

const skip = kernelTestsSkipReason()
const REQUIRED_IDS = [
  'kernel-version',
  'btf',
  'privileges',
  'bpf-syscall',
  'ring-buffer',
  'syscall-tracepoints',
  'cgroup2',
  'cgroup-program',
  'cgroup-id',
  'capture-programs',
  'bpf-loop',
  'net-policy',
  'lockdown',
  'kprobe',
  'fentry',
  'lsm',
]

/** Names of the BPF programs loaded right now (bpftool prog list). */
function loadedProgramNames(): string[] {
  const out = execFileSync('bpftool', ['--json', 'prog', 'list'], {encoding: 'utf8'})
  return (JSON.parse(out) as {name?: string}[]).map((p) => p.name ?? '')
}

const PROBE_PROGRAMS = new Set(['probe_execve', 'probe_connect4', 'probe_kprobe', 'probe_fentry', 'probe_lsm'])

/** The mounts a check could make, as "fstype@mountpoint" lines. */
function watchedMounts(paths: string[]): string[] {
  return readMounts()
    .filter((m) => paths.includes(m.mountPoint))
    .map((m) => `${m.fsType}@${m.mountPoint}#${m.id}`)
}

function parseReport(stdout: string): KernelReport {
  const report = JSON.parse(stdout) as KernelReport
  assert.equal(typeof report.ok, 'boolean')
  assert.ok(Array.isArray(report.checks))
  for (const c of report.checks) {
    assert.deepEqual(Object.keys(c).sort(), ['detail', 'id', 'remedy', 'status', 'title'])
    assert.match(c.status, /^(pass|warn|fail)$/)
    if (c.status !== 'pass') assert.notEqual(c.remedy, '', `${c.id} has a remedy`)
  }
  return report
}

describe('check-kernel as root', {skip}, () => {
  let scratch: string
  let capturePrograms = 0 // er-shell's programs loaded before (a concurrent record's)
  const captureProgramCount = () => loadedProgramNames().filter((n) => n.startsWith('on_')).length
  before(async () => {
    scratch = tempDir('er-check-')
    // A record that ended just before releases its programs in the background (~1 s): wait for that.
    for (let i = 0; i < 50 && captureProgramCount() > 0; i++) await new Promise((r) => setTimeout(r, 100))
    capturePrograms = captureProgramCount()
  })
  after(() => {
    // Never leave a mount or the scratch tree behind, even when an assertion failed.
    for (const m of readMounts().reverse()) {
      if (m.mountPoint.startsWith(scratch)) execFileSync('umount', [m.mountPoint])
    }
    rmSync(scratch, {recursive: true, force: true})
  })

  test('--json: ok, at least 8 checks, none failed, and nothing left behind', () => {
    const watched = ['/cgroup2', '/sys/kernel/tracing', '/sys/kernel/security']
    const mountsBefore = watchedMounts(watched)
    const cgroup2Existed = existsSync('/cgroup2')
    const r = runCli(['check-kernel', '--json'])
    assert.equal(r.stderr, '', 'no stderr when recording is possible')
    assert.equal(r.status, 0)
    const report = parseReport(r.stdout)
    assert.equal(report.ok, true)
    assert.ok(report.checks.length >= 8)
    assert.deepEqual(
      report.checks.filter((c) => c.status === 'fail'),
      [],
    )
    assert.deepEqual(
      report.checks.map((c) => c.id),
      REQUIRED_IDS,
    )
    const id = report.checks.find((c) => c.id === 'cgroup-id')!
    assert.match(id.detail, /^BPF saw (\d+), inode \1, file handle \1 /)

    assert.deepEqual(watchedMounts(watched), mountsBefore, 'same mounts as before')
    assert.equal(existsSync('/cgroup2'), cgroup2Existed, '/cgroup2 removed again when the check created it')
    assert.deepEqual(
      loadedProgramNames().filter((n) => PROBE_PROGRAMS.has(n)),
      [],
      'no probe program still loaded',
    )
    assert.ok(captureProgramCount() <= capturePrograms, "none of er-shell's programs left")
  })

  test("the verdict comes from loading er-shell's own programs: their variant is reported, forced ones load too", () => {
    const r = runCli(['check-kernel', '--json'])
    const report = parseReport(r.stdout)
    const capture = report.checks.find((c) => c.id === 'capture-programs')!
    assert.equal(capture.status, 'pass')
    assert.match(capture.detail, /^\d+ programs loaded in [\d.]+ ms \(verifier included\), \d+ attachments made/)
    assert.match(report.checks.find((c) => c.id === 'bpf-loop')!.detail, /^bpf_loop: (yes|no)\b/)
    // The network policy's sock_addr programs: loaded with the capture object, attached to the test cgroup.
    const policy = report.checks.find((c) => c.id === 'net-policy')!
    assert.equal(policy.title, 'cgroup sock_addr hooks (network policy)')
    assert.equal(policy.status, 'pass', policy.detail)
    assert.match(
      policy.detail,
      /^on_connect4, on_connect6, on_sendmsg4, on_sendmsg6 loaded with the capture programs and attached to \/\S+\/er-shell-check-\d+ \(4 more attachments\)/,
    )

    const forced = runCli(['check-kernel', '--json'], {env: {ER_SHELL_BPF_LOOP: '0', ER_SHELL_BPF_ANCESTOR_HELPER: '0'}})
    assert.equal(forced.status, 0, forced.stderr)
    const older = parseReport(forced.stdout)
    assert.equal(older.checks.find((c) => c.id === 'capture-programs')!.status, 'pass')
    const info = older.checks.find((c) => c.id === 'bpf-loop')!
    assert.equal(info.status, 'pass')
    assert.match(info.detail, /^bpf_loop: no \(Linux 5\.17\+ has it\); their bounded-loop variants were loaded: same limits and events/)
    assert.match(info.detail, /bpf_get_current_ancestor_cgroup_id: no/)
  })

  test("a kernel that refuses er-shell's programs fails capture-programs with the verifier's reason and a remedy", () => {
    // The test addon's hook gives the exec entry program a program type whose context it does not
    // match: this kernel's verifier really refuses it, as an older one would refuse an unknown helper.
    const r = runCli(['check-kernel', '--json'], {env: {ER_SHELL_NATIVE_DIR: testAddonDir(), ER_SHELL_TEST_BPF_REJECT: '1'}})
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^er-shell: this host cannot record sessions: 1 check failed \(capture-programs\)/)
    const report = parseReport(r.stdout)
    assert.equal(report.ok, false)
    assert.deepEqual(
      report.checks.filter((c) => c.status === 'fail').map((c) => c.id),
      ['capture-programs'],
    )
    const capture = report.checks.find((c) => c.id === 'capture-programs')!
    assert.match(
      capture.detail,
      /^load BPF programs: Permission denied \(EACCES\): prog 'on_exec_enter(_noloop)?': BPF program load failed: Permission denied: invalid bpf_context access off=\d+ size=8$/,
    )
    assert.match(capture.remedy, /refuses er-shell's BPF programs/)
    assert.ok(captureProgramCount() <= capturePrograms, 'nothing of it left loaded')
  })

  test('mounts cgroup2 at an unmounted --cgroup-path for the check, then unmounts it and removes what it created', () => {
    const path = join(scratch, 'a', 'cgroup2')
    const r = runCli(['check-kernel', '--json', '--cgroup-path', path])
    assert.equal(r.status, 0, r.stderr)
    const report = parseReport(r.stdout)
    const cgroup2 = report.checks.find((c) => c.id === 'cgroup2')!
    assert.equal(cgroup2.status, 'pass')
    assert.match(cgroup2.detail, /mounting cgroup2 there works/)
    assert.match(report.checks.find((c) => c.id === 'cgroup-program')!.detail, new RegExp(`${path}/teleport/er-shell-check-\\d+`))
    assert.equal(readMounts().filter((m) => m.mountPoint.startsWith(scratch)).length, 0, 'no mount left under the scratch dir')
    assert.deepEqual(readdirSync(scratch), [], 'created directories removed')
  })

  test('uses an existing cgroup2 mount and removes its test cgroup', () => {
    const root = readMounts().find((m) => m.fsType === 'cgroup2')!.mountPoint
    const r = runCli(['check-kernel', '--json', '--cgroup-path', root, '--root-path', '/er-shell-check-test'])
    assert.equal(r.status, 0, r.stderr)
    const report = parseReport(r.stdout)
    assert.equal(report.checks.find((c) => c.id === 'cgroup2')!.detail, `cgroup2 is mounted at ${root}`)
    assert.equal(existsSync(join(root, 'er-shell-check-test')), false, 'the root_path it created is gone')
  })

  test('a --cgroup-path that is another filesystem fails the cgroup checks with one line on stderr', () => {
    const r = runCli(['check-kernel', '--json', '--cgroup-path', '/proc'])
    assert.equal(r.status, 1)
    const report = parseReport(r.stdout)
    assert.equal(report.ok, false)
    const cgroup2 = report.checks.find((c) => c.id === 'cgroup2')!
    assert.equal(cgroup2.status, 'fail')
    assert.match(cgroup2.detail, /\/proc is a proc mount, not cgroup2/)
    assert.match(cgroup2.remedy, /--cgroup-path/)
    const lines = r.stderr.split('\n').filter(Boolean)
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0]!, /^er-shell: this host cannot record sessions: 3 checks failed \(cgroup2, cgroup-program, cgroup-id\)/)
  })

  test('human output: a table, no colour without a TTY, remedies for non-passes, a closing line', () => {
    const r = runCli(['check-kernel'])
    assert.equal(r.status, 0, r.stderr)
    assert.doesNotMatch(r.stdout, /\u001B\[/, 'no ANSI colour when stdout is not a TTY')
    assert.match(r.stdout, /┌─+┬─+┬─+┐/)
    assert.match(r.stdout, /│ Check +│ Status │ Detail +│/)
    assert.match(r.stdout, /│ Privileges +│ pass +│ uid 0 with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN/)
    for (const line of r.stdout.split('\n').filter((l) => /^(warn|FAIL) /.test(l))) assert.match(line, /^(warn|FAIL) [a-z0-9-]+: \S/)
    assert.match(r.stdout.trimEnd().split('\n').pop()!, /^This host can record sessions \(\d+ passed, \d+ warnings?, 0 failed\)\.$/)
  })
})

describe('check-kernel without privileges (as nobody)', {skip}, () => {
  test('--json: privilege checks fail, exit 1, exactly one line on stderr, no stack trace', () => {
    const r = runCli(['check-kernel', '--json'], {asNobody: true})
    assert.equal(r.status, 1)
    assert.ok(!hasStackTrace(r.stderr) && !hasStackTrace(r.stdout), r.stderr)
    const lines = r.stderr.split('\n').filter(Boolean)
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0]!, /^er-shell: this host cannot record sessions: \d+ checks failed \(privileges, bpf-syscall,/)
    const report = parseReport(r.stdout)
    assert.equal(report.ok, false)
    const privileges = report.checks.find((c) => c.id === 'privileges')!
    assert.equal(privileges.status, 'fail')
    assert.match(privileges.detail, /uid 65534 lacks CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN/)
    assert.match(privileges.remedy, /run as root/)
    assert.equal(report.checks.find((c) => c.id === 'bpf-syscall')!.status, 'fail')
  })

  test('human output: the table on stdout, the one-line reason on stderr', () => {
    const r = runCli(['check-kernel'], {asNobody: true})
    assert.equal(r.status, 1)
    assert.match(r.stdout, /│ Privileges +│ FAIL +│ uid 65534 lacks/)
    assert.match(r.stdout, /^FAIL privileges: run as root/m)
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr)
    assert.ok(!hasStackTrace(r.stderr))
  })
})

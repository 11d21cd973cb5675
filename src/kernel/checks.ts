// The checks behind `er-shell check-kernel`: real BPF probes plus host facts, one CheckResult each.
import {accessSync, constants, existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {joinHelperPath, loadNative} from '../native/index.js'
import {loadParams} from '../engine/capture.js'
import type {CaptureObjectReport, KernelProbes, NativeLoadParams} from '../native/types.js'
import {TRACEFS, ensureMounted} from '../cgroup/mounts.js'
import {Cleanup, makeDir} from './cleanup.js'
import {atLeast, CAPABILITY_NAMES, currentCapEff, hasCapability, parseKernelRelease, parseLockdown, REQUIRED_CAPABILITIES} from './host.js'
import type {CheckOptions, CheckResult, CheckStatus, KernelReport} from './types.js'

export const DEFAULT_CGROUP_PATH = '/cgroup2'
export const DEFAULT_ROOT_PATH = '/teleport'

const BTF_PATH = '/sys/kernel/btf/vmlinux'
const SECURITYFS = '/sys/kernel/security'

/** Tracepoints the capture engine attaches (bpf/er_shell.bpf.c); recording needs every one. */
export const REQUIRED_TRACEPOINTS = [
  'syscalls/sys_enter_execve',
  'syscalls/sys_exit_execve',
  'syscalls/sys_enter_execveat',
  'syscalls/sys_exit_execveat',
  'syscalls/sys_enter_openat',
  'syscalls/sys_exit_openat',
  'syscalls/sys_enter_openat2',
  'syscalls/sys_exit_openat2',
  'sock/inet_sock_set_state',
  'cgroup/cgroup_attach_task',
]
/** Legacy syscalls that some architectures (arm64) do not have; used when present. */
export const OPTIONAL_TRACEPOINTS = ['syscalls/sys_enter_open', 'syscalls/sys_exit_open', 'syscalls/sys_enter_creat', 'syscalls/sys_exit_creat']

const RUN_AS_ROOT = 'run as root (sudo er-shell check-kernel), or grant CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN'

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  const line = text.split('\n')[0] ?? text
  // Without privileges libbpf's note only repeats "not permitted" at length.
  return codeOf(error) === 'EPERM' ? line.replace(/ \[libbpf: .*\]$/, '') : line
}

function codeOf(error: unknown): string | undefined {
  const code = (error as {code?: unknown} | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

/** Remedy for a failed BPF probe: missing privileges are the usual cause. */
function bpfRemedy(error: unknown, otherwise: string): string {
  const code = codeOf(error)
  if (code === 'EPERM' || code === 'EACCES') return RUN_AS_ROOT
  if (code === 'ENATIVE') return 'build the native addon: npm run build (sudo bash scripts/setup.sh installs what it needs)'
  return otherwise
}

class Report {
  readonly checks: CheckResult[] = []

  add(id: string, title: string, status: CheckStatus, detail: string, remedy = ''): void {
    this.checks.push({id, title, status, detail, remedy: status === 'pass' ? '' : remedy})
  }

  /** Runs `probe`; a throw becomes a failed check with `remedy(error)`. */
  attempt(id: string, title: string, probe: () => string, remedy: (error: unknown) => string): boolean {
    try {
      this.add(id, title, 'pass', probe())
      return true
    } catch (error) {
      this.add(id, title, 'fail', messageOf(error), remedy(error))
      return false
    }
  }
}

/** Runs every check. Everything it mounts, creates or loads is gone when it returns. */
export function runChecks(options: CheckOptions): KernelReport {
  const report = new Report()
  const cleanup = new Cleanup()
  try {
    check(report, cleanup, options)
  } finally {
    const failures = cleanup.runAll()
    if (failures.length > 0) {
      report.add(
        'cleanup',
        'Clean up after the checks',
        'fail',
        failures.join('; '),
        'remove what is listed by hand (umount, rmdir); please report this as a bug',
      )
    }
  }
  return {ok: report.checks.every((c) => c.status !== 'fail'), checks: report.checks}
}

function check(report: Report, cleanup: Cleanup, options: CheckOptions): void {
  // --- host facts ---
  const version = parseKernelRelease()
  if (version === undefined) {
    report.add('kernel-version', 'Kernel 5.8 or newer', 'warn', 'cannot parse the kernel release', 'check `uname -r`: er-shell needs Linux 5.8 or newer')
  } else {
    const ok = atLeast(version, 5, 8)
    report.add(
      'kernel-version',
      'Kernel 5.8 or newer',
      ok ? 'pass' : 'fail',
      `Linux ${version.release}`,
      'upgrade to Linux 5.8 or newer (BPF ring buffers and CAP_BPF arrived in 5.8)',
    )
  }

  report.attempt(
    'btf',
    'BTF type information',
    () => {
      accessSync(BTF_PATH, constants.R_OK)
      return `${BTF_PATH} (${Math.round(statSync(BTF_PATH).size / 1024)} KiB)`
    },
    () => `use a kernel built with CONFIG_DEBUG_INFO_BTF=y (${BTF_PATH} is missing or unreadable)`,
  )

  const privileged = checkPrivileges(report)

  // --- real BPF probes ---
  let probes: KernelProbes | undefined
  let loadError: unknown
  try {
    probes = loadNative().probe
  } catch (error) {
    loadError = error
  }
  const withProbes = (id: string, title: string, run: (p: KernelProbes) => string, remedy: string): boolean => {
    if (probes === undefined) {
      report.add(id, title, 'fail', messageOf(loadError), bpfRemedy(loadError, remedy))
      return false
    }
    const p = probes
    return report.attempt(
      id,
      title,
      () => run(p),
      (error) => bpfRemedy(error, remedy),
    )
  }

  withProbes(
    'bpf-syscall',
    'bpf() usable',
    (p) => {
      p.bpfSyscall()
      return `BPF_MAP_CREATE works${privileged ? '' : ' (unexpectedly, without the listed capabilities)'}`
    },
    'allow bpf(): check kernel.unprivileged_bpf_disabled, seccomp or container restrictions',
  )

  withProbes(
    'ring-buffer',
    'Ring buffer',
    (p) => `created and mapped a ${p.ringBuffer().bytes}-byte ring buffer`,
    'needs Linux 5.8 or newer with BPF_MAP_TYPE_RINGBUF',
  )

  // Tracepoint attach needs tracefs (libbpf reads each tracepoint's id there).
  const tracefsOk = checkTracepoints(report, cleanup, probes, loadError)

  // The test cgroup comes first: the capture object's cgroup programs are attached to it.
  const testCgroup = checkCgroups(report, cleanup, options, probes, loadError)

  const captured = checkCaptureObject(report, options, probes, loadError, privileged, tracefsOk, testCgroup)

  checkNetPolicy(report, options, probes, loadError, captured, testCgroup)

  checkLockdown(report, cleanup, probes)

  // --- informational: er-shell never depends on these ---
  const kinds = [
    {kind: 'kprobe', title: 'kprobe (informational)'},
    {kind: 'fentry', title: 'fentry (informational)'},
    {kind: 'lsm', title: 'BPF LSM (informational)'},
  ] as const
  for (const {kind, title} of kinds) {
    if (probes === undefined) {
      report.add(kind, title, 'warn', `not probed: ${messageOf(loadError)}`, 'none needed: er-shell uses only tracepoints and cgroup programs')
      continue
    }
    try {
      probes.optionalProgram(kind)
      const inactive = kind === 'lsm' ? inactiveBpfLsm() : undefined
      if (inactive === undefined) report.add(kind, title, 'pass', `a ${kind} program loads and attaches`)
      else
        report.add(
          kind,
          title,
          'warn',
          `a lsm program loads and attaches, but never runs: ${inactive}`,
          'none needed: er-shell uses only tracepoints and cgroup programs (BPF LSM programs run when the kernel boots with "bpf" in lsm=)',
        )
    } catch (error) {
      report.add(kind, title, 'warn', `unavailable: ${messageOf(error)}`, 'none needed: er-shell uses only tracepoints and cgroup programs')
    }
  }
}

/**
 * What probe.captureObject() takes: the load parameters, and the test cgroup to attach the cgroup
 * programs to (the network capture's egress program, the policy's sock_addr programs).
 */
type CaptureProbeParams = Parameters<KernelProbes['captureObject']>[0]

/** The parameters `record` loads its programs with for every kind at the default buffer sizes. */
const defaultCapture = (): NativeLoadParams => ({...loadParams(['command', 'disk', 'network'], undefined), cgroupCheck: true})

/** Milliseconds as the checks print them. */
const ms = (v: number): string => `${v.toFixed(1)} ms`

/**
 * The verdict on recording: the capture engine's own object, loaded with the parameters and the
 * variant selection `record` uses, every program attached (the cgroup programs to the test cgroup,
 * when there is one), then all of it released. What it loaded is reported as information (bpf-loop).
 */
function checkCaptureObject(
  report: Report,
  options: CheckOptions,
  probes: KernelProbes | undefined,
  loadError: unknown,
  privileged: boolean,
  tracefsOk: boolean,
  testCgroup: string | undefined,
): CaptureObjectReport | undefined {
  const id = 'capture-programs'
  const title = "er-shell's BPF programs"
  const infoId = 'bpf-loop'
  const infoTitle = 'bpf_loop (informational)'
  const infoRemedy = 'none needed: without bpf_loop er-shell loads bounded-loop variants of the same programs'
  if (probes === undefined) {
    report.add(id, title, 'fail', messageOf(loadError), bpfRemedy(loadError, ''))
    report.add(infoId, infoTitle, 'warn', `not probed: ${messageOf(loadError)}`, infoRemedy)
    return undefined
  }
  const params: CaptureProbeParams = {...(options.capture ?? defaultCapture()), ...(testCgroup === undefined ? {} : {cgroupDir: testCgroup})}
  let loaded: CaptureObjectReport
  try {
    loaded = probes.captureObject(params)
  } catch (error) {
    const e = error as Error & {reason?: string; code?: string}
    const first = (e.message ?? String(error)).split('\n')[0] ?? ''
    // "load BPF programs: Invalid argument (EINVAL)" then, when libbpf said why, its words.
    const what = e.reason ? first.slice(0, Math.max(0, first.length - e.reason.length - 2)) : first
    const detail = e.reason ? `${what}: ${e.reason}` : messageOf(error)
    let remedy: string
    if (!privileged && (e.code === 'EPERM' || e.code === 'EACCES')) remedy = RUN_AS_ROOT
    else if (e.code === 'ENATIVE') remedy = bpfRemedy(error, '')
    else if (!tracefsOk) remedy = `mount tracefs: mount -t tracefs nodev ${TRACEFS}`
    else {
      remedy =
        "this kernel refuses er-shell's BPF programs for the reason shown: er-shell needs Linux 5.8+ with BTF " +
        '(CONFIG_DEBUG_INFO_BTF=y, CONFIG_BPF_EVENTS=y, CONFIG_FTRACE_SYSCALLS=y); if this kernel has them, please report ' +
        'it with the output of ER_SHELL_DEBUG=1 er-shell check-kernel'
    }
    report.add(id, title, 'fail', detail, remedy)
    report.add(infoId, infoTitle, 'warn', 'not known: the programs did not load', infoRemedy)
    return undefined
  }
  report.add(
    id,
    title,
    'pass',
    `${loaded.programs.length} programs loaded in ${ms(loaded.openMs + loaded.loadMs)} ` +
      `(verifier included), ${loaded.links} attachments made in ${ms(loaded.attachMs)}, all released in ${ms(loaded.detachMs)}` +
      (testCgroup === undefined ? ' (the cgroup programs not attached: no test cgroup, see cgroup2)' : ''),
  )
  const loop = loaded.bpfLoop
    ? 'bpf_loop: yes; the programs that walk paths and argument lists use it'
    : 'bpf_loop: no (Linux 5.17+ has it); their bounded-loop variants were loaded: same limits and events, ' +
      'only slower to load (about 3x), which each record waits for at its start'
  const ancestor = loaded.ancestorHelper
    ? 'bpf_get_current_ancestor_cgroup_id: yes'
    : 'bpf_get_current_ancestor_cgroup_id: no (tracing programs have it since Linux 5.14); ' +
      "the session's cgroup ancestry is read from the task's cgroup instead, with the same result"
  report.add(infoId, infoTitle, 'pass', `${loop}; ${ancestor}`)
  return loaded
}

/**
 * The network policy's programs (record --allow-net/--deny-net): the capture object loaded again
 * as `record` loads it with a policy, its cgroup socket programs (connect4/6, sendmsg4/6) attached
 * to a scratch cgroup, then all of it released. Recording does not need them, so a failure is a
 * warning that names what it costs: a record with a policy refuses to start on this host.
 */
function checkNetPolicy(
  report: Report,
  options: CheckOptions,
  probes: KernelProbes | undefined,
  loadError: unknown,
  captured: CaptureObjectReport | undefined,
  testCgroup: string | undefined,
): void {
  const id = 'net-policy'
  const title = 'cgroup sock_addr hooks (network policy)'
  const needed = 'needed only for record --allow-net/--deny-net (recording works without them)'
  if (probes === undefined) {
    report.add(id, title, 'warn', `not probed: ${messageOf(loadError)}`, `${needed}: ${bpfRemedy(loadError, '')}`)
    return
  }
  if (captured === undefined) {
    report.add(id, title, 'warn', "not probed: er-shell's BPF programs did not load (see capture-programs)", `${needed}: fix capture-programs first`)
    return
  }
  if (testCgroup === undefined) {
    report.add(id, title, 'warn', 'not probed: needs a test cgroup (see cgroup2)', `${needed}: fix cgroup2 first`)
    return
  }
  // A policy needs the network kind's programs: they are loaded whatever --events the configuration has.
  const base = options.capture ?? defaultCapture()
  const kinds = base.kinds.includes('network') ? base.kinds : [...base.kinds, 'network' as const]
  const params: CaptureProbeParams = {...base, kinds, netPolicy: true, cgroupDir: testCgroup}
  let loaded: CaptureObjectReport
  try {
    loaded = probes.captureObject(params)
  } catch (error) {
    const e = error as Error & {reason?: string}
    const first = (e.message ?? String(error)).split('\n')[0] ?? ''
    const what = e.reason ? first.slice(0, Math.max(0, first.length - e.reason.length - 2)) : first
    const code = codeOf(error)
    const remedy =
      code === 'EPERM' || code === 'EACCES' ? RUN_AS_ROOT : 'the kernel needs CONFIG_CGROUP_BPF=y and the cgroup connect4/6 and sendmsg4/6 hooks (Linux 4.18+)'
    report.add(id, title, 'warn', e.reason ? `${what}: ${e.reason}` : messageOf(error), `${needed}: ${remedy}`)
    return
  }
  const extra = loaded.programs.filter((name) => !captured.programs.includes(name))
  report.add(
    id,
    title,
    'pass',
    `${extra.length > 0 ? extra.join(', ') : 'the policy programs'} loaded with the capture programs and attached to ${testCgroup} ` +
      `(${loaded.links - captured.links} more attachments), then released: record --allow-net/--deny-net can enforce a policy here`,
  )
}

/** Root, or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN in the effective set. */
function checkPrivileges(report: Report): boolean {
  const who = `uid ${process.geteuid?.() ?? '?'}`
  let capEff: bigint
  try {
    capEff = currentCapEff()
  } catch (error) {
    report.add('privileges', 'Privileges', 'fail', messageOf(error), RUN_AS_ROOT)
    return false
  }
  const missing = REQUIRED_CAPABILITIES.filter((cap) => !hasCapability(capEff, cap)).map((cap) => CAPABILITY_NAMES[cap])
  if (missing.length === 0) {
    report.add('privileges', 'Privileges', 'pass', `${who} with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN`)
    return true
  }
  report.add('privileges', 'Privileges', 'fail', `${who} lacks ${missing.join(', ')}`, RUN_AS_ROOT)
  return false
}

/** tracefs mounted (or mountable, then unmounted) and every tracepoint the engine attaches exists. */
function checkTracepoints(report: Report, cleanup: Cleanup, probes: KernelProbes | undefined, loadError: unknown): boolean {
  const title = 'Syscall tracepoints'
  let how = 'tracefs mounted'
  if (!existsSync(join(TRACEFS, 'events'))) {
    if (probes === undefined) {
      report.add('syscall-tracepoints', title, 'fail', `tracefs is not mounted and cannot be mounted: ${messageOf(loadError)}`, bpfRemedy(loadError, ''))
      return false
    }
    try {
      ensureMounted('tracefs', TRACEFS, {cleanup, probes})
      how = 'tracefs mounted for the check'
    } catch (error) {
      report.add(
        'syscall-tracepoints',
        title,
        'fail',
        `tracefs is not mounted at ${TRACEFS} and mounting it failed: ${messageOf(error)}`,
        codeOf(error) === 'EPERM' ? RUN_AS_ROOT : `mount -t tracefs nodev ${TRACEFS} (the kernel needs CONFIG_FTRACE)`,
      )
      return false
    }
  }
  try {
    accessSync(join(TRACEFS, 'events'), constants.R_OK | constants.X_OK)
  } catch (error) {
    report.add('syscall-tracepoints', title, 'fail', `cannot read ${TRACEFS}/events: ${messageOf(error)}`, RUN_AS_ROOT)
    return false
  }
  const exists = (tp: string): boolean => existsSync(join(TRACEFS, 'events', tp))
  const missing = REQUIRED_TRACEPOINTS.filter((tp) => !exists(tp))
  const optionalMissing = OPTIONAL_TRACEPOINTS.filter((tp) => !exists(tp))
  const note = optionalMissing.length > 0 ? `; absent on this architecture: ${optionalMissing.join(', ')}` : ''
  if (missing.length > 0) {
    report.add(
      'syscall-tracepoints',
      title,
      'fail',
      `missing ${missing.join(', ')}${note}`,
      'use a kernel built with CONFIG_FTRACE_SYSCALLS=y (syscall tracepoints)',
    )
    return true
  }
  report.add('syscall-tracepoints', title, 'pass', `${how}; all ${REQUIRED_TRACEPOINTS.length} tracepoints the engine uses exist${note}`)
  return true
}

/** cgroup2 at cgroupPath, a fresh test cgroup below rootPath, a cgroup program on it, and the id check. */
/** Returns the test cgroup (removed by `cleanup`), or undefined when there is none. */
function checkCgroups(report: Report, cleanup: Cleanup, options: CheckOptions, probes: KernelProbes | undefined, loadError: unknown): string | undefined {
  const {cgroupPath} = options
  const cgroupTitle = `cgroup2 at ${cgroupPath}`
  const progTitle = 'cgroup program'
  const idTitle = 'cgroup id: BPF = user space'
  if (probes === undefined) {
    for (const [id, title] of [
      ['cgroup2', cgroupTitle],
      ['cgroup-program', progTitle],
      ['cgroup-id', idTitle],
    ] as const) {
      report.add(id, title, 'fail', messageOf(loadError), bpfRemedy(loadError, ''))
    }
    return undefined
  }

  let testDir: string | undefined
  try {
    const parent = join(cgroupPath, options.rootPath)
    // A `record` that starts meanwhile may create its session cgroup in the mount and parent made
    // here: then both stay (record would have mounted/created them itself).
    // A fresh mount shows the whole hierarchy, sessions that already existed included: only
    // sessions that appear while the check runs keep it.
    const sessionDirs = (): string[] => {
      try {
        return readdirSync(parent, {withFileTypes: true})
          .filter((d) => d.isDirectory() && !d.name.startsWith('er-shell-check-'))
          .map((d) => d.name)
      } catch {
        return []
      }
    }
    let existing = new Set<string>()
    const sessionsAppeared = (): boolean => sessionDirs().some((name) => !existing.has(name))
    const mountedHere = ensureMounted('cgroup2', cgroupPath, {cleanup, probes, keepIf: sessionsAppeared})
    existing = new Set(sessionDirs())
    makeDir(parent, cleanup, {shared: true})
    testDir = join(parent, `er-shell-check-${process.pid}`)
    makeDir(testDir, cleanup)
    report.add(
      'cgroup2',
      cgroupTitle,
      'pass',
      mountedHere
        ? `nothing was mounted at ${cgroupPath}; mounting cgroup2 there works (record mounts it itself; unmounted again)`
        : `cgroup2 is mounted at ${cgroupPath}`,
    )
  } catch (error) {
    const remedy = ['EPERM', 'EACCES'].includes(codeOf(error) ?? '')
      ? RUN_AS_ROOT
      : `mount -t cgroup2 none ${cgroupPath}, or point --cgroup-path (cgroup_path) at a cgroup2 mount`
    report.add('cgroup2', cgroupTitle, 'fail', messageOf(error), remedy)
    report.add('cgroup-program', progTitle, 'fail', 'needs a cgroup2 hierarchy (see cgroup2)', remedy)
    report.add('cgroup-id', idTitle, 'fail', 'needs a cgroup2 hierarchy (see cgroup2)', remedy)
    return undefined
  }

  const dir = testDir
  report.attempt(
    'cgroup-program',
    progTitle,
    () => {
      const t = probes.cgroupProgram(dir)
      return `cgroup/connect4 attached to ${dir} in ${t.attachMs.toFixed(1)} ms, then detached`
    },
    (error) => bpfRemedy(error, 'the kernel needs CONFIG_CGROUP_BPF=y'),
  )

  try {
    const program = existsSync('/bin/true') ? '/bin/true' : 'true'
    const ids = probes.cgroupId(dir, joinHelperPath(), program)
    const same = ids.bpf === ids.inode && ids.inode === ids.handle
    report.add(
      'cgroup-id',
      idTitle,
      same ? 'pass' : 'fail',
      `BPF saw ${ids.bpf}, inode ${ids.inode}, file handle ${ids.handle} (${dir})`,
      'ids disagree, so no session event would match (Teleport #3212): make --cgroup-path (cgroup_path) the cgroup v2 hierarchy',
    )
  } catch (error) {
    report.add('cgroup-id', idTitle, 'fail', messageOf(error), bpfRemedy(error, 'build the join helper: npm run build'))
  }
  return dir
}

/** Lockdown mode from securityfs (mounted for the check when needed). */
/**
 * Why BPF LSM programs do not run although one attached: "bpf" is not among the active LSMs (the
 * kernel's CONFIG_LSM, or its lsm= boot parameter, leaves it out: Debian 11's 5.10, for one).
 * Undefined when it is active, or when the list cannot be read (securityfs is mounted by then).
 */
function inactiveBpfLsm(): string | undefined {
  let active: string
  try {
    active = readFileSync(join(SECURITYFS, 'lsm'), 'utf8').trim()
  } catch {
    return undefined
  }
  return active.split(',').includes('bpf') ? undefined : `"bpf" is not an active LSM (${active})`
}

function checkLockdown(report: Report, cleanup: Cleanup, probes: KernelProbes | undefined): void {
  const title = 'Lockdown mode'
  const file = join(SECURITYFS, 'lockdown')
  try {
    if (!existsSync(file) && probes !== undefined) ensureMounted('securityfs', SECURITYFS, {cleanup, probes})
  } catch (error) {
    report.add(
      'lockdown',
      title,
      'warn',
      `cannot read ${file}: ${messageOf(error)}`,
      codeOf(error) === 'EPERM' ? RUN_AS_ROOT : `mount -t securityfs securityfs ${SECURITYFS} and read lockdown`,
    )
    return
  }
  if (!existsSync(file)) {
    report.add('lockdown', title, 'pass', 'no lockdown LSM in this kernel')
    return
  }
  const text = readFileSync(file, 'utf8').trim()
  const mode = parseLockdown(text) ?? 'unknown'
  if (mode === 'confidentiality') {
    report.add(
      'lockdown',
      title,
      'fail',
      `lockdown=${mode} (${text}): BPF programs may not read kernel memory`,
      'boot with lockdown=integrity or none (e.g. without lockdown=confidentiality on the kernel command line)',
    )
  } else {
    report.add('lockdown', title, 'pass', `lockdown=${mode}${mode === 'integrity' ? ': tracepoints work; fentry/LSM programs may not' : ''}`)
  }
}

// Phase 1 of record: everything on the host before the kernel capture starts. Refuses what cannot
// work (privileges, an unsafe data dir, a --login account that may not log in, an unsafe --live
// target), then mounts cgroup2 if need be, cleans sessions of recorders that died, and creates and
// registers the session cgroup. Everything it creates is undone through the cleanup stack.
import {randomUUID} from 'node:crypto'
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {basename, join} from 'node:path'

import {createCgroup, removeCgroupTree} from '../../cgroup/cgroup.js'
import {ensureMounted} from '../../cgroup/mounts.js'
import type {ErShellConfig} from '../../config/index.js'
import {InsufficientPrivilegesError, LoginRefusedError, NoSuchAccountError} from '../../errors/index.js'
import type {Cleanup} from '../../kernel/cleanup.js'
import {CAPABILITY_NAMES, REQUIRED_CAPABILITIES, currentCapEff, hasCapability} from '../../kernel/host.js'
import {joinHelperPath, loadNative} from '../../native/index.js'
import type {NativeAddon} from '../../native/types.js'
import {checkDataDir} from '../../storage/layout.js'
import {type Leftover, handleLeftovers} from '../leftovers.js'
import {LivePrinter} from '../live.js'
import {REGISTRY_DIR, register, staleSessions, unregister} from '../registry.js'
import {mark} from '../timings.js'
import type {RecordOptions, SessionCommand} from '../session.js'

/** Where the session's notices go: `notice` always, `say` unless --quiet. */
export interface Notices {
  notice: (line: string) => void
  say: (line: string) => void
}

export interface PreparedHost {
  sid: string
  opts: RecordOptions
  cfg: ErShellConfig
  out: Notices
  native: NativeAddon
  /** The helper the pty runs: it joins the cgroup, then execs the session program. */
  joinHelper: string
  /** What the helper then runs; `initial` is the session.start/end initial_command. */
  program: string
  args: string[]
  initial?: string[]
  /** The live printer: a sink of the recording, and the pump's line writer on a shared terminal. */
  live: LivePrinter
  /** <cgroup_path>/<root_path>, where session cgroups live; and this session's. */
  rootDir: string
  cgroupDir: string
}

export async function prepareHost(opts: RecordOptions, out: Notices, cleanup: Cleanup): Promise<PreparedHost> {
  const cfg = opts.config
  assertPrivileges()
  assertSafeDataDir(cfg.data_dir)
  const joinHelper = joinHelperPath()
  const native = loadNative()
  const loginShell = opts.login === undefined ? undefined : loginShellFor(opts.login, opts.command, out)
  const {program, args, initial} = sessionArgv(opts.command, opts.login, loginShell)
  const sid = randomUUID()

  // First, before anything is created: a --live target that cannot be used safely is refused.
  const live = await LivePrinter.create({
    target: opts.quiet ? 'off' : cfg.live,
    sharesTerminal: Boolean(process.stdin.isTTY && process.stdout.isTTY && process.stderr.isTTY) && cfg.live === 'stderr',
    color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
    onError: (error) => out.notice(`live lines stopped: ${error.message}`),
  })
  cleanup.push('close the live lines', () => live.end())
  ensureMounted('cgroup2', cfg.cgroup_path)
  const rootDir = join(cfg.cgroup_path, cfg.root_path)
  await cleanStaleSessions(out.notice, rootDir)

  const cgroupDir = join(rootDir, sid)
  createCgroup(cgroupDir)
  cleanup.push(`remove ${cgroupDir}`, () => removeCgroupTree(cgroupDir))
  register({sid, cgroupDir, dataDir: cfg.data_dir})
  cleanup.push(`unregister session ${sid}`, () => unregister(sid))
  // A cgroup with processes cannot be removed: whatever the session started and left is ended
  // first (after a normal end, finish() has handled them already and nothing is left).
  cleanup.push('end the processes left in the session cgroup', async () => {
    if (existsSync(cgroupDir)) await handleLeftovers(cgroupDir, 'kill', 500)
  })
  mark('cgroupCreated')
  return {sid, opts, cfg, out, native, joinHelper, program, args, ...(initial ? {initial} : {}), live, rootDir, cgroupDir}
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
 * The login shell of a --login account. An account that may not log in gets no interactive login
 * shell (its own would be nologin, which says so and exits); a command given with -c or -- still
 * runs, with a warning.
 */
function loginShellFor(login: string, command: SessionCommand, out: Notices): string {
  const loginShell = loginShellOf(login)
  if (refusesLogin(loginShell)) {
    if (command.kind === 'interactive') {
      throw new LoginRefusedError(login, loginShell)
    }
    out.say(`--login ${login}: the account's login shell is ${loginShell}; running the command anyway`)
  }
  return loginShell
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
 * What the join helper execs once it joined the cgroup. An interactive --login session is the
 * account's own login shell, as with login(1); a command (-c, --) runs with bash (else sh)
 * whatever that shell is.
 */
function sessionArgv(cmd: SessionCommand, login: string | undefined, loginShell: string | undefined): {program: string; args: string[]; initial?: string[]} {
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

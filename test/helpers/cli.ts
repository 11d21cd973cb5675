// Runs the real CLI (bin/run.js) or the join helper as a child process, optionally as `nobody`.
import {spawnSync} from 'node:child_process'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The repository root (dist/test/helpers → ../../..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const CLI = join(ROOT, 'bin', 'run.js')
export const JOIN_HELPER = join(ROOT, 'build', 'Release', 'er-shell-join')

export interface RunResult {
  status: number | null
  stdout: string
  stderr: string
}

/**
 * The one "needs root" gate: false as root, else why the test is skipped (`need` says what needs
 * root: mount, chown…). CI runs as root, where scripts/test.sh fails the run on any skip.
 */
export function rootSkipReason(need: string): string | false {
  return process.geteuid?.() === 0 ? false : `${need} needs root`
}

/** Kernel tests need root on a host that can record; scripts/test.sh sets ER_SHELL_KERNEL_TESTS=0 when it cannot. */
export function kernelTestsSkipReason(): string | false {
  if (process.env.ER_SHELL_KERNEL_TESTS === '0') return 'this host cannot record (scripts/test.sh said so)'
  return rootSkipReason('loading BPF programs')
}

/**
 * The environment every CLI a test runs gets: the test's own, without colours, debug output, the
 * caller's er-shell settings or sudo's user, plus `extra`.
 */
export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', SHELL: '/bin/bash'}
  delete env.ER_SHELL_DEBUG
  delete env.DEBUG
  delete env.ER_SHELL_DATA_DIR
  delete env.ER_SHELL_LIVE
  delete env.SUDO_USER
  return Object.assign(env, extra)
}

export function run(file: string, args: string[], options: {asNobody?: boolean; env?: NodeJS.ProcessEnv; input?: string} = {}): RunResult {
  const env = testEnv(options.env)
  let command = file
  let argv = args
  if (options.asNobody) {
    // HOME as nobody's login would set it (oclif reads $HOME/.local/share/er-shell).
    env.HOME = '/nonexistent'
    argv = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', file, ...args]
    command = 'setpriv'
  }
  const r = spawnSync(command, argv, {env, encoding: 'utf8', cwd: ROOT, input: options.input ?? '', timeout: 60_000})
  if (r.error) throw r.error
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** `node bin/run.js ARGS` */
export function runCli(args: string[], options: {asNobody?: boolean; env?: NodeJS.ProcessEnv} = {}): RunResult {
  return run(process.execPath, [CLI, ...args], options)
}

/** No stack trace: no "    at fn (file:line)" frames and no Node error banner. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(:\d+:\d+\)?|\(node:)/m.test(text) || /node:internal/.test(text)
}

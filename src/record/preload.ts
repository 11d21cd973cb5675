// The fast start of `er-shell record`. bin/run.js calls preloadRecord() before it loads oclif: the
// kernel then loads, verifies (60-90 ms of verifier work on this project's machines) and attaches
// the BPF programs on a native thread while oclif and the command's modules load on the main one;
// they match nothing until CaptureEngine.start() gives them the session cgroup.
//
// What to load depends on the configuration (event kinds, ring sizes), which oclif has not parsed
// yet: this resolves it from the flags as scanned here, the environment and the config file. It is
// a guess and only an optimisation: the engine adopts the preloaded object only when the kinds and
// sizes of the real configuration match, and loads its own otherwise; any problem here means no
// preload, and the command itself reports it.
import {loadConfig} from '../config/flag-values.js'
import {discardPreload, preloadCapture} from '../engine/capture.js'
import {REQUIRED_CAPABILITIES, currentCapEff, hasCapability} from '../kernel/host.js'
import {loadNative} from '../native/index.js'
import {mark} from './timings.js'

/** record's flags that take a value (long names; a test keeps this in step with Record.flags). */
export const RECORD_VALUE_FLAGS: ReadonlySet<string> = new Set([
  'config',
  'data-dir',
  'events',
  'cgroup-path',
  'root-path',
  'command-buffer-size',
  'disk-buffer-size',
  'network-buffer-size',
  'cluster-name',
  'allow-net',
  'deny-net',
  'disk-include',
  'disk-exclude',
  'disk-preset',
  'command',
  'login',
  'env',
  'live',
  'leftovers',
  'grace',
])

/** Short names of value flags (`-c COMMAND`). */
const SHORT_VALUE_FLAGS: Readonly<Record<string, string>> = {c: 'command'}

/**
 * The values of record's value flags in argv (the arguments after `record`), by long name; stops
 * at `--`. Undefined when the command will not record (help) or argv is not understood.
 */
export function scanRecordFlags(argv: readonly string[]): Map<string, string> | undefined {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') break
    if (arg === '--help' || arg === '-h') return undefined
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const name = arg.slice(2, eq < 0 ? undefined : eq)
      if (!RECORD_VALUE_FLAGS.has(name)) continue // a boolean flag, or one oclif will refuse
      const value = eq < 0 ? argv[++i] : arg.slice(eq + 1)
      if (value === undefined) return undefined
      values.set(name, value)
    } else if (arg.startsWith('-') && arg.length >= 2) {
      const name = SHORT_VALUE_FLAGS[arg[1]!]
      if (name === undefined) continue
      const value = arg.length > 2 ? arg.slice(2).replace(/^=/, '') : argv[++i]
      if (value === undefined) return undefined
      values.set(name, value)
    }
  }
  return values
}

/** Starts loading the BPF programs `record` with these arguments will most likely use. Never throws. */
export function preloadRecord(argv: readonly string[]): void {
  try {
    const flags = scanRecordFlags(argv)
    if (!flags) return
    // Without the privileges the load fails anyway; the command says so.
    if (process.geteuid?.() !== 0 && !REQUIRED_CAPABILITIES.every((c) => hasCapability(currentCapEff(), c))) return
    const {config} = loadConfig({
      config: flags.get('config'),
      events: flags.get('events'),
      'command-buffer-size': flags.get('command-buffer-size'),
      'disk-buffer-size': flags.get('disk-buffer-size'),
      'network-buffer-size': flags.get('network-buffer-size'),
    })
    if (!config.enabled) return
    preloadCapture(
      config.events,
      {command: config.command_buffer_size, disk: config.disk_buffer_size, network: config.network_buffer_size},
      // The scan keeps only one value of a repeated flag, and loadConfig above was not given them.
      {cgroupCheck: true, netPolicy: config.network_policy.rules.length > 0 || flags.has('allow-net') || flags.has('deny-net')},
    )
    // A record that ends before its engine takes these programs (a usage error, say) must not
    // wait at exit for the kernel to detach them.
    process.once('exit', discardPreload)
    mark('preloadStarted')
  } catch {
    // Only an optimisation: the command resolves its configuration again and reports problems.
  }
}

/**
 * Ends a finished record: runs the 'exit' listeners as process.exit() would, then _exit()s with
 * the exit code, without Node's teardown of its environment and threads (~4 ms). The session's
 * files are closed and fsynced by then, and stdout/stderr are synchronous. Under a profiler or
 * coverage (Node options) it exits the ordinary way, which writes their output.
 */
export function exitRecord(): never {
  const code = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0) || 0
  // Node writes profiles and coverage (--cpu-prof, NODE_V8_COVERAGE, ...) during its teardown.
  const plainNode = process.execArgv.length === 0 && !process.env.NODE_OPTIONS && !process.env.NODE_V8_COVERAGE
  if (!plainNode) process.exit(code)
  process.emit('exit', code)
  try {
    loadNative().exitNow(code)
  } catch {
    // no addon: the ordinary way
  }
  process.exit(code)
}

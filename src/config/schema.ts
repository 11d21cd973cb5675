// The configuration's keys, types and defaults, and the value checks shared by files, flags and environment.
import {hostname as osHostname} from 'node:os'
import {posix, resolve as resolvePath} from 'node:path'
import type {DiskFilter} from '../disk/filter.js'
import {parseStoreUri} from '../fleet/uri.js'
import type {NetPolicy} from '../network/policy.js'

/** Enhanced event kinds a session can record; one BPF probe set each. */
export const EVENT_KINDS = ['command', 'disk', 'network'] as const
export type EventKind = (typeof EVENT_KINDS)[number]

/** Where live event lines go: standard error, nowhere, or appended to a file (absolute path). */
export type LiveTarget = 'stderr' | 'off' | `/${string}`

/** The fully resolved configuration. Keys are the config file's own names. */
export interface ErShellConfig {
  /** Root of recordings and the host audit log (`<data_dir>/log/…`). */
  data_dir: string
  /** Where the cgroup v2 hierarchy is (or gets) mounted. */
  cgroup_path: string
  /** Session cgroups are `<cgroup_path><root_path>/<sid>`. Always starts with `/`. */
  root_path: string
  /** BPF ring buffer sizes in pages (powers of two); see `pagesToBytes`. */
  command_buffer_size: number
  disk_buffer_size: number
  network_buffer_size: number
  /** Event kinds to record, deduplicated, in EVENT_KINDS order. */
  events: EventKind[]
  /** `cluster_name` stamped on every event. Defaults to `nodename`. */
  cluster_name: string
  /** This host's name (`server_hostname` in events); Teleport's `teleport.nodename`. */
  nodename: string
  live: LiveTarget
  /** false when the file turns enhanced recording off; see `assertRecordingEnabled`. */
  enabled: boolean
  /**
   * Let sessions use io_uring, whose opens, connects and execs are not recorded. Denied by default
   * (the join helper's seccomp filter). Only a file or `record --allow-io-uring` turns it on.
   */
  allow_io_uring: boolean
  /**
   * Variables of the recorder's environment a `--login` session gets besides its login
   * environment (TERM, LANG, LC_*, a default PATH, the account's HOME, USER, LOGNAME, SHELL).
   * Only from a file (a YAML list of names) or `record --env NAME`.
   */
  env: string[]
  /**
   * The session's egress policy (src/network/policy.ts), enforced in the kernel; no rules = none.
   * From a file (`network_policy`, or Teleport's network_restrictions resource in a teleport.yaml)
   * plus `record --allow-net/--deny-net`, which add to the file's rules. No environment variable.
   */
  network_policy: NetPolicy
  /**
   * Which opens are recorded (src/disk/filter.ts), decided in the kernel; both lists empty = every
   * open. From a file (`disk_filter`, or `ssh_service.enhanced_recording.disk_filter` in a
   * teleport.yaml, an er-shell extension) plus `record --disk-include/--disk-exclude/--disk-preset`,
   * which add to the file's patterns; presets are expanded into `exclude`. No environment variable.
   */
  disk_filter: DiskFilter
  /**
   * The fleet store (src/fleet/, docs/postgres-store.md): postgres:// URIs, as Teleport's
   * `storage.audit_events_uri`; the first is used. Empty: no store, every command reads this
   * host's files. Holds passwords: shown only through redactUri().
   */
  audit_events_uri: string[]
}

export type ConfigKey = keyof ErShellConfig

/** Every key, in the order they are documented and printed. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  'data_dir',
  'cgroup_path',
  'root_path',
  'command_buffer_size',
  'disk_buffer_size',
  'network_buffer_size',
  'events',
  'cluster_name',
  'nodename',
  'live',
  'enabled',
  'allow_io_uring',
  'env',
  'network_policy',
  'disk_filter',
  'audit_events_uri',
]

export const DEFAULT_CONFIG_FILE = '/etc/er-shell.yaml'

/** Largest accepted ring buffer, in pages: 2^18 (1 GiB with 4 KiB pages). */
export const MAX_BUFFER_PAGES = 262_144

/** Defaults, as Teleport has them for the keys it shares. `cluster_name` follows `nodename`. */
export function defaultConfig(hostname: string = osHostname()): ErShellConfig {
  return {
    data_dir: '/var/lib/er-shell',
    cgroup_path: '/cgroup2',
    root_path: '/teleport',
    command_buffer_size: 8,
    disk_buffer_size: 128,
    network_buffer_size: 8,
    events: ['command', 'network'],
    cluster_name: hostname,
    nodename: hostname,
    live: 'stderr',
    enabled: true,
    allow_io_uring: false,
    env: [],
    network_policy: {rules: []},
    disk_filter: {include: [], exclude: []},
    audit_events_uri: [],
  }
}

/** A check's outcome; `problem` reads after the setting's name: "must be …, got …". */
export type Checked<T> = {ok: true; value: T} | {ok: false; problem: string}

const ok = <T>(value: T): Checked<T> => ({ok: true, value})
const bad = <T>(expected: string, got: unknown): Checked<T> => ({ok: false, problem: `${expected}, got ${show(got)}`})

/** A value as an error message shows it: numbers bare, strings quoted, containers by kind. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return 'nothing'
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return 'a list'
  return 'a mapping'
}

const KIND_LIST = EVENT_KINDS.join(', ')

export const EXPECTED = {
  path: 'must be an absolute path',
  rootPath: "must be an absolute path without '..' (like /teleport)",
  pages: 'must be a positive power of two (pages)',
  kinds: `must list only ${KIND_LIST}`,
  kind: `must be one of ${KIND_LIST}`,
  kindList: `must be a list of event kinds (${KIND_LIST})`,
  name: 'must be a non-empty name without control characters',
  live: 'must be "stderr", "off" or an absolute file path',
  bool: 'must be true or false',
  envName: 'must name an environment variable (letters, digits, _)',
  envList: 'must be a list of environment variable names',
  netPolicy: 'must be a mapping with allow and deny lists of rules',
  diskFilter: 'must be a mapping with include and exclude lists of patterns and a preset',
  uriList: 'must be a postgres:// URI or a list of them',
} as const

/** Absolute path, normalized, without a trailing slash. */
export function checkAbsolutePath(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0')) return bad(EXPECTED.path, value)
  return ok(normalize(value))
}

/** Like checkAbsolutePath, but a relative text is taken relative to `cwd` (flags, environment). */
export function parsePathText(text: string, cwd: string): Checked<string> {
  if (text === '' || text.includes('\0')) return bad(EXPECTED.path, text)
  return checkAbsolutePath(resolvePath(cwd, text))
}

/** A cgroup path below cgroup_path: absolute, and it must not climb out with `..`. */
export function checkRootPath(value: unknown): Checked<string> {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0') || value.split('/').includes('..')) {
    return bad(EXPECTED.rootPath, value)
  }
  return ok(normalize(value))
}

/** A ring buffer size in pages: a positive power of two, at most MAX_BUFFER_PAGES. */
export function checkPages(value: unknown): Checked<number> {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || !Number.isInteger(Math.log2(value))) {
    return bad(EXPECTED.pages, value)
  }
  if (value > MAX_BUFFER_PAGES) return bad(`must be at most ${MAX_BUFFER_PAGES} pages`, value)
  return ok(value)
}

/** Page count as typed on a command line or in the environment. */
export function parsePagesText(text: string): Checked<number> {
  const trimmed = text.trim()
  return checkPages(/^[+-]?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : text)
}

export function isEventKind(value: unknown): value is EventKind {
  return typeof value === 'string' && (EVENT_KINDS as readonly string[]).includes(value)
}

/** Deduplicates and orders kinds as EVENT_KINDS does; an empty selection is refused. */
export function checkEventKinds(kinds: readonly EventKind[]): Checked<EventKind[]> {
  if (kinds.length === 0) return {ok: false, problem: `must list at least one of ${KIND_LIST}, got an empty list`}
  return ok(EVENT_KINDS.filter((kind) => kinds.includes(kind)))
}

/** A comma list of kinds (`--events command,disk`); blanks around commas are allowed. */
export function parseEventKindsText(text: string): Checked<EventKind[]> {
  const words = text
    .split(',')
    .map((word) => word.trim())
    .filter((word) => word !== '')
  const unknown = words.find((word) => !isEventKind(word))
  if (unknown !== undefined) return bad(EXPECTED.kinds, unknown)
  return checkEventKinds(words as EventKind[])
}

export function checkName(value: unknown): Checked<string> {
  if (typeof value !== 'string' || value.trim() === '' || /\p{Cc}/u.test(value)) return bad(EXPECTED.name, value)
  return ok(value)
}

export function checkLive(value: unknown): Checked<LiveTarget> {
  if (value === 'stderr' || value === 'off') return ok(value)
  const path = checkAbsolutePath(value)
  return path.ok ? ok(path.value as LiveTarget) : bad(EXPECTED.live, value)
}

export function parseLiveText(text: string, cwd: string): Checked<LiveTarget> {
  if (text === 'stderr' || text === 'off') return ok(text)
  const path = parsePathText(text, cwd)
  return path.ok ? ok(path.value as LiveTarget) : bad(EXPECTED.live, text)
}

export function checkBool(value: unknown): Checked<boolean> {
  return typeof value === 'boolean' ? ok(value) : bad(EXPECTED.bool, value)
}

/** A variable name as a shell takes it: a letter or _, then letters, digits and _. */
export function checkEnvName(value: unknown): Checked<string> {
  return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(value) ? ok(value) : bad(EXPECTED.envName, value)
}

/** One store URI (as a flag or variable gives it), checked; the problem never shows a password. */
export function checkStoreUri(value: unknown): Checked<string[]> {
  if (typeof value !== 'string') return bad(EXPECTED.uriList, value)
  const parsed = parseStoreUri(value.trim())
  return parsed.ok ? ok([parsed.value.uri]) : {ok: false, problem: parsed.problem}
}

/** How each key's value is checked when it comes from YAML (`fromYaml`) or from text (`fromText`). */
export interface KeySpec<K extends ConfigKey> {
  fromYaml(value: unknown): Checked<ErShellConfig[K]>
  /** Absent for keys that cannot be set from a flag or the environment. */
  fromText?(text: string, cwd: string): Checked<ErShellConfig[K]>
}

export const KEY_SPECS: {[K in ConfigKey]: KeySpec<K>} = {
  data_dir: {fromYaml: checkAbsolutePath, fromText: parsePathText},
  cgroup_path: {fromYaml: checkAbsolutePath, fromText: parsePathText},
  root_path: {fromYaml: checkRootPath, fromText: (text) => checkRootPath(text)},
  command_buffer_size: {fromYaml: checkPages, fromText: parsePagesText},
  disk_buffer_size: {fromYaml: checkPages, fromText: parsePagesText},
  network_buffer_size: {fromYaml: checkPages, fromText: parsePagesText},
  events: {
    // A YAML list is checked item by item by the file reader; a plain string is a comma list.
    fromYaml: (value) => (typeof value === 'string' ? parseEventKindsText(value) : bad(EXPECTED.kindList, value)),
    fromText: parseEventKindsText,
  },
  cluster_name: {fromYaml: checkName, fromText: (text) => checkName(text)},
  nodename: {fromYaml: checkName, fromText: (text) => checkName(text)},
  // YAML 1.1 reads a bare `off`/`no` as false (and `on`/`yes` as true): take those as "off" / "stderr".
  live: {fromYaml: (value) => checkLive(value === false ? 'off' : value === true ? 'stderr' : value), fromText: parseLiveText},
  enabled: {fromYaml: checkBool},
  allow_io_uring: {fromYaml: checkBool},
  // A YAML list is checked item by item by the file reader (with each item's position).
  env: {fromYaml: (value) => bad(EXPECTED.envList, value)},
  // Read by the file reader (rules with positions, and Teleport's resource shape); flags add rules
  // in resolveConfig rather than replace them.
  network_policy: {fromYaml: (value) => bad(EXPECTED.netPolicy, value)},
  // Read by the file reader (patterns with positions); flags add patterns in resolveConfig.
  disk_filter: {fromYaml: (value) => bad(EXPECTED.diskFilter, value)},
  // A YAML list is checked item by item by the file reader.
  audit_events_uri: {fromYaml: checkStoreUri, fromText: (text) => checkStoreUri(text)},
}

function normalize(path: string): string {
  const normalized = posix.normalize(path)
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized
}

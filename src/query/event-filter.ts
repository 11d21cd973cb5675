// Event filters for `events`: --type, --program, --command, --user, --denied, --protocol, --since/--until.
import {setFlagsFromString} from 'node:v8'

import type {AuditEvent} from '../events/types.js'
import {InvalidFilterError} from '../errors/index.js'
import {commandText, isDeniedNetwork} from '../replay/describe.js'
import {inRange, parseRange, type TimeRange} from './time.js'

/** Every event type a recording holds, and the short names `--type` also accepts. */
export const EVENT_TYPE_NAMES: Readonly<Record<string, string>> = {
  'session.start': 'session.start',
  start: 'session.start',
  'session.end': 'session.end',
  end: 'session.end',
  'session.command': 'session.command',
  command: 'session.command',
  'session.network': 'session.network',
  network: 'session.network',
  'session.disk': 'session.disk',
  disk: 'session.disk',
  'session.cgroup_escape': 'session.cgroup_escape',
  cgroup_escape: 'session.cgroup_escape',
  'session.process_exit': 'session.process_exit',
  exit: 'session.process_exit',
  'session.data': 'session.data',
  data: 'session.data',
  resize: 'resize',
  print: 'print',
}

/**
 * Types shown when --type is not given: everything except print (terminal output chunks) and
 * process ends (one per process, subshells included: `--type exit` shows them).
 */
export const DEFAULT_EXCLUDED_TYPES: ReadonlySet<string> = new Set(['print', 'session.process_exit'])

export interface EventFilterInput {
  type?: string
  program?: string
  command?: string
  user?: string
  /** Only network attempts the session's network policy denied (action 1). */
  denied?: boolean
  /** Only network events of this transport: tcp or udp. */
  protocol?: string
  since?: string
  until?: string
}

export interface EventFilter {
  /** undefined: every type but print. */
  types?: ReadonlySet<string>
  program?: RegExp
  command?: RegExp
  user?: string
  denied?: boolean
  protocol?: 'tcp' | 'udp'
  range: TimeRange
}

export const PROTOCOLS = ['tcp', 'udp'] as const

// Search patterns are matched against recorded arguments, which anyone in a session chooses: with
// a backtracking engine, `(a+)+$` against 26 characters took 4.4 s and against a 24 KiB argument
// never finished. V8's linear-time engine (the `l` flag, behind this flag) takes time linear in
// the text for every pattern it accepts; it refuses backreferences, lookaround and large repeat
// counts of groups, which are then refused here with one line. The flag is set only when a pattern
// is compiled, not when this module loads: V8 refuses a code cache made under other flags, and the
// command bundles' caches are made when they load (src/cli/bundle-loader.ts).
let linearEngine = false

/** Compiles a search pattern for linear-time matching; InvalidFilterError when it cannot be. */
export function compileRegex(option: string, source: string): RegExp {
  if (!linearEngine) {
    setFlagsFromString('--enable-experimental-regexp-engine')
    linearEngine = true
  }
  try {
    new RegExp(source)
  } catch (error) {
    throw new InvalidFilterError(option, `not a valid regular expression: ${(error as Error).message}`)
  }
  try {
    return new RegExp(source, 'l')
  } catch {
    throw new InvalidFilterError(
      option,
      `${JSON.stringify(source)} cannot be matched in linear time: backreferences (\\1, \\k<name>), lookahead and lookbehind ((?=, (?!, (?<=, (?<!) and large repeat counts of groups are not supported`,
    )
  }
}

/** Parses a comma list of types (long or short names); throws InvalidFilterError naming the bad one. */
export function parseTypes(list: string): Set<string> {
  const types = new Set<string>()
  for (const item of list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const type = EVENT_TYPE_NAMES[item]
    if (type === undefined) {
      const known = [...new Set(Object.values(EVENT_TYPE_NAMES))].join(', ')
      throw new InvalidFilterError('--type', `unknown event type ${JSON.stringify(item)} (known: ${known}; the "session." prefix may be left out)`)
    }
    types.add(type)
  }
  if (types.size === 0) throw new InvalidFilterError('--type', 'give at least one event type')
  return types
}

export function compileEventFilter(input: EventFilterInput, now: number = Date.now()): EventFilter {
  const filter: EventFilter = {range: parseRange(input.since, input.until, now)}
  if (input.type !== undefined) filter.types = parseTypes(input.type)
  if (input.program !== undefined) filter.program = compileRegex('--program', input.program)
  if (input.command !== undefined) filter.command = compileRegex('--command', input.command)
  if (input.user !== undefined) filter.user = input.user
  if (input.denied === true) filter.denied = true
  if (input.protocol !== undefined) {
    const protocol = input.protocol.trim().toLowerCase()
    if (protocol !== 'tcp' && protocol !== 'udp')
      throw new InvalidFilterError('--protocol', `unknown protocol ${JSON.stringify(input.protocol)} (known: ${PROTOCOLS.join(', ')})`)
    filter.protocol = protocol
  }
  return filter
}

/** The event types the filter can match at all (undefined: any but print). */
export function wantedTypes(filter: EventFilter): ReadonlySet<string> | undefined {
  if (filter.command) return new Set([...(filter.types ?? ['session.command'])].filter((t) => t === 'session.command'))
  if (filter.denied || filter.protocol) return new Set([...(filter.types ?? ['session.network'])].filter((t) => t === 'session.network'))
  return filter.types
}

/** The transport of a network event; recordings made before er-shell wrote `protocol` held TCP connects only. */
function protocolOf(event: AuditEvent): unknown {
  return (event as {protocol?: unknown}).protocol ?? 'tcp'
}

export function matchEvent(event: AuditEvent, filter: EventFilter): boolean {
  const types = wantedTypes(filter)
  if (types ? !types.has(event.event) : DEFAULT_EXCLUDED_TYPES.has(event.event)) return false
  if (filter.program) {
    const program = (event as {program?: unknown}).program
    if (typeof program !== 'string' || !filter.program.test(program)) return false
  }
  if (filter.command) {
    if (event.event !== 'session.command' || !filter.command.test(commandText(event))) return false
  }
  if (filter.denied && !isDeniedNetwork(event)) return false
  if (filter.protocol !== undefined && (event.event !== 'session.network' || protocolOf(event) !== filter.protocol)) return false
  if (filter.user !== undefined && event.user !== filter.user && event.login !== filter.user) return false
  return inRange(event.time, filter.range)
}

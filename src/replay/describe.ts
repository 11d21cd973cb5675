// One human line per event, shared by replay's event lines, asciicast markers and the events table.
import {constants as osConstants} from 'node:os'

import {visible} from '../events/escape.js'
import type {AuditEvent} from '../events/types.js'

/** Short name of an event type for tables: command, network, disk, cgroup_escape, start, end, … */
export function shortType(event: string): string {
  if (event.startsWith('session.')) return event.slice('session.'.length)
  return event
}

/** `ENOENT` for -2, `EACCES` for -13, else the number. */
export function errnoName(code: number): string {
  const errno = -code
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === errno) return name
  return String(code)
}

/** Quotes an argument the way a shell user would read it back (only when needed). */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[\w@%+=:,./-]+$/.test(arg)) return arg
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

export {visible} from '../events/escape.js'

/** `path arg1 arg2 …` of a session.command event (argv is without argv[0]). */
export function commandLine(event: AuditEvent): string {
  const e = event as {path?: unknown; argv?: unknown; argv_truncated?: unknown}
  const path = typeof e.path === 'string' ? e.path : ''
  const argv = Array.isArray(e.argv) ? e.argv.map(String) : []
  return [path, ...argv.map(shellQuote)].join(' ') + (e.argv_truncated === true ? ' …(truncated)' : '')
}

/**
 * The command lines of the session.command events seen so far, by event uid: a session.process_exit
 * names its command by that uid (`command_uid`), and is shown with it. Readers stream events in
 * order, so the command is always seen first; an entry is dropped when its exit is described.
 */
export class CommandMemory {
  private readonly lines = new Map<string, string>()

  /** Call for every event, in order. */
  remember(event: AuditEvent): void {
    if (event.event === 'session.command' && typeof event.uid === 'string' && (event as {return_code?: unknown}).return_code === 0) {
      this.lines.set(event.uid, commandLine(event))
    }
  }

  /** The command line of the exec with this uid, once. */
  take(uid: unknown): string | undefined {
    if (typeof uid !== 'string') return undefined
    const line = this.lines.get(uid)
    this.lines.delete(uid)
    return line
  }
}

/** How a process ended: `exited 0 after 40.2 s`, `killed by SIGKILL (core dumped) after 1.5 s`. */
function exitOutcome(e: Record<string, unknown>): string {
  const how = typeof e.signal === 'string' ? `killed by ${e.signal}${e.core_dumped === true ? ' (core dumped)' : ''}` : `exited ${String(e.exit_code ?? '?')}`
  const ms = typeof e.elapsed_ms === 'number' ? e.elapsed_ms : undefined
  return ms === undefined ? how : `${how} after ${(ms / 1000).toFixed(1)} s`
}

/** The text `--command REGEX` is matched against: path and argv joined by spaces, unquoted. */
export function commandText(event: AuditEvent): string {
  const e = event as {path?: unknown; argv?: unknown}
  const path = typeof e.path === 'string' ? e.path : ''
  const argv = Array.isArray(e.argv) ? e.argv.map(String) : []
  return [path, ...argv].join(' ')
}

function openFlags(flags: number): string {
  const access = flags & 3
  const names = [access === 0 ? 'O_RDONLY' : access === 1 ? 'O_WRONLY' : 'O_RDWR']
  const bits: Array<[number, string]> = [
    [0o100, 'O_CREAT'],
    [0o200, 'O_EXCL'],
    [0o1000, 'O_TRUNC'],
    [0o2000, 'O_APPEND'],
    [0o200000, 'O_DIRECTORY'],
  ]
  for (const [bit, name] of bits) if (flags & bit) names.push(name)
  return names.join('|')
}

/** A session.network event in parts, for the one-line forms (describeEvent, live lines). Not yet made visible. */
export interface NetworkParts {
  /** action 1: the session's network policy refused it (the program got EPERM). */
  denied: boolean
  verb: 'connect' | 'send'
  source: string
  /** `10.0.0.1:443`, `[::1]:53`. */
  destination: string
  /** tcp or udp; undefined in recordings made before er-shell wrote it (TCP connects only). */
  protocol: string | undefined
  /** ` ×N` for a folded event that stands for N > 1 sends, else empty. */
  times: string
  /** `DNS A example.com` on a DNS query. */
  dns: string | undefined
}

/** Whether a recorded event is a network attempt the policy denied (`events --denied`). */
export function isDeniedNetwork(event: {event?: unknown; action?: unknown}): boolean {
  return event.event === 'session.network' && event.action === 1
}

export function networkParts(e: Record<string, unknown>): NetworkParts {
  const sends = typeof e.sends === 'number' ? e.sends : 1
  const name = typeof e.dns_name === 'string' ? e.dns_name : undefined
  const type = typeof e.dns_type === 'string' ? e.dns_type : undefined
  return {
    denied: e.action === 1,
    verb: e.operation === 1 ? 'send' : 'connect',
    source: String(e.src_addr),
    destination: `${e.version === 6 ? `[${String(e.dst_addr)}]` : String(e.dst_addr)}:${String(e.dst_port)}`,
    protocol: e.protocol === undefined ? undefined : String(e.protocol),
    times: sends > 1 ? ` ×${sends}` : '',
    dns: name === undefined && type === undefined ? undefined : `DNS ${type ?? '?'} ${name ?? '?'}`,
  }
}

/**
 * What happened, without time/user/program columns, e.g.
 * `/usr/bin/curl http://127.0.0.1:8080/`, `connect 10.0.0.5 → 93.184.216.34:443 (tcp)`,
 * `send 10.0.0.5 → 8.8.8.8:53 (udp) ×3 DNS A example.com`, `denied connect → 10.0.0.1:443 (tcp)`,
 * `/etc/shadow O_RDONLY = EACCES`. Control characters are made visible: every field of a
 * recording (exit_code, size, tx, lost_events …) may hold any string.
 */
export function describeEvent(event: AuditEvent, commands?: CommandMemory): string {
  return visible(describeFields(event, commands))
}

function describeFields(event: AuditEvent, commands: CommandMemory | undefined): string {
  const e = event as unknown as Record<string, unknown>
  const rc = typeof e.return_code === 'number' ? e.return_code : 0
  switch (event.event) {
    case 'session.command':
      return commandLine(event) + (rc < 0 ? ` = ${errnoName(rc)}` : '')
    case 'session.disk':
      return `${String(e.path ?? '')} ${openFlags(Number(e.flags ?? 0))}${rc < 0 ? ` = ${errnoName(rc)}` : ''}`
    case 'session.network': {
      const n = networkParts(e)
      const protocol = n.protocol === undefined ? '' : ` (${n.protocol})`
      const route = n.denied ? `denied ${n.verb} → ${n.destination}` : `${n.verb} ${n.source} → ${n.destination}`
      return `${route}${protocol}${n.times}${n.dns === undefined ? '' : ` ${n.dns}`}`
    }
    case 'session.process_exit': {
      const command = commands?.take(e.command_uid)
      return `${command === undefined ? '' : `${command} → `}${exitOutcome(e)}`
    }
    case 'session.cgroup_escape':
      return `pid ${String(e.pid)} left the session cgroup for ${typeof e.new_cgroup_path === 'string' ? e.new_cgroup_path : `cgroup ${String(e.new_cgroup_id)}`} (still recorded)`
    case 'session.start':
      return `size ${String(e.size ?? '?')}${Array.isArray(e.initial_command) ? ` command ${e.initial_command.map(String).map(shellQuote).join(' ')}` : ''}${e.interactive === true ? ' interactive' : ''}`
    case 'session.end': {
      const lost = e.lost_events as {command?: number; disk?: number; network?: number} | undefined
      const lostTotal = lost ? Number(lost.command ?? 0) + Number(lost.disk ?? 0) + Number(lost.network ?? 0) : 0
      const counts = e.event_counts as {network_denied?: unknown} | undefined
      const denied = typeof counts?.network_denied === 'number' ? counts.network_denied : 0
      return `exit ${e.exit_code === null || e.exit_code === undefined ? '?' : String(e.exit_code)}${lostTotal > 0 ? `, ${lostTotal} events lost` : ''}${
        denied > 0 ? `, ${denied} network attempt${denied === 1 ? '' : 's'} denied` : ''
      }`
    }
    case 'resize':
      return `size ${String(e.size ?? '?')}`
    case 'print':
      return `${String(e.bytes)} bytes at +${String(e.ms)} ms`
    case 'session.data':
      return `tx ${String(e.tx)} rx ${String(e.rx)}`
    default:
      return ''
  }
}

/** A line for replay / asciicast markers: `command curl: /usr/bin/curl http://…`. */
export function eventLine(event: AuditEvent, commands?: CommandMemory): string {
  const program = typeof (event as {program?: unknown}).program === 'string' ? ` ${visible((event as {program: string}).program)}` : ''
  return `${visible(shortType(String(event.event)))}${program}: ${describeEvent(event, commands)}`
}

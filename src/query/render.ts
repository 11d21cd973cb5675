// Human rendering for `sessions` (a cli-table3 table) and `events` (a streaming fixed-width table).
import {Chalk} from 'chalk'
import Table from 'cli-table3'

import type {AuditEvent} from '../events/types.js'
import {isPlainTime} from './time.js'
import {type CommandMemory, describeEvent, isDeniedNetwork, shellQuote, shortType, visible} from '../replay/describe.js'
import type {SessionSummary} from '../storage/index.js'

/** `2026-11-22 16:42:20` (UTC) from RFC 3339; `-` when missing. */
export function shortTime(time: string | null | undefined, withMs = false): string {
  if (!time) return '-'
  if (isPlainTime(time)) return `${time.slice(0, 10)} ${time.slice(11, withMs ? 23 : 19)}`
  const t = Date.parse(time)
  if (Number.isNaN(t)) return visible(time)
  const iso = new Date(t).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, withMs ? 23 : 19)}`
}

/** `45s`, `3m07s`, `2h05m`, `3d04h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`
}

/** Duration of a session; for an unfinished one, up to its last event, marked `≥`. */
export function sessionDuration(s: SessionSummary): string {
  const start = s.session_start ? Date.parse(s.session_start) : NaN
  const stop = Date.parse(s.session_stop ?? s.last_event_time ?? '')
  if (Number.isNaN(start) || Number.isNaN(stop)) return '-'
  return (s.session_stop ? '' : '≥') + formatDuration(stop - start)
}

export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`
}

function who(user: string | null, login: string | null): string {
  if (!user && !login) return '-'
  if (!login || user === login) return visible(user ?? login ?? '-')
  if (!user) return visible(login)
  return visible(`${user} as ${login}`)
}

function lostText(s: SessionSummary): string {
  if (!s.lost_events) return s.unfinished ? '?' : '0'
  const {command, disk, network} = s.lost_events
  const total = command + disk + network
  if (total === 0) return '0'
  const parts = [command ? `cmd ${command}` : '', network ? `net ${network}` : '', disk ? `disk ${disk}` : ''].filter(Boolean)
  return `${total} (${parts.join(', ')})`
}

export interface RenderOptions {
  color?: boolean
}

/** The `er-shell sessions` table, newest first (as given). */
export function renderSessions(sessions: SessionSummary[], options: RenderOptions & {integrity?: boolean} = {}): string {
  const chalk = new Chalk({level: options.color ? 1 : 0})
  // Fleet answers name each session's host; local ones, with a store configured, its shipping state.
  const withHost = sessions.some((s) => s.host !== undefined)
  const withShipping = sessions.some((s) => s.shipping !== undefined)
  const head = [
    'SESSION',
    'START (UTC)',
    'DURATION',
    'USER',
    'TTY',
    'EXIT',
    'CMDS',
    'NET',
    'DISK',
    'LOST',
    'STATUS',
    ...(options.integrity ? ['INTEGRITY'] : []),
    'COMMAND',
  ]
  if (withHost) head.splice(1, 0, 'HOST')
  if (withShipping) head.push('SHIPPING')
  const table = new Table({
    head,
    style: {head: options.color ? ['bold'] : [], border: options.color ? ['grey'] : [], compact: true},
  })
  for (const s of sessions) {
    const lost = visible(lostText(s))
    // Every cell comes from the recording (exit_code, lost_events, a sid from a file name …).
    const cells = [
      visible(s.sid.slice(0, 8)),
      shortTime(s.session_start),
      sessionDuration(s),
      who(s.user, s.login),
      s.interactive === null ? '-' : s.interactive ? 'yes' : 'no',
      s.exit_code === null ? '-' : visible(String(s.exit_code)),
      String(s.commands),
      String(s.network),
      s.disk_filtered > 0 ? `${s.disk} (+${s.disk_filtered} filtered)` : String(s.disk),
      lost === '0' ? lost : chalk.red(lost),
      s.unfinished ? chalk.yellow.bold('UNFINISHED') : 'ended',
      ...(options.integrity ? [integrityCell(s.integrity, chalk)] : []),
      truncate(visible(s.initial_command ? s.initial_command.map(shellQuote).join(' ') : s.interactive ? '(interactive shell)' : '-'), 40),
    ]
    if (withHost) cells.splice(1, 0, truncate(visible(s.host ?? '-'), 20))
    if (withShipping) {
      const shipping = truncate(visible(s.shipping ?? '-'), 60)
      cells.push(shipping.startsWith('failing') ? chalk.red(shipping) : shipping.startsWith('shipped') ? shipping : chalk.yellow(shipping))
    }
    table.push(cells)
  }
  return table.toString()
}

/** `sessions --verify`: intact, damaged (red), unsealed (yellow), not checked. */
function integrityCell(value: SessionSummary['integrity'], chalk: InstanceType<typeof Chalk>): string {
  if (value === 'damaged') return chalk.red.bold(value)
  if (value === 'unsealed') return chalk.yellow(value)
  return value ?? 'not checked'
}

/** Columns of the `events` table; `all` adds session, user and login (events of every session). */
export interface EventRowOptions extends RenderOptions {
  all: boolean
  /** A HOST column (server_hostname): events of every host, from the fleet store. */
  host?: boolean
}

const W = {time: 23, host: 12, sid: 8, user: 10, login: 8, type: 13, program: 15, pid: 7}

/** Header line of the events table. */
export function eventHeader(options: EventRowOptions): string {
  const cols = [pad('TIME (UTC)', W.time)]
  if (options.host) cols.push(pad('HOST', W.host))
  if (options.all) cols.push(pad('SESSION', W.sid), pad('USER', W.user), pad('LOGIN', W.login))
  cols.push(pad('TYPE', W.type), pad('PROGRAM', W.program), padStart('PID', W.pid), 'WHAT')
  return cols.join('  ')
}

/**
 * One row. `commandNumber` is the command's 1-based number within its session (shown as `#N`,
 * the N of `replay --at-command N`).
 */
export function eventRow(event: AuditEvent, options: EventRowOptions & {commandNumber?: number; commands?: CommandMemory}): string {
  const e = event as unknown as Record<string, unknown>
  const cols = [pad(shortTime(event.time, true), W.time)]
  if (options.host) cols.push(pad(truncate(visible(String(event.server_hostname ?? '-')), W.host), W.host))
  if (options.all)
    cols.push(
      pad(visible(String(event.sid).slice(0, 8)), W.sid),
      pad(truncate(visible(String(event.user ?? '-')), W.user), W.user),
      pad(truncate(visible(String(event.login ?? '-')), W.login), W.login),
    )
  cols.push(
    pad(visible(shortType(String(event.event))), W.type),
    pad(truncate(typeof e.program === 'string' ? visible(e.program) : '', W.program), W.program),
    padStart(typeof e.pid === 'number' ? String(e.pid) : '', W.pid),
  )
  let what = describeEvent(event, options.commands)
  if (options.commandNumber !== undefined) what = `#${options.commandNumber} ${what}`
  const rc = typeof e.return_code === 'number' ? e.return_code : 0
  if (options.color && (rc < 0 || isDeniedNetwork(event))) what = new Chalk({level: 1}).red(what)
  cols.push(what)
  return cols.join('  ').trimEnd()
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length)
}

function padStart(text: string, width: number): string {
  return text.length >= width ? text : ' '.repeat(width - text.length) + text
}

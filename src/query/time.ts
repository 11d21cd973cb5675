// Parses --since/--until values: RFC 3339 / ISO dates and times, or relative ages like 90s, 30m, 2h, 7d, 1w.
import {InvalidFilterError} from '../errors/index.js'

const UNITS: Record<string, number> = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000}

/**
 * A point in time in ms since the epoch. Accepts `now`, a relative age (`2h` = two hours ago;
 * units s, m, h, d, w), a date (`2026-11-22`, midnight UTC), or a date and time
 * (`2026-11-22T16:42`, `2026-11-22 16:42:20`, optionally with `Z` or `+02:00`; without a zone it is UTC,
 * like every time er-shell prints).
 */
export function parseTime(value: string, option: string, now: number = Date.now()): number {
  const text = value.trim()
  if (text === 'now') return now
  const relative = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text)
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!.toLowerCase()]!
  const iso = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(text)
  if (iso) {
    const zone = iso[3] ? (iso[3].toUpperCase() === 'Z' ? 'Z' : iso[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')) : 'Z'
    const parsed = Date.parse(`${iso[1]}T${iso[2] ?? '00:00'}${zone}`)
    if (!Number.isNaN(parsed)) return parsed
  }
  throw new InvalidFilterError(
    option,
    `cannot read ${JSON.stringify(value)} as a time: use a date/time like 2026-11-22 or 2026-11-22T16:42:20Z (UTC unless a zone is given), or an age like 30m, 2h, 7d`,
  )
}

/**
 * A time every date of every month has, as recorders write it: Date.parse and toISOString give it
 * back unchanged (a 29th–31st or hour 24 may roll over, so those take the long way), and such
 * times sort as strings as they do in time.
 */
const PLAIN_TIME = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/

export function isPlainTime(time: string): boolean {
  return PLAIN_TIME.test(time)
}

export interface TimeRange {
  since?: number
  until?: number
}

export function parseRange(since: string | undefined, until: string | undefined, now: number = Date.now()): TimeRange {
  const range: TimeRange = {}
  if (since !== undefined) range.since = parseTime(since, '--since', now)
  if (until !== undefined) range.until = parseTime(until, '--until', now)
  if (range.since !== undefined && range.until !== undefined && range.since > range.until) {
    throw new InvalidFilterError('--since', `${since} is after --until ${until}`)
  }
  return range
}

/** True when `time` (RFC 3339) is within the range; an unreadable time is outside any bounded range. */
export function inRange(time: string | null | undefined, range: TimeRange): boolean {
  if (range.since === undefined && range.until === undefined) return true
  const t = time ? Date.parse(time) : NaN
  if (Number.isNaN(t)) return false
  return (range.since === undefined || t >= range.since) && (range.until === undefined || t <= range.until)
}

// Session filters for `sessions`: --since/--until on the start time, --user on user or login.
import type {SessionSummary} from '../storage/index.js'
import {inRange, parseRange, type TimeRange} from './time.js'

export interface SessionFilterInput {
  since?: string
  until?: string
  user?: string
}

export interface SessionFilter {
  range: TimeRange
  user?: string
}

export function compileSessionFilter(input: SessionFilterInput, now: number = Date.now()): SessionFilter {
  return {range: parseRange(input.since, input.until, now), user: input.user}
}

/** A session matches when it started within the range and `user` is its user or its login. */
export function matchSession(session: SessionSummary, filter: SessionFilter): boolean {
  if (filter.user !== undefined && session.user !== filter.user && session.login !== filter.user) return false
  return inRange(session.session_start, filter.range)
}

// Finds where `replay --at-command N` / `--at REGEX` starts: the `ei` of that session.command event.
import * as fs from 'node:fs'

import {CommandNotFoundError} from '../errors/index.js'
import type {AuditEvent} from '../events/types.js'
import {readEventFile, readSessionEvents, type SessionRef} from '../storage/index.js'
import {commandText} from './describe.js'

export interface StartQuery {
  /** 1-based number of the command in the session (as `events` shows it: #N). */
  command?: number
  /** First command whose path and arguments (joined by spaces) match. */
  regex?: RegExp
}

export interface StartPoint {
  ei: number
  /** 1-based command number. */
  number: number
  event: AuditEvent
}

/**
 * Scans the session's command events (the small `<sid>-0.session.command-events.gz` when it is
 * there, else the full events file) for the start point. Throws CommandNotFoundError.
 */
export async function findStartPoint(ref: SessionRef, query: StartQuery): Promise<StartPoint> {
  const perKind = ref.paths.enhanced['session.command']
  const source = fs.existsSync(perKind) ? readEventFile(perKind) : readSessionEvents(ref)
  let number = 0
  for await (const event of source) {
    if (event.event !== 'session.command') continue
    number++
    const hit = query.command !== undefined ? number === query.command : query.regex !== undefined && query.regex.test(commandText(event))
    if (hit) return {ei: event.ei, number, event}
  }
  const wanted = query.command !== undefined ? `#${query.command}` : `matching /${query.regex?.source ?? ''}/`
  throw new CommandNotFoundError(ref.sid, wanted, number)
}

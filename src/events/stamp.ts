// Turns a session event body (start, print, resize, data, end) into its written line: common
// fields first, in Teleport's key order. Kernel events get theirs from native/src/lines.cc, with
// the heads and common fields lineFormat() gives it.
import {randomUUID} from 'node:crypto'

import type {LineFormat} from '../engine/events.js'
import {escapeControls, safeJson} from './escape.js'
import {EventCode, HEADER_KEYS, type EventBody, type SessionCommon} from './types.js'

/** RFC 3339 UTC with milliseconds: 2026-11-22T16:42:20.540Z. */
export function formatEventTime(at: Date | number): string {
  const ms = typeof at === 'number' ? at : at.getTime()
  // Events come in bursts within a second: the part up to the seconds is formatted once per
  // second (a Date and toISOString per event cost ~0.6 us on the hot path).
  const second = Math.floor(ms / 1000)
  if (second !== timeCache.second) {
    timeCache.prefix = new Date(second * 1000).toISOString().slice(0, 20) // YYYY-MM-DDTHH:MM:SS.
    timeCache.second = second
  }
  const milli = Math.floor(ms) - second * 1000
  return `${timeCache.prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`
}

const timeCache = {second: Number.NaN, prefix: ''}

/** The event code for a type; undefined for `print` and for unknown types. */
export function eventCode(event: string): string | undefined {
  return (EventCode as Record<string, string | undefined>)[event]
}

/**
 * Formats events of one session as JSON lines: `{"ei":N,"event":…,"code":…,"uid":…,"time":…,`
 * then cluster_name, sid, namespace ("default"), server_id, server_hostname, login, user, then the
 * body's own fields in its order (header keys in the body are ignored: the writer owns them). The
 * session's common fields are serialised once and the body as it is: every terminal chunk goes
 * through here.
 */
export class EventLineFormatter {
  /** `"cluster_name":…,"sid":…,"namespace":"default",…,"user":…` */
  private readonly commonJson: string

  constructor(sid: string, common: SessionCommon) {
    this.commonJson = safeJson({
      cluster_name: common.cluster_name,
      sid,
      namespace: 'default',
      server_id: common.server_id,
      server_hostname: common.server_hostname,
      login: common.login,
      user: common.user,
    }).slice(1, -1)
  }

  /** Per event type: `"event":…,"code":…,` for the line, and `{"event":…` that starts the body's JSON. */
  private readonly eventJson = new Map<string, {head: string; lead: string}>()

  /** What the native addon needs to write the lines of kernel events (session.command, disk, network, cgroup_escape, process_exit). */
  lineFormat(): LineFormat {
    const head = (event: string) => `"event":${JSON.stringify(event)},"code":${JSON.stringify(eventCode(event))},`
    return {
      commandHead: head('session.command'),
      diskHead: head('session.disk'),
      networkHead: head('session.network'),
      escapeHead: head('session.cgroup_escape'),
      exitHead: head('session.process_exit'),
      common: this.commonJson,
    }
  }

  /** One line, ending in '\n'. */
  line(body: EventBody, ei: number, at: Date | number, uid?: string): string {
    const event = (body as {event: string}).event
    if (hasHeaderKey(body as object)) body = withoutHeaderKeys(body)
    let parts = this.eventJson.get(event)
    if (parts === undefined) {
      const code = eventCode(event)
      const name = safeJson(event)
      parts = {head: `"event":${name},${code === undefined ? '' : `"code":${JSON.stringify(code)},`}`, lead: `{"event":${name}`}
      this.eventJson.set(event, parts)
    }
    const {head, lead} = parts
    // The body's own fields as JSON: every body er-shell builds has `event` first, so they follow
    // its value in JSON.stringify(body) (no copy of the body without it).
    // DEL, C1 and bidi controls as \\u escapes too (escape.ts): event files and the host log are
    // read with cat and tail. The native formatter (native/src/lines.cc) writes the same.
    const json = escapeControls(JSON.stringify(body), 'json')
    let own: string // `,"k":v,…}` or `}`
    if (json.startsWith(lead) && (json[lead.length] === ',' || json[lead.length] === '}')) own = json.slice(lead.length)
    else {
      const {event: _event, ...rest} = body as unknown as {event: string} & Record<string, unknown>
      const restJson = escapeControls(JSON.stringify(rest), 'json')
      own = restJson.length > 2 ? `,${restJson.slice(1)}` : '}'
    }
    return `{"ei":${ei},${head}"uid":${uid === undefined ? `"${randomUUID()}"` : JSON.stringify(uid)},"time":"${formatEventTime(at)}",${this.commonJson}${own}\n`
  }
}

/** Header keys other than `event` (which every body has). */
const BODY_HEADER_KEYS = HEADER_KEYS.filter((k) => k !== 'event')

function hasHeaderKey(fields: object): boolean {
  for (const key of BODY_HEADER_KEYS) if (key in fields) return true
  return false
}

function withoutHeaderKeys(body: EventBody): EventBody {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) if (key === 'event' || !BODY_HEADER_KEYS.includes(key as never)) out[key] = value
  return out as unknown as EventBody
}

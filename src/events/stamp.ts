// Turns an event body into a written event: common fields first, in Teleport's key order.
import {randomUUID} from 'node:crypto'

import {EventCode, HEADER_KEYS, type AuditEvent, type EventBody, type SessionCommon} from './types.js'

/** RFC 3339 UTC with milliseconds: 2026-11-22T16:42:20.540Z. */
export function formatEventTime(at: Date | number): string {
  const date = typeof at === 'number' ? new Date(at) : at
  return date.toISOString()
}

/** The event code for a type; undefined for `print` and for unknown types. */
export function eventCode(event: string): string | undefined {
  return (EventCode as Record<string, string | undefined>)[event]
}

export interface StampContext {
  ei: number
  sid: string
  common: SessionCommon
  at: Date | number
  /** Defaults to crypto.randomUUID(). */
  uid?: string
}

const HEADER_KEY_SET: ReadonlySet<string> = new Set(HEADER_KEYS)

/**
 * Builds the event with header keys in order (ei, event, code, uid, time, cluster_name, sid,
 * namespace, server_id, server_hostname, login, user) followed by the body's own fields.
 * Header keys present in the body are ignored: the writer owns them.
 */
export function stampEvent<B extends EventBody>(body: B, ctx: StampContext): AuditEvent<B> {
  const out: Record<string, unknown> = {ei: ctx.ei, event: body.event}
  const code = eventCode(body.event)
  if (code !== undefined) out.code = code
  out.uid = ctx.uid ?? randomUUID()
  out.time = formatEventTime(ctx.at)
  out.cluster_name = ctx.common.cluster_name
  out.sid = ctx.sid
  out.namespace = 'default'
  out.server_id = ctx.common.server_id
  out.server_hostname = ctx.common.server_hostname
  out.login = ctx.common.login
  out.user = ctx.common.user
  for (const [key, value] of Object.entries(body as object)) {
    if (!HEADER_KEY_SET.has(key) && value !== undefined) out[key] = value
  }
  return out as unknown as AuditEvent<B>
}

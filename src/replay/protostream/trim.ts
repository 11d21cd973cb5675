// Teleport's per-event size limit and how its writer trims an event over it (docs/protostream.md,
// "Size limits"): the same arithmetic, so an er-shell file holds what Teleport's would.
import {encodeEvent, type MessageSchema} from './schema.js'

/** The largest OneOf a reader takes, and the largest event Teleport's writer keeps untrimmed. */
export const MAX_MESSAGE_BYTES = 64 * 1024

/** The string fields Teleport's TrimToMaxSize shortens, per event type; groups share one budget each. */
const TRIMMED: Readonly<Record<string, readonly (readonly string[])[]>> = {
  'session.start': [['initial_command'], ['invited']],
  'session.end': [['initial_command']],
  'session.command': [['path', 'argv']],
  'session.disk': [['path']],
}

/**
 * Cuts a string so that, written as a JSON string (quotes, and a backslash before `"` and `\`),
 * it takes at most n characters; counts code points, cuts between them.
 */
export function trimString(s: string, n: number): string {
  let count = 2
  let index = 0
  for (const ch of s) {
    if (count + 1 > n) return s.slice(0, index)
    if (ch === '"' || ch === '\\') count++
    count++
    index += ch.length
  }
  return s
}

function nonEmpty(value: unknown): number {
  if (typeof value === 'string') return value === '' ? 0 : 1
  if (Array.isArray(value)) return value.filter((v) => v !== '').length
  return 0
}

function trimValue(value: unknown, n: number): unknown {
  if (typeof value === 'string') return trimString(value, n)
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.map((v) => trimString(String(v), n))
  return value
}

export interface Trimmed {
  event: Record<string, unknown>
  /** Keys that were shortened, with their encoded size before and after; absent when nothing was cut. */
  trimmed?: {keys: string[]; before: number; after: number}
}

/**
 * The event as Teleport's writer would record it: unchanged when its message fits (`size`:
 * encoded message bytes, `wrapped`: the same inside OneOf), else the trimmable fields emptied, the
 * budget (limit − a tenth of it − the size of what is left) split evenly over their non-empty
 * strings, and each string cut to its share.
 */
export function trimToLimit(schema: MessageSchema, event: Readonly<Record<string, unknown>>, size: number, wrapped: number): Trimmed {
  if (size <= MAX_MESSAGE_BYTES && wrapped <= MAX_MESSAGE_BYTES) return {event: {...event}}
  const groups = TRIMMED[schema.type] ?? []
  const keys = groups.flat()
  if (keys.length === 0) return {event: {...event}}
  const out: Record<string, unknown> = {...event}
  for (const key of keys) delete out[key]
  const budget = MAX_MESSAGE_BYTES - (Math.trunc(MAX_MESSAGE_BYTES / 10) + encodeEvent(schema, out).length)
  for (const group of groups) {
    const count = group.reduce((sum, key) => sum + nonEmpty(event[key]), 0)
    const share = count === 0 ? budget : Math.trunc(budget / count)
    for (const key of group) {
      const value = trimValue(event[key], share)
      if (value !== undefined) out[key] = value
    }
  }
  const changed = keys.filter((key) => JSON.stringify(out[key]) !== JSON.stringify(event[key]))
  return {event: out, trimmed: {keys: changed, before: size, after: encodeEvent(schema, out).length}}
}

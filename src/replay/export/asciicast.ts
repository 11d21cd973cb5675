// `replay --format asciicast`: asciicast v2 (asciinema), output as "o", resizes as "r", enhanced events as "m" markers.
import {StringDecoder} from 'node:string_decoder'

import {safeJson} from '../../events/escape.js'
import type {Progress} from '../progress.js'
import type {PacedWriter} from '../paced-writer.js'
import {CommandMemory, eventLine} from '../describe.js'
import {TerminalSafetyFilter} from '../terminal/safety-filter.js'
import {isShownStep, type Frame} from '../timeline.js'

export interface AsciicastHeader {
  version: 2
  width: number
  height: number
  timestamp?: number
  idle_time_limit?: number
  title?: string
  env?: Record<string, string>
}

export interface AsciicastOptions {
  /** Cap every pause at this many seconds (times are compressed, and the header says so). */
  idleLimit?: number
  /** Divide all times by this. Default 1. */
  speed?: number
  /** Enhanced events as "m" markers. Default true. */
  markers?: boolean
  /** Drop sequences that make a terminal answer or act (for `asciinema play` in a terminal). Default false. */
  filter?: boolean
  sid?: string
  progress?: Progress
}

/** "COLS:ROWS" → [cols, rows], or undefined. */
export function parseSize(size: unknown): [number, number] | undefined {
  if (typeof size !== 'string') return undefined
  const match = /^(\d+):(\d+)$/.exec(size)
  if (!match) return undefined
  const cols = Number(match[1])
  const rows = Number(match[2])
  return cols > 0 && rows > 0 ? [cols, rows] : undefined
}

/** Seconds with microsecond precision, as asciinema writes them. */
function seconds(ms: number): number {
  return Math.round(ms * 1000) / 1_000_000
}

/**
 * Writes the header (from session.start: size and time; 80×24 when it is missing) and then one
 * event line per frame, times monotonic and relative to the session start.
 */
export async function exportAsciicast(frames: AsyncIterable<Frame>, output: PacedWriter, options: AsciicastOptions = {}): Promise<void> {
  const speed = options.speed ?? 1
  const idleMs = options.idleLimit === undefined ? Infinity : options.idleLimit * 1000
  const decoder = new StringDecoder('utf8')
  const filter = options.filter ? new TerminalSafetyFilter() : undefined
  let headerWritten = false
  let previousMs: number | undefined
  let virtualMs = 0
  let lastWritten = 0

  const header = async (frame: Frame | undefined): Promise<void> => {
    headerWritten = true
    const start = frame?.kind === 'event' && frame.event.event === 'session.start' ? frame.event : undefined
    const [width, height] = parseSize(start?.size) ?? [80, 24]
    const h: AsciicastHeader = {version: 2, width, height}
    const time = frame ? Date.parse(frame.event.time) : NaN
    if (!Number.isNaN(time)) h.timestamp = Math.floor(time / 1000)
    if (options.idleLimit !== undefined) h.idle_time_limit = options.idleLimit
    if (options.sid) h.title = `er-shell session ${options.sid}`
    await output.write(safeJson(h) + '\n')
  }
  const line = async (kind: 'o' | 'r' | 'm', data: string): Promise<void> => {
    const t = Math.max(lastWritten, seconds(virtualMs / speed))
    lastWritten = t
    await output.write(safeJson([t, kind, data]) + '\n')
  }

  const commands = new CommandMemory()
  for await (const frame of frames) {
    if (output.closed) return
    if (!headerWritten) await header(frame)
    if (options.progress) options.progress.counters.events++
    if (previousMs !== undefined) virtualMs += Math.min(Math.max(0, frame.ms - previousMs), idleMs)
    previousMs = frame.ms
    if (frame.kind === 'output') {
      if (options.progress) options.progress.counters.outputBytes += frame.data.length
      const text = decoder.write(filter ? filter.write(frame.data) : frame.data)
      if (text !== '') await line('o', text)
    } else if (frame.event.event === 'resize') {
      const size = parseSize((frame.event as {size?: unknown}).size)
      if (size) await line('r', `${size[0]}x${size[1]}`)
    } else {
      commands.remember(frame.event)
      if (options.markers !== false && isShownStep(frame.event)) await line('m', eventLine(frame.event, commands))
    }
  }
  if (!headerWritten) await header(undefined)
  const rest = decoder.end(filter ? filter.end() : Buffer.alloc(0))
  if (rest !== '') await line('o', rest)
}

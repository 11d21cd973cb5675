// Merges a session's events with its terminal output into one ordered stream of timed frames.
import type {AuditEvent, PrintEvent} from '../events/types.js'
import {readSessionChunks, readSessionEvents, type ReadOptions, type SessionRef} from '../storage/index.js'

/** One step of a recording, `ms` after the session start (monotonic). */
export type Frame =
  /** Terminal output of one print event. */
  | {kind: 'output'; ms: number; data: Buffer; event: PrintEvent}
  /** Any other event (session.start, resize, enhanced events, session.end, …). */
  | {kind: 'event'; ms: number; event: AuditEvent}

/** The event types shown in step with the output. */
export const STEP_EVENT_TYPES: ReadonlySet<string> = new Set([
  'session.command',
  'session.network',
  'session.disk',
  'session.cgroup_escape',
  'session.process_exit',
])

/**
 * Whether a step event is shown: a process's end only when it ended a command (it exec'd during the
 * session; `command_uid`), not for every subshell fork.
 */
export function isShownStep(event: AuditEvent): boolean {
  if (!STEP_EVENT_TYPES.has(event.event)) return false
  return event.event !== 'session.process_exit' || typeof (event as {command_uid?: unknown}).command_uid === 'string'
}

/**
 * Reads the chunk stream sequentially and hands out byte ranges; memory is one gunzip block plus
 * the range asked for.
 */
class ChunkCursor {
  private readonly source: AsyncIterator<Buffer>
  private current: Buffer = Buffer.alloc(0)
  private position = 0 // offset of current[0] in the stream
  private done = false

  constructor(source: AsyncIterable<Buffer>) {
    this.source = source[Symbol.asyncIterator]()
  }

  /** Stream offset of the next unread byte. */
  get offset(): number {
    return this.position
  }

  /** Bytes [offset, offset + length) of the stream; shorter when the stream ends first. */
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < this.position) {
      // Overlap (never written by SessionWriter): serve what is still ahead.
      length -= this.position - offset
      offset = this.position
      if (length <= 0) return EMPTY
    }
    if (offset > this.position) await this.skip(offset - this.position)
    const parts: Buffer[] = []
    let need = length
    while (need > 0) {
      if (this.current.length === 0 && !(await this.fill())) break
      const take = Math.min(need, this.current.length)
      parts.push(this.current.subarray(0, take))
      this.current = this.current.subarray(take)
      this.position += take
      need -= take
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }

  async close(): Promise<void> {
    await this.source.return?.()
  }

  private async skip(n: number): Promise<void> {
    while (n > 0) {
      if (this.current.length === 0 && !(await this.fill())) return
      const take = Math.min(n, this.current.length)
      this.current = this.current.subarray(take)
      this.position += take
      n -= take
    }
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false
    const next = await this.source.next()
    if (next.done) {
      this.done = true
      return false
    }
    this.current = next.value
    return true
  }
}

const EMPTY = Buffer.alloc(0)

export interface TimelineOptions extends ReadOptions {
  /**
   * How far (ms of recording time) an event may be written after output that it precedes.
   * The recorder delivers kernel events in batches, so a command's event lands in the file after
   * the first output of that command; frames are re-ordered by time within this window. Default 2000.
   */
  reorderWindowMs?: number
  /** At most this many frames are held back for re-ordering (bounded memory). Default 4096. */
  reorderMaxFrames?: number
  /** At most this many output bytes are held back for re-ordering. Default 8 MiB. */
  reorderMaxBytes?: number
}

/**
 * The session as frames in time order. Print events get their bytes from the chunk stream
 * (`offset`/`bytes`); their `ms` is the timing. Other events are placed by their `time` relative
 * to session.start (else the first event). Frames are sorted by time within a bounded window
 * (ties keep file order) and `ms` never goes back. Tolerates truncated/damaged files (warnings
 * through onWarning) and a missing session.end.
 */
export async function* readTimeline(ref: SessionRef, options: TimelineOptions = {}): AsyncGenerator<Frame> {
  const window = options.reorderWindowMs ?? 2000
  const maxFrames = options.reorderMaxFrames ?? 4096
  const maxBytes = options.reorderMaxBytes ?? 8 * 1024 * 1024
  const held: Array<{frame: Frame}> = []
  let heldBytes = 0
  let lastMs = 0
  const release = function* (all: boolean, newestMs: number): Generator<Frame> {
    while (held.length > 0 && (all || held.length > maxFrames || heldBytes > maxBytes || held[0]!.frame.ms < newestMs - window)) {
      const {frame} = held.shift()!
      if (frame.kind === 'output') heldBytes -= frame.data.length
      lastMs = Math.max(lastMs, frame.ms)
      frame.ms = lastMs
      yield frame
    }
  }
  let newestMs = 0
  for await (const frame of readFileOrder(ref, options)) {
    // Insert after every held frame with ms <= this one (stable), searching from the end.
    let i = held.length
    while (i > 0 && held[i - 1]!.frame.ms > frame.ms) i--
    held.splice(i, 0, {frame})
    if (frame.kind === 'output') heldBytes += frame.data.length
    newestMs = Math.max(newestMs, frame.ms)
    yield* release(false, newestMs)
  }
  yield* release(true, newestMs)
}

/** Frames in file order, `ms` as recorded (print) or from `time` (other events); not yet monotonic. */
async function* readFileOrder(ref: SessionRef, options: ReadOptions): AsyncGenerator<Frame> {
  const chunks = new ChunkCursor(readSessionChunks(ref, options))
  let startMs: number | undefined
  let lastMs = 0
  let outputMissing = false
  try {
    for await (const event of readSessionEvents(ref, options)) {
      if (startMs === undefined || event.event === 'session.start') {
        const t = Date.parse(event.time)
        if (!Number.isNaN(t)) startMs = t
      }
      if (event.event === 'print') {
        const print = event as PrintEvent
        const ms = typeof print.ms === 'number' ? print.ms : lastMs
        lastMs = ms
        if (typeof print.offset !== 'number' || typeof print.bytes !== 'number' || print.bytes <= 0) continue
        const data = await chunks.read(print.offset, print.bytes)
        if (data.length < print.bytes && !outputMissing) {
          outputMissing = true
          options.onWarning?.(
            `${ref.paths.chunks}: terminal output ends at byte ${chunks.offset}, print event ${print.ei} wants bytes ${print.offset}–${print.offset + print.bytes}: later output is missing`,
          )
        }
        if (data.length > 0) yield {kind: 'output', ms, data, event: print}
        continue
      }
      const t = Date.parse(event.time)
      const ms = !Number.isNaN(t) && startMs !== undefined ? Math.max(0, t - startMs) : lastMs
      yield {kind: 'event', ms, event}
    }
  } finally {
    await chunks.close()
  }
}

/** The session's terminal output alone, in order (for text output; does not need the events file). */
export function readOutput(ref: SessionRef, options: ReadOptions = {}): AsyncGenerator<Buffer> {
  return readSessionChunks(ref, options)
}

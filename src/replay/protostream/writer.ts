// `replay --format teleport`: the session as a Teleport ProtoStream V1 file (`<sid>.tar`), the
// format `tsh play` reads (docs/protostream.md).
import {writeFileAtomically} from '../export/atomic-file.js'
import * as fs from 'node:fs'
import * as zlib from 'node:zlib'

import type {Progress} from '../progress.js'
import type {Frame} from '../timeline.js'
import {MESSAGES, encodeEvent, wrapOneOf} from './schema.js'
import {MAX_MESSAGE_BYTES, trimToLimit} from './trim.js'

export const PROTOSTREAM_V1 = 1
export const PART_HEADER_BYTES = 24
/** A new part (header and gzip member) starts after this many bytes of records. */
export const PART_RECORD_BYTES = 8 * 1024 * 1024

export interface ProtoStreamResult {
  /** Records written (ei runs 0 … events − 1). */
  events: number
  prints: number
  outputBytes: number
  parts: number
  /** Events Teleport's limit made the writer shorten: which, and how. */
  trimmed: Array<{ei: number; event: string; keys: string[]; before: number; after: number}>
  /** Source events with no Teleport message, per type (left out). */
  leftOut: Record<string, number>
  /** Source prints cut into several so that each fits the limit. */
  splitPrints: number
}

export interface ProtoStreamOptions {
  progress?: Progress
  /** Start a new part after this many record bytes (tests use small parts). */
  partRecordBytes?: number
}

/** The most terminal output one print carries (Teleport keeps each print's Data near 60 KiB). */
export const MAX_PRINT_DATA = 60 * 1024

class PartWriter {
  private records: Buffer[] = []
  private size = 0
  parts = 0

  constructor(
    private readonly fd: number,
    private readonly partBytes: number,
  ) {}

  add(oneof: Buffer): void {
    const prefix = Buffer.alloc(4)
    prefix.writeUInt32BE(oneof.length)
    this.records.push(prefix, oneof)
    this.size += 4 + oneof.length
    if (this.size >= this.partBytes) this.flush()
  }

  /** Writes the records held as one part: header (version, PartSize, PaddingSize 0) and one gzip member. */
  flush(): void {
    if (this.records.length === 0) return
    const body = zlib.gzipSync(Buffer.concat(this.records, this.size), {level: zlib.constants.Z_BEST_SPEED})
    const header = Buffer.alloc(PART_HEADER_BYTES)
    header.writeBigUInt64BE(BigInt(PROTOSTREAM_V1), 0)
    header.writeBigUInt64BE(BigInt(body.length), 8)
    header.writeBigUInt64BE(0n, 16)
    writeAll(this.fd, header)
    writeAll(this.fd, body)
    this.records = []
    this.size = 0
    this.parts++
  }
}

function writeAll(fd: number, buffer: Buffer): void {
  let done = 0
  while (done < buffer.length) done += fs.writeSync(fd, buffer, done)
}

/**
 * Writes the frames (src/replay/timeline.ts, time order) to `file` through a temporary file in the
 * same directory, renamed into place when complete. Every record gets the next `ei` from 0; prints
 * get ChunkIndex, Offset and Bytes anew (a split print becomes several), DelayMilliseconds from
 * the frame's time.
 */
export async function exportProtoStream(frames: AsyncIterable<Frame>, file: string, options: ProtoStreamOptions = {}): Promise<ProtoStreamResult> {
  const result: ProtoStreamResult = {events: 0, prints: 0, outputBytes: 0, parts: 0, trimmed: [], leftOut: {}, splitPrints: 0}
  return writeFileAtomically(file, async (fd) => {
    const parts = new PartWriter(fd, options.partRecordBytes ?? PART_RECORD_BYTES)
    let offset = 0
    for await (const frame of frames) {
      if (options.progress) options.progress.counters.events++
      if (frame.kind === 'output') {
        if (options.progress) options.progress.counters.outputBytes += frame.data.length
        const schema = MESSAGES.print!
        // What a print's OneOf holds besides Data, with room for the numbers to grow and Data's own tag.
        const probe = {ei: 2 ** 40, event: 'print', time: frame.event.time, cluster_name: frame.event.cluster_name, ci: 2 ** 40, bytes: 2 ** 40, ms: 2 ** 40}
        const overhead = wrapOneOf(schema, encodeEvent(schema, {...probe, offset: 2 ** 50})).length + 16
        const most = Math.max(1024, Math.min(MAX_PRINT_DATA, MAX_MESSAGE_BYTES - overhead))
        if (frame.data.length > most) result.splitPrints++
        for (let at = 0; at < frame.data.length; at += most) {
          const data = frame.data.subarray(at, at + most)
          const event = {
            ei: result.events,
            event: 'print',
            time: frame.event.time,
            cluster_name: frame.event.cluster_name,
            ci: result.prints,
            bytes: data.length,
            ms: frame.ms,
            offset,
          }
          parts.add(wrapOneOf(schema, encodeEvent(schema, event, data)))
          result.events++
          result.prints++
          result.outputBytes += data.length
          offset += data.length
        }
        continue
      }
      const schema = MESSAGES[frame.event.event]
      if (schema === undefined) {
        result.leftOut[frame.event.event] = (result.leftOut[frame.event.event] ?? 0) + 1
        continue
      }
      const source = {...(frame.event as unknown as Record<string, unknown>), ei: result.events, code: frame.event.code ?? schema.code}
      let message = encodeEvent(schema, source)
      let oneof = wrapOneOf(schema, message)
      const trim = trimToLimit(schema, source, message.length, oneof.length)
      if (trim.trimmed) {
        message = encodeEvent(schema, trim.event)
        oneof = wrapOneOf(schema, message)
        result.trimmed.push({ei: result.events, event: schema.type, ...trim.trimmed})
        if (oneof.length > MAX_MESSAGE_BYTES) {
          // Teleport's writer fails here ("exceeds max message size"); the event is left out.
          result.leftOut[`${schema.type} (too large even trimmed)`] = (result.leftOut[`${schema.type} (too large even trimmed)`] ?? 0) + 1
          result.trimmed.pop()
          continue
        }
      }
      parts.add(oneof)
      result.events++
    }
    parts.flush()
    result.parts = parts.parts
    return result
  })
}

// Reads a Teleport ProtoStream file (`<sid>.tar`, as `tsh play` does) into frames for the player
// and the exporters, with the reader's rules (docs/protostream.md, "Reading").
import * as fs from 'node:fs'
import * as zlib from 'node:zlib'

import {RecordingReadError} from '../../errors/index.js'
import type {AuditEvent, PrintEvent} from '../../events/types.js'
import type {Frame} from '../timeline.js'
import {NOT_A_TERMINAL_SESSION, decodeOneOf, type DecodedEvent} from './schema.js'
import {MAX_MESSAGE_BYTES} from './trim.js'
import {WireError} from './wire.js'

/** True when a replay argument names a ProtoStream file rather than a session id. */
export function isProtoStreamPath(arg: string): boolean {
  return arg.endsWith('.tar') || arg.includes('/')
}

export interface ProtoStreamReadStats {
  records: number
  /** Events whose index was not above every earlier one: skipped, as Teleport's reader does. */
  skipped: number
  /** Events of a kind the tables do not know (read, not shown). */
  unknown: number
}

/** Reads `length` bytes at `position` (fewer only at the end of the file). */
function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const n = fs.readSync(fd, buffer, done, length - done, position + done)
    if (n === 0) break
    done += n
  }
  return buffer.subarray(0, done)
}

/** Bytes of a gzip member's header (RFC 1952: 10 bytes, then the optional fields its flags announce). */
function gzipHeaderLength(body: Buffer): number {
  if (body.length < 10 || body[0] !== 0x1f || body[1] !== 0x8b || body[2] !== 8) throw new Error('not a gzip member (deflate)')
  const flags = body[3]!
  let at = 10
  if (flags & 4) at += 2 + (body.length >= 12 ? body.readUInt16LE(10) : 0) // FEXTRA
  for (const bit of [8, 16]) {
    // FNAME, FCOMMENT: zero-terminated
    if (!(flags & bit)) continue
    const end = body.indexOf(0, at)
    if (end < 0) throw new Error('gzip header cut short')
    at = end + 1
  }
  if (flags & 2) at += 2 // FHCRC
  if (at > body.length) throw new Error('gzip header cut short')
  return at
}

/**
 * Decompresses one part's body (held whole: a part is a few MiB), yielding blocks as they come:
 * the first gzip member only, as Teleport's reader does (multistream off: whatever follows it in
 * the part is ignored), its CRC-32 and length checked at its end.
 */
async function* inflate(body: Buffer): AsyncGenerator<Buffer> {
  const start = gzipHeaderLength(body)
  const inflater = zlib.createInflateRaw()
  inflater.end(body.subarray(start))
  const crc32 = (zlib as {crc32?: (data: Buffer, value?: number) => number}).crc32
  let crc = 0
  let size = 0
  try {
    for await (const block of inflater as AsyncIterable<Buffer>) {
      if (crc32) crc = crc32(block, crc)
      size += block.length
      yield block
    }
  } finally {
    inflater.destroy()
  }
  const trailer = start + inflater.bytesWritten
  if (body.length < trailer + 8) throw new Error('gzip member cut short (no trailer)')
  if (crc32 && body.readUInt32LE(trailer) !== crc >>> 0) throw new Error('gzip CRC-32 does not match the data')
  if (body.readUInt32LE(trailer + 4) !== size % 2 ** 32) throw new Error('gzip length does not match the data')
}

/**
 * The decoded records of the file in order, after Teleport's reader rules: part headers V1 (or
 * V0/V2 unencrypted), one gzip member per part, length-prefixed OneOfs of at most 64 KiB, events
 * whose `ei` does not rise skipped. Damage is a RecordingReadError naming the file and the offset.
 */
export async function* readProtoStream(file: string, stats: ProtoStreamReadStats = {records: 0, skipped: 0, unknown: 0}): AsyncGenerator<DecodedEvent> {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (error) {
    throw new RecordingReadError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((error as Error).message))
  }
  const fail = (detail: string): never => {
    throw new RecordingReadError(file, detail)
  }
  try {
    const size = fs.fstatSync(fd).size
    let position = 0
    let lastIndex = -1
    let partNumber = 0
    while (position < size) {
      const start = readAt(fd, position, 8)
      if (start.length < 8) fail(`part header cut short at byte ${position}`)
      const version = start.readBigUInt64BE(0)
      if (version > 2n) {
        fail(
          partNumber === 0
            ? `not a Teleport session recording (ProtoStream): the first 8 bytes read as format version ${version}`
            : `unsupported ProtoStream version ${version} at byte ${position}`,
        )
      }
      const headerBytes = version === 1n ? 24 : 32
      const header = readAt(fd, position, headerBytes)
      if (header.length < headerBytes) fail(`part header cut short at byte ${position}`)
      const partSize = Number(header.readBigUInt64BE(8))
      const padding = Number(header.readBigUInt64BE(16))
      if (headerBytes === 32 && (header[24]! & 1) !== 0) fail(`part ${partNumber + 1} is encrypted (Teleport recording encryption): er-shell cannot decrypt it`)
      const bodyStart = position + headerBytes
      if (bodyStart + partSize + padding > size)
        fail(`part ${partNumber + 1} at byte ${position} announces ${partSize + padding} bytes, the file has ${size - bodyStart} left`)
      if (partSize > 0) {
        let pending: Buffer = Buffer.alloc(0)
        try {
          for await (const block of inflate(readAt(fd, bodyStart, partSize))) {
            pending = pending.length === 0 ? block : Buffer.concat([pending, block])
            let at = 0
            while (pending.length - at >= 4) {
              const n = pending.readUInt32BE(at)
              if (n === 0) fail(`part ${partNumber + 1}: a record of size 0`)
              if (n > MAX_MESSAGE_BYTES) fail(`part ${partNumber + 1}: a record of ${n} bytes, over the ${MAX_MESSAGE_BYTES}-byte limit`)
              if (pending.length - at - 4 < n) break
              const oneof = pending.subarray(at + 4, at + 4 + n)
              at += 4 + n
              stats.records++
              let decoded: DecodedEvent | undefined
              try {
                decoded = decodeOneOf(oneof)
              } catch (error) {
                if (error instanceof WireError) fail(`part ${partNumber + 1}, record ${stats.records}: not a protobuf message (${error.message})`)
                throw error
              }
              if (decoded === undefined) fail(`part ${partNumber + 1}, record ${stats.records}: an empty event (the recording is corrupted)`)
              const what = NOT_A_TERMINAL_SESSION.get(decoded!.oneof)
              if (what !== undefined) fail(`this is ${what}, not a terminal session: it cannot be played`)
              const index = typeof decoded!.event.ei === 'number' ? decoded!.event.ei : 0
              if (index <= lastIndex) {
                stats.skipped++
                continue
              }
              lastIndex = index
              if (decoded!.event.event === undefined) stats.unknown++
              yield decoded!
            }
            pending = pending.subarray(at)
          }
        } catch (error) {
          if (error instanceof RecordingReadError) throw error
          fail(`part ${partNumber + 1} at byte ${position}: ${(error as Error).message}`)
        }
        if (pending.length > 0) fail(`part ${partNumber + 1}: the last record is cut short (${pending.length} bytes)`)
      }
      position = bodyStart + partSize + padding
      partNumber++
    }
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Frames for the player: a print at its DelayMilliseconds (never before an earlier one, as tsh
 * shows a late one at once), every other event at the time of the output before it.
 */
export async function* protoStreamFrames(records: AsyncIterable<DecodedEvent>): AsyncGenerator<Frame> {
  let lastMs = 0
  for await (const record of records) {
    const event = record.event as unknown as AuditEvent
    if (typeof event.time !== 'string') (event as {time: string}).time = new Date(0).toISOString()
    if (record.oneof === 7) {
      const recorded = (event as PrintEvent).ms
      const ms = typeof recorded === 'number' ? Math.max(lastMs, recorded) : lastMs
      lastMs = ms
      if (record.data && record.data.length > 0) yield {kind: 'output', ms, data: record.data, event: event as PrintEvent}
      continue
    }
    if (typeof event.event !== 'string') continue
    yield {kind: 'event', ms: lastMs, event}
  }
}

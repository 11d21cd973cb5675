// The verifier (docs/integrity.md): checks `<sid>.integrity` with the verification key, then the
// session's files against its checkpoints, and the host's session numbers for gaps. Names the first
// broken place: file, event index, byte offset (in the uncompressed stream) and what is wrong.
import {createHash} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'

import {ENHANCED_EVENT_TYPES, type EnhancedEventType} from '../events/types.js'
import type {SessionRef} from '../storage/reader.js'
import {checkpointMacText, headerMacText, isCheckpoint, isHeader, type CheckpointRecord} from './format.js'
import {type VerificationKey, macEqual, macOf, ratchet, ratchetTo, readRatchet, sessionKey} from './keys.js'
import {Lines, countLines, splitLines} from './lines.js'

/** What is wrong at the first broken place. */
export type Reason = 'modified' | 'missing' | 'reordered' | 'truncated' | 'appended' | 'unsealed' | 'unknown key'

export interface Finding {
  reason: Reason
  /** The file (absolute path) where it is. */
  file: string
  /** The event index (`ei`) where it starts, when the file holds events. */
  event: number | null
  /** Byte offset in the file's uncompressed stream (the integrity file: its line number, from 0). */
  offset: number | null
  detail: string
}

/** intact: sealed and whole. unsealed: whole up to its last checkpoint, never sealed (recorder killed, or still running). */
export type Status = 'intact' | 'unsealed' | 'damaged' | 'unknown key'

export interface SessionVerdict {
  sid: string
  server_id: string
  /** The host's number for the session; null when the integrity file could not be read. */
  seq: number | null
  key_id: string | null
  status: Status
  /** Events and terminal-output bytes covered by the last valid checkpoint. */
  events: number
  bytes: number
  checkpoints: number
  sealed_at: string | null
  last_checkpoint_at: string | null
  /** Data after the last checkpoint of an unsealed recording (not covered by any). */
  uncovered: {events: number; bytes: number} | null
  /** The first broken place; for an unsealed recording, why it is not intact. */
  problem: Finding | null
}

/** No host numbers this many sessions: ten per second for three years. */
const MAX_SEQ = 1_000_000_000

/** Steps k0 → k_seq, keeping every 256th key on the way: any order of sessions costs ≤ 256 steps each. */
export class HostKeys {
  private readonly marks: Buffer[]
  /**
   * Session numbers above this are refused without computing their key (a forged header must not
   * make verify hash for hours): the host's own count when its ratchet state is under this key.
   */
  readonly maxSeq: number
  constructor(
    readonly vk: VerificationKey,
    dataDir?: string,
  ) {
    this.marks = [vk.key]
    let max = MAX_SEQ
    try {
      const state = dataDir === undefined ? undefined : readRatchet(dataDir)
      if (state && state.keyId === vk.id) max = state.seq - 1
    } catch {
      // a damaged state file: the general bound
    }
    this.maxSeq = max
  }
  keyFor(seq: number): Buffer {
    const mark = seq >> 8
    while (this.marks.length <= mark) this.marks.push(ratchetTo(this.marks.at(-1)!, 256))
    return ratchetTo(this.marks[mark]!, seq & 255)
  }
}

interface Boundary {
  cp: number
  bytes: number
  lines: number
  hash: string
}

/** Verifies one session with the verification key. Never throws for damage: it is the verdict. */
export async function verifySession(ref: SessionRef, keys: HostKeys): Promise<SessionVerdict> {
  const verdict: SessionVerdict = {
    sid: ref.sid,
    server_id: ref.serverId,
    seq: null,
    key_id: null,
    status: 'damaged',
    events: 0,
    bytes: 0,
    checkpoints: 0,
    sealed_at: null,
    last_checkpoint_at: null,
    uncovered: null,
    problem: null,
  }
  const chain = readChain(ref, keys)
  verdict.seq = chain.seq
  verdict.key_id = chain.keyId
  if (chain.fatal) {
    verdict.status = chain.fatal.reason === 'unknown key' ? 'unknown key' : 'damaged'
    verdict.problem = chain.fatal
    return verdict
  }
  const cps = chain.checkpoints
  const last = cps.at(-1)
  const sealed = last?.sealed === true && !chain.problem
  verdict.checkpoints = cps.length
  verdict.events = last?.events.lines ?? 0
  verdict.bytes = last?.chunks.bytes ?? 0
  verdict.last_checkpoint_at = last?.time ?? null
  if (sealed) verdict.sealed_at = last!.time

  const events = await checkStream(
    ref.paths.events,
    cps.map((c) => ({cp: c.cp, bytes: c.events.bytes, lines: c.events.lines, hash: c.events.sha256})),
    sealed,
    true,
    Object.values(ref.paths.enhanced),
  )
  const chunks = await checkStream(
    ref.paths.chunks,
    cps.map((c) => ({cp: c.cp, bytes: c.chunks.bytes, lines: 0, hash: c.chunks.sha256})),
    sealed,
    false,
  )
  const problems: Array<{at: number; finding: Finding}> = []
  if (chain.problem) problems.push(chain.problem)
  if (events.problem) problems.push(events.problem)
  if (chunks.problem) problems.push(chunks.problem)
  if (!events.problem && events.kinds) {
    for (const kind of ENHANCED_EVENT_TYPES) {
      const problem = await checkKindFile(ref, kind, events.kinds[kind], sealed, last?.events.bytes ?? 0)
      if (problem) problems.push({at: cps.length, finding: problem})
    }
  }
  problems.sort((a, b) => a.at - b.at)
  if (problems.length === 0 && events.host) hostCopies.set(verdict, {ref, sealed, eventBytes: last?.events.bytes ?? 0, digest: events.host})
  if (problems.length > 0) {
    verdict.status = 'damaged'
    verdict.problem = problems[0]!.finding
    return verdict
  }
  if (sealed) {
    verdict.status = 'intact'
    return verdict
  }
  verdict.status = 'unsealed'
  verdict.uncovered = {events: events.tailLines, bytes: chunks.tailBytes}
  const upTo = last ? `intact up to checkpoint ${last.cp} of ${last.time}` : 'no checkpoint was written'
  const after = `${events.tailLines} event${events.tailLines === 1 ? '' : 's'} and ${chunks.tailBytes} bytes of output after it are not covered`
  if (ref.completed) {
    // The writer seals before it writes <sid>.completed: a completed recording without a seal lost its last checkpoint.
    verdict.status = 'damaged'
    verdict.problem = {
      reason: 'missing',
      file: ref.paths.integrity,
      event: verdict.events,
      offset: cps.length + 1,
      detail: `the seal is missing although the session completed (${upTo}; ${after})`,
    }
    return verdict
  }
  verdict.problem = {
    reason: 'unsealed',
    file: ref.paths.integrity,
    event: verdict.events,
    offset: cps.length + 1,
    detail: `the recording was not finished (recorder killed, or still running): ${upTo}; ${after}`,
  }
  return verdict
}

/** What the host audit log must hold of each session whose own files verified (checkHostLogs). */
interface HostCopy {
  ref: SessionRef
  sealed: boolean
  eventBytes: number
  digest: HostDigest
}

/**
 * The session's lines but print's, by the UTC day of their time (`YYYY-MM-DD`): the host log keeps
 * one file per day of the events' time (src/storage/host-log.ts), so a kernel event stamped before
 * midnight that came after one stamped after it is in the earlier day's file. Each day file holds
 * the session's lines of that day in the events file's order.
 */
type HostDigest = Map<string, KindDigest>
const hostCopies = new WeakMap<SessionVerdict, HostCopy>()

interface Chain {
  seq: number | null
  keyId: string | null
  /** The checkpoints that verify, in order. */
  checkpoints: CheckpointRecord[]
  /** Nothing can be checked (no file, no header, another key). */
  fatal?: Finding
  /** The first checkpoint that does not verify (those before it still count). */
  problem?: {at: number; finding: Finding}
}

function readChain(ref: SessionRef, keys: HostKeys): Chain {
  const file = ref.paths.integrity
  const chain: Chain = {seq: null, keyId: null, checkpoints: []}
  const broken = (reason: Reason, line: number, detail: string): Finding => ({reason, file, event: null, offset: line, detail})
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    chain.fatal = broken(
      'missing',
      0,
      code === 'ENOENT' ? 'there is no integrity file (deleted, or recorded by an er-shell without integrity)' : `cannot be read (${code})`,
    )
    return chain
  }
  const lines = text.split('\n')
  // A last line without its newline is a write the recorder did not finish (killed): not a record.
  lines.pop()
  const header = parseJson(lines[0])
  if (!isHeader(header)) {
    chain.fatal = broken('modified', 0, lines.length === 0 ? 'the integrity file is empty' : 'its first line is not an integrity header')
    return chain
  }
  chain.seq = header.seq
  chain.keyId = header.key_id
  if (header.key_id !== keys.vk.id) {
    chain.fatal = broken('unknown key', 0, `recorded under key ${header.key_id}, not the verification key ${keys.vk.id} (was the host's secret replaced?)`)
    return chain
  }
  if (header.seq > keys.maxSeq) {
    chain.fatal = broken('modified', 0, `session number ${header.seq} was never given by this host (it has numbered ${keys.maxSeq + 1})`)
    return chain
  }
  if (header.sid !== ref.sid || header.server_id !== ref.serverId) {
    chain.fatal = broken('modified', 0, `the integrity file belongs to session ${header.sid} of server ${header.server_id}`)
    return chain
  }
  let key = sessionKey(keys.keyFor(header.seq), header.sid, header.seq)
  const {mac: headerMac, ...headerBody} = header
  if (!macEqual(macOf(key, headerMacText(headerBody)), headerMac)) {
    chain.fatal = broken('modified', 0, 'the header does not verify with the key of its session number (rewritten, or its number changed)')
    return chain
  }
  let prevMac = headerMac
  for (let i = 1; i < lines.length; i++) {
    key = ratchet(key)
    const fail = (reason: Reason, detail: string) => (chain.problem = {at: i, finding: broken(reason, i, detail)})
    const record = parseJson(lines[i])
    if (!isCheckpoint(record)) {
      fail('modified', `line ${i} is not a checkpoint`)
      break
    }
    const previous = chain.checkpoints.at(-1)
    if (previous?.sealed) {
      fail('appended', `checkpoint ${record.cp} comes after the seal (checkpoint ${previous.cp})`)
      break
    }
    if (record.cp !== i) {
      if (record.cp > i) fail('missing', `checkpoint ${i} is missing (found ${record.cp} in its place)`)
      else fail('reordered', `checkpoint ${record.cp} comes after checkpoint ${i - 1}`)
      break
    }
    const {mac, ...body} = record
    if (!macEqual(macOf(key, checkpointMacText(body, prevMac)), mac)) {
      fail('modified', `checkpoint ${i} does not verify: it was altered, or written later without the key of its time`)
      break
    }
    prevMac = mac
    chain.checkpoints.push(record)
  }
  key.fill(0)
  return chain
}

function parseJson(line: string | undefined): unknown {
  if (line === undefined) return undefined
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}

interface KindDigest {
  hash: ReturnType<typeof createHash>
  bytes: number
  lines: number
}

interface StreamResult {
  problem?: {at: number; finding: Finding}
  tailBytes: number
  tailLines: number
  /** For the events file, verified up to its last checkpoint: each kind's lines there. */
  kinds?: Record<EnhancedEventType, KindDigest>
  /** … and every line but print's (the host audit log's copy), by day. */
  host?: HostDigest
}

/**
 * Hashes the file's uncompressed stream and compares the hash at each checkpoint's length. On the
 * first mismatch (or when the stream ends too soon) it reads on a little and names what is wrong.
 */
async function checkStream(file: string, boundaries: Boundary[], sealed: boolean, isEvents: boolean, copies: readonly string[] = []): Promise<StreamResult> {
  const hash = createHash('sha256')
  const kinds = isEvents ? newKinds() : undefined
  const host: HostDigest = new Map()
  const splitter = isEvents ? new LineSplitter(kinds!, host) : undefined
  const lastBytes = boundaries.at(-1)?.bytes ?? 0
  let pos = 0
  let bi = 0
  let interval: Buffer[] = []
  let tailLines = 0
  let mismatch: number | undefined
  let gzipError: string | undefined
  /** The whole stream was read (not left early to name a mismatch). */
  let complete = true
  const reader = gunzip(file)
  try {
    for await (const input of reader.stream) {
      let chunk = input
      if (mismatch !== undefined) {
        interval.push(chunk)
        if (!isEvents || sumLength(interval) > 64 * 1024 * 1024) {
          complete = false
          break
        }
        continue
      }
      while (bi < boundaries.length && pos + chunk.length >= boundaries[bi]!.bytes) {
        const take = boundaries[bi]!.bytes - pos
        const piece = chunk.subarray(0, take)
        hash.update(piece)
        if (isEvents) interval.push(piece)
        splitter?.push(piece)
        pos += take
        chunk = chunk.subarray(take)
        if (hash.copy().digest('hex') !== boundaries[bi]!.hash) {
          mismatch = bi
          break
        }
        interval = []
        bi++
      }
      if (mismatch !== undefined) {
        interval.push(chunk)
        continue
      }
      if (chunk.length === 0) continue
      if (bi < boundaries.length) {
        hash.update(chunk)
        if (isEvents) interval.push(chunk)
        splitter?.push(chunk)
      } else if (isEvents) {
        tailLines += countLines(chunk)
      }
      pos += chunk.length
    }
  } catch (error) {
    gzipError = (error as Error).message
  } finally {
    reader.close()
  }
  if (reader.error && !reader.truncated) gzipError = reader.error
  // Checkpoints at the very end (an empty stream's, or the last ones of a stream read to its end).
  while (mismatch === undefined && bi < boundaries.length && boundaries[bi]!.bytes === pos) {
    if (hash.copy().digest('hex') !== boundaries[bi]!.hash) mismatch = bi
    else bi++
  }
  const name = path.basename(file)
  if (reader.missing && boundaries.some((b) => b.bytes > 0)) {
    return {problem: {at: 0, finding: {reason: 'missing', file, event: null, offset: 0, detail: `${name} is missing`}}, tailBytes: 0, tailLines: 0}
  }
  if (mismatch === undefined && bi < boundaries.length) mismatch = bi // ended before a checkpoint's length
  if (mismatch !== undefined) {
    const b = boundaries[mismatch]!
    const prev = mismatch > 0 ? boundaries[mismatch - 1]! : {bytes: 0, lines: 0}
    let finding: Finding
    if (isEvents) {
      finding = await diagnoseEvents(file, Buffer.concat(interval), prev.bytes, prev.lines, b.lines, b.bytes, complete, copies)
    } else if (pos < b.bytes) {
      finding = {
        reason: 'truncated',
        file,
        event: null,
        offset: pos,
        detail: `${name} ends at byte ${pos}; checkpoint ${b.cp} covers ${b.bytes}`,
      }
    } else {
      finding = {reason: 'modified', file, event: null, offset: prev.bytes, detail: `bytes ${prev.bytes}–${b.bytes - 1} differ from what was recorded`}
    }
    if (gzipError !== undefined && finding.reason === 'truncated') {
      finding.reason = 'modified'
      finding.detail = `the compressed data is damaged (${gzipError}): ${finding.detail}`
    }
    return {problem: {at: b.cp, finding}, tailBytes: 0, tailLines: 0}
  }
  const tailBytes = pos - lastBytes
  if (gzipError !== undefined) {
    return {
      problem: {
        at: boundaries.length + 1,
        finding: {reason: 'modified', file, event: null, offset: pos, detail: `the compressed data is damaged after byte ${pos} (${gzipError})`},
      },
      tailBytes,
      tailLines,
    }
  }
  if (sealed && tailBytes > 0) {
    const what = isEvents ? `${tailLines} event line${tailLines === 1 ? '' : 's'} (${tailBytes} bytes)` : `${tailBytes} bytes`
    return {
      problem: {
        at: boundaries.length + 1,
        finding: {
          reason: 'appended',
          file,
          event: isEvents ? (boundaries.at(-1)?.lines ?? 0) : null,
          offset: lastBytes,
          detail: `${what} after the seal`,
        },
      },
      tailBytes,
      tailLines,
    }
  }
  return {tailBytes, tailLines, ...(kinds ? {kinds, host} : {})}
}

/**
 * Names what is wrong in the events between two checkpoints from the lines found there (`data`,
 * starting at byte `start`, event `first`; the checkpoint says events first…end-1 end at byte `endBytes`).
 */
async function diagnoseEvents(
  file: string,
  data: Buffer,
  start: number,
  first: number,
  end: number,
  endBytes: number,
  eof: boolean,
  copies: readonly string[],
): Promise<Finding> {
  const {lines, rest} = splitLines(data)
  const eis = lines.map(eiOf)
  let offset = start
  for (let k = 0; ; k++) {
    const expected = first + k
    if (expected >= end) break
    const at = (reason: Reason, detail: string): Finding => ({reason, file, event: expected, offset, detail})
    if (k >= lines.length) {
      if (eof)
        return at(
          'truncated',
          `the stream ends at byte ${start + rest} before event ${expected}; the checkpoint covers events up to ${end - 1} (${endBytes} bytes)`,
        )
      break
    }
    const ei = eis[k]
    if (ei === expected) {
      offset += lines[k]!.length
      continue
    }
    if (ei === undefined) return at('modified', `the line at byte ${offset} is not event ${expected} (not an event line)`)
    if (ei > expected) {
      if (eis.slice(k + 1).includes(expected)) return at('reordered', `event ${expected} comes after event ${ei}`)
      return at('missing', `event ${expected} is missing (event ${ei} follows event ${expected - 1})`)
    }
    if (eis.slice(0, k).includes(ei)) return at('modified', `event ${ei} appears twice`)
    return at('reordered', `event ${ei} comes after event ${expected - 1}`)
  }
  // Every event in its place, but the bytes differ: an enhanced event's copy in its kind's file
  // (checked on its own) may still hold the original line, which names the event.
  const pinned = await pinpoint(lines, eis, start, first, end, copies)
  if (pinned) {
    return {
      reason: 'modified',
      file,
      event: pinned.ei,
      offset: pinned.offset,
      detail: `event ${pinned.ei} differs from what was recorded (${path.basename(pinned.copy)} still has the original line)`,
    }
  }
  return {
    reason: 'modified',
    file,
    event: first,
    offset: start,
    detail:
      end - first === 1
        ? `event ${first} differs from what was recorded`
        : `events ${first}–${end - 1} (bytes ${start}–${endBytes - 1}) differ from what was recorded`,
  }
}

/** The first event of first…end-1 whose line differs from its line in one of the per-kind files. */
async function pinpoint(
  lines: Buffer[],
  eis: Array<number | undefined>,
  start: number,
  first: number,
  end: number,
  copies: readonly string[],
): Promise<{ei: number; offset: number; copy: string} | undefined> {
  const mine = new Map<number, {line: Buffer; offset: number}>()
  let offset = start
  for (let k = 0; k < lines.length; k++) {
    const ei = eis[k]
    if (ei !== undefined && ei >= first && ei < end) mine.set(ei, {line: lines[k]!, offset})
    offset += lines[k]!.length
  }
  let found: {ei: number; offset: number; copy: string} | undefined
  for (const copy of copies) {
    const got = await fileLines(copy, 64 * 1024 * 1024)
    for (const line of got.lines) {
      const ei = eiOf(line)
      if (ei === undefined || ei < first || ei >= end || (found && ei >= found.ei)) continue
      const m = mine.get(ei)
      if (m && !m.line.equals(line)) found = {ei, offset: m.offset, copy}
    }
  }
  return found
}

const EI_PREFIX = Buffer.from('{"ei":')

function eiOf(line: Buffer): number | undefined {
  if (line.length < 8 || !line.subarray(0, 6).equals(EI_PREFIX)) return undefined
  let n = 0
  let i = 6
  for (; i < line.length && line[i]! >= 0x30 && line[i]! <= 0x39; i++) n = n * 10 + line[i]! - 0x30
  return i > 6 && line[i] === 0x2c ? n : undefined
}

const TIME_TAG = Buffer.from('"time":"')

/** The UTC day (`YYYY-MM-DD`) of an event line's time: its first "time" key, which the header has (src/events/stamp.ts). */
function dayOf(line: Buffer): string {
  const at = line.indexOf(TIME_TAG)
  return at < 0 ? '' : line.toString('latin1', at + TIME_TAG.length, at + TIME_TAG.length + 10)
}

function newKinds(): Record<EnhancedEventType, KindDigest> {
  const out = {} as Record<EnhancedEventType, KindDigest>
  for (const kind of ENHANCED_EVENT_TYPES) out[kind] = {hash: createHash('sha256'), bytes: 0, lines: 0}
  return out
}

const KIND_TAGS = ENHANCED_EVENT_TYPES.map((kind) => ({kind, tag: Buffer.from(`"event":"${kind}"`)}))
const EVENT_TAG = Buffer.from('"event":"')
const PRINT_TAG = Buffer.from('"event":"print"')

/** Splits the events stream into lines and hashes each enhanced event's line into its kind's digest. */
class LineSplitter {
  private readonly lines = new Lines()
  constructor(
    private readonly kinds: Record<EnhancedEventType, KindDigest>,
    /** Every line but print's: what the host audit log has of the session, by day. */
    private readonly host: HostDigest,
  ) {}

  push(chunk: Buffer): void {
    this.lines.push(chunk, (line) => this.line(line))
  }

  private line(line: Buffer): void {
    // {"ei":N,"event":"<type>" — the type right after ei (src/events/stamp.ts, native/src/lines.cc).
    const at = line.indexOf(EVENT_TAG, 6)
    if (at < 0 || at > 32) return
    if (line.compare(PRINT_TAG, 0, PRINT_TAG.length, at, at + PRINT_TAG.length) !== 0) {
      const day = dayOf(line)
      let digest = this.host.get(day)
      if (!digest) this.host.set(day, (digest = {hash: createHash('sha256'), bytes: 0, lines: 0}))
      digest.hash.update(line)
      digest.bytes += line.length
      digest.lines++
    }
    if (line[at + EVENT_TAG.length] !== 0x73) return // 's' of session.*
    for (const {kind, tag} of KIND_TAGS) {
      if (line.compare(tag, 0, tag.length, at, at + tag.length) === 0) {
        const digest = this.kinds[kind]
        digest.hash.update(line)
        digest.bytes += line.length
        digest.lines++
        return
      }
    }
  }
}

/**
 * A per-kind file holds the events file's lines of its kind, in order: its prefix is checked
 * against the lines the (verified) events file has up to its last checkpoint.
 */
async function checkKindFile(
  ref: SessionRef,
  kind: EnhancedEventType,
  expected: KindDigest,
  sealed: boolean,
  eventBytes: number,
): Promise<Finding | undefined> {
  const file = ref.paths.enhanced[kind]
  const hash = createHash('sha256')
  let pos = 0
  let tail = 0
  const reader = gunzip(file)
  try {
    for await (const chunk of reader.stream) {
      const take = Math.min(chunk.length, Math.max(0, expected.bytes - pos))
      if (take > 0) hash.update(chunk.subarray(0, take))
      tail += chunk.length - take
      pos += chunk.length
    }
  } catch {
    // reader.error says what
  } finally {
    reader.close()
  }
  if (reader.missing && expected.bytes > 0) return {reason: 'missing', file, event: null, offset: 0, detail: `${path.basename(file)} is missing`}
  const damaged = reader.error !== undefined && !reader.truncated && !reader.missing
  if (pos >= expected.bytes && hash.digest('hex') === expected.hash.copy().digest('hex') && !damaged) {
    if (sealed && tail > 0) return {reason: 'appended', file, event: null, offset: expected.bytes, detail: `${tail} bytes after the seal`}
    return undefined
  }
  // Name the place: compare line by line with the events file's lines of this kind.
  const want = await kindLines(ref.paths.events, kind, eventBytes)
  const got = await fileLines(file, expected.bytes + 64 * 1024)
  let offset = 0
  for (let k = 0; k < want.length; k++) {
    const w = want[k]!
    const ei = eiOf(w)!
    const at = (reason: Reason, detail: string): Finding => ({reason, file, event: ei, offset, detail})
    const g = got.lines[k]
    if (g === undefined || (k === got.lines.length - 1 && !got.lastComplete)) {
      if (damaged) return at('modified', `the compressed data is damaged (${reader.error}) before event ${ei}`)
      return at('truncated', `the file ends at byte ${got.bytes} before event ${ei}; the events file has ${want.length} ${kind} events`)
    }
    if (g.equals(w)) {
      offset += g.length
      continue
    }
    const gi = eiOf(g)
    if (gi === ei) return at('modified', `event ${ei} differs from the events file's`)
    const wantEis = want.map((l) => eiOf(l))
    const gotEis = got.lines.map((l) => eiOf(l))
    if (gi !== undefined && gi > ei && !gotEis.slice(k + 1).includes(ei)) return at('missing', `event ${ei} is missing`)
    if (gi !== undefined && wantEis.includes(gi)) return at('reordered', `event ${gi} comes before event ${ei}`)
    return at('modified', `the line at byte ${offset} is not event ${ei}`)
  }
  return {reason: 'modified', file, event: null, offset: 0, detail: `the ${kind} events differ from the events file's`}
}

/** The lines of one kind in the first `limit` bytes of the events file. */
async function kindLines(file: string, kind: EnhancedEventType, limit: number): Promise<Buffer[]> {
  const all = await fileLines(file, limit)
  const tag = Buffer.from(`"event":"${kind}"`)
  return all.lines.filter((line) => {
    const at = line.indexOf(EVENT_TAG, 6)
    return at >= 0 && at <= 32 && line.compare(tag, 0, tag.length, at, at + tag.length) === 0
  })
}

/** The lines (with their newline; the last may lack it) of a gzip file's first `limit` bytes. */
async function fileLines(file: string, limit: number): Promise<{lines: Buffer[]; lastComplete: boolean; bytes: number}> {
  const parts: Buffer[] = []
  let size = 0
  const reader = gunzip(file)
  try {
    for await (const chunk of reader.stream) {
      parts.push(chunk)
      size += chunk.length
      if (size >= limit) break
    }
  } catch {
    // what was read counts
  } finally {
    reader.close()
  }
  const data = Buffer.concat(parts).subarray(0, limit)
  const {lines, rest} = splitLines(data)
  const lastComplete = rest === data.length
  if (!lastComplete) lines.push(data.subarray(rest))
  return {lines, lastComplete, bytes: data.length}
}

/**
 * A gunzip stream over a file that may lack its trailer (recorder killed): `truncated` then; any
 * other failure is in `error`. A missing file reads as empty.
 */
interface Gunzip {
  stream: AsyncIterable<Buffer>
  close: () => void
  error?: string
  truncated: boolean
  missing: boolean
}

function gunzip(file: string): Gunzip {
  const state: Gunzip = {
    stream: (async function* () {})(),
    close: () => {},
    truncated: false,
    missing: false,
  }
  let size = 0
  try {
    size = fs.statSync(file).size
  } catch (error) {
    state.missing = (error as NodeJS.ErrnoException).code === 'ENOENT'
    state.error = state.missing ? 'no such file' : (error as Error).message
    return state
  }
  if (size === 0) return state
  const input = fs.createReadStream(file, {highWaterMark: 256 * 1024})
  const unzip = zlib.createGunzip({chunkSize: 256 * 1024})
  input.on('error', (error) => unzip.destroy(error))
  input.pipe(unzip)
  state.close = () => {
    input.destroy()
    unzip.destroy()
  }
  state.stream = (async function* () {
    try {
      for await (const chunk of unzip) yield chunk as Buffer
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      state.error = (error as Error).message
      state.truncated = code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(state.error)
    }
  })()
  return state
}

function sumLength(list: Buffer[]): number {
  let n = 0
  for (const b of list) n += b.length
  return n
}

/** A gap in the host's session numbers: sessions deleted (or, at the end, the newest ones). */
export interface MissingSession {
  key_id: string
  seq: number
  detail: string
}

/**
 * The numbers the host gave its sessions under this key (from the verdicts) against those it
 * handed out (its ratchet state, when it holds this key): every number not found is a session
 * that was deleted.
 */
export function missingSessions(dataDir: string, vk: VerificationKey, verdicts: readonly SessionVerdict[]): MissingSession[] {
  const seen = new Set<number>()
  for (const v of verdicts) if (v.key_id === vk.id && v.seq !== null) seen.add(v.seq)
  let issued = seen.size === 0 ? 0 : Math.max(...seen) + 1
  let fromState = false
  try {
    const state = readRatchet(dataDir)
    if (state && state.keyId === vk.id) {
      issued = Math.max(issued, state.seq)
      fromState = true
    }
  } catch {
    // a damaged state file: the numbers found still show gaps
  }
  const missing: MissingSession[] = []
  for (let seq = 0; seq < issued; seq++) {
    if (seen.has(seq)) continue
    missing.push({
      key_id: vk.id,
      seq,
      detail:
        seq > Math.max(-1, ...seen) && fromState
          ? `session #${seq} of this host is missing: the host numbered ${issued} sessions, the newest found is #${Math.max(-1, ...seen)}`
          : `session #${seq} of this host is missing (deleted)`,
    })
  }
  return missing
}

const SID_TAG = Buffer.from('"sid":"')
const HOST_LOG_NAME = /^\d{4}-\d{2}-\d{2}\.00:00:00\.log$/

interface HostLogState {
  copy: HostCopy
  verdict: SessionVerdict
  /** The session's lines in each day's file (at most as many as its events file has of that day). */
  days: Map<string, KindDigest>
  /** Lines after those the session's own files cover. */
  extra: number
}

/**
 * The host audit log's copy of the sessions (`verify --all`): every line of a session but print's,
 * in order, in `<server_id>/<date>.00:00:00.log`, byte for byte as in its events file. A sealed
 * session's copy must be whole; an unsealed one's may lack its last lines (the log is written on its
 * own schedule). A cut, edited or reordered host log becomes the session's problem.
 */
export async function checkHostLogs(dataDir: string, verdicts: readonly SessionVerdict[]): Promise<void> {
  const servers = new Map<string, Map<string, HostLogState>>()
  for (const verdict of verdicts) {
    const copy = hostCopies.get(verdict)
    if (!copy) continue
    const bySid = servers.get(verdict.server_id) ?? new Map<string, HostLogState>()
    bySid.set(verdict.sid, {copy, verdict, days: new Map(), extra: 0})
    servers.set(verdict.server_id, bySid)
  }
  for (const [serverId, bySid] of servers) {
    const files = hostLogFiles(dataDir, serverId)
    for (const file of files) {
      const day = path.basename(file).slice(0, 10)
      await forEachLine(file, (line) => {
        const state = bySid.get(sidOf(line) ?? '')
        if (!state) return
        let got = state.days.get(day)
        if (!got) state.days.set(day, (got = {hash: createHash('sha256'), bytes: 0, lines: 0}))
        if (got.lines < (state.copy.digest.get(day)?.lines ?? 0)) {
          got.hash.update(line)
          got.bytes += line.length
          got.lines++
        } else {
          state.extra++
        }
      })
    }
    for (const state of bySid.values()) {
      const {copy, verdict} = state
      let whole = true
      let prefixes = true
      for (const [day, want] of copy.digest) {
        const got = state.days.get(day)
        const hash = got?.hash.digest('hex') ?? EMPTY_SHA256
        if (got?.lines === want.lines && hash === want.hash.copy().digest('hex')) continue
        whole = false
        // Unsealed: lines the log lacks at its end may just not have been written; what it has must match.
        if (copy.sealed || hash !== (await nonPrintPrefixDigest(copy.ref.paths.events, copy.eventBytes, got?.lines ?? 0, day))) prefixes = false
      }
      if (whole && !(copy.sealed && state.extra > 0)) continue
      if (!whole && prefixes) continue
      verdict.status = 'damaged'
      verdict.problem = await diagnoseHostLog(copy, files, verdict.sid, whole)
    }
  }
}

const EMPTY_SHA256 = createHash('sha256').digest('hex')

function hostLogFiles(dataDir: string, serverId: string): string[] {
  const dir = path.join(dataDir, 'log', serverId)
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => HOST_LOG_NAME.test(n))
    .sort()
    .map((n) => path.join(dir, n))
}

function sidOf(line: Buffer): string | undefined {
  const at = line.indexOf(SID_TAG)
  if (at < 0) return undefined
  const end = line.indexOf(0x22, at + SID_TAG.length)
  return end < 0 ? undefined : line.toString('latin1', at + SID_TAG.length, end)
}

/** Calls fn for each line of a plain file (with its newline), with the line's byte offset. */
async function forEachLine(file: string, fn: (line: Buffer, offset: number) => void): Promise<void> {
  const lines = new Lines()
  let offset = 0
  try {
    for await (const input of fs.createReadStream(file, {highWaterMark: 256 * 1024})) {
      lines.push(input as Buffer, (line) => {
        fn(line, offset)
        offset += line.length
      })
    }
  } catch {
    // an unreadable host log: its lines are missing, which the comparison reports
  }
}

/** The session's first `limit` (+1) lines in the host logs, with file and offset. */
async function hostLines(files: string[], sid: string, limit: number): Promise<Array<{line: Buffer; file: string; offset: number}>> {
  const out: Array<{line: Buffer; file: string; offset: number}> = []
  for (const file of files) {
    await forEachLine(file, (line, offset) => {
      if (out.length <= limit && sidOf(line) === sid) out.push({line: Buffer.from(line), file, offset})
    })
  }
  return out
}

/** SHA-256 of the first `count` non-print lines of `day` in the events file's first `limit` bytes, streamed. */
async function nonPrintPrefixDigest(file: string, limit: number, count: number, day: string): Promise<string> {
  const hash = createHash('sha256')
  let seen = 0
  let pos = 0
  const lines = new Lines()
  const take = (line: Buffer): void => {
    if (isNonPrint(line) && dayOf(line) === day && seen++ < count) hash.update(line)
  }
  const reader = gunzip(file)
  try {
    for await (const input of reader.stream) {
      const chunk = input.subarray(0, Math.max(0, limit - pos))
      pos += input.length
      lines.push(chunk, take)
      if (seen >= count || pos >= limit) break
    }
  } finally {
    reader.close()
  }
  return hash.digest('hex')
}

/** The events file's lines but print's, in its first `limit` bytes, in the host log's order: by day, then as in the file. */
async function nonPrintLines(file: string, limit: number): Promise<Buffer[]> {
  const all = await fileLines(file, limit)
  const byDay = all.lines.filter(isNonPrint).map((line) => ({line, day: dayOf(line)}))
  return byDay.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0)).map((x) => x.line)
}

/** An event line that is not a print: its `"event":` within the first bytes, naming another type. */
function isNonPrint(line: Buffer): boolean {
  const at = line.indexOf(EVENT_TAG, 6)
  return at >= 0 && at <= 32 && line.compare(PRINT_TAG, 0, PRINT_TAG.length, at, at + PRINT_TAG.length) !== 0
}

async function diagnoseHostLog(copy: HostCopy, files: string[], sid: string, whole: boolean): Promise<Finding> {
  const want = await nonPrintLines(copy.ref.paths.events, copy.eventBytes)
  const count = want.length
  const got = await hostLines(files, sid, count)
  const last = files.at(-1) ?? path.join(path.dirname(path.dirname(copy.ref.paths.dir)), '<date>.00:00:00.log')
  if (whole) {
    const extra = got[count]
    return {
      reason: 'appended',
      file: extra?.file ?? last,
      event: null,
      offset: extra?.offset ?? null,
      detail: `the host log has lines of session ${sid} after its seal`,
    }
  }
  const wantEis = want.map((l) => eiOf(l))
  const gotEis = got.map((g) => eiOf(g.line))
  for (let k = 0; k < want.length; k++) {
    const ei = wantEis[k]!
    const g = got[k]
    if (g === undefined) {
      const end = got.at(-1)
      return {
        reason: k === 0 ? 'missing' : 'truncated',
        file: end?.file ?? last,
        event: ei,
        offset: end ? end.offset + end.line.length : null,
        detail:
          k === 0
            ? `the host log has no line of session ${sid}; its events file has ${want.length} besides output`
            : `the host log ends before event ${ei} of session ${sid} (it has ${k} of its ${want.length} lines)`,
      }
    }
    if (g.line.equals(want[k]!)) continue
    const at = (reason: Reason, detail: string): Finding => ({reason, file: g.file, event: ei, offset: g.offset, detail})
    const gi = gotEis[k]
    if (gi === ei) return at('modified', `event ${ei} of session ${sid} differs from its events file's`)
    if (gi !== undefined && gi > ei && !gotEis.slice(k + 1).includes(ei)) return at('missing', `event ${ei} of session ${sid} is missing from the host log`)
    if (gi !== undefined && wantEis.includes(gi)) return at('reordered', `event ${gi} of session ${sid} comes before event ${ei}`)
    return at('modified', `the line at byte ${g.offset} is not event ${ei} of session ${sid}`)
  }
  return {reason: 'modified', file: last, event: null, offset: null, detail: `the host log's copy of session ${sid} differs from its events file`}
}

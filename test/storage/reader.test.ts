// Reader: listing, sid prefix resolution, and tolerance of truncated, damaged and garbage files.
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import {after, before, describe, it} from 'node:test'

import {AmbiguousSessionError} from '../../src/errors/ambiguous-session-error.js'
import {DataDirNotFoundError} from '../../src/errors/data-dir-not-found-error.js'
import {RecordingReadError} from '../../src/errors/recording-read-error.js'
import {SessionNotFoundError} from '../../src/errors/session-not-found-error.js'
import {followSessionEvents, listSessions, readChunkFile, readEventFile, resolveSession} from '../../src/storage/reader.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {collect, collectBytes, commandBody, commonFor} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const SID_A1 = 'aaaa1111-0000-4000-8000-000000000001'
const SID_A2 = 'aaaa2222-0000-4000-8000-000000000002'
const SID_B = 'bbbb0000-0000-4000-8000-000000000003'

async function record(dataDir: string, sid: string, start: number, commands: number, end = true): Promise<SessionWriter> {
  const writer = await SessionWriter.create({dataDir, sid, common: commonFor(dataDir), startedAt: start})
  writer.emit({event: 'session.start', size: '80:24', interactive: false, initial_command: ['sh', '-c', 'ls']}, start)
  for (let i = 0; i < commands; i++) {
    writer.emit(commandBody(i), start + i)
    writer.print(Buffer.from(`output ${i}\n`), start + i)
  }
  writer.emit(
    {event: 'session.network', pid: 1, cgroup_id: 1, program: 'curl', src_addr: '::1', dst_addr: '::1', dst_port: 80, version: 6, operation: 0, action: 0},
    start + 500,
  )
  if (end) await writer.end({interactive: false, exit_code: 3, lost_events: {command: 2, disk: 0, network: 1}}, start + 1000)
  else await writer.flush()
  return writer
}

describe('reader', () => {
  let dataDir: string
  let unfinished: SessionWriter

  before(async () => {
    dataDir = tempDir()
    await record(dataDir, SID_A1, Date.parse('2026-11-20T10:00:00.000Z'), 5)
    await record(dataDir, SID_A2, Date.parse('2026-11-21T10:00:00.000Z'), 2)
    unfinished = await record(dataDir, SID_B, Date.parse('2026-11-22T10:00:00.000Z'), 1, false)
  })
  after(() => {
    unfinished.abort()
    removeDir(dataDir)
  })

  it('lists sessions newest first with start/stop, counts, exit code, lost events, unfinished', async () => {
    const sessions = await listSessions(dataDir)
    assert.deepEqual(
      sessions.map((s) => s.sid),
      [SID_B, SID_A2, SID_A1],
    )
    const [b, a2, a1] = sessions
    assert.equal(a1!.session_start, '2026-11-20T10:00:00.000Z')
    assert.equal(a1!.session_stop, '2026-11-20T10:00:01.000Z')
    assert.equal(a1!.interactive, false)
    assert.equal(a1!.exit_code, 3)
    assert.equal(a1!.commands, 5)
    assert.equal(a1!.network, 1)
    assert.equal(a1!.disk, 0)
    assert.deepEqual(a1!.lost_events, {command: 2, disk: 0, network: 1})
    assert.deepEqual(a1!.initial_command, ['sh', '-c', 'ls'])
    assert.equal(a1!.unfinished, false)
    assert.equal(a1!.output_bytes, 5 * 'output 0\n'.length)
    assert.equal(a2!.commands, 2)
    assert.equal(b!.unfinished, true)
    assert.equal(b!.session_stop, null)
    assert.equal(b!.exit_code, null)
    assert.equal(b!.lost_events, null)
    assert.equal(b!.commands, 1)
  })

  it('resolves a full sid or a unique prefix; ambiguous and unknown prefixes are distinct errors', () => {
    assert.equal(resolveSession(dataDir, SID_A1).sid, SID_A1)
    assert.equal(resolveSession(dataDir, 'aaaa1').sid, SID_A1)
    assert.equal(resolveSession(dataDir, 'BBBB').sid, SID_B)
    assert.throws(
      () => resolveSession(dataDir, 'aaaa'),
      (error: unknown) =>
        error instanceof AmbiguousSessionError &&
        error.code === 'ESESSION_AMBIGUOUS' &&
        !error.message.includes('\n') &&
        error.message.includes(SID_A1) &&
        error.message.includes(SID_A2) &&
        !error.message.includes(SID_B),
    )
    assert.throws(
      () => resolveSession(dataDir, 'cccc'),
      (error: unknown) => error instanceof SessionNotFoundError && error.code === 'ESESSION_NOT_FOUND' && error.message.includes('"cccc"'),
    )
  })

  it('says clearly when the data dir does not exist', async () => {
    const missing = path.join(dataDir, 'nope')
    assert.throws(
      () => resolveSession(missing, 'aaaa'),
      (error: unknown) => error instanceof DataDirNotFoundError && error.message.includes(missing),
    )
    await assert.rejects(listSessions(missing), DataDirNotFoundError)
    const empty = tempDir()
    try {
      assert.deepEqual(await listSessions(empty), [])
    } finally {
      removeDir(empty)
    }
  })

  describe('damaged files', () => {
    let scratch: string
    let eventsFile: string
    let chunksFile: string
    let eventCount: number
    let chunkBytes: Buffer

    before(async () => {
      scratch = tempDir()
      const writer = await SessionWriter.create({dataDir: scratch, sid: SID_A1, common: commonFor(scratch)})
      for (let i = 0; i < 2000; i++) {
        writer.emit(commandBody(i))
        writer.print(Buffer.from(`line ${i} ${'z'.repeat(i % 97)}\n`))
        if (i % 500 === 0) await writer.flush()
      }
      await writer.end({interactive: false})
      eventsFile = writer.paths.events
      chunksFile = writer.paths.chunks
      eventCount = (await collect(readEventFile(eventsFile))).length
      chunkBytes = await collectBytes(readChunkFile(chunksFile))
    })
    after(() => removeDir(scratch))

    function variant(file: string, name: string, bytes: Buffer): string {
      const out = path.join(scratch, `${name}-${path.basename(file)}`)
      fs.writeFileSync(out, bytes)
      return out
    }

    it('reads a file truncated mid-stream and names the file and what was recovered', async () => {
      const full = fs.readFileSync(eventsFile)
      const cut = variant(eventsFile, 'cut', full.subarray(0, Math.floor(full.length * 0.6)))
      const warnings: string[] = []
      const events = await collect(readEventFile(cut, {onWarning: (w) => warnings.push(w)}))
      assert.ok(events.length > 0 && events.length < eventCount)
      assert.deepEqual(
        events.map((e) => e.ei),
        events.map((_e, i) => i),
      )
      assert.deepEqual(warnings, [`${cut}: truncated after ${events.length} events (no gzip trailer: the recorder did not finish it)`])

      const fullChunks = fs.readFileSync(chunksFile)
      const cutChunks = variant(chunksFile, 'cut', fullChunks.subarray(0, fullChunks.length - 9))
      const chunkWarnings: string[] = []
      const data = await collectBytes(readChunkFile(cutChunks, {onWarning: (w) => chunkWarnings.push(w)}))
      assert.ok(chunkBytes.subarray(0, data.length).equals(data))
      assert.deepEqual(chunkWarnings, [`${cutChunks}: truncated after ${data.length} bytes (no gzip trailer: the recorder did not finish it)`])
    })

    it('reads up to garbage in the middle of a file and says the rest is unreadable', async () => {
      const full = Buffer.from(fs.readFileSync(eventsFile))
      const at = Math.floor(full.length * 0.5)
      Buffer.from('this is not deflate data at all '.repeat(8)).copy(full, at)
      const bad = variant(eventsFile, 'garbage', full)
      const warnings: string[] = []
      const events = await collect(readEventFile(bad, {onWarning: (w) => warnings.push(w)}))
      assert.ok(events.length > 0 && events.length < eventCount)
      // Garbage inside a deflate block may inflate to junk lines before zlib notices (bad CRC).
      assert.ok(warnings.length === 1 || (warnings.length === 2 && /: skipped \d+ unreadable lines? \(kept/.test(warnings[1]!)), warnings.join('\n'))
      assert.match(warnings[0]!, new RegExp(`^${escape(bad)}: damaged after ${events.length} events \\(.+\\); the rest is unreadable$`))
    })

    it('reports a file that is not gzip at all, an empty file, and skips unreadable lines', async () => {
      const text = variant(eventsFile, 'text', Buffer.from('{"event":"print"}\n'))
      const warnings: string[] = []
      assert.deepEqual(await collect(readEventFile(text, {onWarning: (w) => warnings.push(w)})), [])
      assert.match(warnings[0]!, /: damaged after 0 events \(incorrect header check\); the rest is unreadable$/)

      const empty = variant(eventsFile, 'empty', Buffer.alloc(0))
      const emptyWarnings: string[] = []
      assert.deepEqual(await collect(readEventFile(empty, {onWarning: (w) => emptyWarnings.push(w)})), [])
      assert.deepEqual(emptyWarnings, [`${empty}: empty (the recorder stopped before writing to it); nothing recovered`])

      const mixed = variant(eventsFile, 'mixed', zlib.gzipSync('{"ei":0,"event":"print"}\nnot json\n{"ei":1,"event":"resize"}\n{"ei":2,"ev'))
      const mixedWarnings: string[] = []
      const events = await collect(readEventFile(mixed, {onWarning: (w) => mixedWarnings.push(w)}))
      assert.deepEqual(
        events.map((e) => e.ei),
        [0, 1],
      )
      assert.deepEqual(mixedWarnings, [`${mixed}: skipped 2 unreadable lines (kept 2 events)`])
    })

    it('throws a clear RecordingReadError for a missing file', async () => {
      const missing = path.join(scratch, 'missing-0.events.gz')
      await assert.rejects(
        collect(readEventFile(missing)),
        (error: unknown) => error instanceof RecordingReadError && error.message === `cannot read ${missing}: no such file`,
      )
    })
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

describe('followSessionEvents', () => {
  it('streams a live session as it is written and stops at session.end', async () => {
    const dir = tempDir()
    try {
      const writer = await SessionWriter.create({dataDir: dir, sid: SID_B, common: commonFor(dir), flushIntervalMs: 50})
      const ref = resolveSession(dir, 'bbbb')
      const seen: string[] = []
      const following = (async () => {
        for await (const event of followSessionEvents(ref, {pollMs: 20})) seen.push(`${event.ei}:${event.event}`)
      })()
      writer.emit({event: 'session.start', size: '80:24', interactive: true})
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(seen, ['0:session.start'], 'the start is visible while the session runs')
      writer.emit(commandBody(1))
      writer.print(Buffer.from('x'))
      await writer.end({interactive: true, exit_code: 0})
      await following
      assert.deepEqual(seen, ['0:session.start', '1:session.command', '2:print', '3:session.end'])
    } finally {
      removeDir(dir)
    }
  })

  it('returns when aborted', async () => {
    const dir = tempDir()
    try {
      const writer = await SessionWriter.create({dataDir: dir, sid: SID_A1, common: commonFor(dir)})
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 100)
      const events = await collect(followSessionEvents(resolveSession(dir, SID_A1), {signal: controller.signal, pollMs: 20}))
      assert.deepEqual(events, [])
      writer.abort()
    } finally {
      removeDir(dir)
    }
  })
})

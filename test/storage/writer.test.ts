// SessionWriter: layout and names, permissions, event stamping, index, host log, refusals, round trip.
import assert from 'node:assert/strict'
import {randomBytes, randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as zlib from 'node:zlib'

import {SessionExistsError} from '../../src/errors/session-exists-error.js'
import {UnsafeLogTreeError} from '../../src/errors/unsafe-log-tree-error.js'
import {InvalidSessionIdError} from '../../src/errors/invalid-session-id-error.js'
import {EventLineFormatter} from '../../src/events/stamp.js'
import type {AuditEvent, EventBody} from '../../src/events/types.js'
import {ensureServerId, hostLogName, readServerId, sessionsDir} from '../../src/storage/layout.js'
import {readChunkFile, readEventFile, readSessionChunks, readSessionEvents, resolveSession} from '../../src/storage/reader.js'
import type {KernelLine} from '../../src/engine/events.js'
import type {EventLine, Sink} from '../../src/record/sink.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {rootSkipReason} from '../helpers/cli.js'
import {collect, collectBytes, commandBody, commonFor, mode, newWriter} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const HEADER = ['ei', 'event', 'code', 'uid', 'time', 'cluster_name', 'sid', 'namespace', 'server_id', 'server_hostname', 'login', 'user']

/** Writes a small session with every kind of event and returns what the test needs. */
async function writeSampleSession(dataDir: string, at = Date.parse('2026-11-22T16:42:20.000Z')) {
  const writer = await newWriter(dataDir, {startedAt: at})
  writer.emit({event: 'session.start', size: '80:24', interactive: true}, at)
  writer.print(Buffer.from('$ ls\r\n'), at + 10)
  writer.emit(commandBody(1), at + 20)
  writer.resize(120, 40, at + 30)
  writer.emit({event: 'session.disk', pid: 1001, cgroup_id: 2360, program: 'cat', path: '/etc/hosts', flags: 0, return_code: 3}, at + 40)
  writer.emit(
    {
      event: 'session.network',
      pid: 1002,
      cgroup_id: 2360,
      program: 'curl',
      src_addr: '127.0.0.1',
      dst_addr: '127.0.0.1',
      dst_port: 8080,
      version: 4,
      operation: 0,
      action: 0,
    },
    at + 50,
  )
  writer.print(Buffer.from('file-a  file-b\r\n'), at + 60)
  writer.emit({event: 'session.cgroup_escape', pid: 1003, program: 'sh', cgroup_id: 2360, new_cgroup_id: 1}, at + 70)
  const result = await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, at + 80)
  return {writer, result}
}

describe('SessionWriter', () => {
  let dataDir: string
  let oldUmask: number

  before(() => {
    oldUmask = process.umask(0o000)
    dataDir = tempDir()
  })
  after(() => {
    process.umask(oldUmask)
    removeDir(dataDir)
  })

  it('creates the layout and file names of docs/file-layout.md, dirs 0700 and files 0600 under umask 000', async () => {
    const {writer, result} = await writeSampleSession(dataDir)
    assert.deepEqual(result, {completed: true})
    const serverId = writer.common.server_id
    const dir = sessionsDir(dataDir, serverId)
    assert.equal(dir, path.join(dataDir, 'log', serverId, 'sessions', 'default'))
    const sid = writer.sid
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      `${sid}-0.chunks.gz`,
      `${sid}-0.events.gz`,
      `${sid}-0.session.command-events.gz`,
      `${sid}-0.session.disk-events.gz`,
      `${sid}-0.session.network-events.gz`,
      `${sid}.completed`,
      `${sid}.index`,
      `${sid}.integrity`,
    ])
    for (const d of [
      path.join(dataDir, 'integrity'),
      path.join(dataDir, 'log'),
      path.join(dataDir, 'log', serverId),
      path.join(dataDir, 'log', serverId, 'sessions'),
      dir,
    ]) {
      assert.equal(mode(d), 0o700, d)
    }
    for (const name of fs.readdirSync(dir)) assert.equal(mode(path.join(dir, name)), 0o600, name)
    const hostLog = path.join(dataDir, 'log', serverId, hostLogName(Date.parse('2026-11-22T16:42:20.000Z')))
    assert.equal(path.basename(hostLog), '2026-11-22.00:00:00.log')
    assert.equal(mode(hostLog), 0o600)
    assert.equal(mode(path.join(dataDir, 'host_uuid')), 0o600)
    for (const name of fs.readdirSync(path.join(dataDir, 'integrity'))) assert.equal(mode(path.join(dataDir, 'integrity', name)), 0o600, name)
  })

  it('formats each line once: a sink given gets the events file byte for byte, and the terminal output', async () => {
    const lines: EventLine[] = []
    const output: Buffer[] = []
    const sink: Sink = {write: (line) => lines.push(line), output: (data) => output.push(data), end: async () => {}, abort: () => {}}
    const at = Date.parse('2026-11-22T16:42:20.000Z')
    const writer = await newWriter(dataDir, {startedAt: at, sinks: [sink]})
    writer.emit({event: 'session.start', size: '80:24', interactive: true}, at)
    writer.print(Buffer.from('$ ls\r\n'), at + 10)
    const tail = '"event":"session.command","code":"T4000I","pid":7}\n'
    const bytes = Buffer.from(tail)
    writer.emitFormattedLines([{event: 'session.command', denied: false, timeMs: at + 20, bytes, tailStart: 0, tailBytes: bytes.length, tail}])
    writer.emit({event: 'session.cgroup_escape', pid: 1003, program: 'sh', cgroup_id: 2360, new_cgroup_id: 1}, at + 30)
    await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, at + 40)
    const events = zlib.gunzipSync(fs.readFileSync(writer.paths.events)).toString('utf8')
    assert.equal(lines.map((line) => line.text).join(''), events)
    assert.deepEqual(
      lines.map((line) => line.event),
      ['session.start', 'print', 'session.command', 'session.cgroup_escape', 'session.end'],
    )
    assert.deepEqual(
      lines.map((line) => line.bytes),
      lines.map((line) => Buffer.byteLength(line.text)),
    )
    assert.deepEqual(
      lines.map((line) => line.timeMs),
      [at, at + 10, at + 20, at + 30, at + 40],
    )
    assert.equal(lines[2]!.text, `{"ei":2,${tail}`)
    assert.equal(Buffer.concat(output).toString(), '$ ls\r\n')
  })

  it('keeps a stable server_id in <data_dir>/host_uuid', () => {
    const dir = tempDir()
    try {
      assert.equal(readServerId(dir), undefined)
      const id = ensureServerId(dir)
      assert.match(id, UUID_RE)
      assert.equal(ensureServerId(dir), id)
      assert.equal(fs.readFileSync(path.join(dir, 'host_uuid'), 'utf8').trim(), id)
    } finally {
      removeDir(dir)
    }
  })

  it('formats event lines: header first in Teleport order, then the body as it is, header keys in it ignored', () => {
    const common = {cluster_name: 'c"1', server_id: randomUUID(), server_hostname: 'h\u00e9st', login: 'root', user: 'al\\ice'}
    const sid = randomUUID()
    const formatter = new EventLineFormatter(sid, common)
    const bodies = [
      {event: 'session.command', pid: 1, cgroup_id: 2, program: 'sh', ppid: 0, path: '/bin/sh', argv: ['sh', '-c', 'echo "\u2603"\n\u0000'], return_code: 0},
      {event: 'print', bytes: 3, ms: 10, offset: 0, ci: 0},
      {event: 'resize', size: '80:24'},
      {event: 'session.start', size: '80:24', interactive: true, skipped: undefined},
      // Header keys in a body are the writer's: they are ignored, in the same way on both paths.
      {event: 'session.disk', sid: 'evil', ei: 99, uid: 'x', path: '/etc/passwd', flags: 0, return_code: 3},
      {event: 'not.a.known.type'},
      // `event` not first: the line is built from a copy of the body without it.
      {pid: 7, event: 'session.command', path: '/bin/true', argv: [], return_code: 0},
      {event: 'quote"and\\backslash', pid: 9},
    ] as unknown as EventBody[]
    const at = Date.parse('2026-11-22T16:42:20.123Z')
    const head = (ei: number, event: string, code: string | undefined, uid: string) =>
      `{"ei":${ei},"event":${JSON.stringify(event)},${code ? `"code":"${code}",` : ''}"uid":"${uid}","time":"2026-11-22T16:42:20.123Z",` +
      `"cluster_name":"c\\"1","sid":"${sid}","namespace":"default","server_id":"${common.server_id}","server_hostname":"h\u00e9st","login":"root","user":"al\\\\ice"`
    const uid = randomUUID()
    const expected = [
      `${head(0, 'session.command', 'T4000I', uid)},"pid":1,"cgroup_id":2,"program":"sh","ppid":0,"path":"/bin/sh","argv":["sh","-c","echo \\"\u2603\\"\\n\\u0000"],"return_code":0}\n`,
      `${head(1, 'print', undefined, uid)},"bytes":3,"ms":10,"offset":0,"ci":0}\n`,
      `${head(2, 'resize', 'T2002I', uid)},"size":"80:24"}\n`,
      `${head(3, 'session.start', 'T2000I', uid)},"size":"80:24","interactive":true}\n`,
      `${head(4, 'session.disk', 'T4001I', uid)},"path":"/etc/passwd","flags":0,"return_code":3}\n`,
      `${head(5, 'not.a.known.type', undefined, uid)}}\n`,
      `${head(6, 'session.command', 'T4000I', uid)},"pid":7,"path":"/bin/true","argv":[],"return_code":0}\n`,
      `${head(7, 'quote"and\\backslash', undefined, uid)},"pid":9}\n`,
    ]
    for (const [i, body] of bodies.entries()) assert.equal(formatter.line(body, i, at, uid), expected[i], body.event)
  })

  it('stamps contiguous ei across events, prints and resizes, unique uids, RFC 3339 ms times, header key order', async () => {
    const {writer} = await writeSampleSession(dataDir)
    const ref = resolveSession(dataDir, writer.sid)
    const events = await collect(readSessionEvents(ref))
    assert.deepEqual(
      events.map((e) => e.event),
      ['session.start', 'print', 'session.command', 'resize', 'session.disk', 'session.network', 'print', 'session.cgroup_escape', 'session.end'],
    )
    assert.deepEqual(
      events.map((e) => e.ei),
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
    )
    assert.equal(new Set(events.map((e) => e.uid)).size, events.length)
    for (const event of events) {
      assert.match(event.uid, UUID_RE)
      assert.match(event.time, TIME_RE)
      assert.equal(event.sid, writer.sid)
      assert.equal(event.namespace, 'default')
      assert.equal(event.server_id, writer.common.server_id)
      assert.equal(event.cluster_name, 'build-01')
      assert.equal(event.login, 'root')
      assert.equal(event.user, 'alice')
      const expected = event.event === 'print' ? HEADER.filter((k) => k !== 'code') : HEADER
      assert.deepEqual(Object.keys(event).slice(0, expected.length), expected, event.event)
    }
    assert.equal(events[0]!.time, '2026-11-22T16:42:20.000Z')
    const codes = Object.fromEntries(events.map((e) => [e.event, e.code]))
    assert.deepEqual(codes, {
      'session.start': 'T2000I',
      print: undefined,
      'session.command': 'T4000I',
      resize: 'T2002I',
      'session.disk': 'T4001I',
      'session.network': 'T4002I',
      'session.cgroup_escape': 'ERS0001W',
      'session.end': 'T2004I',
    })
    const resize = events[3] as AuditEvent & {size: string}
    assert.equal(resize.size, '120:40')
    const prints = events.filter((e) => e.event === 'print')
    assert.deepEqual(
      prints.map((p) => p.event === 'print' && [p.bytes, p.ms, p.offset, p.ci]),
      [
        [6, 10, 0, 0],
        [16, 60, 6, 1],
      ],
    )
    const end = events.at(-1)!
    assert.ok(end.event === 'session.end')
    assert.equal(end.enhanced_recording, true)
    assert.deepEqual(end.participants, ['alice'])
    assert.equal(end.session_start, '2026-11-22T16:42:20.000Z')
    assert.equal(end.session_stop, '2026-11-22T16:42:20.080Z')
    assert.equal(end.exit_code, 0)
    assert.deepEqual(end.lost_events, {command: 0, disk: 0, network: 0})
    assert.equal((await collectBytes(readSessionChunks(ref))).toString(), '$ ls\r\nfile-a  file-b\r\n')
  })

  it('writes each enhanced kind to its own per-kind file too', async () => {
    const {writer} = await writeSampleSession(dataDir)
    for (const kind of ['session.command', 'session.disk', 'session.network'] as const) {
      const events = await collect(readEventFile(writer.paths.enhanced[kind]))
      assert.deepEqual(
        events.map((e) => e.event),
        [kind],
      )
    }
  })

  it('writes <sid>.index as Teleport does: one {"file_name","type","index","offset"} line per file', async () => {
    const {writer} = await writeSampleSession(dataDir)
    const sid = writer.sid
    const lines = fs.readFileSync(writer.paths.index, 'utf8').trimEnd().split('\n')
    assert.deepEqual(lines, [
      `{"file_name":"${sid}-0.events.gz","type":"events","index":0,"offset":0}`,
      `{"file_name":"${sid}-0.chunks.gz","type":"chunks","index":0,"offset":0}`,
      `{"file_name":"${sid}-0.session.command-events.gz","type":"session.command","index":0,"offset":0}`,
      `{"file_name":"${sid}-0.session.disk-events.gz","type":"session.disk","index":0,"offset":0}`,
      `{"file_name":"${sid}-0.session.network-events.gz","type":"session.network","index":0,"offset":0}`,
    ])
  })

  it('appends every event except print to the host audit log and points events.log at it', async () => {
    const dir = tempDir()
    try {
      const {writer} = await writeSampleSession(dir)
      const serverId = writer.common.server_id
      const link = path.join(dir, 'log', 'events.log')
      assert.ok(fs.lstatSync(link).isSymbolicLink())
      assert.equal(fs.readlinkSync(link), `${serverId}/2026-11-22.00:00:00.log`)
      const lines = fs
        .readFileSync(link, 'utf8')
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEvent)
      assert.deepEqual(
        lines.map((e) => e.event),
        ['session.start', 'session.command', 'resize', 'session.disk', 'session.network', 'session.cgroup_escape', 'session.end'],
      )
      assert.deepEqual(
        lines.map((e) => e.ei),
        [0, 2, 3, 4, 5, 7, 8],
      )
      assert.deepEqual(fs.readdirSync(path.join(dir, 'log')).sort(), ['events.log', serverId].sort())
    } finally {
      removeDir(dir)
    }
  })

  it('rotates the host log by the UTC day of the event', async () => {
    const dir = tempDir()
    try {
      const start = Date.parse('2026-11-22T23:59:59.500Z')
      const writer = await newWriter(dir, {startedAt: start})
      writer.emit({event: 'session.start', size: '80:24', interactive: false}, start)
      await writer.end({interactive: false, exit_code: 0}, start + 1000)
      const serverDir = path.join(dir, 'log', writer.common.server_id)
      const first = fs.readFileSync(path.join(serverDir, '2026-11-22.00:00:00.log'), 'utf8').trim().split('\n')
      const second = fs.readFileSync(path.join(serverDir, '2026-11-23.00:00:00.log'), 'utf8').trim().split('\n')
      assert.equal(first.length, 1)
      assert.equal(second.length, 1)
      assert.equal(fs.readlinkSync(path.join(dir, 'log', 'events.log')), `${writer.common.server_id}/2026-11-23.00:00:00.log`)
    } finally {
      removeDir(dir)
    }
  })

  it('never interleaves lines when several writers append to the host log at once', async () => {
    const dir = tempDir()
    try {
      const writers = await Promise.all([newWriter(dir), newWriter(dir), newWriter(dir)])
      const big = 'x'.repeat(9000) // larger than PIPE_BUF and than one page
      for (let i = 0; i < 300; i++) {
        for (const w of writers) w.emit({...commandBody(i), argv: [big, String(i)]})
      }
      await Promise.all(writers.map((w) => w.end({interactive: false, exit_code: 0})))
      const text = fs.readFileSync(path.join(dir, 'log', 'events.log'), 'utf8')
      const lines = text.trimEnd().split('\n')
      assert.equal(lines.length, 3 * 301) // 300 commands + session.end per writer
      const perSid = new Map<string, number[]>()
      for (const line of lines) {
        const event = JSON.parse(line) as AuditEvent
        perSid.set(event.sid, [...(perSid.get(event.sid) ?? []), event.ei])
      }
      for (const eis of perSid.values())
        assert.deepEqual(
          eis,
          [...eis].sort((a, b) => a - b),
        )
    } finally {
      removeDir(dir)
    }
  })

  it('round-trips a multi-MB random payload byte-exact, offsets matching the chunk stream', async () => {
    const writer = await newWriter(dataDir)
    const payload = randomBytes(6 * 1024 * 1024 + 12345)
    let pos = 0
    let i = 0
    while (pos < payload.length) {
      const size = [1, 100, 4096, 65536, 200000][i++ % 5]!
      const piece = Buffer.from(payload.subarray(pos, pos + size))
      pos += piece.length
      if (!writer.print(piece)) await writer.drained()
    }
    const result = await writer.end({interactive: true, exit_code: 0})
    assert.equal(result.completed, true)
    const ref = resolveSession(dataDir, writer.sid)
    const data = await collectBytes(readChunkFile(ref.paths.chunks))
    assert.equal(data.length, payload.length)
    assert.ok(data.equals(payload))
    let expectedOffset = 0
    let ci = 0
    for await (const event of readSessionEvents(ref)) {
      if (event.event !== 'print') continue
      assert.equal(event.offset, expectedOffset)
      assert.equal(event.ci, ci++)
      expectedOffset += event.bytes
    }
    assert.equal(expectedOffset, payload.length)
  })

  it('refuses an existing session id and overwrites nothing', async () => {
    const {writer} = await writeSampleSession(dataDir)
    const before = fs
      .readdirSync(writer.paths.dir)
      .filter((n) => n.startsWith(writer.sid))
      .map((n) => [n, fs.readFileSync(path.join(writer.paths.dir, n))] as const)
    await assert.rejects(
      SessionWriter.create({dataDir, sid: writer.sid, common: writer.common}),
      (error: unknown) => error instanceof SessionExistsError && /already exists/.test(error.message) && error.message.includes(writer.sid),
    )
    const after = fs
      .readdirSync(writer.paths.dir)
      .filter((n) => n.startsWith(writer.sid))
      .map((n) => [n, fs.readFileSync(path.join(writer.paths.dir, n))] as const)
    assert.deepEqual(after, before)
  })

  it('refuses when only one of the session files already exists, and removes only what it created', async () => {
    const dir = tempDir()
    try {
      const common = commonFor(dir)
      const sid = randomUUID()
      const first = await SessionWriter.create({dataDir: dir, sid: randomUUID(), common})
      await first.end({interactive: false})
      const sessions = sessionsDir(dir, common.server_id)
      fs.writeFileSync(path.join(sessions, `${sid}-0.chunks.gz`), 'precious')
      await assert.rejects(SessionWriter.create({dataDir: dir, sid, common}), SessionExistsError)
      assert.deepEqual(
        fs.readdirSync(sessions).filter((n) => n.startsWith(sid)),
        [`${sid}-0.chunks.gz`],
      )
      assert.equal(fs.readFileSync(path.join(sessions, `${sid}-0.chunks.gz`), 'utf8'), 'precious')
    } finally {
      removeDir(dir)
    }
  })

  it('refuses a planted symlink anywhere in the log tree and writes nothing through it', async () => {
    for (const level of ['log', 'server', 'sessions', 'default'] as const) {
      const dir = tempDir()
      const elsewhere = tempDir('er-elsewhere-')
      try {
        const common = commonFor(dir)
        const first = await SessionWriter.create({dataDir: dir, sid: randomUUID(), common})
        await first.end({interactive: false})
        const target = {
          log: path.join(dir, 'log'),
          server: path.join(dir, 'log', common.server_id),
          sessions: path.join(dir, 'log', common.server_id, 'sessions'),
          default: sessionsDir(dir, common.server_id),
        }[level]
        fs.renameSync(target, path.join(elsewhere, 'moved'))
        fs.symlinkSync(path.join(elsewhere, 'moved'), target)
        const snapshot = listTree(elsewhere)
        await assert.rejects(
          SessionWriter.create({dataDir: dir, sid: randomUUID(), common}),
          (error: unknown) => error instanceof UnsafeLogTreeError && error.message.includes('symbolic link') && error.path === target,
          level,
        )
        assert.deepEqual(listTree(elsewhere), snapshot, level)
      } finally {
        removeDir(dir)
        removeDir(elsewhere)
      }
    }
  })

  it('refuses a log directory owned by another uid', {skip: rootSkipReason('chown')}, async () => {
    const dir = tempDir()
    try {
      const common = commonFor(dir)
      fs.mkdirSync(path.join(dir, 'log'), {mode: 0o700})
      fs.chownSync(path.join(dir, 'log'), 4321, 4321)
      await assert.rejects(
        SessionWriter.create({dataDir: dir, sid: randomUUID(), common}),
        (error: unknown) => error instanceof UnsafeLogTreeError && /owned by uid 4321/.test(error.message),
      )
    } finally {
      removeDir(dir)
    }
  })

  it('rejects a session id that could escape the directory', async () => {
    await assert.rejects(SessionWriter.create({dataDir, sid: '../x', common: commonFor(dataDir)}), InvalidSessionIdError)
  })

  it('emitFormattedLines writes the same bytes in runs of any length as one line at a time, to every file and the host log', async () => {
    // Lines as the poll thread hands them over: tails in one batch buffer with other bytes around
    // them; every kind, multi-byte UTF-8, ei past 9 and 99, times across a UTC midnight.
    const midnight = Date.parse('2026-11-23T00:00:00.000Z')
    const kinds = ['session.command', 'session.disk', 'session.disk', 'session.network', 'session.disk', 'session.cgroup_escape'] as const
    const parts: Buffer[] = []
    const spans: Array<Omit<KernelLine, 'bytes' | 'tail'>> = []
    let size = 0
    for (let i = 0; i < 150; i++) {
      const event = kinds[i % kinds.length]!
      const timeMs = midnight - 75 + i
      const tail = Buffer.from(
        `"event":"${event}","uid":"${randomUUID()}","time":"${new Date(timeMs).toISOString()}","path":"/tmp/é✓😀${'x'.repeat(i)}","n":${i}}\n`,
      )
      const gap = randomBytes(i % 7)
      parts.push(gap, tail)
      spans.push({event, denied: false, timeMs, tailStart: size + gap.length, tailBytes: tail.length})
      size += gap.length + tail.length
    }
    const batch = Buffer.concat(parts)
    const lines: KernelLine[] = spans.map((span) => ({...span, bytes: batch, tail: batch.toString('utf8', span.tailStart, span.tailStart + span.tailBytes)}))
    const start = midnight - 1000
    const sid = randomUUID()
    const common = {...commonFor(dataDir), server_id: randomUUID()}
    // A sink without writeLines (the live printer) gets the same lines one by one.
    const seen: Record<string, string[]> = {a: [], b: []}
    const write = async (dir: string, batched: boolean) => {
      const texts = seen[batched ? 'b' : 'a']!
      const other: Sink = {
        write: (line: EventLine) => void texts.push(`${line.event} ${line.timeMs} ${line.bytes} ${line.text}`),
        end: async () => {},
        abort: () => {},
      }
      const writer = await SessionWriter.create({dataDir: dir, sid, common, startedAt: start, sinks: [other]})
      writer.emit({event: 'session.start', size: '80:24', interactive: false}, start)
      // Runs of 1, 7, 2, 90 lines, a print between two of them, and the rest.
      let i = 0
      for (const n of [1, 7, 2, 0, 90, 50]) {
        const run = lines.slice(i, i + n)
        i += n
        if (n === 0) writer.print(Buffer.from('output\r\n'), start + 5)
        else if (batched) writer.emitFormattedLines(run)
        else for (const l of run) writer.emitFormattedLines([l])
      }
      assert.deepEqual(await writer.end({interactive: false, exit_code: 0}, midnight + 500), {completed: true})
      return writer
    }
    const [a, b] = [tempDir(), tempDir()]
    try {
      const [wa, wb] = [await write(a, false), await write(b, true)]
      assert.equal(wb.eventCount, 153)
      // Each kernel line is `{"ei":N,` and its tail: N after session.start (0), with the print
      // (ei 11) between the runs of 10 and of 90 lines.
      const written = (await collectBytes(readChunkFile(wb.paths.events))).toString().split('\n').slice(0, -1)
      lines.forEach((line, i) => assert.equal(`${written[i < 10 ? i + 1 : i + 2]}\n`, `{"ei":${i < 10 ? i + 1 : i + 2},${line.tail}`))
      // Events the writer formats itself (start, print, end) get fresh uids: those are masked.
      const mask = (bytes: Buffer | string) => bytes.toString().replace(/"uid":"[0-9a-f-]{36}"/g, '"uid":"…"')
      for (const file of ['events', 'session.command', 'session.disk', 'session.network'] as const) {
        const pa = file === 'events' ? wa.paths.events : wa.paths.enhanced[file]
        const pb = file === 'events' ? wb.paths.events : wb.paths.enhanced[file]
        const [ta, tb] = [mask(await collectBytes(readChunkFile(pa))), mask(await collectBytes(readChunkFile(pb)))]
        assert.ok(ta.length > 0)
        assert.equal(tb, ta, file)
      }
      assert.equal(seen.b!.length, 153)
      assert.equal(seen.b!.map(mask).join(''), seen.a!.map(mask).join(''))
      for (const day of ['2026-11-22.00:00:00.log', '2026-11-23.00:00:00.log']) {
        const [ta, tb] = [a, b].map((dir) => mask(fs.readFileSync(path.join(dir, 'log', common.server_id, day))))
        assert.ok(ta!.includes('"n":74}') === day.startsWith('2026-11-22'), day)
        assert.equal(tb, ta, day)
      }
    } finally {
      removeDir(a)
      removeDir(b)
    }
  })

  it('applies backpressure: print() returns false above the high-water mark and drained() resolves', async () => {
    const writer = await newWriter(dataDir, {highWaterMark: 256 * 1024})
    let sawFalse = false
    for (let i = 0; i < 64; i++) {
      if (!writer.print(randomBytes(64 * 1024))) {
        sawFalse = true
        await writer.drained()
        assert.ok(writer.pendingBytes <= 128 * 1024 + 64 * 1024 * 2)
      }
    }
    assert.ok(sawFalse)
    const result = await writer.end({interactive: true})
    assert.equal(result.completed, true)
  })
})

function listTree(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
      const full = path.join(dir, entry.name)
      out.push(`${path.relative(root, full)}:${entry.isDirectory() ? 'd' : fs.statSync(full).size}`)
      if (entry.isDirectory()) walk(full)
    }
  }
  walk(root)
  return out.sort()
}

// replay --format teleport: the ProtoStream file decoded by a second, independent decoder
// (test/helpers/protostream-decode.ts: its own framing and protobuf field tables),
// checked field by field against the source recording; and `replay FILE.tar` reading one back.
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as zlib from 'node:zlib'

import type {AuditEvent} from '../../src/events/types.js'
import {exportProtoStream} from '../../src/replay/protostream/index.js'
import {readTimeline} from '../../src/replay/timeline.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {findSessions, readSessionChunks, readSessionEvents} from '../../src/storage/index.js'
import {hasStackTrace, runCli} from '../helpers/cli.js'
import {DEMO_START, collect, collectBytes, command, common, writeDemoSession} from '../helpers/recordings.js'
import {type Decoded, fields, int, parseFile, str, strs, sub, time} from '../helpers/protostream-decode.js'
import {removeDir, tempDir} from '../helpers/temp.js'

// ------------------------------------------------------------ the field check

/** The common blocks' field numbers per message (they differ: resize and session.end swap 4 and 5). */
const SERVER_AT: Record<string, number> = {
  'session.start': 4,
  resize: 5,
  'session.end': 5,
  'session.command': 4,
  'session.disk': 4,
  'session.network': 4,
  'session.data': 4,
}

function checkAgainst(d: Decoded, src: AuditEvent): void {
  const s = src as unknown as Record<string, unknown>
  assert.equal(d.event, src.event)
  assert.equal(d.uid, src.uid)
  assert.equal(d.code, src.code)
  assert.equal(d.time, src.time)
  assert.equal(d.cluster, src.cluster_name)
  const user = sub(d.f, 2)
  assert.equal(str(user, 1), src.user)
  assert.equal(str(user, 2), src.login)
  assert.equal(str(sub(d.f, 3), 1), src.sid)
  const server = sub(d.f, SERVER_AT[d.type]!)
  assert.equal(str(server, 1), 'default')
  assert.equal(str(server, 2), src.server_id)
  assert.equal(str(server, 3), src.server_hostname)
  const f = d.f
  switch (d.type) {
    case 'session.start':
      assert.equal(str(f, 6), s.size)
      assert.deepEqual(strs(f, 9), s.initial_command ?? [])
      break
    case 'resize':
      assert.equal(str(f, 6), s.size)
      break
    case 'session.end':
      assert.equal(int(f, 6), 1, 'enhanced_recording')
      assert.equal(int(f, 7), s.interactive ? 1 : 0)
      assert.deepEqual(strs(f, 8), s.participants)
      assert.equal(time(f, 9), s.session_start)
      assert.equal(time(f, 10), s.session_stop)
      break
    case 'session.command':
    case 'session.disk':
    case 'session.network': {
      const bpf = sub(f, 5)
      assert.equal(int(bpf, 1), s.pid)
      assert.equal(int(bpf, 2), s.cgroup_id)
      assert.equal(str(bpf, 3), s.program)
      if (d.type === 'session.command') {
        assert.equal(int(f, 6), s.ppid)
        assert.equal(str(f, 7), s.path)
        assert.deepEqual(strs(f, 8), s.argv)
        assert.equal(int(f, 9), s.return_code)
      } else if (d.type === 'session.disk') {
        assert.equal(str(f, 6), s.path)
        assert.equal(int(f, 7), s.flags)
        assert.equal(int(f, 8), s.return_code)
      } else {
        assert.equal(str(f, 6), s.src_addr)
        assert.equal(str(f, 7), s.dst_addr)
        assert.equal(int(f, 8), s.dst_port)
        assert.equal(int(f, 9), s.version)
        assert.equal(int(f, 10), s.operation)
        assert.equal(int(f, 11), s.action)
      }
      break
    }
  }
}

/** Teleport's string cut (docs/protostream.md): JSON-quoted length ≤ n, counted in code points. */
function teleportTrim(s: string, n: number): string {
  let count = 2
  let out = ''
  for (const ch of s) {
    if (count + 1 > n) return out
    count += ch === '"' || ch === '\\' ? 2 : 1
    out += ch
  }
  return out
}

// ------------------------------------------------------------ tests

const BIG_SID = '7e1e0000-0000-4000-8000-000000000022'

describe('replay --format teleport (ProtoStream V1)', () => {
  let dataDir: string
  let outDir: string

  before(async () => {
    dataDir = tempDir()
    outDir = tempDir()
    await writeDemoSession(dataDir)
    // Over the limits: a 150 KiB write (split into prints), a command whose argv is 100 KiB
    // (trimmed), a hostile argv, a cgroup escape (no Teleport event), non-ASCII output.
    const w = await SessionWriter.create({dataDir, sid: BIG_SID, common: common(), startedAt: DEMO_START})
    w.emit({event: 'session.start', size: '120:40', interactive: true}, DEMO_START)
    const big = Buffer.alloc(150 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = i % 251
    w.print(big, DEMO_START + 10)
    const argv = Array.from({length: 10}, (_, i) => `${i}"\\`.padEnd(10 * 1024, String.fromCharCode(97 + i)))
    w.emit(command(300, '/usr/bin/printf', argv), DEMO_START + 20)
    w.emit(command(301, '/bin/echo', ['<script>alert(1)</script>', '</script>', '\x1b]52;c;aGk=\x07']), DEMO_START + 30)
    w.emit({event: 'session.cgroup_escape', pid: 302, cgroup_id: 1, program: 'sh', new_cgroup_id: 7, new_cgroup_path: '/x'} as never, DEMO_START + 40)
    w.print(Buffer.from('héllo ✓ \x1b[6n\r\n'), DEMO_START + 50)
    await w.end({interactive: true, exit_code: 3, lost_events: {command: 0, disk: 0, network: 0}}, DEMO_START + 60)
  })
  after(() => {
    removeDir(dataDir)
    removeDir(outDir)
  })

  for (const sidPrefix of ['86aca627', '7e1e0000']) {
    it(`${sidPrefix}: every field of every event, byte-exact output, framing`, async () => {
      const ref = findSessions(dataDir).find((r) => r.sid.startsWith(sidPrefix))!
      const file = path.join(outDir, `${ref.sid}.tar`)
      const r = runCli(['replay', sidPrefix, '--data-dir', dataDir, '--format', 'teleport', '-o', file])
      assert.equal(r.status, 0, r.stderr)
      assert.ok(!hasStackTrace(r.stderr))
      const parsed = parseFile(fs.readFileSync(file))
      assert.deepEqual(parsed.parts, [{version: 1, partSize: parsed.parts[0]!.partSize, padding: 0}])
      assert.deepEqual(
        parsed.records.map((d) => d.ei),
        parsed.records.map((_, i) => i),
        'ei strictly increasing from 0 without gaps',
      )

      const source = await collect(readSessionEvents(ref))
      const byUid = new Map(source.map((e) => [e.uid, e]))
      const output = await collectBytes(readSessionChunks(ref))
      // Prints: the output byte-exact, ci 0.., offset = bytes before, bytes = len(Data), ms from the source.
      const prints = parsed.records.filter((d) => d.type === 'print')
      const data = prints.map((d) => fields(d.message).find((x) => x.n === 3)!.b!)
      assert.ok(Buffer.concat(data).equals(output), 'terminal data byte-exact')
      let offset = 0
      const sourcePrints = source.filter((e) => e.event === 'print')
      for (const [i, d] of prints.entries()) {
        assert.equal(d.event, 'print')
        assert.equal(d.code, undefined, 'a print has no code')
        assert.equal(d.uid, undefined, 'a print has no uid')
        assert.equal(int(d.f, 2), i, 'ci')
        assert.equal(int(d.f, 4), data[i]!.length, 'bytes')
        assert.equal(int(d.f, 6), offset, 'offset')
        offset += data[i]!.length
        assert.ok(data[i]!.length <= 60 * 1024)
        // The source print holding this chunk's first byte gives ms and time.
        const from = sourcePrints.find(
          (p) =>
            (p as {offset: number}).offset <= offset - data[i]!.length &&
            (p as {offset: number}).offset + (p as {bytes: number}).bytes > offset - data[i]!.length,
        )!
        assert.equal(int(d.f, 5), (from as {ms: number}).ms, 'ms')
        assert.equal(d.time, from.time)
      }
      // Every other event: found by uid, every field as in the source.
      const others = parsed.records.filter((d) => d.type !== 'print')
      for (const d of others) {
        const src = byUid.get(d.uid!)
        assert.ok(src, `event ${d.uid} comes from the recording`)
        if (d.event === 'session.command' && (src as {argv: string[]}).argv.join('').length > 65536) continue // trimmed: next test
        checkAgainst(d, src)
      }
      const expected = source.filter((e) => e.event !== 'print' && e.event !== 'session.cgroup_escape').map((e) => e.uid)
      assert.deepEqual(new Set(others.map((d) => d.uid)), new Set(expected), 'every event but print (split) and cgroup escape, once')
      assert.equal(parsed.records[0]!.type, 'session.start')
      assert.equal(parsed.records.at(-1)!.type, 'session.end')
      // Time order: ms of prints never goes back.
      const ms = prints.map((d) => int(d.f, 5))
      assert.deepEqual(
        ms,
        [...ms].sort((a, b) => a - b),
      )
    })
  }

  it('splits a 150 KiB write into prints within the limit and trims a 100 KiB argv as Teleport does', async () => {
    const file = path.join(outDir, `${BIG_SID}.tar`)
    const r = runCli(['replay', BIG_SID, '--data-dir', dataDir, '--format', 'teleport', '-o', file])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /session\.command \(ei \d+\) was \d+ bytes, over Teleport's 65536-byte limit: argv shortened to \d+ bytes/)
    assert.match(r.stderr, /left out \(Teleport has no such event\): 1 session\.cgroup_escape/)
    const parsed = parseFile(fs.readFileSync(file))
    const prints = parsed.records.filter((d) => d.type === 'print')
    assert.equal(prints.length, 4, '150 KiB in three prints, then the last write')
    assert.deepEqual(
      prints.slice(0, 3).map((d) => int(d.f, 5)),
      [10, 10, 10],
      'the pieces of one write share its time',
    )
    for (const d of parsed.records) assert.ok(d.oneofSize <= 65536)

    const source = await collect(readSessionEvents(findSessions(dataDir).find((x) => x.sid === BIG_SID)!))
    const src = source.find((e) => e.event === 'session.command' && (e as {pid: number}).pid === 300) as unknown as {argv: string[]; path: string}
    const d = parsed.records.find((x) => x.uid === (src as unknown as AuditEvent).uid)!
    // What Teleport's TrimToMaxSize does: the size of the message without path and argv, a tenth
    // of the limit as ballast, the rest shared by the non-empty strings (path + 10 arguments).
    const rest = d.message.length - d.f.filter((x) => x.n === 7 || x.n === 8).reduce((sum, x) => sum + x.size, 0)
    const share = Math.trunc((65536 - 6553 - rest) / 11)
    assert.equal(str(d.f, 7), teleportTrim(src.path, share))
    assert.equal(str(d.f, 7), '/usr/bin/printf', 'a short path stays whole')
    assert.deepEqual(
      strs(d.f, 8),
      src.argv.map((a) => teleportTrim(a, share)),
    )
    // Each argument starts with a quote and a backslash: they count twice.
    assert.equal(strs(d.f, 8)[0]!.length, share - 2 - 2)
    assert.ok(d.message.length <= 65536)
    const hostile = parsed.records.find((x) => x.type === 'session.command' && str(x.f, 7) === '/bin/echo')!
    assert.deepEqual(strs(hostile.f, 8), ['<script>alert(1)</script>', '</script>', '\x1b]52;c;aGk=\x07'], 'bytes kept as recorded')
    const end = parsed.records.at(-1)!
    assert.equal(end.type, 'session.end')
  })

  it('starts a new part (header + gzip member) when one is full; ei continues across parts', async () => {
    const ref = findSessions(dataDir).find((r) => r.sid === BIG_SID)!
    const file = path.join(outDir, 'parts.tar')
    const result = await exportProtoStream(readTimeline(ref), file, {partRecordBytes: 1024})
    const parsed = parseFile(fs.readFileSync(file))
    assert.equal(parsed.parts.length, result.parts)
    assert.ok(parsed.parts.length >= 4, `${parsed.parts.length} parts`)
    assert.ok(parsed.parts.every((p) => p.version === 1 && p.padding === 0))
    assert.deepEqual(
      parsed.records.map((d) => d.ei),
      parsed.records.map((_, i) => i),
    )
    assert.ok(new Set(parsed.records.map((d) => d.part)).size === parsed.parts.length)
    // And er-shell reads it back: the same text as the session's own.
    const fromFile = runCli(['replay', file, '--format', 'text'])
    const fromSession = runCli(['replay', BIG_SID, '--data-dir', dataDir, '--format', 'text'])
    assert.equal(fromFile.status, 0, fromFile.stderr)
    assert.equal(fromFile.stdout, fromSession.stdout)
    // And converts to the HTML page, its commands in the timeline, its integrity said unknown.
    const html = path.join(outDir, 'parts.html')
    const page = runCli(['replay', file, '--format', 'html', '-o', html])
    assert.equal(page.status, 0, page.stderr)
    const text = fs.readFileSync(html, 'utf8')
    const timeline = /<script type="application\/json" class="er-timeline">(.*?)<\/script>/.exec(text)?.[1] ?? ''
    assert.ok(timeline.includes(`"/bin/echo '\\u003cscript\\u003ealert(1)\\u003c/script\\u003e'`), timeline.slice(0, 300))
    assert.ok(text.includes('["integrity","unknown (a Teleport recording file)",""]'), 'integrity unknown')
  })
})

// ------------------------------------------------------------ reading Teleport's files

/** A part header: version, PartSize, PaddingSize (big-endian uint64s), then flags for V2. */
function part(records: Buffer[], options: {version?: number; padding?: number; flags?: number} = {}): Buffer {
  const body = records.length === 0 ? Buffer.alloc(0) : zlib.gzipSync(Buffer.concat(records.map((r) => Buffer.concat([u32(r.length), r]))))
  const version = options.version ?? 1
  const header = Buffer.alloc(version === 1 ? 24 : 32)
  header.writeBigUInt64BE(BigInt(version), 0)
  header.writeBigUInt64BE(BigInt(body.length), 8)
  header.writeBigUInt64BE(BigInt(options.padding ?? 0), 16)
  if (version !== 1) header[24] = options.flags ?? 0
  return Buffer.concat([header, body, Buffer.alloc(options.padding ?? 0)])
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/** docs/protostream.md's worked example: SessionPrint{ei 1, "print", 2024-01-01T00:00:00Z, Data "hi", Bytes 2}, as Teleport encodes it. */
const EXAMPLE_PRINT = Buffer.from('3a190a1108011205' + '7072696e74' + '2a060880 81c8ac06'.replace(' ', '') + '1a026869' + '2002', 'hex')

/** A SessionPrint by hand: Metadata{Index, Type, Time}, Data, Bytes, DelayMilliseconds. */
function handPrint(ei: number, text: string, ms: number): Buffer {
  const data = Buffer.from(text)
  const md = Buffer.concat([Buffer.of(0x08, ei, 0x12, 5), Buffer.from('print'), Buffer.from('2a060880 81c8ac06'.replace(' ', ''), 'hex')])
  const body = Buffer.concat([Buffer.of(0x0a, md.length), md, Buffer.of(0x1a, data.length), data, Buffer.of(0x20, data.length, 0x28, ms)])
  return Buffer.concat([Buffer.of(0x3a, body.length), body])
}

describe('replay FILE.tar (a Teleport ProtoStream recording)', () => {
  let dir: string
  before(() => {
    dir = tempDir()
  })
  after(() => removeDir(dir))

  const write = (name: string, data: Buffer): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, data)
    return file
  }

  it("plays the reference record from Teleport's encoding, through the terminal safety filter", () => {
    const file = write('0a4ed1d2-4f16-4a3e-9b6e-3a0e1f1b2c3d.tar', part([EXAMPLE_PRINT, handPrint(2, ' \x1b]52;c;aGk=\x07\x1b[6nthere', 5)]))
    const r = runCli(['replay', file])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'hi there')
    const raw = runCli(['replay', file, '--no-filter'])
    assert.equal(raw.stdout, 'hi \x1b]52;c;aGk=\x07\x1b[6nthere')
    const json = runCli(['replay', file, '--format', 'json'])
    assert.equal(JSON.parse(json.stdout.split('\n')[0]!).time, '2024-01-01T00:00:00.000Z')
  })

  it('reads several parts, padding and an empty part; skips an event whose ei does not rise, with a warning', () => {
    const file = write(
      'parts.tar',
      Buffer.concat([
        part([handPrint(0, 'a', 0)], {padding: 7}),
        part([]),
        part([handPrint(1, 'b', 1), handPrint(1, 'X', 2)], {version: 2}),
        part([handPrint(5, 'c', 3)]),
      ]),
    )
    const r = runCli(['replay', file, '--format', 'text'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'abc')
    assert.match(r.stderr, /1 events skipped: their index \(ei\) was not above every earlier one/)
  })

  it("reads only a part's first gzip member, as Teleport's reader does (multistream off)", () => {
    const one = part([handPrint(0, 'kept', 0)])
    const second = zlib.gzipSync(Buffer.concat([u32(handPrint(1, 'lost', 1).length), handPrint(1, 'lost', 1)]))
    const header = Buffer.from(one.subarray(0, 24))
    header.writeBigUInt64BE(BigInt(one.length - 24 + second.length), 8)
    const file = write('two-members.tar', Buffer.concat([header, one.subarray(24), second, part([handPrint(2, '+next part', 2)])]))
    const r = runCli(['replay', file, '--format', 'text'])
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'kept+next part')
  })

  for (const [name, data, message] of [
    ['future.tar', part([handPrint(0, 'a', 0)], {version: 3}), /not a Teleport session recording \(ProtoStream\): the first 8 bytes read as format version 3/],
    ['encrypted.tar', part([handPrint(0, 'a', 0)], {version: 2, flags: 1}), /encrypted/],
    ['cut.tar', part([handPrint(0, 'a', 0), handPrint(1, 'b', 0)]).subarray(0, 40), /announces \d+ bytes, the file has \d+ left/],
    ['zero.tar', part([Buffer.alloc(0)]), /a record of size 0/],
    [
      'crc.tar',
      ((p: Buffer) => (p.writeUInt32LE((p.readUInt32LE(p.length - 8) ^ 1) >>> 0, p.length - 8), p))(part([handPrint(0, 'a', 0)])),
      /CRC-32 does not match/,
    ],
    [
      'no-trailer.tar',
      ((p: Buffer) => (p.writeBigUInt64BE(p.readBigUInt64BE(8) - 8n, 8), p.subarray(0, p.length - 8)))(part([handPrint(0, 'a', 0)])),
      /no trailer/,
    ],
    ['empty-oneof.tar', part([Buffer.of(0x08, 0x01)]), /an empty event/],
    ['desktop.tar', part([Buffer.from('da0300', 'hex')]), /a Windows desktop session, not a terminal session/],
    ['text.tar', Buffer.from('this is not a recording at all, no no no\n'), /not a Teleport session recording/],
  ] as const) {
    it(`refuses ${name} with one line`, () => {
      const r = runCli(['replay', write(name, data as Buffer)])
      assert.notEqual(r.status, 0)
      assert.ok(!hasStackTrace(r.stderr), r.stderr)
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, message as RegExp)
    })
  }
})

// The audit event lines of kernel events, written by native/src/lines.cc alone, checked without a
// kernel on real records (test/engine/fixtures/wire/, made by record.ts there): against the golden lines,
// and against an independent reading of the same records (helpers/wire.ts decodes them, the body
// is built here as docs/event-schema.md says, and the session events' formatter writes the line). Also
// random bytes and paths through the text encoder and the path functions, and hand-made records:
// IPv6 text forms (RFC 5952) and records whose lengths do not add up.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join, posix} from 'node:path'
import {describe, it} from 'node:test'

import {safeJson} from '../../src/events/escape.js'
import {EventLineFormatter} from '../../src/events/stamp.js'
import type {EmittableBody} from '../../src/events/types.js'
import {loadNative, loadNativeTest} from '../../src/native/index.js'
import {FIXTURE_COMMON, FIXTURE_SID, type FixtureMeta, ZERO_UID, goldenLines} from './fixtures/wire/fixtures.js'
import {ROOT} from '../helpers/cli.js'
import {type KernelEvent, createDecoder} from '../helpers/wire.js'

const FIXTURES = join(ROOT, 'test', 'engine', 'fixtures', 'wire')
const SCENARIOS = ['exec', 'open', 'connect', 'migrate'] as const

const meta = JSON.parse(readFileSync(join(FIXTURES, 'meta.json'), 'utf8')) as FixtureMeta
const formatter = new EventLineFormatter(FIXTURE_SID, FIXTURE_COMMON)
const format = formatter.lineFormat()
const records = (name: string): Buffer => readFileSync(join(FIXTURES, `${name}.bin`))
const golden = (name: string): string[] =>
  readFileSync(join(FIXTURES, `${name}.jsonl`), 'utf8')
    .split(/(?<=\n)/)
    .filter(Boolean)

/** The event body of a record as docs/event-schema.md describes it; undefined for a move inside the session. */
function expectedBody(ev: KernelEvent): EmittableBody | undefined {
  const task = ev.task
  const base = {
    pid: task.pid,
    cgroup_id: Number(task.cgroupId),
    program: task.program,
    ...(task.auditSessionId === undefined ? {} : {audit_session_id: task.auditSessionId}),
  }
  switch (ev.kind) {
    case 'exec':
      return {
        event: 'session.command',
        ...base,
        ppid: task.ppid,
        path: ev.path,
        argv: ev.argv,
        return_code: ev.returnCode,
        ...(ev.argvTruncated ? {argv_truncated: true} : {}),
        ...(ev.exe ? {exe: ev.exe} : {}),
      }
    case 'open':
      return {event: 'session.disk', ...base, path: ev.resolvedPath ?? ev.path, flags: ev.flags, return_code: ev.returnCode}
    case 'connect':
      return {
        event: 'session.network',
        ...base,
        src_addr: ev.srcAddr,
        dst_addr: ev.dstAddr,
        dst_port: ev.dstPort,
        version: ev.version,
        operation: 0,
        action: 0,
      }
    case 'migrate': {
      const rel = meta.sessionCgroupRel
      if (ev.dstPath === rel || ev.dstPath.startsWith(`${rel}/`)) return undefined
      return {
        event: 'session.cgroup_escape',
        pid: ev.movedPid,
        program: ev.movedPid === task.pid ? task.program : '',
        cgroup_id: Number(meta.sessionCgroupId),
        new_cgroup_id: Number(ev.dstCgroupId),
        new_cgroup_path: ev.dstPath,
      }
    }
  }
}

function parsed(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe('kernel event lines from recorded wire records (test/engine/fixtures/wire)', () => {
  for (const name of SCENARIOS) {
    it(`${name}: the formatter writes the golden lines`, () => {
      const r = goldenLines(records(name), format, meta)
      assert.equal(r.malformed, 0)
      assert.deepEqual(r.lines, golden(name))
    })

    it(`${name}: each line is what the record says, as the session events' formatter writes it`, () => {
      const decoded = createDecoder(loadNative().layout(), meta.wallOffsetMs)(records(name))
      assert.deepEqual(decoded.malformed, {command: 0, disk: 0, network: 0})
      const expected = decoded.events.flatMap((ev) => {
        const body = expectedBody(ev)
        return body ? [formatter.line(body, 0, ev.timeMs, ZERO_UID)] : []
      })
      assert.ok(expected.length > 0)
      assert.deepEqual(golden(name), expected)
    })
  }

  it('exec: hostile argv (controls, invalid UTF-8, C1 and bidi controls, long), failed and #! execs', () => {
    const lines = golden('exec')
    const events = parsed(lines)
    const mine = events.filter((e) => JSON.stringify(e).includes('fixture-'))
    const hostile = mine.find((e) => (e.argv as string[])[0] === 'fixture-exec' && e.return_code === 0)
    assert.ok(hostile, 'the exec with hostile arguments')
    const argv = hostile.argv as string[]
    assert.equal(argv[1], '"quote" back\\slash')
    assert.equal(argv[2], 'ctl\x01\x07\b\f\n\r\t\x1b\x1f\x7f')
    assert.ok(argv[3]!.includes('\ufffd\ufffd utf8 \ufffd trunc'), argv[3])
    assert.equal(argv[6], '')
    assert.equal(argv[7], 'x'.repeat(5000))
    const line = lines.find((l) => l.includes('"argv":["fixture-exec"') && l.includes('"return_code":0'))!
    for (const escaped of ['\\u001b', '\\u007f', '\\u009b', '\\u202e', '\\u2066', '\\u200f', '\\u061c']) {
      assert.ok(line.includes(escaped), `${escaped} escaped`)
    }
    assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/.test(line.slice(0, -1)), 'no raw control left in the line')
    const failed = mine.find((e) => e.return_code === -2)
    assert.ok(failed, 'the failed exec')
    assert.equal(failed.path, '/nonexistent/\ufffd"path')
    assert.ok(
      mine.some((e) => JSON.stringify(e.argv) === '["fixture-script-arg"]'),
      "the script's argv without the interpreter's",
    )
    const many = mine.find((e) => (e.argv as string[])[0] === 'fixture-many')
    assert.equal((many?.argv as string[]).length, 301, 'all 300 arguments')
  })

  it('open: resolved, joined with the cwd or a dirfd, normalized, or as passed', () => {
    const paths = parsed(golden('open')).map((e) => e.path as string)
    const created = paths.find((p) => p.endsWith('/d/fixture-open-created'))
    assert.ok(created, 'an opened file, resolved')
    const d = posix.dirname(created)
    assert.ok(paths.includes(`${d}/x`), 'a failed relative open, joined with the cwd')
    assert.ok(paths.includes(`${d}/`), "a failed absolute open, normalized ('..', trailing '/' kept)")
    assert.ok(paths.includes(`${d}/bad-\ufffd-name-fixture-open\u001b[31m`), 'invalid UTF-8 and an escape in a created name')
    assert.ok(paths.includes('/nonexistent-fixture-open/a'), 'a failed absolute open, normalized')
    assert.ok(paths.includes('/nonexistent-fixture-open/trailing/'), "normalize keeps a trailing '/'")
    assert.ok(paths.includes(`${d}/sub/missing-fixture-open-at`), 'a failed open joined with its dirfd')
  })

  it('connect: IPv4, IPv6 and IPv4-mapped', () => {
    const addrs = parsed(golden('connect')).map((e) => `${String(e.version)} ${String(e.dst_addr)}`)
    for (const want of ['4 127.0.0.1', '6 ::1', '6 ::ffff:127.0.0.1']) assert.ok(addrs.includes(want), want)
  })

  it('migrate: a move out of the session is an escape', () => {
    const events = parsed(golden('migrate'))
    assert.equal(events.length, 1)
    assert.equal(events[0]!.event, 'session.cgroup_escape')
    assert.equal(events[0]!.code, 'ERS0001W')
    assert.equal(events[0]!.program, 'sh', 'the process moved itself')
    assert.equal(events[0]!.cgroup_id, Number(meta.sessionCgroupId))
    assert.ok(!String(events[0]!.new_cgroup_path).startsWith(meta.sessionCgroupRel))
  })
})

describe('kernel event lines from hand-made records', () => {
  const layout = loadNative().layout()
  const co = layout.structs.er_connect!
  const connect = (): Buffer => {
    const all = records('connect')
    return Buffer.from(all.subarray(0, all.readUInt32LE(layout.structs.er_hdr!.offsets.size!)))
  }
  const format1 = (rec: Buffer): {lines: string[]; malformed: number} => goldenLines(rec, format, meta)

  it('writes IPv6 addresses as RFC 5952 says: longest zero run compressed, first on a tie, IPv4-mapped mixed', () => {
    const cases: Array<[string, string]> = [
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
      ['fe80:0:0:0:abcd:0:0:0', 'fe80::abcd:0:0:0'],
      ['0:0:0:0:0:ffff:7f00:1', '::ffff:127.0.0.1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ]
    for (const [groups, text] of cases) {
      const rec = connect()
      rec.writeUInt16LE(10, co.offsets.family!)
      groups.split(':').forEach((g, i) => rec.writeUInt16BE(parseInt(g, 16), co.offsets.daddr! + 2 * i))
      const [line] = format1(rec).lines
      assert.equal((JSON.parse(line!) as {dst_addr: string; version: number}).dst_addr, text, groups)
    }
  })

  it('writes no line for a move into the session cgroup or below it, and one for a sibling with its name as prefix', () => {
    const mi = layout.structs.er_migrate!
    const escape = records('migrate')
    const moved = (path: string): Buffer => {
      const rec = Buffer.concat([escape.subarray(0, mi.size), Buffer.from(`${path}\0`)])
      rec.writeUInt32LE(rec.length, layout.structs.er_hdr!.offsets.size!)
      rec.writeUInt32LE(path.length + 1, mi.offsets.path_len!)
      return rec
    }
    const rel = meta.sessionCgroupRel
    assert.deepEqual(format1(moved(rel)), {lines: [], malformed: 0})
    assert.deepEqual(format1(moved(`${rel}/child/grandchild`)), {lines: [], malformed: 0})
    const [line] = format1(moved(`${rel}-sibling`)).lines
    assert.equal((JSON.parse(line!) as {new_cgroup_path: string}).new_cgroup_path, `${rel}-sibling`)
  })

  it('counts a record whose lengths do not add up, or of an unknown type, as malformed, and writes no line', () => {
    const exec = records('exec')
    const ex = layout.structs.er_exec!
    const first = Buffer.from(exec.subarray(0, exec.readUInt32LE(layout.structs.er_hdr!.offsets.size!)))
    first.writeUInt32LE(first.readUInt32LE(ex.offsets.args_len!) + 1, ex.offsets.args_len!)
    assert.deepEqual(format1(first), {lines: [], malformed: 1})
    const unknown = connect()
    unknown.writeUInt32LE(77, layout.structs.er_hdr!.offsets.type!)
    assert.deepEqual(format1(unknown), {lines: [], malformed: 1})
    const short = connect().subarray(0, co.size - 8)
    short.writeUInt32LE(short.length, layout.structs.er_hdr!.offsets.size!)
    assert.deepEqual(format1(short), {lines: [], malformed: 1})
  })
})

/** A small deterministic generator: rand(n) is in 0..n-1 (the high bits of a 31-bit LCG). */
function seeded(seed: number): (n: number) => number {
  return (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff
    return (seed >>> 8) % n
  }
}

describe('native event text and paths', () => {
  it('normalizes and resolves paths exactly as path.posix does', () => {
    const native = loadNativeTest()
    const rand = seeded(11)
    const parts = ['a', 'bc', '.', '..', '...', '/', '//', '.a', 'a.', '\ufffd']
    const path = (absolute: boolean): string => {
      let p = absolute ? '/' : ''
      for (let n = rand(8); n > 0; n--) p += parts[rand(parts.length)]!
      return absolute ? p : p.replace(/^\/+/, '') || 'a'
    }
    for (let i = 0; i < 20000; i++) {
      const abs = path(true)
      assert.equal(native.normalizePath(Buffer.from(abs)).toString(), posix.normalize(abs), `normalize ${JSON.stringify(abs)}`)
      const rel = path(false)
      assert.equal(native.resolvePath(Buffer.from(abs), Buffer.from(rel)).toString(), posix.resolve(abs, rel), `resolve ${JSON.stringify([abs, rel])}`)
    }
  })

  it('encodes random bytes exactly as Buffer.toString and safeJson (JSON.stringify, controls escaped) do', () => {
    const native = loadNativeTest()
    const rand = seeded(7)
    // Bytes around UTF-8's boundaries are far more likely than uniform bytes would make them.
    const interesting = [
      0x00, 0x01, 0x08, 0x09, 0x0a, 0x1f, 0x20, 0x22, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
      0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff,
    ]
    for (let i = 0; i < 20000; i++) {
      const bytes = Buffer.alloc(rand(12))
      for (let j = 0; j < bytes.length; j++) bytes[j] = rand(3) === 0 ? rand(256) : interesting[rand(interesting.length)]!
      const expected = safeJson(bytes.toString('utf8')).slice(1, -1)
      assert.equal(native.jsonText(bytes), expected, `bytes ${bytes.toString('hex')}`)
    }
  })

  it('escapes DEL, C1 and bidi controls as safeJson does, and nothing next to them', () => {
    const native = loadNativeTest()
    const controls = ['\u007f', '\u0080', '\u0085', '\u009b', '\u009d', '\u009f', '\u061c', '\u200e', '\u200f', '\u202a', '\u202e', '\u2066', '\u2069']
    const neighbours = ['\u00a0', '\u061b', '\u061d', '\u200d', '\u2010', '\u2029', '\u202f', '\u2065', '\u206a', '\u0600', 'Ā', '€', 'x']
    for (const text of [...controls, ...neighbours, controls.join(''), `a${controls.join('b')}c${neighbours.join('')}`]) {
      const expected = safeJson(text).slice(1, -1)
      assert.equal(native.jsonText(Buffer.from(text)), expected, JSON.stringify(text))
      assert.equal(JSON.parse(`"${expected}"`), text)
    }
    assert.equal(native.jsonText(Buffer.from('\u009b6n\u202e')), '\\u009b6n\\u202e')
  })
})

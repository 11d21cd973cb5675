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
const SCENARIOS = ['exec', 'open', 'network', 'migrate', 'exit'] as const

const meta = JSON.parse(readFileSync(join(FIXTURES, 'meta.json'), 'utf8')) as FixtureMeta
const formatter = new EventLineFormatter(FIXTURE_SID, FIXTURE_COMMON)
const format = formatter.lineFormat()
const records = (name: string): Buffer => readFileSync(join(FIXTURES, `${name}.bin`))
const golden = (name: string): string[] =>
  readFileSync(join(FIXTURES, `${name}.jsonl`), 'utf8')
    .split(/(?<=\n)/)
    .filter(Boolean)

/** Signal names (Linux's generic numbering, x86_64 and arm64 alike) for the signals the fixtures use. */
const SIGNALS: Record<number, string> = {3: 'SIGQUIT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM'}

const DNS_TYPES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  64: 'SVCB',
  65: 'HTTPS',
  255: 'ANY',
  257: 'CAA',
}

/** A DNS query's question as docs/event-schema.md describes it (RFC 1035 presentation form), read here independently. */
function dnsQuestion(m: Buffer): {dns_name: string; dns_type: string} | undefined {
  const labels: string[] = []
  let i = 12
  for (;;) {
    if (i >= m.length) return undefined
    const len = m[i++]!
    if (len === 0) break
    if (len & 0xc0 || i + len > m.length) return undefined
    let label = ''
    for (const c of m.subarray(i, i + len)) {
      if (c === 0x2e || c === 0x5c) label += `\\${String.fromCharCode(c)}`
      else if (c > 0x20 && c < 0x7f) label += String.fromCharCode(c)
      else label += `\\${String(c).padStart(3, '0')}`
    }
    labels.push(label)
    i += len
  }
  if (i + 2 > m.length) return undefined
  const type = m.readUInt16BE(i)
  return {dns_name: labels.length ? labels.join('.') : '.', dns_type: DNS_TYPES[type] ?? `TYPE${type}`}
}

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
        ...(ev.hostExe ? {host_exe: ev.hostExe} : {}),
      }
    case 'open':
      return {
        event: 'session.disk',
        ...base,
        path: ev.resolvedPath ?? ev.path,
        flags: ev.flags,
        return_code: ev.returnCode,
        ...(ev.hostPath ? {host_path: ev.hostPath} : {}),
      } as EmittableBody
    case 'network': {
      const dns = ev.dns.length > 0 ? dnsQuestion(ev.dns) : undefined
      return {
        event: 'session.network',
        ...base,
        src_addr: ev.srcAddr,
        dst_addr: ev.dstAddr,
        dst_port: ev.dstPort,
        version: ev.version,
        operation: ev.operation as 0 | 1,
        action: ev.action as 0 | 1,
        protocol: ev.protocol,
        ...(ev.operation === 1 && ev.action === 0 ? {sends: ev.sends} : {}),
        ...dns,
      } as EmittableBody
    }
    case 'exit': {
      const sig = ev.exitCode & 0x7f
      return {
        event: 'session.process_exit',
        ...base,
        ppid: task.ppid,
        ...(sig === 0 ? {exit_code: (ev.exitCode >> 8) & 0xff} : {signal: SIGNALS[sig] ?? `SIG${sig}`, ...(ev.exitCode & 0x80 ? {core_dumped: true} : {})}),
        elapsed_ms: Number((ev.endNs - ev.startNs) / 1000000n),
      } as EmittableBody
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

  it('network: TCP connects, folded UDP sends, DNS queries and denied attempts; IPv4, IPv6 and IPv4-mapped', () => {
    const events = parsed(golden('network'))
    const key = (e: Record<string, unknown>): string =>
      `${String(e.protocol)} op${String(e.operation)} act${String(e.action)} ${String(e.version)} ${String(e.dst_addr)}`
    const keys = events.map(key)
    for (const want of ['4 127.0.0.1', '6 ::1', '6 ::ffff:127.0.0.1']) assert.ok(keys.includes(`tcp op0 act0 ${want}`), `connect ${want}`)
    for (const want of ['4 127.0.0.1', '6 ::1', '6 ::ffff:127.0.0.1']) assert.ok(keys.includes(`udp op1 act0 ${want}`), `udp send ${want}`)
    // three sends to 127.0.0.1:9 within a second: a record for the first, the other two in the
    // record written when the capture stopped
    const sends = events.filter((e) => e.protocol === 'udp' && e.dst_addr === '127.0.0.1' && e.dst_port === 9).map((e) => e.sends)
    assert.deepEqual(sends, [1, 2])
    const dns = events.filter((e) => e.dns_name !== undefined).map((e) => `${String(e.protocol)} ${String(e.dns_name)} ${String(e.dns_type)}`)
    assert.deepEqual(dns, ['udp fixture.e\\.x AAAA', 'tcp fixture.e\\.x TXT'])
    const denied = events.filter((e) => e.action === 1).map(key)
    assert.deepEqual(denied, ['tcp op0 act1 4 127.0.0.2', 'udp op1 act1 4 127.0.0.2', 'tcp op0 act1 6 ::2', 'udp op1 act1 6 ::ffff:127.0.0.2'])
    for (const e of events.filter((e) => e.action === 1)) assert.equal(e.sends, undefined, 'a denied attempt is not folded')
  })

  it('exit: an exit status, a signal and a core dump, one event per process', () => {
    const events = parsed(golden('exit'))
    assert.ok(events.every((e) => e.event === 'session.process_exit' && e.code === 'ERS0002I'))
    const how = events.map((e) => (e.signal === undefined ? `exit ${String(e.exit_code)}` : `${String(e.signal)}${e.core_dumped === true ? ' core' : ''}`))
    for (const want of ['exit 7', 'SIGKILL', 'SIGQUIT core']) assert.ok(how.includes(want), `${want} in ${how.join(', ')}`)
    assert.ok(events.every((e) => typeof e.elapsed_ms === 'number' && e.elapsed_ms >= 0))
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
  const co = layout.structs.er_net!
  const connect = (): Buffer => {
    const all = records('network')
    return Buffer.from(all.subarray(0, all.readUInt32LE(layout.structs.er_hdr!.offsets.size!)))
  }
  /** The recorded UDP DNS query's record with `dns` as its DNS bytes. */
  const query = (dns: Buffer): Buffer => {
    const all = records('network')
    const hdr = layout.structs.er_hdr!
    for (let r = 0; r < all.length; r += all.readUInt32LE(r + hdr.offsets.size!)) {
      if (all.readUInt32LE(r + co.offsets.dns_len!) === 0 || all.readUInt8(r + co.offsets.protocol!) !== 17) continue
      const rec = Buffer.concat([all.subarray(r, r + co.size), dns])
      rec.writeUInt32LE(rec.length, hdr.offsets.size!)
      rec.writeUInt32LE(dns.length, co.offsets.dns_len!)
      return rec
    }
    throw new Error('no UDP DNS query in network.bin')
  }
  const question = (...labels: Buffer[]): Buffer =>
    Buffer.concat([
      Buffer.from('123401000001000000000000', 'hex'),
      ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), l])),
      Buffer.from([0, 0, 99, 0, 1]),
    ])

  it('writes a DNS question in presentation form: dots, backslashes and unprintable bytes escaped, unknown types as TYPEn', () => {
    const cases: Array<[Buffer, {dns_name?: string; dns_type?: string}]> = [
      [question(Buffer.from('www'), Buffer.from('example'), Buffer.from('com')), {dns_name: 'www.example.com', dns_type: 'TYPE99'}],
      [question(), {dns_name: '.', dns_type: 'TYPE99'}],
      [question(Buffer.from('a.b\\c'), Buffer.from([0x00, 0x20, 0x7f, 0xff, 0x22])), {dns_name: 'a\\.b\\\\c.\\000\\032\\127\\255"', dns_type: 'TYPE99'}],
      // cut inside the name, cut before the type, a compression pointer: no question fields
      [question(Buffer.from('www'), Buffer.from('example')).subarray(0, 18), {}],
      [question(Buffer.from('www')).subarray(0, 17), {}],
      [Buffer.concat([Buffer.from('123401000001000000000000', 'hex'), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), {}],
    ]
    for (const [dns, want] of cases) {
      const [line] = format1(query(dns)).lines
      const e = JSON.parse(line!) as {dns_name?: string; dns_type?: string; sends?: number}
      assert.deepEqual({dns_name: e.dns_name, dns_type: e.dns_type}, {dns_name: want.dns_name, dns_type: want.dns_type}, dns.toString('hex'))
      assert.equal(typeof e.sends, 'number')
    }
  })
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

  it('a chrooted open: the path below the process root, the whole resolved path as host_path', () => {
    const op = layout.structs.er_open!
    const all = records('open')
    const hdr = layout.structs.er_hdr!
    for (let r = 0; r < all.length; r += all.readUInt32LE(r + hdr.offsets.size!)) {
      const size = all.readUInt32LE(r + hdr.offsets.size!)
      if (all.readUInt32LE(r + op.offsets.res_kind!) !== layout.constants.ER_RES_FILE) continue
      const rec = Buffer.from(all.subarray(r, r + size))
      const [plain] = format1(rec).lines
      const path = (JSON.parse(plain!) as {path: string}).path
      const cut = path.indexOf('/', 1)
      rec.writeUInt32LE(cut, op.offsets.res_root!)
      const chrooted = JSON.parse(format1(rec).lines[0]!) as {path: string; host_path?: string}
      assert.deepEqual([chrooted.path, chrooted.host_path], [path.slice(cut), path])
      rec.writeUInt32LE(Buffer.byteLength(path), op.offsets.res_root!)
      const rootItself = JSON.parse(format1(rec).lines[0]!) as {path: string; host_path?: string}
      assert.deepEqual([rootItself.path, rootItself.host_path], ['/', path], 'the process root itself')
      return
    }
    assert.fail('no resolved open in open.bin')
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
    const dnsPastEnd = query(question(Buffer.from('x')))
    dnsPastEnd.writeUInt32LE(dnsPastEnd.readUInt32LE(co.offsets.dns_len!) + 1, co.offsets.dns_len!)
    assert.deepEqual(format1(dnsPastEnd), {lines: [], malformed: 1})
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

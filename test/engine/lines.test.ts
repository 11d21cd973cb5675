// The audit event lines the native addon writes on its poll thread (native/src/lines.h) are byte
// for byte what the JavaScript path writes for the same record (decoder → toAuditBody →
// EventLineFormatter), uid aside: on real execs, opens and connects with hostile bytes in them,
// and on random bytes and paths through the text encoder and the path functions.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, posix} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {cgroupId} from '../../src/cgroup/cgroup.js'
import {CaptureEngine} from '../../src/engine/capture.js'
import type {CapturedEvent, FormattedEvent} from '../../src/engine/events.js'
import {safeJson} from '../../src/events/escape.js'
import {EventLineFormatter} from '../../src/events/stamp.js'
import {loadNativeTest} from '../../src/native/index.js'
import {toAuditBody} from '../../src/record/mapping.js'
import {cleanupTestCgroups, makeTestCgroup, runInCgroup} from '../helpers/cgroups.js'
import {listen} from '../helpers/net.js'

const PY = '/usr/bin/python3'
const SID = '5b1e7a3c-0c2f-4d7e-9a55-3f1d2b6c8e90'
const COMMON = {
  cluster_name: 'c"l\\u\u2028ster',
  server_id: '0d9f7c1a-2b3e-4c5d-8e6f-7a8b9c0d1e2f',
  server_hostname: 'host\tname',
  login: 'root',
  user: 'ünïcode 😀',
}

describe('native event lines', () => {
  let cg: string
  let tmp: string
  let engine: CaptureEngine
  const events: CapturedEvent[] = []
  const formatter = new EventLineFormatter(SID, COMMON)

  before(() => {
    cg = makeTestCgroup('lines')
    tmp = mkdtempSync(join(tmpdir(), 'er-lines-'))
    engine = CaptureEngine.prepare({cgroupDir: cg, kinds: ['command', 'disk', 'network'], onEvents: (batch) => events.push(...batch)})
    engine.begin(formatter.lineFormat())
  })

  after(async () => {
    await engine?.stop()
    await cleanupTestCgroups()
    if (tmp) rmSync(tmp, {recursive: true, force: true})
  })

  /** Every formatted event's line against the JavaScript path's line for its own record. */
  function assertSameLines(formatted: FormattedEvent[]): void {
    for (const ev of formatted) {
      const decoded = ev.decode()
      assert.ok(decoded, 'the record decodes')
      const body = toAuditBody(decoded, {sessionCgroupId: cgroupId(cg), sessionCgroupRel: '/unused'})
      assert.ok(body)
      const native = `{"ei":7,${ev.tail}`
      const uid = /"uid":"([0-9a-f-]{36})"/.exec(native)?.[1]
      assert.ok(uid, `a uid in ${native}`)
      assert.match(uid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a version 4 UUID')
      assert.equal(native, formatter.line(body, 7, ev.timeMs, uid))
      assert.equal(Buffer.byteLength(ev.tail), ev.tailBytes)
      assert.equal(ev.event, body.event)
    }
  }

  it('writes exec lines identical to the JavaScript path, hostile bytes included', async () => {
    const script = join(tmp, 'hashbang')
    writeFileSync(script, '#!/bin/sh -e\nexit 0\n')
    chmodSync(script, 0o755)
    const args = [
      'lines-marker',
      '\\x22quote\\x22 back\\\\slash',
      'ctl\\x01\\x07\\x08\\x0c\\x0a\\x0d\\x09\\x1b\\x1f\\x7f',
      'bad\\xff\\xfe utf8 \\xc3 trunc \\xed\\xa0\\x80 surrogate \\xf0\\x9f\\x98 cut \\xe0\\x80\\xaf overlong \\xf4\\x90\\x80\\x80',
      'emoji \\xf0\\x9f\\x98\\x80 sep \\xe2\\x80\\xa8 bom \\xef\\xbb\\xbf',
      'c1 \\xc2\\x9b6n \\xc2\\x9d52;c;eA== \\xc2\\x85 bidi \\xe2\\x80\\xae \\xe2\\x81\\xa6 \\xe2\\x80\\x8f \\xd8\\x9c',
      '',
      'x'.repeat(3000),
    ]
    const py = `import os, sys
args = [a.encode('latin-1').decode('unicode_escape').encode('latin-1') for a in sys.argv[1:]]
if os.fork() == 0:
    os.execv(b'/bin/true', [b'true'] + args)
os.wait()
if os.fork() == 0:
    try:
        os.execv(b'/nonexistent/\\xff"path', [b'x'] + args[:2])
    except OSError:
        os._exit(0)
os.wait()
if os.fork() == 0:
    os.execv(b'${script}', [b'hashbang', b'lines-script-arg'])
os.wait()
`
    writeFileSync(join(tmp, 'lines.py'), py)
    const quoted = args.map((a) => `'${a}'`).join(' ')
    const r = await runInCgroup(cg, `${PY} ${join(tmp, 'lines.py')} ${quoted}`)
    assert.equal(r.code, 0, r.stderr)
    await new Promise((res) => setTimeout(res, 200))
    const formatted = events.filter((e): e is FormattedEvent => e.kind === 'formatted' && e.event === 'session.command')
    const mine = formatted.filter((e) => e.tail.includes('lines-marker') || e.tail.includes('lines-script-arg'))
    assert.equal(mine.length, 4, 'python itself, its exec, its failed exec and the script: all formatted natively')
    assert.ok(mine.some((e) => e.tail.includes('"return_code":-2')), 'the failed exec')
    assert.ok(mine.some((e) => e.tail.includes('\\ufffd') || e.tail.includes('\ufffd')), 'invalid UTF-8 replaced')
    assert.ok(mine.some((e) => e.tail.includes('"argv":["lines-script-arg"]')), "the script's argv without the interpreter's")
    assertSameLines(formatted)
  })

  it('writes open lines identical to the JavaScript path: resolved, joined, normalized or as passed', async () => {
    mkdirSync(join(tmp, 'd', 'sub'), {recursive: true})
    const py = `import os
os.chdir(${JSON.stringify(join(tmp, 'd'))})
def attempt(path, flags=os.O_RDONLY, dirfd=None):
    try:
        fd = os.open(path, flags, 0o640, dir_fd=dirfd) if dirfd is not None else os.open(path, flags, 0o640)
        os.close(fd)
    except OSError:
        pass
attempt(b'open-marker-created', os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
attempt(b'sub/../open-marker-created')
attempt(b'./missing-open-marker/../x')
attempt(b'${tmp}//d/./sub/../open-marker-created')
attempt(b'${tmp}/d/missing-open-marker/../../d/')
attempt(b'/nonexistent-open-marker/a/b/..')
attempt(b'/nonexistent-open-marker/trailing/')
attempt(b'bad-\\xff-name-open-marker', os.O_WRONLY | os.O_CREAT)
d = os.open(b'${tmp}/d/sub', os.O_RDONLY | os.O_DIRECTORY)
attempt(b'missing-open-marker-at', os.O_RDONLY, d)
attempt(b'../open-marker-created', os.O_RDONLY, d)
`
    writeFileSync(join(tmp, 'opens.py'), py)
    const r = await runInCgroup(cg, `${PY} ${join(tmp, 'opens.py')}`)
    assert.equal(r.code, 0, r.stderr)
    await new Promise((res) => setTimeout(res, 200))
    const formatted = events.filter((e): e is FormattedEvent => e.kind === 'formatted' && e.event === 'session.disk')
    const paths = formatted.map((e) => (JSON.parse(`{"ei":0,${e.tail}`) as {path: string}).path)
    assert.ok(paths.includes(join(tmp, 'd', 'open-marker-created')), 'an opened file, resolved')
    assert.ok(paths.includes(join(tmp, 'd', 'x')), 'a failed relative open, joined with the cwd')
    assert.ok(paths.includes(`${join(tmp, 'd')}/`), "a failed absolute open, normalized ('..', trailing '/' kept)")
    assert.ok(paths.includes(join(tmp, 'd', 'bad-\ufffd-name-open-marker')), 'invalid UTF-8 in a created name')
    assert.ok(paths.includes('/nonexistent-open-marker/a'), 'a failed absolute open, normalized')
    assert.ok(paths.includes('/nonexistent-open-marker/trailing/'), "normalize keeps a trailing '/'")
    assert.ok(paths.includes(join(tmp, 'd', 'sub', 'missing-open-marker-at')), 'a failed open joined with its dirfd')
    assertSameLines(formatted)
  })

  it('writes connect lines identical to the JavaScript path, IPv4, IPv6 and IPv4-mapped', async () => {
    const v4 = await listen('127.0.0.1')
    const v6 = await listen('::')
    try {
      const py = `import socket
a = socket.create_connection(('127.0.0.1', ${v4.port})); a.close()
b = socket.create_connection(('::1', ${v6.port})); b.close()
s = socket.socket(socket.AF_INET6); s.connect(('::ffff:127.0.0.1', ${v6.port})); s.close()`
      const r = await runInCgroup(cg, `${PY} -c "${py}"`)
      assert.equal(r.code, 0, r.stderr)
      await new Promise((res) => setTimeout(res, 200))
    } finally {
      v4.server.close()
      v6.server.close()
    }
    const formatted = events.filter((e): e is FormattedEvent => e.kind === 'formatted' && e.event === 'session.network')
    const ports = [v4.port, v6.port]
    const mine = formatted.filter((e) => ports.some((p) => e.tail.includes(`"dst_port":${p},`)))
    assert.equal(mine.length, 3)
    assert.ok(mine.some((e) => e.tail.includes('"dst_addr":"127.0.0.1"')))
    assert.ok(mine.some((e) => e.tail.includes('"dst_addr":"::1"')))
    assert.ok(mine.some((e) => e.tail.includes('"dst_addr":"::ffff:127.0.0.1"')))
    assertSameLines(formatted)
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
    const interesting = [0x00, 0x01, 0x08, 0x09, 0x0a, 0x1f, 0x20, 0x22, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff]
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

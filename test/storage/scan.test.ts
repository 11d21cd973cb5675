// A search that parses only the lines holding its literal (scanEventFile with `literal`) finds
// the same events with the same command numbers as reading every line, on data made to trip it:
// the literal in another field, escaped JSON strings, non-ASCII, lines and literals split across
// read pieces, patterns that require no literal; and `events` prints the same.
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import {after, before, describe, it} from 'node:test'

import {compileEventFilter, matchEvent, type EventFilterInput} from '../../src/query/event-filter.js'
import {linePrefilter} from '../../src/query/prefilter.js'
import {scanEventFile, type NumberedEvent} from '../../src/storage/reader.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {runCli} from '../helpers/cli.js'
import {DEMO_START, collect, command, common} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const SID = '5ca40000-0000-4000-8000-000000000001'

/** Arguments that JSON escapes, that hold search words, and text beyond ASCII. */
const ARGS: string[][] = [
  ['-s', 'http://example.com/curl'],
  ['say "curl"', 'back\\slash', 'ctl\u0001x', 'tab\there'],
  ['héllo', '日本語', '🎉', 'naïve curl'],
  ['file6.c', 'file60.c', 'FILE6.C'],
  ['-O2', '-c', 'src/file6.c'],
]

const FILTERS: EventFilterInput[] = [
  {program: 'curl'},
  {program: '^curl$'},
  {program: 'cu|wg'},
  {program: '[Cc]URL'},
  {program: 'c.rl'},
  {program: 'cur?l'},
  {program: '\\x63url'},
  {command: '\\u0063url \\cJ?'},
  {program: 'wget'},
  {command: 'curl'},
  {command: 'file6\\.c'},
  {command: 'FILE6|file6'},
  {command: '[fF][iI][lL][eE]6'},
  {command: 'cc -O2'},
  {command: '"curl"'},
  {command: 'back\\\\slash'},
  {command: 'ctl\u0001x'},
  {command: 'héllo'},
  {command: '日本'},
  {command: '🎉'},
  {command: 'naïve curl'},
  {user: 'curl'},
  {user: 'alice'},
  {user: 'b"ob'},
  {user: 'nobody'},
  {program: 'curl', user: 'alice'},
  {program: 'cc', command: 'file6\\.c'},
  {type: 'exit', program: 'curl'},
  {type: 'disk', program: 'curl'},
  {program: 'curl', since: '2026-11-22T16:42:19Z'},
  {since: '2026-11-22T16:42:18.500Z'},
  {until: '2026-11-22T16:42:18.500Z'},
  {since: '2026-11-22T16:42:18.200Z', until: '2026-11-22T16:42:18.300Z'},
  {since: '2026-11-22T16:42:18.200Z', until: '2026-11-22T16:42:18.300Z', type: 'command'},
  {command: 'file6', until: '2026-11-22T16:42:18.300Z'},
  {type: 'exit', since: '2026-11-22T16:42:18.900Z'},
]

/** A session where every kind of event mentions curl somewhere, many times over (several read pieces). */
async function writeTricky(dataDir: string): Promise<string> {
  const writer = await SessionWriter.create({dataDir, sid: SID, common: common('curl', 'root'), startedAt: DEMO_START})
  writer.emit({event: 'session.start', size: '80:24', interactive: true}, DEMO_START)
  for (let i = 0; i < 1000; i++) {
    const at = DEMO_START + i
    const args = ARGS[i % ARGS.length]!
    const program = ['curl', 'wget', 'cc', 'sh'][i % 4]!
    writer.emit({...command(1000 + i, `/usr/bin/${program}`, args, i % 7 === 0 ? -2 : 0), program}, at)
    writer.emit({event: 'session.disk', pid: 1000 + i, cgroup_id: 1, program: 'cat', path: `/tmp/curl-${i}.txt`, flags: 0, return_code: 3}, at)
    writer.emit(
      {
        event: 'session.network',
        pid: 1000 + i,
        cgroup_id: 1,
        program,
        src_addr: '10.0.0.1',
        dst_addr: '10.0.0.2',
        dst_port: 443,
        version: 4,
        operation: 0,
        action: 0,
      },
      at,
    )
    writer.emit({event: 'session.process_exit', pid: 1000 + i, ppid: 1, cgroup_id: 1, program, exit_code: 0, elapsed_ms: 3}, at)
    writer.print(Buffer.from(`curl output ${i}\r\n`), at)
  }
  await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, DEMO_START + 5000)
  return path.join(dataDir, 'log', common().server_id, 'sessions', 'default', `${SID}-0.events.gz`)
}

const shown = (batches: NumberedEvent[][], input: EventFilterInput) => {
  const filter = compileEventFilter(input, DEMO_START + 10_000)
  return batches.flat().filter(({event}) => matchEvent(event, filter))
}

async function assertSame(file: string, input: EventFilterInput): Promise<void> {
  const filter = compileEventFilter(input, DEMO_START + 10_000)
  const all = await collect(scanEventFile(file))
  for (const json of [false, true]) {
    const prefilter = linePrefilter(filter, {json})
    const literal = prefilter.literal
    // JSON output has no use for command numbers: then only the events are compared.
    const some = await collect(scanEventFile(file, {...prefilter, unnumbered: json}))
    const pick = (batches: NumberedEvent[][]) => shown(batches, input).map((e) => (json ? e.event : e))
    assert.deepEqual(pick(some), pick(all), `${JSON.stringify(input)} (literal ${JSON.stringify(literal?.toString())})`)
  }
}

describe('search: reading only lines with the literal', () => {
  let dataDir: string
  let events: string

  before(async () => {
    dataDir = tempDir('er-scan-')
    events = await writeTricky(dataDir)
  })
  after(() => removeDir(dataDir))

  it('finds the same events with the same command numbers as reading every line', async () => {
    for (const input of FILTERS) await assertSame(events, input)
    // The data is what it should be: escapes and non-ASCII recorded, several read pieces.
    const text = zlib.gunzipSync(fs.readFileSync(events)).toString('utf8')
    assert.ok(text.length > 1024 * 1024)
    for (const needle of ['say \\"curl\\"', 'back\\\\slash', 'ctl\\u0001x', 'héllo', '🎉']) assert.ok(text.includes(needle), needle)
  })

  it('lines and the literal split across read pieces', async () => {
    // One gzip stream read in one piece: gunzip hands out 256 KiB pieces of text (reader.ts),
    // and a curl line is placed so that each edge falls inside the word `curl`.
    const piece = 256 * 1024
    const line = (ei: number, program: string, arg: string) =>
      JSON.stringify({ei, event: 'session.command', time: '2026-11-22T16:42:18.000Z', program, path: `/usr/bin/${program}`, argv: [arg], return_code: 0}) + '\n'
    let text = ''
    let ei = 0
    for (const edge of [piece, 2 * piece, 3 * piece]) {
      const curl = line(ei + 1, 'curl', 'é'.repeat(10))
      const at = Buffer.byteLength(curl.slice(0, curl.indexOf('curl')))
      // The filler before the curl line ends where `cu|rl` straddles the edge.
      while (edge - 2 - at - Buffer.byteLength(text) > 1000) text += line(ei++, ei % 3 === 0 ? 'wget' : 'cc', 'x'.repeat(ei % 50))
      const need = edge - 2 - at - Buffer.byteLength(text)
      const filler = line(ei++, 'cc', '')
      text += line(ei - 1, 'cc', 'p'.repeat(need - Buffer.byteLength(filler)))
      assert.equal(Buffer.byteLength(text) + at + 2, edge)
      text += line(ei++, 'curl', 'é'.repeat(10))
    }
    const file = path.join(dataDir, 'pieces.gz')
    fs.writeFileSync(file, zlib.gzipSync(text))
    assert.ok(fs.statSync(file).size < piece, 'read in one piece')
    for (const input of [{program: 'curl'}, {program: 'wget'}, {command: 'é'}, {command: 'xxxxx'}]) await assertSame(file, input)
    const curls = shown(await collect(scanEventFile(file, {literal: Buffer.from('curl')})), {program: 'curl'})
    assert.deepEqual(
      curls.map((c) => c.commands),
      curls.map((c) => Number(c.event.ei) + 1),
    )
    assert.equal(curls.length, 3)
  })

  it('a truncated or damaged file: the same warnings, counted over every line', async () => {
    const whole = zlib.gunzipSync(fs.readFileSync(events)).toString('utf8').split('\n')
    // A garbage line holding the literal in the middle, then the stream cut off.
    whole.splice(1500, 0, '{"ei":1,"event":"session.command","program":"curl" garbage')
    const gz = zlib.gzipSync(whole.join('\n'))
    const file = path.join(dataDir, 'damaged.gz')
    fs.writeFileSync(file, gz.subarray(0, Math.floor(gz.length * 0.8)))
    const read = async (literal?: Buffer) => {
      const warnings: string[] = []
      const batches = await collect(scanEventFile(file, {literal, onWarning: (m) => warnings.push(m)}))
      return {events: shown(batches, {program: 'curl'}), warnings}
    }
    const all = await read()
    assert.equal(all.warnings.length, 2, all.warnings.join('\n'))
    assert.match(all.warnings[0]!, /truncated after \d+ events/)
    assert.match(all.warnings[1]!, /skipped 1 unreadable line \(kept \d+ events\)/)
    assert.deepEqual(await read(Buffer.from('curl')), all)
  })

  it('bytes that are not UTF-8 read as U+FFFD: a search for it reads every line', async () => {
    const line = (ei: number, program: Buffer) =>
      Buffer.concat([
        Buffer.from(`{"ei":${ei},"event":"session.command","time":"2026-11-22T16:42:18.000Z","program":"`),
        program,
        Buffer.from('","argv":[]}\n'),
      ])
    const file = path.join(dataDir, 'not-utf8.gz')
    fs.writeFileSync(file, zlib.gzipSync(Buffer.concat([line(0, Buffer.from('cc')), line(1, Buffer.from([0x63, 0xff, 0x63])), line(2, Buffer.from('sh'))])))
    for (const input of [{program: 'c\ufffdc'}, {program: '\ufffd'}, {user: '\ufffd'}]) await assertSame(file, input)
    assert.equal(shown(await collect(scanEventFile(file)), {program: 'c\ufffdc'}).length, 1)
  })

  it('a time range: times that are not plain, several or nested time keys, spaces around the colon', async () => {
    const IN = '2026-11-22T16:42:18.250Z'
    const OUT = '2026-11-22T16:42:19.000Z'
    const head = (ei: number, type = 'session.command') => `{"ei":${ei},"event":"${type}"`
    const tail = ',"program":"curl","path":"/usr/bin/curl","argv":["x"],"return_code":0}'
    const lines = [
      `${head(0)},"time":"${IN}"${tail}`,
      `${head(1)},"time":"${OUT}"${tail}`,
      `${head(2)},"time":"2026-11-22T16:42:18.250+00:00"${tail}`,
      `${head(3)},"time":"${OUT}","x":1,"time":"${IN}"${tail}`,
      `${head(4)},"time":"${OUT}","meta":{"time":"${IN}"}${tail}`,
      `${head(5)},"meta":{"time":"${OUT}"},"time":"${IN}"${tail}`,
      `${head(6)},"time" : "${IN}"${tail}`,
      `${head(7)},"time":1,"meta":{"time":"${OUT}"}${tail}`,
      `${head(8, 'session.network')},"time":"${OUT}","program":"time"}`,
      `${head(9)},"time":"${IN}","argv":["time\\"s"]}`,
      `${head(10)},"time":"2026-11-30T16:42:18.250Z"${tail}`,
      `${head(11)},"time":"${OUT}"${tail}`,
      `${head(12)},"time":"${IN}"${tail}`,
      '',
    ]
    const file = path.join(dataDir, 'times.gz')
    fs.writeFileSync(file, zlib.gzipSync(lines.join('\n')))
    for (const input of [
      {since: '2026-11-22T16:42:18.200Z', until: '2026-11-22T16:42:18.300Z'},
      {since: '2026-11-22T16:42:18.300Z'},
      {until: '2026-11-22T16:42:18.300Z'},
      {until: '2026-11-22T16:42:18.300Z', program: 'curl'},
      {since: '2026-11-29T00:00:00Z'},
    ])
      await assertSame(file, input)
    // In range: 0, 2 (another zone), 3 (the last of two keys), 5, 6, 9 (escaped), 12.
    const found = shown(
      await collect(
        scanEventFile(file, linePrefilter(compileEventFilter({since: '2026-11-22T16:42:18.200Z', until: '2026-11-22T16:42:18.300Z'}), {json: false})),
      ),
      {
        since: '2026-11-22T16:42:18.200Z',
        until: '2026-11-22T16:42:18.300Z',
      },
    )
    assert.deepEqual(
      found.map((e) => [e.event.ei, e.commands]),
      [
        [0, 1],
        [2, 3],
        [3, 4],
        [5, 6],
        [6, 7],
        [9, 9],
        [12, 12],
      ],
    )
  })

  it('events prints the same rows, numbers and JSON as a listing read line by line', () => {
    const cli = (...args: string[]) => {
      const r = runCli(['events', '--data-dir', dataDir, SID, ...args])
      assert.equal(r.status, 0, r.stderr)
      return r.stdout.trimEnd().split('\n')
    }
    // Every command, numbered, read without a literal; its JSON gives each row's event.
    const rows = cli('--type', 'command').slice(1)
    const listed = cli('--type', 'command', '--json').map((l) => JSON.parse(l) as Parameters<typeof matchEvent>[0])
    assert.equal(rows.length, listed.length)
    for (const input of [{command: 'curl'}, {command: 'file6\\.c'}, {command: '日本'}, {command: 'back\\\\slash'}, {command: 'FILE6|file6'}]) {
      const filter = compileEventFilter(input)
      const expected = rows.filter((_, n) => matchEvent(listed[n]!, filter))
      assert.ok(expected.length > 0, JSON.stringify(input))
      assert.deepEqual(cli('--command', input.command).slice(1), expected, JSON.stringify(input))
      assert.deepEqual(
        cli('--command', input.command, '--json'),
        cli('--type', 'command', '--json').filter((_, n) => matchEvent(listed[n]!, filter)),
      )
    }
  })
})

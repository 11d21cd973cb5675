// replay --format text|json|yaml (golden files) and asciicast (structure), from a deterministic recording.
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {parse as parseYaml, parseAllDocuments} from 'yaml'

import {ROOT, hasStackTrace, runCli} from '../helpers/cli.js'
import {DEMO_SID, DEMO_START, normalizeUids, writeDemoSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const GOLDEN = path.join(ROOT, 'test', 'commands', 'golden')

/** Compares with test/commands/golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead. */
function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name)
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(GOLDEN, {recursive: true})
    fs.writeFileSync(file, actual)
    return
  }
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `output differs from ${file} (UPDATE_GOLDEN=1 to accept)`)
}

describe('replay formats', () => {
  let dataDir: string
  const replay = (...args: string[]) => runCli(['replay', DEMO_SID.slice(0, 8), '--data-dir', dataDir, ...args])

  before(async () => {
    dataDir = tempDir()
    await writeDemoSession(dataDir)
  })
  after(() => removeDir(dataDir))

  it('text: plain output, controls stripped, CR/BS applied (golden)', () => {
    const r = replay('--format', 'text')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr, '')
    golden('demo.txt', r.stdout)
    assert.doesNotMatch(r.stdout, /\x1b|\r|\x08|\x07/)
  })

  it('text --at-command 2: output from the second command on', () => {
    const r = replay('--format', 'text', '--at-command', '2')
    assert.equal(r.status, 0, r.stderr)
    golden('demo-at-command-2.txt', r.stdout)
    assert.doesNotMatch(r.stdout, /echo hi/)
  })

  it('json: every event as one JSON line, in order (golden)', () => {
    const r = replay('--format', 'json')
    assert.equal(r.status, 0, r.stderr)
    golden('demo.jsonl', normalizeUids(r.stdout))
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as {ei: number; sid: string; event: string})
    assert.deepEqual(
      events.map((e) => e.ei),
      [...events.keys()],
    )
    assert.ok(events.every((e) => e.sid === DEMO_SID))
    assert.equal(events[0]!.event, 'session.start')
    assert.equal(events.at(-1)!.event, 'session.end')
  })

  it('yaml: one YAML document per event, same content as json (golden)', () => {
    const r = replay('--format', 'yaml')
    assert.equal(r.status, 0, r.stderr)
    golden('demo.yaml', normalizeUids(r.stdout))
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as unknown)
    const json = replay('--format', 'json')
      .stdout.trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown)
    assert.deepEqual(docs, json)
    assert.deepEqual(parseYaml(r.stdout.split('---\n')[1]!), json[0])
  })

  it('asciicast: v2 header from session.start, monotonic times, o/r/m events, output byte-exact', () => {
    const r = replay('--format', 'asciicast')
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown)
    const header = lines[0] as Record<string, unknown>
    assert.equal(header.version, 2)
    assert.equal(header.width, 80)
    assert.equal(header.height, 24)
    assert.equal(header.timestamp, Math.floor(DEMO_START / 1000))
    const events = lines.slice(1) as Array<[number, string, string]>
    let last = 0
    for (const event of events) {
      assert.equal(event.length, 3)
      assert.equal(typeof event[0], 'number')
      assert.ok(event[0] >= last, `times must not go back: ${event[0]} after ${last}`)
      last = event[0]
      assert.ok(['o', 'r', 'm'].includes(event[1]), `event code ${event[1]}`)
      assert.equal(typeof event[2], 'string')
    }
    const output = events
      .filter((e) => e[1] === 'o')
      .map((e) => e[2])
      .join('')
    const raw = runCli(['replay', DEMO_SID, '--data-dir', dataDir, '--format', 'pty', '--no-events', '--no-filter', '--speed', '64']).stdout
    assert.equal(output, raw)
    assert.deepEqual(
      events.filter((e) => e[1] === 'r').map((e) => e[2]),
      ['100x30'],
    )
    const markers = events.filter((e) => e[1] === 'm').map((e) => e[2])
    assert.deepEqual(markers, [
      'command echo: /bin/echo hi',
      'command curl: /usr/bin/curl -s http://127.0.0.1:8080/',
      'network curl: connect 127.0.0.1 → 127.0.0.1:8080',
      'disk cat: /etc/passwd O_RDONLY',
      'command bash: /nope = ENOENT',
    ])
    assert.deepEqual(events[0], [0.1, 'o', '$ '])
    assert.equal(events.at(-1)![0], 1.7)
  })

  it('asciicast --idle-limit and --speed compress the times; --no-events drops markers; --filter cleans', () => {
    const r = replay('--format', 'asciicast', '--idle-limit', '0.2', '--speed', '2', '--no-events', '--filter')
    assert.equal(r.status, 0, r.stderr)
    const [header, ...events] = r.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as [number, string, string])
    assert.equal((header as unknown as {idle_time_limit: number}).idle_time_limit, 0.2)
    assert.ok(events.every((e) => e[1] !== 'm'))
    const gaps = events.slice(1).map((e, i) => e[0] - events[i]![0])
    assert.ok(
      gaps.every((g) => g <= 0.1 + 1e-9),
      `gaps ${gaps.join(',')}`,
    )
    assert.doesNotMatch(events.map((e) => e[2]).join(''), /\]52;|\[6n/)
  })

  it('pty to a pipe: filtered output with event lines in step', () => {
    const r = replay('--speed', '64')
    assert.equal(r.status, 0, r.stderr)
    golden('demo.pty', r.stdout)
    assert.doesNotMatch(r.stdout, /\]52;|\x1b\[6n/)
    assert.match(r.stdout, /\$ echo hi\r\n\[er-shell\] command echo: \/bin\/echo hi\r\nhi\r\n/)
    const quiet = replay('--speed', '64', '--no-events')
    assert.doesNotMatch(quiet.stdout, /\[er-shell\]/)
  })

  it('rejects --at-command with an export format, and an unknown command number, in one line', () => {
    const a = replay('--format', 'json', '--at-command', '1')
    assert.equal(a.status, 2)
    assert.equal(a.stderr, 'er-shell: --at-command and --at work with --format pty or text, not json\n')
    const b = replay('--at-command', '4')
    assert.equal(b.status, 1)
    assert.match(b.stderr, /^er-shell: session 86aca627-\S+ has no command #4 \(it has 3 command events;.*\)\n$/)
    assert.equal(b.stdout, '')
    const c = replay('--at', '(')
    assert.equal(c.status, 2)
    assert.match(c.stderr, /^er-shell: --at: not a valid regular expression/)
    assert.ok(!hasStackTrace(a.stderr + b.stderr + c.stderr))
  })
})

// Damaged and unusual recordings: truncated gzip, garbage, crashed (unfinished) sessions, sid prefixes, missing data dir.
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {SessionWriter} from '../../src/storage/session-writer.js'
import {hasStackTrace, runCli} from '../helpers/cli.js'
import {DEMO_SID, common, writeDemoSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const TRUNC_SID = '44440000-0000-4000-8000-000000000004'
const GARBAGE_SID = '44441111-0000-4000-8000-000000000005'
const CRASHED_SID = '55550000-0000-4000-8000-000000000006'

function sessionFile(dataDir: string, sid: string, suffix: string): string {
  return path.join(dataDir, 'log', '531dc1de-c2c9-49bd-a0e3-4f4f3a523f5f', 'sessions', 'default', `${sid}${suffix}`)
}

/** One line `er-shell: …` on stderr (plus optional warning lines), no stack trace. */
function assertOneLineError(stderr: string, pattern: RegExp): void {
  assert.ok(!hasStackTrace(stderr), stderr)
  const lines = stderr
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('er-shell: warning: '))
  assert.equal(lines.length, 1, stderr)
  assert.match(lines[0]!, pattern)
}

describe('replay of damaged recordings, sid prefixes, errors', () => {
  let dataDir: string
  let crashed: SessionWriter

  before(async () => {
    dataDir = tempDir()
    await writeDemoSession(dataDir)
    // Truncated: a finished session whose files lost their second half.
    await writeDemoSession(dataDir, {sid: TRUNC_SID})
    for (const suffix of ['-0.events.gz', '-0.chunks.gz']) {
      const file = sessionFile(dataDir, TRUNC_SID, suffix)
      const data = fs.readFileSync(file)
      fs.writeFileSync(file, data.subarray(0, Math.floor(data.length * 0.6)))
    }
    // Garbage: the events file is not gzip at all.
    await writeDemoSession(dataDir, {sid: GARBAGE_SID})
    fs.writeFileSync(sessionFile(dataDir, GARBAGE_SID, '-0.events.gz'), 'this is not gzip\n'.repeat(20))
    // Crashed: flushed but never ended (the recorder was killed).
    crashed = await writeDemoSession(dataDir, {sid: CRASHED_SID, end: false})
  })
  after(() => {
    crashed.abort()
    removeDir(dataDir)
  })

  it('a unique prefix selects the session, case-insensitively', () => {
    const r = runCli(['replay', '86ACA6', '--data-dir', dataDir, '--format', 'text'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /^\$ echo hi\nhi\n/)
  })

  it('an ambiguous prefix lists the candidates in one line, exit 1', () => {
    const r = runCli(['replay', '4444', '--data-dir', dataDir])
    assert.equal(r.status, 1)
    assert.equal(r.stdout, '')
    assertOneLineError(r.stderr, new RegExp(`^er-shell: session prefix "4444" matches 2 sessions: ${TRUNC_SID}, ${GARBAGE_SID}; give more characters$`))
  })

  it('an unknown sid and a missing data dir: one line, exit 1', () => {
    const a = runCli(['replay', 'deadbeef', '--data-dir', dataDir])
    assert.equal(a.status, 1)
    assertOneLineError(a.stderr, /^er-shell: no recorded session matches "deadbeef" in /)
    const b = runCli(['replay', DEMO_SID, '--data-dir', path.join(dataDir, 'nope')])
    assert.equal(b.status, 1)
    assertOneLineError(b.stderr, /^er-shell: data directory \S+\/nope does not exist/)
    const c = runCli(['sessions', '--data-dir', path.join(dataDir, 'nope')])
    assert.equal(c.status, 1)
    assertOneLineError(c.stderr, /^er-shell: data directory \S+\/nope does not exist/)
    const d = runCli(['events', '--data-dir', path.join(dataDir, 'nope')])
    assert.equal(d.status, 1)
    assertOneLineError(d.stderr, /^er-shell: data directory/)
  })

  for (const format of ['pty', 'text', 'json', 'yaml', 'asciicast']) {
    it(`truncated gzip, --format ${format}: what was recovered is written, then the file is named, exit 1`, () => {
      const r = runCli(['replay', TRUNC_SID, '--data-dir', dataDir, '--format', format, '--speed', '64'])
      assert.equal(r.status, 1)
      assert.ok(r.stdout.length > 0, 'something was recovered')
      if (format === 'text' || format === 'pty') assert.match(r.stdout, /echo hi/)
      if (format === 'json') for (const line of r.stdout.trimEnd().split('\n')) JSON.parse(line)
      assertOneLineError(
        r.stderr,
        /^er-shell: \S+-0\.(events|chunks)\.gz: truncated after \d+ (events|bytes) \(no gzip trailer: the recorder did not finish it\)( \(and 1 more problem\))?; everything that could be recovered was shown$/,
      )
    })
  }

  it('garbage instead of gzip: named in one line, exit 1, no stack trace; text still comes from the chunks file', () => {
    const r = runCli(['replay', GARBAGE_SID, '--data-dir', dataDir, '--format', 'json'])
    assert.equal(r.status, 1)
    assert.equal(r.stdout, '')
    assertOneLineError(
      r.stderr,
      /^er-shell: \S+-0\.events\.gz: damaged after 0 events \(incorrect header check\); the rest is unreadable; everything that could be recovered was shown$/,
    )
    const text = runCli(['replay', GARBAGE_SID, '--data-dir', dataDir, '--format', 'text'])
    assert.equal(text.status, 0, text.stderr)
    assert.match(text.stdout, /echo hi/)
  })

  it('a crashed session (no session.end, no gzip trailer) replays up to where it stopped, exit 0 with a note', () => {
    const r = runCli(['replay', CRASHED_SID, '--data-dir', dataDir, '--format', 'text'])
    assert.match(r.stdout, /^\$ echo hi\nhi\n[\s\S]*\$ exit\n$/)
    assert.equal(r.status, 0)
    assert.equal(
      r.stderr,
      'er-shell: note: session 55550000 did not finish (it is still being recorded, or its recorder died): shown up to where its files end\n',
    )
    const sessions = runCli(['sessions', '--data-dir', dataDir])
    assert.match(sessions.stdout, /55550000 .* UNFINISHED/)
    assert.doesNotMatch(sessions.stderr, /55550000/, 'an open end is not a warning')
    const search = runCli(['events', '--data-dir', dataDir, '--type', 'command'])
    assert.doesNotMatch(search.stderr, /55550000/)
    const json = runCli(['replay', CRASHED_SID, '--data-dir', dataDir, '--format', 'json'])
    const events = json.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as {event: string})
    assert.equal(events[0]!.event, 'session.start')
    assert.ok(!events.some((e) => e.event === 'session.end'))
    const pty = runCli(['replay', CRASHED_SID, '--data-dir', dataDir, '--speed', '64'])
    assert.match(pty.stdout, /\[er-shell\] command bash: \/nope = ENOENT/)
  })

  it('a missing chunks file: events still replay, the file is named', () => {
    const sid = '66660000-0000-4000-8000-000000000007'
    return (async () => {
      const w = await SessionWriter.create({dataDir, sid, common: common(), startedAt: Date.now()})
      w.emit({event: 'session.start', size: '80:24', interactive: false})
      w.print(Buffer.from('hello\n'))
      await w.end({interactive: false, exit_code: 0})
      fs.rmSync(sessionFile(dataDir, sid, '-0.chunks.gz'))
      const r = runCli(['replay', sid, '--data-dir', dataDir, '--format', 'json'])
      assert.equal(r.stdout.trimEnd().split('\n').length, 3)
      const pty = runCli(['replay', sid, '--data-dir', dataDir])
      assert.equal(pty.status, 1)
      assertOneLineError(pty.stderr, /^er-shell: cannot read \S+-0\.chunks\.gz: no such file$/)
    })()
  })
})

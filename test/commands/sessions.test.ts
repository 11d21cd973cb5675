// `er-shell sessions`: table and --json shape (docs/INTERFACE.md), newest first, unfinished marked, --since/--until/--user.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import type {SessionWriter} from '../../src/storage/session-writer.js'
import {hasStackTrace, runCli} from '../helpers/cli.js'
import {DEMO_SID, writeDemoSession, writeTimedSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const BOB_SID = 'b0b00000-0000-4000-8000-000000000001'
const LIVE_SID = 'c0c00000-0000-4000-8000-000000000002'
const RECENT_SID = 'd0d00000-0000-4000-8000-000000000003'
const OLDER_SID = 'e0e00000-0000-4000-8000-000000000004'

interface Row {
  sid: string
  session_start: string | null
  session_stop: string | null
  interactive: boolean | null
  exit_code: number | null
  commands: number
  network: number
  disk: number
  lost_events: {command: number; disk: number; network: number} | null
  unfinished: boolean
  user: string | null
  login: string | null
}

describe('sessions', () => {
  let dataDir: string
  let relDir: string
  let live: SessionWriter
  const sessions = (...args: string[]) => runCli(['sessions', '--data-dir', dataDir, ...args])
  const json = (...args: string[]): Row[] => {
    const r = sessions('--json', ...args)
    assert.equal(r.status, 0, r.stderr)
    return JSON.parse(r.stdout) as Row[]
  }

  before(async () => {
    dataDir = tempDir('er-sessions-')
    await writeDemoSession(dataDir) // alice as root, 2026-11-22T16:42:18Z, ended
    await writeDemoSession(dataDir, {sid: BOB_SID, user: 'bob', start: Date.parse('2026-11-20T09:00:00.000Z')})
    live = await writeDemoSession(dataDir, {sid: LIVE_SID, start: Date.parse('2026-11-23T08:00:00.000Z'), end: false})
    relDir = tempDir('er-sessions-rel-')
    await writeTimedSession(relDir, RECENT_SID, [0, 10], {start: Date.now() - 3_600_000})
    await writeTimedSession(relDir, OLDER_SID, [0, 10], {start: Date.now() - 5 * 3_600_000})
  })
  after(() => {
    live.abort()
    removeDir(dataDir)
    removeDir(relDir)
  })

  it('--json: an array, newest first, with the docs/INTERFACE.md fields; session_stop null while unfinished', () => {
    const rows = json()
    assert.deepEqual(
      rows.map((r) => r.sid),
      [LIVE_SID, DEMO_SID, BOB_SID],
    )
    for (const row of rows) {
      for (const key of ['sid', 'session_start', 'session_stop', 'interactive', 'exit_code', 'commands', 'network', 'disk', 'lost_events']) {
        assert.ok(key in row, `${key} missing`)
      }
    }
    const [liveRow, demo] = rows
    assert.deepEqual(
      {...demo, server_id: undefined, last_event_time: undefined, output_bytes: undefined},
      {
        sid: DEMO_SID,
        server_id: undefined,
        session_start: '2026-11-22T16:42:18.000Z',
        session_stop: '2026-11-22T16:42:19.800Z',
        interactive: true,
        exit_code: 0,
        commands: 3,
        network: 1,
        disk: 1,
        disk_filtered: 0,
        lost_events: {command: 0, disk: 0, network: 0},
        unfinished: false,
        login: 'root',
        user: 'alice',
        initial_command: null,
        last_event_time: undefined,
        cgroup_escapes: 0,
        output_bytes: undefined,
      },
    )
    assert.equal(liveRow!.session_stop, null)
    assert.equal(liveRow!.exit_code, null)
    assert.equal(liveRow!.lost_events, null)
    assert.equal(liveRow!.unfinished, true)
  })

  it('the table: short sid, UTC start, duration, who, exit, counts, lost, UNFINISHED marked', () => {
    const r = sessions()
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout.split('\n')
    assert.match(lines[1]!, /SESSION .* START \(UTC\) .* DURATION .* USER .* EXIT .* CMDS .* NET .* DISK .* LOST .* STATUS/)
    const liveLine = lines.find((l) => l.includes('c0c00000'))!
    assert.match(liveLine, /│ c0c00000 │ 2026-11-23 08:00:00 │ ≥1s +│ alice as root │ yes │ - +│ 3 +│ 1 +│ 1 +│ \? +│ UNFINISHED │/)
    const bobLine = lines.find((l) => l.includes('b0b00000'))!
    assert.match(bobLine, /│ b0b00000 │ 2026-11-20 09:00:00 │ 1s +│ bob as root +│ yes │ 0 +│ 3 +│ 1 +│ 1 +│ 0 +│ ended/)
    assert.ok(lines.findIndex((l) => l.includes('c0c00000')) < lines.findIndex((l) => l.includes('86aca627')))
    assert.doesNotMatch(r.stdout, /86aca627-/, 'sids are shortened in the table')
  })

  it('--since/--until on the start time (dates, date-times, zones), --user on user or login', () => {
    assert.deepEqual(
      json('--since', '2026-11-21').map((r) => r.sid),
      [LIVE_SID, DEMO_SID],
    )
    assert.deepEqual(
      json('--until', '2026-11-21').map((r) => r.sid),
      [BOB_SID],
    )
    assert.deepEqual(
      json('--since', '2026-11-22T16:42:18Z', '--until', '2026-11-22 17:00').map((r) => r.sid),
      [DEMO_SID],
    )
    assert.deepEqual(
      json('--since', '2026-11-22T18:42:00+02:00', '--until', '2026-11-22T18:43:00+0200').map((r) => r.sid),
      [DEMO_SID],
    )
    assert.deepEqual(
      json('--user', 'bob').map((r) => r.sid),
      [BOB_SID],
    )
    assert.deepEqual(
      json('--user', 'root').map((r) => r.sid),
      [LIVE_SID, DEMO_SID, BOB_SID],
    )
    assert.deepEqual(json('--user', 'nobody'), [])
  })

  it('relative --since (2h, 6h, 90m)', () => {
    const rel = (...args: string[]) => {
      const r = runCli(['sessions', '--data-dir', relDir, '--json', ...args])
      assert.equal(r.status, 0, r.stderr)
      return (JSON.parse(r.stdout) as Row[]).map((row) => row.sid)
    }
    assert.deepEqual(rel('--since', '2h'), [RECENT_SID])
    assert.deepEqual(rel('--since', '90m'), [RECENT_SID])
    assert.deepEqual(rel('--since', '6h'), [RECENT_SID, OLDER_SID])
    assert.deepEqual(rel('--until', '2h'), [OLDER_SID])
  })

  it('bad values: one line, exit 2; an empty data dir says so', () => {
    const r = sessions('--since', 'last tuesday')
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^er-shell: --since: cannot read "last tuesday" as a time: .*\n$/)
    assert.ok(!hasStackTrace(r.stderr))
    const empty = tempDir('er-sessions-empty-')
    try {
      const e = runCli(['sessions', '--data-dir', empty])
      assert.equal(e.status, 0)
      assert.equal(e.stdout, '')
      assert.match(e.stderr, /^er-shell: no recorded sessions in /)
      assert.equal(runCli(['sessions', '--data-dir', empty, '--json']).stdout.trim(), '[]')
    } finally {
      removeDir(empty)
    }
  })
})

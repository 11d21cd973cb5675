// `er-shell events`: filters, all sessions ("who ran X"), JSON lines, per-session command numbers, --follow.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {after, before, describe, it} from 'node:test'

import {SessionWriter} from '../../src/storage/session-writer.js'
import {CLI, ROOT, hasStackTrace, runCli} from '../helpers/cli.js'
import {DEMO_SID, command, common, writeDemoSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const BOB_SID = 'b0b00000-0000-4000-8000-000000000001'
const FOLLOW_SID = 'f0f00000-0000-4000-8000-000000000009'

interface Ev {
  ei: number
  event: string
  sid: string
  user: string
  program?: string
  path?: string
  time: string
}

describe('events', () => {
  let dataDir: string
  const events = (...args: string[]) => runCli(['events', '--data-dir', dataDir, ...args])
  const json = (...args: string[]): Ev[] => {
    const r = events('--json', ...args)
    assert.equal(r.status, 0, r.stderr)
    return r.stdout === ''
      ? []
      : r.stdout
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as Ev)
  }

  before(async () => {
    dataDir = tempDir('er-events-')
    await writeDemoSession(dataDir)
    await writeDemoSession(dataDir, {sid: BOB_SID, user: 'bob', start: Date.parse('2026-11-20T09:00:00.000Z')})
  })
  after(() => removeDir(dataDir))

  it('without a sid: every session, oldest first, table with time, session, user, login ("who ran curl")', () => {
    const r = events('--command', 'curl')
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout.trimEnd().split('\n')
    assert.match(lines[0]!, /^TIME \(UTC\) +SESSION +USER +LOGIN +TYPE +PROGRAM +PID +WHAT$/)
    assert.equal(lines.length, 3)
    assert.match(lines[1]!, /^2026-11-20 09:00:01\.220 +b0b00000 +bob +root +command +curl +102 +#2 \/usr\/bin\/curl -s http:\/\/127\.0\.0\.1:8080\/$/)
    assert.match(lines[2]!, /^2026-11-22 16:42:19\.220 +86aca627 +alice +root +command +curl +102 +#2 /)
  })

  it('with a sid prefix: that session only, without session/user columns; commands numbered for --at-command', () => {
    const r = events('86aca', '--type', 'command')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(
      r.stdout,
      [
        'TIME (UTC)               TYPE           PROGRAM              PID  WHAT',
        '2026-11-22 16:42:18.620  command        echo                 101  #1 /bin/echo hi',
        '2026-11-22 16:42:19.220  command        curl                 102  #2 /usr/bin/curl -s http://127.0.0.1:8080/',
        '2026-11-22 16:42:19.650  command        bash                 104  #3 /nope = ENOENT',
        '',
      ].join('\n'),
    )
  })

  it('--json: JSON lines as recorded; print events only when asked for', () => {
    const all = json(DEMO_SID)
    assert.deepEqual(
      all.map((e) => e.event),
      ['session.start', 'session.command', 'session.command', 'session.network', 'session.disk', 'resize', 'session.command', 'session.end'],
    )
    assert.ok(all.every((e) => e.sid === DEMO_SID))
    const prints = json(DEMO_SID, '--type', 'print')
    assert.equal(prints.length, 8)
    assert.ok(prints.every((e) => e.event === 'print'))
  })

  it('--type lists (short or long names), --program, --command, --user, --since/--until combine', () => {
    assert.deepEqual(
      json('--type', 'network,session.disk').map((e) => `${e.sid.slice(0, 4)} ${e.event}`),
      ['b0b0 session.network', 'b0b0 session.disk', '86ac session.network', '86ac session.disk'],
    )
    assert.deepEqual(
      json('--program', '^c').map((e) => `${e.event} ${e.program}`),
      ['session.command curl', 'session.network curl', 'session.disk cat', 'session.command curl', 'session.network curl', 'session.disk cat'],
    )
    assert.deepEqual(
      json('--command', '^/nope$').map((e) => e.sid),
      [BOB_SID, DEMO_SID],
    )
    assert.deepEqual(
      json('--command', 'echo hi', '--user', 'alice').map((e) => e.path),
      ['/bin/echo'],
    )
    assert.deepEqual(
      json('--type', 'command', '--since', '2026-11-22T16:42:19Z', '--until', '2026-11-22T16:42:19.5Z').map((e) => e.path),
      ['/usr/bin/curl'],
    )
    assert.deepEqual(json('--command', 'curl', '--since', '2026-11-21'), json(DEMO_SID, '--command', 'curl'))
  })

  it('bad filters: one line, exit 2; no match: a note on stderr, exit 0', () => {
    const a = events('--program', '[')
    assert.equal(a.status, 2)
    assert.match(a.stderr, /^er-shell: --program: not a valid regular expression: .*\n$/)
    const b = events('--type', 'exec')
    assert.equal(b.status, 2)
    assert.match(b.stderr, /^er-shell: --type: unknown event type "exec"/)
    const c = events('--command', 'nothing-like-this')
    assert.equal(c.status, 0)
    assert.equal(c.stdout, '')
    assert.equal(c.stderr, 'er-shell: no events match\n')
    assert.ok(!hasStackTrace(a.stderr + b.stderr + c.stderr))
  })

  it('--follow streams a live session from a second process until session.end', async () => {
    const start = Date.now()
    const writer = await SessionWriter.create({dataDir, sid: FOLLOW_SID, common: common('carol'), startedAt: start, flushIntervalMs: 50})
    writer.emit({event: 'session.start', size: '80:24', interactive: true})
    await writer.flush()

    const child = spawn(process.execPath, [CLI, 'events', FOLLOW_SID.slice(0, 8), '--follow', '--json', '--data-dir', dataDir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    const seenAt: number[] = []
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
      for (let i = seenAt.length; i < stdout.split('\n').length - 1; i++) seenAt.push(Date.now())
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))

    const waitLines = async (n: number): Promise<void> => {
      const deadline = Date.now() + 10_000
      while (stdout.split('\n').length - 1 < n) {
        if (Date.now() > deadline) throw new Error(`waited for ${n} lines, got:\n${stdout}\n${stderr}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    await waitLines(1)
    for (let i = 1; i <= 3; i++) {
      const emittedAt = Date.now()
      writer.emit(command(500 + i, `/bin/step${i}`, []))
      writer.print(Buffer.from(`output ${i}\n`))
      await writer.flush()
      await waitLines(1 + i)
      assert.ok(seenAt[i]! - emittedAt < 2000, 'each event arrives while the session runs')
    }
    await writer.end({interactive: true, exit_code: 0})
    const status = await exited
    assert.equal(status, 0, stderr)
    const got = stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Ev)
    assert.deepEqual(
      got.map((e) => (e.event === 'session.command' ? e.path : e.event)),
      ['session.start', '/bin/step1', '/bin/step2', '/bin/step3', 'session.end'],
    )
    assert.ok(got.every((e) => e.user === 'carol'))
  })

  it('--follow without a sid follows the newest unfinished session; says so when there is none', async () => {
    const r = events('--follow')
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^er-shell: no session is being recorded in \S+; give a session id to follow\n$/)
    const sid = 'f1f10000-0000-4000-8000-00000000000a'
    const writer = await SessionWriter.create({dataDir, sid, common: common('dave'), flushIntervalMs: 50})
    writer.emit({event: 'session.start', size: '80:24', interactive: false})
    writer.emit(command(900, '/usr/bin/id', ['-u']))
    await writer.flush()
    const child = spawn(process.execPath, [CLI, 'events', '--follow', '--data-dir', dataDir], {
      cwd: ROOT,
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    const deadline = Date.now() + 10_000
    while (!stdout.includes('/usr/bin/id') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    await writer.end({interactive: false, exit_code: 0})
    assert.equal(await exited, 0)
    assert.match(stdout, /command +id +900 +#1 \/usr\/bin\/id -u\n/)
    assert.match(stdout, /end +exit 0\n$/)
  })
})

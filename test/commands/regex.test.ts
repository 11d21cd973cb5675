// Search regexes (events --command/--program, replay --at) against hostile recorded arguments:
// matching must take time linear in the text, or the pattern is refused with one line.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {after, before, describe, it} from 'node:test'

import {CLI, ROOT, hasStackTrace} from '../helpers/cli.js'
import {DEMO_START, command, common} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'
import {SessionWriter} from '../../src/storage/session-writer.js'

const SID = '5ec0b000-0000-4000-8000-000000000011'
/** 24 KiB of `a` and a `!` that makes `(a+)+$` fail only after trying every split of the a's. */
const LONG = `${'a'.repeat(24 * 1024)}!`

/**
 * The CLI with a deadline: a backtracking match of LONG takes longer than the universe's age, so
 * a run killed at the deadline (status null) is the failure, and no tighter bound is needed.
 */
function cli(args: string[]): {status: number | null; stdout: string; stderr: string; ms: number} {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1'}
  delete env.ER_SHELL_DEBUG
  delete env.DEBUG
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [CLI, ...args], {env, encoding: 'utf8', cwd: ROOT, timeout: 60_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0}
}

describe('security: search regexes run in linear time', () => {
  let dataDir: string

  before(async () => {
    dataDir = tempDir('er-sec-regex-')
    const w = await SessionWriter.create({dataDir, sid: SID, common: common(), startedAt: DEMO_START})
    w.emit({event: 'session.start', size: '80:24', interactive: false}, DEMO_START)
    w.emit(command(101, '/bin/echo', [LONG]), DEMO_START + 10)
    w.print(Buffer.from('x\r\n'), DEMO_START + 20)
    w.emit(command(102, '/bin/echo', ['aaaa']), DEMO_START + 30)
    w.print(Buffer.from('y\r\n'), DEMO_START + 40)
    await w.end({interactive: false, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, DEMO_START + 50)
  })
  after(() => removeDir(dataDir))

  it("events --command '(a+)+$' against a 24 KiB argument finishes quickly with the right match", () => {
    const r = cli(['events', SID, '--data-dir', dataDir, '--command', '(a+)+$', '--json'])
    assert.equal(r.status, 0, `status ${r.status} after ${r.ms} ms; stderr: ${r.stderr}`)
    const pids = r.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as {pid: number}).pid)
    assert.deepEqual(pids, [102])
  })

  it("events --program and replay --at with '(a+)+$' finish quickly", () => {
    const program = cli(['events', SID, '--data-dir', dataDir, '--program', '(e+)+$'])
    assert.equal(program.status, 0, program.stderr)
    const replay = cli(['replay', SID, '--data-dir', dataDir, '--format', 'text', '--at', '(a+)+$'])
    assert.equal(replay.status, 0, `status ${replay.status} after ${replay.ms} ms; stderr: ${replay.stderr}`)
    // Text from the matching command (the second) on.
    assert.equal(replay.stdout.replace(/\r/g, ''), 'y\n')
  })

  for (const [option, pattern] of [
    ['--command', '(a)\\1'],
    ['--command', 'a(?=b)'],
    ['--program', '(?<!x)sh'],
  ] as const) {
    it(`events ${option} '${pattern}' (not matchable in linear time) is refused with one line, exit 2`, () => {
      const r = cli(['events', SID, '--data-dir', dataDir, option, pattern])
      assert.equal(r.status, 2, r.stderr)
      assert.equal(r.stdout, '')
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr)
      assert.match(r.stderr, new RegExp(`^er-shell: ${option}: .*linear time`))
      assert.ok(!hasStackTrace(r.stderr))
    })
  }

  it("replay --at '(a)\\1' is refused with one line, exit 2", () => {
    const r = cli(['replay', SID, '--data-dir', dataDir, '--format', 'text', '--at', '(a)\\1'])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /^er-shell: --at: .*linear time.*\n$/)
  })
})

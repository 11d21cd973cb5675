// Load and loss accounting: concurrent exec storms stay in their own sessions and lose nothing at
// default buffer sizes; when a ring buffer is too small, every lost event is counted, shown live,
// written into session.end, and shown by `sessions --json` and `replay --format json`.
import assert from 'node:assert/strict'
import {availableParallelism} from 'node:os'
import {describe, it} from 'node:test'

import {listSessions} from '../../../src/storage/index.js'
import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {commandsOf, endOf, eventsOf, guardLeaks, onlySession, record, startCli} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

const storm = (n: number, prog = '/bin/true', args = '') => `i=0; while [ $i -lt ${n} ]; do ${prog}${args}; i=$((i+1)); done`

describe('reliability: load and loss accounting', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-load-'})

  it('5 concurrent sessions, each a 2000-exec storm: each has exactly its own 2000 commands, nothing lost', async () => {
    const ds = [0, 1, 2, 3, 4].map(() => dataDir())
    // each session runs its own copy of true under a distinct argv, so a stray event would show
    const results = await Promise.all(ds.map((d, k) => record(d, ['-q', '-c', storm(2000, '/bin/true', ` storm-${k}`)], {timeoutMs: 180_000})))
    for (const [k, d] of ds.entries()) {
      const r = results[k]!
      assert.equal(r.code, 0, r.stderr)
      const events = await eventsOf(onlySession(d))
      const cmds = commandsOf(events)
      const shell = cmds[0]!
      assert.equal(shell.path, '/bin/bash')
      const trues = cmds.filter((c) => c.path === '/bin/true')
      assert.equal(trues.length, 2000, `session ${k} recorded ${trues.length} /bin/true execs`)
      assert.ok(
        trues.every((c) => c.argv[0] === `storm-${k}` && c.return_code === 0),
        `session ${k} holds only its own commands`,
      )
      assert.ok(
        trues.every((c) => c.ppid === shell.pid),
        `session ${k}: every exec is a child of its own shell`,
      )
      assert.equal(cmds.length, 2001, `session ${k}: nothing else`)
      assert.deepEqual(endOf(events).lost_events, {command: 0, disk: 0, network: 0})
    }
  })

  it('a 10,000-exec storm in one session loses nothing', async () => {
    const d = dataDir()
    const r = await record(d, ['-q', '-c', storm(10_000)], {timeoutMs: 180_000})
    assert.equal(r.code, 0, r.stderr)
    const events = await eventsOf(onlySession(d))
    assert.equal(commandsOf(events).filter((c) => c.path === '/bin/true').length, 10_000)
    assert.deepEqual(endOf(events).lost_events, {command: 0, disk: 0, network: 0})
    assert.deepEqual(
      events.map((e) => e.ei),
      events.map((_e, i) => i),
      'ei contiguous',
    )
  })

  it('loss is never silent: a 1-page-per-CPU command ring, exec events larger than it: counted exactly, live line, session.end, sessions --json, replay --format json', async () => {
    const d = dataDir()
    // 150 execs with 20 KB of arguments (each event larger than the ring: 1 page per CPU) and 50 small ones
    const ring = 4096 * availableParallelism()
    const script = `a=$(printf "%01000d" 0); ${storm(150, '/bin/true', ` big${' $a'.repeat(20)}`)}; ${storm(50, '/bin/true', ' small')}`
    const run = startCli(['record', '--data-dir', d, '--command-buffer-size', '1', '-c', script])
    const r = await run.done
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /^er-shell ▸ events lost: \d+ command \(ring buffer full; raise \*_buffer_size\)$/m, 'a live loss line')
    assert.match(r.stderr, /EVENTS LOST/)
    const ref = onlySession(d)
    const events = await eventsOf(ref)
    const end = endOf(events)
    const trues = commandsOf(events).filter((c) => c.path === '/bin/true')
    const big = trues.filter((c) => c.argv[0] === 'big').length
    const small = trues.filter((c) => c.argv[0] === 'small').length
    assert.ok(end.lost_events.command > 0, JSON.stringify(end.lost_events))
    const all = commandsOf(events).length
    assert.equal(
      all + end.lost_events.command,
      201,
      `recorded ${all} (${big} big, ${small} small), lost ${end.lost_events.command}: every exec (the shell's and 200 /bin/true) is accounted for`,
    )
    if (ring < 20_000) assert.equal(big, 0, 'an event larger than the ring cannot be recorded')
    assert.equal(end.lost_events.disk, 0)
    assert.equal(end.lost_events.network, 0)
    const lostLine = Number(/events lost: (\d+) command/.exec([...r.stderr.matchAll(/events lost: \d+ command/g)].at(-1)![0])![1])
    assert.equal(lostLine, end.lost_events.command, 'the last live loss line has the final count')

    // the storage reader, `sessions --json` and `replay --format json` show it
    const [summary] = await listSessions(d)
    assert.deepEqual(summary?.lost_events, end.lost_events)
    const sessions = startCli(['sessions', '--data-dir', d, '--json'])
    const s = await sessions.done
    assert.equal(s.code, 0, s.stderr)
    assert.deepEqual(JSON.parse(s.stdout.toString())[0].lost_events, end.lost_events)
    const replay = await startCli(['replay', '--data-dir', d, ref.sid.slice(0, 8), '--format', 'json']).done
    assert.equal(replay.code, 0, replay.stderr)
    const replayed = replay.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.deepEqual(replayed.find((e) => e.event === 'session.end')?.lost_events, end.lost_events)
  })

  it('tiny buffers under a plain storm: recorded + lost = executed, per kind', async () => {
    const d = dataDir()
    // two storms at once in one session, 1-page ring: some loss is likely, none may go uncounted
    const r = await record(d, ['-q', '--command-buffer-size', '1', '-c', `(${storm(1500)}) & (${storm(1500)}); wait`], {timeoutMs: 120_000})
    assert.equal(r.code, 0, r.stderr)
    const events = await eventsOf(onlySession(d))
    const end = endOf(events)
    const all = commandsOf(events).length
    assert.equal(all + end.lost_events.command, 3001, `recorded ${all}, lost ${end.lost_events.command}: the shell and 3000 /bin/true`)
  })
})

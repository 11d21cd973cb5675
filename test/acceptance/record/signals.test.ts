// Signals to er-shell (man er-shell-record, SIGNALS): SIGTERM/SIGHUP send SIGHUP to the session's
// shell and the session ends cleanly; SIGINT is forwarded; SIGKILL leaves a recording that replays
// up to about a second before the kill, listed as unfinished, and the next record cleans up after it.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {listSessions} from '../../../src/storage/index.js'
import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {CGROUP_ROOT, chunksOf, endOf, eventsOf, gone, guardLeaks, onlySession, record, REGISTRY, sleep, startCli} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

describe('record: signals and crashes', {skip}, () => {
  const {dataDir, alsoCheck} = guardLeaks()

  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${sig} to er-shell mid-session: the shell gets SIGHUP, clean session.end, .completed, cgroup removed`, async () => {
      const d = dataDir()
      const run = startCli(['record', '--data-dir', d, '-c', 'echo ready; sleep 30; echo not-reached'])
      await run.waitFor('ready')
      const ref = onlySession(d)
      assert.equal(existsSync(join(CGROUP_ROOT, ref.sid)), true)
      process.kill(run.pid, sig)
      const r = await run.done
      assert.equal(r.code, 128 + 1, `exit status of a shell ended by SIGHUP; stderr: ${r.stderr}`)
      assert.match(r.stderr, new RegExp(`${sig}: ending session ${ref.sid}`))
      assert.doesNotMatch(r.stdout.toString(), /not-reached/)
      const events = await eventsOf(onlySession(d))
      const end = endOf(events)
      assert.equal(end.exit_code, 129)
      assert.equal(end.enhanced_recording, true)
      assert.equal(onlySession(d).completed, true)
      assert.equal(existsSync(join(CGROUP_ROOT, ref.sid)), false)
      assert.equal(existsSync(join(REGISTRY, `${ref.sid}.json`)), false)
    })
  }

  it('SIGINT to er-shell is forwarded to the session: a shell that traps it goes on', async () => {
    const d = dataDir()
    const run = startCli([
      'record',
      '--data-dir',
      d,
      '-c',
      "trap 'echo got-int' INT; echo ready; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.2; done; echo finished",
    ])
    await run.waitFor('ready')
    process.kill(run.pid, 'SIGINT')
    const r = await run.done
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /got-int/)
    assert.match(r.stdout.toString(), /finished/)
    assert.equal(onlySession(d).completed, true)
  })

  it('SIGINT to er-shell ends a session whose program does not trap it (exit 130)', async () => {
    const d = dataDir()
    const run = startCli(['record', '--data-dir', d, '--', '/bin/sh', '-c', 'echo ready; exec sleep 30'])
    await run.waitFor('ready')
    process.kill(run.pid, 'SIGINT')
    const r = await run.done
    assert.equal(r.code, 130, r.stderr)
    assert.equal(endOf(await eventsOf(onlySession(d))).exit_code, 130)
  })

  it('SIGINT to er-shell reaches the foreground job, as Ctrl-C on a terminal does: a running command is interrupted', async () => {
    const d = dataDir()
    // The sleep outlasts startCli's 120 s kill: a sleep that SIGINT did not interrupt fails the test
    // with no exit status, however slow the machine.
    const run = startCli(['record', '--data-dir', d, '-c', 'echo ready; sleep 600; echo after-sleep'])
    await run.waitFor('ready')
    await sleep(300)
    process.kill(run.pid, 'SIGINT')
    const r = await run.done
    assert.doesNotMatch(r.stdout.toString(), /after-sleep/)
    assert.equal(r.code, 130, r.stderr)
    assert.equal(endOf(await eventsOf(onlySession(d))).exit_code, 130)
  })

  it('SIGKILL as soon as the session is announced: session.start is already on disk', async () => {
    const d = dataDir()
    const run = startCli(['record', '--data-dir', d, '-c', 'sleep 30'])
    await run.waitFor(/recording session/, 20_000, 'stderr')
    process.kill(run.pid, 'SIGKILL')
    assert.equal((await run.done).signal, 'SIGKILL')
    const ref = onlySession(d)
    alsoCheck(ref.sid)
    const events = await eventsOf(ref, [])
    assert.equal(events[0]?.event, 'session.start')
    assert.equal((events[0] as any).initial_command?.[0], 'sleep 30')
    // the next record cleans up the dead recorder's cgroup and its sleep
    const next = await record(dataDir(), ['-q', '-c', 'true'])
    assert.equal(next.code, 0, next.stderr)
    assert.equal(existsSync(join(CGROUP_ROOT, ref.sid)), false)
  })

  it('SIGKILL mid-session: replays up to ~1 s before the kill, listed unfinished; the next record cleans the stale cgroup and processes and says so', async () => {
    const d = dataDir()
    // a tick every 50 ms, and a detached process that survives the terminal hangup
    const run = startCli([
      'record',
      '--data-dir',
      d,
      '-c',
      'setsid sleep 300 & echo bg:$!; i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo tick-$i; /bin/sleep 0.05; done',
    ])
    await run.waitFor('tick-40')
    const ref = onlySession(d)
    alsoCheck(ref.sid)
    const bg = Number(/bg:(\d+)/.exec(run.stdout().toString())?.[1])
    assert.ok(bg > 0)
    // what the operator's screen showed one second before the kill
    const ticksAt = (text: string) => [...text.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]))
    const seenSecondBefore = Math.max(...ticksAt(run.stdout().toString()))
    await sleep(1000)
    const shownAtKill = Math.max(...ticksAt(run.stdout().toString()))
    process.kill(run.pid, 'SIGKILL')
    const r = await run.done
    assert.equal(r.signal, 'SIGKILL')

    // the recording: readable, truncated (no trailer), and holds what was shown up to ~1 s before
    const warnings: string[] = []
    const chunks = (await chunksOf(ref, warnings)).toString()
    const events = await eventsOf(ref, warnings)
    const recorded = Math.max(0, ...ticksAt(chunks))
    assert.ok(
      recorded >= seenSecondBefore,
      `recorded up to tick ${recorded}; the screen showed ${seenSecondBefore} a second before the kill and ${shownAtKill} at it`,
    )
    assert.ok(events.some((e) => e.event === 'session.start'))
    assert.equal(
      events.some((e) => e.event === 'session.end'),
      false,
    )
    assert.ok(events.some((e) => e.event === 'session.command' && (e as any).path === '/bin/sleep'))
    assert.ok(
      warnings.some((w) => /truncated|no gzip trailer|empty/.test(w)),
      `readers say the files are unfinished: ${warnings.join(' | ')}`,
    )
    const [summary] = await listSessions(d)
    assert.equal(summary?.sid, ref.sid)
    assert.equal(summary?.unfinished, true)
    assert.equal(summary?.session_stop, null)
    assert.equal(existsSync(join(CGROUP_ROOT, ref.sid)), true, 'the dead recorder left its cgroup')
    assert.equal(existsSync(join(REGISTRY, `${ref.sid}.json`)), true)
    assert.equal(await gone(bg, 100), false, 'the detached process still runs')

    // the next record notices, ends the leftover processes, removes the cgroup, and says so
    // (any er-shell record on this host cleans stale sessions: one started by someone else in the
    // meantime may have done it first, and then said so on its own stderr)
    const d2 = dataDir()
    const stillThere = existsSync(join(REGISTRY, `${ref.sid}.json`))
    const next = await record(d2, ['-c', 'true'])
    assert.equal(next.code, 0, next.stderr)
    const notice = next.stderr.split('\n').find((l) => l.includes(ref.sid))
    if (stillThere || notice) {
      assert.ok(notice, `a notice names the stale session: ${next.stderr}`)
      assert.match(notice, /left by a recorder that died/)
      assert.match(notice, new RegExp(`${bg}/sleep`))
    }
    assert.equal(existsSync(join(CGROUP_ROOT, ref.sid)), false)
    assert.equal(existsSync(join(REGISTRY, `${ref.sid}.json`)), false)
    assert.equal(await gone(bg), true, 'the leftover process was ended')
    // the killed session stays readable afterwards
    const again = await chunksOf(onlySession(d))
    assert.ok(again.toString().includes(`tick-${recorded}`))
  })
})

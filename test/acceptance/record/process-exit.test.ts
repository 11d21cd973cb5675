// How each session process ended (session.process_exit): an exit status, a signal, a core dump,
// after how long, and the command it belongs to; one event per process, none per thread; `events
// --type exit` and replay show them beside their command; session.end counts them.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/events/types.js'
import {kernelTestsSkipReason, runCli} from '../../helpers/cli.js'
import {commandsOf, endOf, eventsOf, guardLeaks, onlySession, record} from '../../helpers/record.js'
import {tempDir} from '../../helpers/temp.js'

const skip = kernelTestsSkipReason()

const exitsOf = (events: AuditEvent[]) => events.filter((e) => e.event === 'session.process_exit') as Array<Record<string, any>>

describe('session.process_exit: how each session process ended', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-exit-'})

  it('exit statuses, a signal, a core dump and the run time, each tied to its command; threads make no events', async () => {
    const d = dataDir()
    const cwd = tempDir('er-exit-cwd-')
    // The core file lands in the test's temporary directory (core_pattern "core") or goes to a
    // pipe handler; either way the kernel reports the dump.
    const script = [
      `cd ${cwd}`,
      'sleep 0.3',
      "sh -c 'exit 3'",
      "sh -c 'kill -TERM $$'",
      "(ulimit -c unlimited; sh -c 'kill -SEGV $$')",
      `python3 -c 'import threading; ts = [threading.Thread(target=lambda: None) for _ in range(4)]; [t.start() for t in ts]; [t.join() for t in ts]; print("threads done")'`,
      'true',
    ].join('; ')
    const r = await record(d, ['-q', '--', 'bash', '-c', script])
    assert.equal(r.code, 0, r.stderr.toString())
    const events = await eventsOf(onlySession(d))
    const exits = exitsOf(events)
    const commands = commandsOf(events)
    const byUid = new Map(commands.map((c) => [c.uid as string, c]))
    const ofCommand = (path: string, argv: string[]) => {
      const cmd = commands.find((c) => c.path.endsWith(path) && JSON.stringify(c.argv) === JSON.stringify(argv))
      assert.ok(cmd, `the command ${path} ${argv.join(' ')}`)
      const found = exits.filter((x) => x.command_uid === cmd.uid)
      assert.equal(found.length, 1, `one exit for ${path} ${argv.join(' ')}: ${JSON.stringify(exits)}`)
      assert.equal(found[0]!.pid, cmd.pid)
      assert.equal(found[0]!.code, 'ERS0002I')
      return found[0]!
    }
    const sleep = ofCommand('/sleep', ['0.3'])
    assert.equal(sleep.exit_code, 0)
    assert.ok(sleep.elapsed_ms >= 290 && sleep.elapsed_ms < 5000, `sleep 0.3 ran ${sleep.elapsed_ms} ms`)
    assert.equal(ofCommand('/sh', ['-c', 'exit 3']).exit_code, 3)
    const term = ofCommand('/sh', ['-c', 'kill -TERM $$'])
    assert.deepEqual([term.signal, term.exit_code, term.core_dumped], ['SIGTERM', undefined, undefined])
    const segv = ofCommand('/sh', ['-c', 'kill -SEGV $$'])
    assert.deepEqual([segv.signal, segv.core_dumped], ['SIGSEGV', true])
    // Four threads started and ended: still one event for the process.
    const py = exits.filter((x) => x.program === 'python3')
    assert.equal(py.length, 1, JSON.stringify(py))
    assert.equal(py[0]!.exit_code, 0)
    // The shell itself, and every command tied to a real exec of the same pid.
    const bash = exits.find((x) => x.program === 'bash' && x.ppid !== undefined && byUid.get(x.command_uid)?.argv?.[0] === '-c')
    assert.ok(bash, 'the session shell ended')
    for (const x of exits) if (x.command_uid !== undefined) assert.equal(byUid.get(x.command_uid)?.pid, x.pid)
    assert.equal(endOf(events).event_counts.exit, exits.length)

    // events --type exit: each with its command; not in the default listing.
    const listed = runCli(['events', '--data-dir', d, '--type', 'exit'])
    assert.equal(listed.status, 0, listed.stderr)
    assert.match(listed.stdout, /sh -c 'exit 3' → exited 3 after \d+\.\d s/)
    assert.match(listed.stdout, /sh -c 'kill -SEGV \$\$' → killed by SIGSEGV \(core dumped\) after/)
    const all = runCli(['events', '--data-dir', d])
    assert.doesNotMatch(all.stdout, /exited 3/)
    // replay's event lines: the end of a command beside it.
    const replay = runCli(['replay', onlySession(d).sid, '--data-dir', d])
    assert.equal(replay.status, 0, replay.stderr)
    assert.match(replay.stdout + replay.stderr, /process_exit sh: \S*sh -c 'kill -TERM \$\$' → killed by SIGTERM after/)
  })
})

// `er-shell record` without a terminal: -c and -- runs (stdin /dev/null and a pipe), output recorded
// byte for byte, --login, leftovers, --quiet/--live, bad flags, and file layout and permissions.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {chmodSync, chownSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {hostLogName} from '../../../src/storage/index.js'
import {hasStackTrace, kernelTestsSkipReason} from '../../helpers/cli.js'
import {CGROUP_ROOT, chunksOf, commandsOf, endOf, eventsOf, gone, guardLeaks, onlySession, record, startCli} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

describe('record: non-interactive', {skip}, () => {
  const {dataDir, checkDir} = guardLeaks()

  it('-c with stdin from /dev/null: output on stdout and in the recording, commands recorded, exit status passed on', async () => {
    const d = dataDir()
    const r = await record(d, ['-c', 'echo out-$((40+2)); /bin/echo second; exit 3'])
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stdout.toString(), /out-42\r?\n/)
    assert.match(r.stdout.toString(), /second/)
    const ref = onlySession(d)
    assert.equal(ref.completed, true)
    const events = await eventsOf(ref)
    const start = events[0] as Record<string, any>
    assert.equal(start.event, 'session.start')
    assert.equal(start.interactive, false)
    assert.deepEqual(start.initial_command, ['echo out-$((40+2)); /bin/echo second; exit 3'])
    assert.deepEqual(
      events.map((e) => e.ei),
      events.map((_e, i) => i),
      'ei is contiguous from 0',
    )
    const cmds = commandsOf(events)
    assert.ok(
      cmds.some((c) => c.path === '/bin/echo' && c.argv[0] === 'second' && c.return_code === 0),
      JSON.stringify(cmds),
    )
    const end = endOf(events)
    assert.equal(end.exit_code, 3)
    assert.equal(end.interactive, false)
    assert.equal(end.enhanced_recording, true)
    assert.deepEqual(end.lost_events, {command: 0, disk: 0, network: 0})
    assert.ok(events.some((e) => e.event === 'session.data'))
    const chunks = (await chunksOf(ref)).toString()
    assert.match(chunks, /out-42/)
    assert.match(chunks, /second/)
    // the session id is printed at start and at the end
    assert.equal(r.stderr.split(ref.sid).length - 1 >= 2, true, r.stderr)
  })

  it('-- PROG ARGS runs the program directly (no shell), stdin a pipe', async () => {
    const d = dataDir()
    const r = await record(d, ['--', '/bin/sh', '-c', 'read x; echo "got:$x"', 'arg0'], {stdin: 'pipe', input: 'piped-data\n'})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /got:piped-data/)
    const events = await eventsOf(onlySession(d))
    const start = events[0] as Record<string, any>
    assert.deepEqual(start.initial_command, ['/bin/sh', '-c', 'read x; echo "got:$x"', 'arg0'])
    const cmds = commandsOf(events)
    assert.equal(cmds[0]?.path, '/bin/sh', 'the first exec is the program itself, not a shell around it')
    assert.deepEqual(cmds[0]?.argv, ['-c', 'read x; echo "got:$x"', 'arg0'])
    assert.match((await chunksOf(onlySession(d))).toString(), /got:piped-data/)
    assert.equal(endOf(events).exit_code, 0)
  })

  it('-c with stdin a pipe that closes: the session sees EOF and ends', async () => {
    const d = dataDir()
    const r = await record(d, ['-c', 'cat; echo cat-done'], {stdin: 'pipe', input: 'line-one\nline-two\n'})
    assert.equal(r.code, 0, r.stderr)
    const out = r.stdout.toString()
    assert.match(out, /line-two/)
    assert.match(out, /cat-done/)
  })

  it('-- with a missing program: non-zero exit, the failed exec is recorded', async () => {
    const d = dataDir()
    const r = await record(d, ['--', '/nonexistent/prog'])
    assert.notEqual(r.code, 0)
    assert.equal(hasStackTrace(r.stderr), false, r.stderr)
    const end = endOf(await eventsOf(onlySession(d)))
    assert.equal(end.exit_code, r.code)
  })

  for (let round = 1; round <= 3; round++) {
    it(`byte-exact: stdout and the recording equal a 20 MB file (round ${round} of 3: the node-pty tail-loss guard)`, async () => {
      const d = dataDir()
      const src = join(d, 'big.txt')
      // random base64 lines of 76 chars, 20 MB and an odd tail without a final newline
      const raw = randomBytes(15 * 1024 * 1024 + 12345).toString('base64')
      const lines: string[] = []
      for (let i = 0; i < raw.length; i += 76) lines.push(raw.slice(i, i + 76))
      const text = lines.join('\n')
      writeFileSync(src, text)
      const expected = readFileSync(src)
      assert.ok(expected.length >= 20 * 1024 * 1024)
      const r = await record(join(d, 'data'), ['-q', '-c', `stty -opost; cat ${src}`])
      checkDir(join(d, 'data'))
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout.length, expected.length, `stdout has ${r.stdout.length} bytes, the file ${expected.length}`)
      assert.ok(r.stdout.equals(expected), 'stdout equals the file byte for byte')
      const ref = onlySession(join(d, 'data'))
      const chunks = await chunksOf(ref)
      assert.equal(chunks.length, expected.length, `the recording has ${chunks.length} bytes, the file ${expected.length}`)
      assert.ok(chunks.equals(expected), 'the recording equals the file byte for byte')
      const events = await eventsOf(ref)
      const printed = events.filter((e) => e.event === 'print').reduce((n, e) => n + (e as any).bytes, 0)
      assert.equal(printed, expected.length, 'print events account for every byte')
    })
  }

  it('--login nobody runs the session as nobody, root records it', async () => {
    const d = dataDir()
    const r = await record(d, ['--login', 'nobody', '-c', 'id -u; /usr/bin/id -un'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /^65534\r?$/m)
    assert.match(r.stdout.toString(), /^nobody\r?$/m)
    const events = await eventsOf(onlySession(d))
    assert.ok(commandsOf(events).some((c) => c.path === '/usr/bin/id'))
    assert.equal((events[0] as any).login, 'nobody')
  })

  it('leftovers: `sleep 300 & echo started` in -c leaves no process behind', async () => {
    // Without job control the background sleep is in the terminal's foreground process group, so
    // the kernel's hangup at the shell's exit (as when a terminal closes) usually ends it before
    // er-shell looks; if it is still there, er-shell ends it and lists it. The shell waits until
    // its child has become sleep: a session that ends fast could otherwise find the forked shell
    // before its exec (and rightly list it as bash).
    const d = dataDir()
    const r = await record(d, ['--grace', '2', '-c', 'sleep 300 & until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done; echo started:$!'])
    assert.equal(r.code, 0, r.stderr)
    const pid = Number(/started:(\d+)/.exec(r.stdout.toString())?.[1])
    assert.ok(pid > 0, r.stdout.toString())
    const end = endOf(await eventsOf(onlySession(d)))
    const left = end.leftover_processes as Array<{pid: number; program: string; action: string}>
    assert.ok(left.length === 0 || JSON.stringify(left) === JSON.stringify([{pid, program: 'sleep', action: 'hup'}]), JSON.stringify(left))
    assert.equal(await gone(pid), true, 'the background sleep is gone')
  })

  it('leftovers: a background job outside the foreground group gets SIGHUP and is listed as hup', async () => {
    const d = dataDir()
    const r = await record(d, ['--grace', '2', '-c', 'setsid sleep 300 & sleep 0.3; echo started:$!'])
    assert.equal(r.code, 0, r.stderr)
    const pid = Number(/started:(\d+)/.exec(r.stdout.toString())?.[1])
    const end = endOf(await eventsOf(onlySession(d)))
    assert.deepEqual(end.leftover_processes, [{pid, program: 'sleep', action: 'hup'}])
    assert.equal(await gone(pid), true, 'the leftover sleep is gone')
    assert.match(r.stderr, /1 leftover process\(es\) ended/)
  })

  it('leftovers: a process ignoring SIGHUP is killed after --grace', async () => {
    const d = dataDir()
    const t0 = Date.now()
    // the shell waits until its child has become sleep (see the test above)
    const r = await record(d, [
      '--grace',
      '1',
      '-c',
      `trap '' HUP; (trap '' HUP; exec sleep 300) & until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done; echo started:$!`,
    ])
    assert.equal(r.code, 0, r.stderr)
    const pid = Number(/started:(\d+)/.exec(r.stdout.toString())?.[1])
    const end = endOf(await eventsOf(onlySession(d)))
    assert.deepEqual(end.leftover_processes, [{pid, program: 'sleep', action: 'killed'}])
    assert.ok(Date.now() - t0 >= 1000, 'waited the grace period')
    assert.equal(await gone(pid), true)
  })

  it('--leftovers keep: the process keeps running outside the session, listed as kept', async () => {
    const d = dataDir()
    const r = await record(d, ['--leftovers', 'keep', '-c', 'setsid sleep 300 & sleep 0.3; echo started:$!'])
    assert.equal(r.code, 0, r.stderr)
    const pid = Number(/started:(\d+)/.exec(r.stdout.toString())?.[1])
    try {
      const end = endOf(await eventsOf(onlySession(d)))
      assert.deepEqual(end.leftover_processes, [{pid, program: 'sleep', action: 'kept'}])
      assert.equal(await gone(pid, 200), false, 'still running')
      assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), /^0::\/teleport$/m, 'moved to root_path')
    } finally {
      process.kill(pid, 'SIGKILL')
    }
  })

  it('a descendant cgroup made inside the session is removed with the session cgroup', async () => {
    const d = dataDir()
    const r = await record(d, [
      '-c',
      'cg=$(sed -n "s/^0:://p" /proc/self/cgroup); mkdir /cgroup2$cg/child && sh -c \'echo $$ > /cgroup2\'"$cg"\'/child/cgroup.procs; /bin/echo in-child\'; echo cg:$cg',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /in-child/)
    const ref = onlySession(d)
    assert.match(r.stdout.toString(), new RegExp(`cg:/teleport/${ref.sid}`))
    const cmds = commandsOf(await eventsOf(ref))
    assert.ok(
      cmds.some((c) => c.path === '/bin/echo' && c.argv[0] === 'in-child'),
      'the descendant cgroup is recorded',
    )
    assert.equal(existsSync(join(CGROUP_ROOT, ref.sid)), false, 'session cgroup (and its child) removed')
    assert.doesNotMatch(r.stderr, /cleanup:/)
  })

  it('--quiet prints nothing on stderr; --live FILE gets the live lines', async () => {
    const d = dataDir()
    const q = await record(d, ['--quiet', '-c', '/bin/echo quiet-run'])
    assert.equal(q.code, 0)
    assert.equal(q.stderr, '')
    assert.match(q.stdout.toString(), /quiet-run/)

    const d2 = dataDir()
    const liveFile = join(d2, 'live.txt')
    const l = await record(d2, ['--live', liveFile, '-c', '/bin/echo live-run'])
    assert.equal(l.code, 0)
    const live = readFileSync(liveFile, 'utf8')
    assert.match(live, /command {2}pid \d+ {2}\/bin\/echo live-run {2}→ 0/)
    assert.doesNotMatch(l.stderr, /command {2}pid/, 'live lines went to the file, not stderr')
    assert.match(l.stderr, /recording session/, 'start/end notices still on stderr')
    assert.equal(statSync(liveFile).mode & 0o777, 0o600)

    const d3 = dataDir()
    const s = await record(d3, ['-c', '/bin/echo stderr-run'])
    assert.match(s.stderr, /er-shell ▸ command {2}pid \d+ {2}\/bin\/echo stderr-run {2}→ 0/)
    assert.doesNotMatch(s.stderr, /\x1b\[/, 'NO_COLOR: no escape sequences')
  })

  it('--live to a path that cannot be opened: one line, non-zero exit, no stack trace, nothing half-created', async () => {
    const base = dataDir()
    const d = join(base, 'data')
    const r = await record(d, ['--live', join(base, 'missing-dir', 'live.txt'), '-c', 'true'])
    assert.notEqual(r.code, 0)
    assert.equal(hasStackTrace(r.stderr), false, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /live.txt/)
    assert.equal(existsSync(d), false, 'no recording started')
  })

  it('--live never writes through a symlink into a file, nor into a file another user owns or may read', async () => {
    const base = dataDir()
    const victim = join(base, 'victim')
    writeFileSync(victim, 'precious\n', {mode: 0o600})
    const link = join(base, 'live-link')
    symlinkSync(victim, link)
    const r = await record(join(base, 'data'), ['--live', link, '-c', '/bin/echo via-link'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr.trim(), /^er-shell: refusing to write live lines to .*live-link: .*symbolic link/)
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n')

    const foreign = join(base, 'foreign.txt')
    writeFileSync(foreign, '', {mode: 0o600})
    chownSync(foreign, 65534, 65534)
    const f = await record(join(base, 'data2'), ['--live', foreign, '-c', 'true'])
    assert.notEqual(f.code, 0)
    assert.match(f.stderr.trim(), /^er-shell: refusing to write live lines to .*foreign.txt: it is owned by uid 65534/)

    const open = join(base, 'readable.txt')
    writeFileSync(open, '', {mode: 0o644})
    chmodSync(open, 0o644)
    const o = await record(join(base, 'data3'), ['--live', open, '-c', 'true'])
    assert.notEqual(o.code, 0)
    assert.match(o.stderr.trim(), /^er-shell: refusing to write live lines to .*readable.txt: other users may read or write it \(mode 0644\)/)
    assert.equal(readFileSync(open, 'utf8'), '')
    for (const d of ['data', 'data2', 'data3']) assert.equal(existsSync(join(base, d)), false)
  })

  it('--live through a symlink to a device (not a file) is fine', async () => {
    const d = dataDir()
    const link = join(d, 'to-null')
    symlinkSync('/dev/null', link)
    const r = await record(join(d, 'data'), ['--live', link, '-c', '/bin/echo to-null'])
    assert.equal(r.code, 0, r.stderr)
    assert.doesNotMatch(r.stderr, /command {2}pid/)
  })

  for (const [name, args, pattern] of [
    ['--events bogus', ['--events', 'bogus', '-c', 'true'], /events/],
    ['--grace x', ['--grace', 'x', '-c', 'true'], /--grace/],
    ['-c plus --', ['-c', 'true', '--', '/bin/true'], /either -c/],
    ['--leftovers maybe', ['--leftovers', 'maybe', '-c', 'true'], /leftovers/],
  ] as const) {
    it(`bad flags (${name}): one line, exit 2, nothing created`, async () => {
      const d = join(dataDir(), 'data')
      const r = await record(d, [...args])
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
      assert.match(r.stderr, pattern)
      assert.equal(hasStackTrace(r.stderr), false)
      assert.equal(existsSync(d), false, 'no data dir created')
      assert.equal(r.stdout.length, 0)
    })
  }

  it('layout and permissions per docs/file-layout.md, even under umask 000', async () => {
    const d = join(dataDir(), 'data')
    const r = await record(d, ['-c', '/bin/echo layout'], {wrap: ['sh', '-c', 'umask 000; exec "$0" "$@"']})
    assert.equal(r.code, 0, r.stderr)
    const ref = onlySession(d)
    const serverId = readFileSync(join(d, 'host_uuid'), 'utf8').trim()
    assert.equal(ref.serverId, serverId)
    const sess = join(d, 'log', serverId, 'sessions', 'default')
    const sid = ref.sid
    assert.deepEqual(
      readdirSync(sess).sort(),
      [
        `${sid}-0.chunks.gz`,
        `${sid}-0.events.gz`,
        `${sid}-0.session.command-events.gz`,
        `${sid}-0.session.disk-events.gz`,
        `${sid}-0.session.network-events.gz`,
        `${sid}.completed`,
        `${sid}.index`,
        `${sid}.integrity`,
      ].sort(),
    )
    const day = hostLogName()
    assert.deepEqual(readdirSync(join(d, 'log')).sort(), ['events.log', serverId].sort())
    assert.deepEqual(readdirSync(join(d, 'log', serverId)).sort(), [day, 'sessions'].sort())
    assert.equal(readlinkSync(join(d, 'log', 'events.log')), `${serverId}/${day}`)
    for (const dir of [d, join(d, 'log'), join(d, 'log', serverId), join(d, 'log', serverId, 'sessions'), sess]) {
      assert.equal(lstatSync(dir).mode & 0o777, 0o700, `${dir} is 0700`)
    }
    for (const f of [join(d, 'host_uuid'), join(d, 'log', serverId, day), ...readdirSync(sess).map((n) => join(sess, n))]) {
      assert.equal(lstatSync(f).mode & 0o777, 0o600, `${f} is 0600`)
    }
    // the index names every file
    const index = readFileSync(join(sess, `${sid}.index`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    assert.deepEqual(
      index.map((e) => e.file_name).sort(),
      readdirSync(sess)
        .filter((n) => n.endsWith('.gz'))
        .sort(),
    )
    // host audit log: every event but print, one JSON line each
    const hostLines = readFileSync(join(d, 'log', 'events.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    const events = await eventsOf(ref)
    const nonPrint = events.filter((e) => e.event !== 'print')
    assert.deepEqual(
      hostLines.map((e) => e.uid),
      nonPrint.map((e) => e.uid),
    )
    assert.ok(hostLines.some((e) => e.event === 'session.command' && e.path === '/bin/echo'))
    assert.equal(hostLines.at(-1).event, 'session.end')
    // per-kind file holds the commands
    assert.ok(statSync(join(sess, `${sid}-0.session.command-events.gz`)).size > 20)
  })

  it('two concurrent sessions are isolated: each records only its own commands', async () => {
    const a = dataDir()
    const b = dataDir()
    const script = (tag: string) => `for i in 1 2 3 4 5 6 7 8 9 10; do /bin/echo ${tag}-$i; sleep 0.05; done`
    const [ra, rb] = await Promise.all([record(a, ['-c', script('alpha')]), record(b, ['-c', script('beta')])])
    assert.equal(ra.code, 0, ra.stderr)
    assert.equal(rb.code, 0, rb.stderr)
    for (const [dir, mine, theirs] of [
      [a, 'alpha', 'beta'],
      [b, 'beta', 'alpha'],
    ] as const) {
      const ref = onlySession(dir)
      const cmds = commandsOf(await eventsOf(ref)).filter((c) => c.path === '/bin/echo')
      assert.equal(cmds.length, 10, `${mine}: ${JSON.stringify(cmds.map((c) => c.argv))}`)
      assert.ok(cmds.every((c) => String(c.argv[0]).startsWith(`${mine}-`)))
      const chunks = (await chunksOf(ref)).toString()
      assert.doesNotMatch(chunks, new RegExp(theirs))
    }
  })

  it('the recorder process title holds only what the caller typed', async () => {
    const d = dataDir()
    const run = startCli(['record', '--data-dir', d, '-c', 'echo go; sleep 1'])
    await run.waitFor('go')
    const cmdline = readFileSync(`/proc/${run.pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
    assert.match(cmdline[1]!, /bin\/run\.js$/)
    assert.deepEqual(cmdline.slice(2), ['record', '--data-dir', d, '-c', 'echo go; sleep 1'])
    const r = await run.done
    assert.equal(r.code, 0)
  })
})

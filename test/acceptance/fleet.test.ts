// Issue 20's "done when": two hosts (two data dirs, two server ids, two host names) record real
// sessions with `er-shell record` while `ship --follow` runs for each; the database is killed
// (SIGKILL) in the middle of a session and started again; then `events`, `sessions` and `replay`
// through the database return every event and recording exactly once, as the hosts' files have them.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {CLI, kernelTestsSkipReason, testEnv} from '../helpers/cli.js'
import {PASSWORD, PgCluster, postgresSkipReason} from '../helpers/postgres.js'
import {killStarted, sleep, startCli, type Running} from '../helpers/record.js'
import {tempDir} from '../helpers/temp.js'

const skip = kernelTestsSkipReason() || postgresSkipReason()

describe('two hosts ship into PostgreSQL; the database dies mid-session', {skip}, () => {
  after(() => killStarted())

  it('events, sessions and replay through the database: every event and recording exactly once', async (t) => {
    const cluster = await PgCluster.start(t)
    const uri = cluster.uri()
    const config = join(tempDir('er-fleet-acc-', t), 'er-shell.yaml')
    writeFileSync(config, '', {mode: 0o600})
    const hosts = ['web-1', 'db-1'].map((name) => ({name, dataDir: tempDir(`er-${name}-`, t)}))
    const envOf = (name: string) => ({ER_SHELL_CONFIG: config, ER_SHELL_NODENAME: name, ER_SHELL_AUDIT_EVENTS_URI: uri})
    const cli = (args: string[], name = 'web-1') => {
      const r = spawnSync(process.execPath, [CLI, ...args], {encoding: 'utf8', env: testEnv(envOf(name)), timeout: 60_000})
      return {status: r.status, stdout: r.stdout, stderr: r.stderr}
    }

    const shippers: Running[] = hosts.map((h) => startCli(['ship', '--follow', '--data-dir', h.dataDir], {env: envOf(h.name)}))
    await Promise.all(shippers.map((s) => s.waitFor(/shipping .*until stopped/, 20_000, 'stderr')))

    // Host A's session runs across the database's death; host B records while it is down.
    const long = startCli(
      ['record', '--data-dir', hosts[0]!.dataDir, '-c', 'for i in $(seq 30); do /bin/true; done; sleep 3; for i in $(seq 30); do /bin/echo line$i; done'],
      {env: envOf('web-1')},
    )
    await sleep(1500)
    await cluster.stop('kill')
    const short = await startCli(['record', '--data-dir', hosts[1]!.dataDir, '-c', 'for i in $(seq 10); do /bin/cat /etc/hostname; done'], {
      env: envOf('db-1'),
    }).done
    assert.equal(short.code, 0, short.stderr)
    await sleep(1000)
    await cluster.startServer()
    const longDone = await long.done
    assert.equal(longDone.code, 0, longDone.stderr)

    // Caught up: both recordings are in the store (they go after their events).
    for (let i = 0; i < 300; i++) {
      if (cluster.psql('SELECT count(*) FROM er_shell_recordings WHERE complete') === '2') break
      await sleep(100)
    }
    for (const s of shippers) s.child.kill('SIGTERM')
    const shipped = await Promise.all(shippers.map((s) => s.done))
    for (const s of shipped) {
      assert.equal(s.code, 0, s.stderr)
      assert.ok(!s.stderr.includes(PASSWORD), 'no password in what the shipper printed')
    }
    assert.match(shipped[0]!.stderr, /retrying \(nothing is lost/, 'the death of the database was one line')
    assert.match(shipped[0]!.stderr, /reachable again: caught up/)

    // sessions: both hosts, each session once.
    const sessions = JSON.parse(cli(['sessions', '--json']).stdout) as Array<{sid: string; host: string; unfinished: boolean; commands: number}>
    assert.deepEqual(sessions.map((s) => s.host).sort(), ['db-1', 'web-1'])
    for (const s of sessions) assert.equal(s.unfinished, false)

    for (const [index, h] of hosts.entries()) {
      const local = JSON.parse(cli(['sessions', '--json', '--local', '--data-dir', h.dataDir], h.name).stdout) as Array<{
        sid: string
        commands: number
        shipping: string
      }>
      assert.equal(local.length, 1)
      const sid = local[0]!.sid
      assert.equal(local[0]!.shipping, 'shipped')
      assert.equal(sessions.find((s) => s.sid === sid)?.commands, local[0]!.commands)
      // events: the store's answer is the files' answer, every event once, in order.
      const fromFiles = cli(['events', sid, '--json', '--local', '--data-dir', h.dataDir], h.name)
      const fromStore = cli(['events', sid, '--json', '--data-dir', tempDir('er-elsewhere-', t)], h.name)
      assert.equal(fromStore.status, 0, fromStore.stderr)
      const uids = (text: string) =>
        text
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as {uid: string}).uid)
      assert.deepEqual(uids(fromStore.stdout), uids(fromFiles.stdout), `host ${index}: the same events`)
      assert.equal(new Set(uids(fromStore.stdout)).size, uids(fromStore.stdout).length, 'each once')
      // replay from a host without the files: the same recording, byte for byte.
      const replayedLocal = cli(['replay', sid, '--format', 'text', '--local', '--data-dir', h.dataDir], h.name)
      const replayedStore = cli(['replay', sid, '--format', 'text', '--data-dir', tempDir('er-elsewhere-', t)], h.name)
      assert.equal(replayedStore.status, 0, replayedStore.stderr)
      assert.equal(replayedStore.stdout, replayedLocal.stdout)
      assert.equal(replayedStore.stderr, '', 'no damage warning for a recording fetched from the store')
    }
    assert.match(cli(['replay', sessions.find((s) => s.host === 'web-1')!.sid, '--format', 'text', '--data-dir', tempDir('er-elsewhere-', t)]).stdout, /line30/)
    const total = Number(cluster.psql('SELECT count(*) FROM events'))
    assert.equal(Number(cluster.psql('SELECT count(DISTINCT event_id) FROM events')), total, 'no duplicate rows')
  })
})

describe('record ships its own session when a fleet store is configured', {skip}, () => {
  after(() => killStarted())

  it('without running ship: the events and the finished recording reach the store after record exits', async (t) => {
    const cluster = await PgCluster.start(t)
    const config = join(tempDir('er-fleet-acc-', t), 'er-shell.yaml')
    writeFileSync(config, '', {mode: 0o600})
    const dataDir = tempDir('er-self-', t)
    const env = {ER_SHELL_CONFIG: config, ER_SHELL_NODENAME: 'self-1', ER_SHELL_AUDIT_EVENTS_URI: cluster.uri()}
    const recorder = startCli(['record', '--data-dir', dataDir, '-c', 'for i in $(seq 5); do /bin/echo x$i; done'], {env})
    const done = await recorder.done
    assert.equal(done.code, 0, done.stderr)
    assert.ok(!done.stderr.includes(PASSWORD))
    for (let i = 0; i < 200; i++) {
      if (cluster.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'er_shell_recordings'") === '1') {
        if (cluster.psql('SELECT count(*) FROM er_shell_recordings WHERE complete') === '1') break
      }
      await sleep(100)
    }
    assert.equal(cluster.psql('SELECT count(*) FROM er_shell_recordings WHERE complete'), '1')
    assert.equal(cluster.psql("SELECT count(*) FROM events WHERE event_type = 'session.end'"), '1')
    assert.equal(cluster.psql("SELECT count(*) FROM events WHERE event_type = 'session.command' AND event_data->>'program' = 'echo'"), '5')
    // Its shipper is gone too.
    const mine = () => spawnSync('ps', ['-eo', 'args'], {encoding: 'utf8'}).stdout.includes(`--while-pid ${recorder.pid} `)
    for (let i = 0; i < 50 && mine(); i++) await sleep(100)
    assert.equal(mine(), false, 'the shipper exited after its recorder')
  })
})

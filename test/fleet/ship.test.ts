// `er-shell ship` against a real PostgreSQL: every host log line exactly once, whatever happens to
// the shipper or the database meanwhile; failures are one line without the password.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {appendFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {SCHEMA_VERSION} from '../../src/fleet/schema.js'
import {ensureHostKeys} from '../../src/integrity/keys.js'
import {CLI, ROOT, hasStackTrace, testEnv} from '../helpers/cli.js'
import {appendHostLog, hostLogPath, simHost, simSession, writeSessionFiles, type SimHost} from '../helpers/host-log.js'
import {PASSWORD, PgCluster, postgresSkipReason} from '../helpers/postgres.js'
import {tempDir} from '../helpers/temp.js'

function ship(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, 'ship', ...args], {encoding: 'utf8', env: testEnv(env), timeout: 120_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

/** Lines the host log holds vs rows the store holds (and how many distinct event ids). */
function counts(cluster: PgCluster, database: string): {rows: number; distinct: number} {
  const [rows, distinct] = cluster.psql('SELECT count(*), count(DISTINCT event_id) FROM events', database).split('|').map(Number)
  return {rows: rows!, distinct: distinct!}
}

function hostLogLines(host: SimHost): number {
  return readFileSync(hostLogPath(host, Date.now() - 60_000), 'utf8')
    .split('\n')
    .filter((l) => l !== '').length
}

describe('er-shell ship', {skip: postgresSkipReason()}, () => {
  let cluster: PgCluster
  let n = 0
  /** A new database per test: the tests share one cluster. */
  const database = () => {
    const name = `t${++n}`
    cluster.psql(`CREATE DATABASE ${name}`)
    return name
  }
  before(async () => {
    cluster = await PgCluster.start()
  })
  after(() => cluster?.destroy())

  it('ships every line once and each finished recording; a second run ships nothing', () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-1')
    for (let i = 0; i < 3; i++) {
      const session = simSession(host, {commands: 25})
      appendHostLog(host, session.lines)
      writeSessionFiles(host, session)
    }
    const uri = cluster.uri({database: db})
    const first = ship(['--data-dir', host.dataDir, '--audit-events-uri', uri])
    assert.equal(first.status, 0, first.stderr)
    assert.match(first.stderr, /shipped 87 lines \(87 new\) from 1 file, 3 recordings/)
    assert.ok(!first.stderr.includes(PASSWORD), 'no password in the output')
    assert.deepEqual(counts(cluster, db), {rows: 87, distinct: 87})
    const again = ship(['--data-dir', host.dataDir, '--audit-events-uri', uri, '--json'])
    assert.equal(again.status, 0, again.stderr)
    const json = JSON.parse(again.stdout) as {lines: number; store: string}
    assert.equal(json.lines, 0)
    assert.equal(json.store.includes(PASSWORD), false)
    assert.match(json.store, /postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1/)
    assert.deepEqual(counts(cluster, db), {rows: 87, distinct: 87})
    assert.equal(cluster.psql('SELECT count(*) FROM er_shell_recordings WHERE complete', db), '3')
    // Teleport's schema: its version row, and its columns as it reads them.
    assert.equal(cluster.psql('SELECT version FROM audit_version', db), '1')
    assert.equal(
      cluster.psql(
        "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'events'",
        db,
      ),
      'event_time:timestamp with time zone,event_id:uuid,event_type:text,session_id:uuid,event_data:json,creation_time:timestamp with time zone',
    )
  })

  it('ships a line only once it is complete', () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-2')
    const session = simSession(host, {commands: 3})
    const file = hostLogPath(host, Date.now() - 60_000)
    const lines = session.lines
    appendHostLog(host, lines.slice(0, 2))
    const half = lines[2]!.slice(0, 40)
    appendFileSync(file, half)
    const uri = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    assert.equal(counts(cluster, db).rows, 2)
    appendFileSync(file, lines[2]!.slice(40) + lines.slice(3).join(''))
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    assert.deepEqual(counts(cluster, db), {rows: lines.length, distinct: lines.length})
  })

  it('a cursor lost (a restored database): the lines already there stay one row each, the new ones go in, counts stay exact', () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-5')
    const first = simSession(host, {commands: 30})
    appendHostLog(host, first.lines)
    const uri = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    // Lines COPY's text format must escape (backslash, tab and CR between JSON tokens), and a uid twice.
    const second = simSession(host, {commands: 10})
    const odd = second.lines.map((line, i) => (i === 3 ? line.replace('{', '{\t"note":"a\\\\b\\tc",\r') : line))
    appendHostLog(host, [...odd, odd[5]!])
    cluster.psql('DELETE FROM er_shell_cursors', db)
    const again = ship(['--data-dir', host.dataDir, '--audit-events-uri', uri, '--batch-size', '7'])
    assert.equal(again.status, 0, again.stderr)
    const total = first.lines.length + second.lines.length
    assert.match(again.stderr, new RegExp(`shipped ${total + 1} lines \\(${second.lines.length} new\\)`))
    assert.deepEqual(counts(cluster, db), {rows: total, distinct: total})
    assert.equal(cluster.psql('SELECT sum(events) FROM er_shell_sessions', db), String(total), 'session counts count each row once')
    const note = cluster.psql(`SELECT event_data::text FROM events WHERE event_data->>'note' IS NOT NULL`, db)
    assert.equal(note, odd[3]!.trimEnd(), 'the line as it was written, byte for byte')
    assert.equal(cluster.psql(`SELECT event_data->>'note' FROM events WHERE event_data->>'note' IS NOT NULL`, db), 'a\\b\tc')
  })

  it('a store of schema version 2 migrates: its commands get their numbers and programs, the JSON index goes', () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-6')
    const sessions = [simSession(host, {commands: 5}), simSession(host, {commands: 3})]
    for (const session of sessions) appendHostLog(host, session.lines)
    const uri = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    const numbered = `SELECT string_agg(c.program || '#' || c.number, ',' ORDER BY c.session_id, c.number) FROM er_shell_commands c`
    const shipped = cluster.psql(numbered, db)
    assert.match(shipped, /^(\w+#\d,){7}\w+#\d$/)
    // Version 2 as it was: no er_shell_commands nor output_bytes, the program index on events' JSON.
    cluster.psql(
      `DROP TABLE er_shell_commands; ALTER TABLE er_shell_recordings DROP COLUMN output_bytes; DELETE FROM er_shell_schema WHERE version > 2;
       CREATE INDEX er_shell_events_program_idx ON events ((event_data->>'program'), event_time) WHERE event_type = 'session.command'`,
      db,
    )
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    assert.equal(cluster.psql(numbered, db), shipped)
    assert.equal(cluster.psql(`SELECT count(*) FROM pg_indexes WHERE indexname = 'er_shell_events_program_idx'`, db), '0')
  })

  it('two shippers at once: no duplicates, nothing missing', async () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-3')
    for (let i = 0; i < 20; i++) appendHostLog(host, simSession(host, {commands: 500}).lines)
    const uri = cluster.uri({database: db})
    // The schema first, so that both shippers race on the rows, not on CREATE TABLE.
    assert.equal(ship(['--data-dir', tempDir('er-empty-'), '--audit-events-uri', uri]).status, 0)
    const run = () =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'ship', '--batch-size', '200', '--data-dir', host.dataDir, '--audit-events-uri', uri], {
          env: testEnv(),
          stdio: 'ignore',
        })
        child.on('exit', resolve)
      })
    const statuses = await Promise.all([run(), run()])
    assert.deepEqual(statuses, [0, 0])
    const total = hostLogLines(host)
    assert.deepEqual(counts(cluster, db), {rows: total, distinct: total})
    assert.equal(cluster.psql('SELECT sum(events) FROM er_shell_sessions', db), String(total), 'session counts count each row once')
  })

  it('killed with SIGKILL mid-batch: the next run resumes without gaps or duplicates', async () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-4')
    for (let i = 0; i < 40; i++) appendHostLog(host, simSession(host, {commands: 1000}).lines)
    const uri = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', tempDir('er-empty-'), '--audit-events-uri', uri]).status, 0)
    const child = spawn(process.execPath, [CLI, 'ship', '--batch-size', '300', '--data-dir', host.dataDir, '--audit-events-uri', uri], {
      env: testEnv(),
      stdio: 'ignore',
    })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    for (let i = 0; i < 400 && counts(cluster, db).rows === 0; i++) await sleep(25)
    child.kill('SIGKILL')
    await exited
    const partial = counts(cluster, db).rows
    const total = hostLogLines(host)
    assert.ok(partial > 0 && partial < total, `killed mid-way (${partial} of ${total})`)
    const resumed = ship(['--data-dir', host.dataDir, '--audit-events-uri', uri])
    assert.equal(resumed.status, 0, resumed.stderr)
    assert.deepEqual(counts(cluster, db), {rows: total, distinct: total})
    assert.equal(cluster.psql('SELECT sum(lines) FROM er_shell_cursors', db), String(total))
  })

  it('wrong password: one line without the password, exit 1', () => {
    const host = simHost(tempDir('er-ship-'), 'web-5')
    appendHostLog(host, simSession(host).lines)
    const r = ship(['--data-dir', host.dataDir, '--audit-events-uri', cluster.uri({password: 'not-the-Pa55word'})])
    assert.equal(r.status, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /^er-shell: fleet store postgres:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/postgres: cannot connect: password authentication failed/)
    assert.ok(!r.stderr.includes('not-the-Pa55word'))
    assert.equal(hasStackTrace(r.stderr), false)
  })

  it("a least-privileged role (the README's grants) ships with --no-create, and --follow ships although it may not DELETE", async () => {
    const db = database()
    const owner = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', tempDir('er-empty-'), '--audit-events-uri', owner]).status, 0)
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const grants = /```sql\n(CREATE ROLE er_shell[\s\S]*?)```/.exec(readme)?.[1]
    assert.ok(grants, 'README has the grants')
    cluster.psql(grants.replace("PASSWORD '…'", "PASSWORD 'limited-pw'").replace('DATABASE audit', `DATABASE ${db}`), db)
    const host = simHost(tempDir('er-ship-'), 'web-9')
    const key = ensureHostKeys(host.dataDir)!
    appendHostLog(host, simSession(host, {commands: 30}).lines)
    const session = simSession(host, {commands: 5})
    appendHostLog(host, session.lines)
    writeSessionFiles(host, session)
    const limited = `postgres://er_shell:limited-pw@127.0.0.1:${cluster.port}/${db}`
    const r = ship(['--no-create', '--data-dir', host.dataDir, '--audit-events-uri', limited])
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(counts(cluster, db), {rows: hostLogLines(host), distinct: hostLogLines(host)})
    assert.equal(cluster.psql('SELECT count(*) FROM er_shell_recordings WHERE complete', db), '1')
    assert.equal(cluster.psql(`SELECT key_id FROM er_shell_verification_keys WHERE server_id = '${host.serverId}'`, db), key.id)
    const denied = ship([
      '--data-dir',
      tempDir('er-empty-'),
      '--audit-events-uri',
      `postgres://er_shell:limited-pw@127.0.0.1:${cluster.port}/${cluster.psql('SELECT current_database()')}`,
    ])
    assert.equal(denied.status, 1)
    assert.match(denied.stderr, /permission denied/)
    const child = spawn(process.execPath, [CLI, 'ship', '--follow', '--no-create', '--data-dir', host.dataDir, '--audit-events-uri', limited], {
      env: testEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    for (let i = 0; i < 200 && !/retention cleanup/.test(stderr); i++) await sleep(50)
    appendHostLog(host, simSession(host, {commands: 7}).lines)
    for (let i = 0; i < 200 && counts(cluster, db).rows < hostLogLines(host); i++) await sleep(50)
    child.kill('SIGTERM')
    assert.equal(await exited, 0, stderr)
    assert.match(stderr, /permission denied.*\(in the retention cleanup; shipping goes on/)
    assert.equal(counts(cluster, db).rows, hostLogLines(host))
  })

  it('a schema from a newer er-shell: refused with one line, nothing written', () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-6')
    const uri = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    cluster.psql('INSERT INTO er_shell_schema (version) VALUES (99)', db)
    appendHostLog(host, simSession(host).lines)
    const r = ship(['--data-dir', host.dataDir, '--audit-events-uri', uri])
    assert.equal(r.status, 1)
    assert.match(
      r.stderr,
      new RegExp(
        `^er-shell: fleet store \\S+: its er-shell schema is version 99, newer than this er-shell knows \\(${SCHEMA_VERSION}\\): upgrade er-shell on this host; nothing was written\n$`,
      ),
    )
    assert.equal(counts(cluster, db).rows, 0)
  })

  it('a read-only database: one line, then ships everything once it is writable again', () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-7')
    const uri = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    appendHostLog(host, simSession(host, {commands: 50}).lines)
    cluster.psql(`ALTER DATABASE ${db} SET default_transaction_read_only = on`)
    const r = ship(['--data-dir', host.dataDir, '--audit-events-uri', uri])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^er-shell: fleet store \S+: the server is in a read-only transaction .*nothing was written\n$/)
    cluster.psql(`ALTER DATABASE ${db} SET default_transaction_read_only = off`)
    assert.equal(ship(['--data-dir', host.dataDir, '--audit-events-uri', uri]).status, 0)
    const total = hostLogLines(host)
    assert.deepEqual(counts(cluster, db), {rows: total, distinct: total})
  })

  it('--follow: the database stopped and restarted (a network cut) — one line, then it catches up', async () => {
    const db = database()
    const host = simHost(tempDir('er-ship-'), 'web-8')
    const uri = cluster.uri({database: db})
    assert.equal(ship(['--data-dir', tempDir('er-empty-'), '--audit-events-uri', uri]).status, 0)
    appendHostLog(host, simSession(host, {commands: 20}).lines)
    const child = spawn(process.execPath, [CLI, 'ship', '--follow', '--data-dir', host.dataDir, '--audit-events-uri', uri], {
      env: testEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
    try {
      for (let i = 0; i < 200 && counts(cluster, db).rows < hostLogLines(host); i++) await sleep(50)
      assert.equal(counts(cluster, db).rows, hostLogLines(host))
      await cluster.stop()
      // Sessions keep recording while the database is down.
      for (let i = 0; i < 5; i++) appendHostLog(host, simSession(host, {commands: 100}).lines)
      for (let i = 0; i < 200 && !/cannot connect|connection was cut|shut down/.test(stderr); i++) await sleep(50)
      assert.match(stderr, /er-shell: fleet store postgres:\/\/postgres:\*\*\*\*@[^:]+:\d+\/t\d+: .*retrying \(nothing is lost/)
      await cluster.startServer()
      const total = hostLogLines(host)
      for (let i = 0; i < 400 && counts(cluster, db).rows < total; i++) await sleep(50)
      assert.deepEqual(counts(cluster, db), {rows: total, distinct: total})
      for (let i = 0; i < 100 && !/reachable again/.test(stderr); i++) await sleep(50)
      assert.match(stderr, /fleet store reachable again: caught up/)
    } finally {
      child.kill('SIGTERM')
    }
    assert.equal(await exited, 0, stderr)
    assert.ok(!stderr.includes(PASSWORD))
    assert.equal(hasStackTrace(stderr), false, stderr)
  })
})

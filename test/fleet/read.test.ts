// Fleet-wide reading: two simulated hosts ship into one store; sessions, events and replay answer
// for both from any host, with --host/--server-id; --local reads this host's files as before; a
// local session's shipping state shows in `sessions`.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {gzipSync} from 'node:zlib'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {CLI, testEnv} from '../helpers/cli.js'
import {appendHostLog, simHost, simSession, writeSessionFiles, type SimHost, type SimSession} from '../helpers/host-log.js'
import {PASSWORD, PgCluster, postgresSkipReason} from '../helpers/postgres.js'
import {tempDir} from '../helpers/temp.js'

/** An empty config file: the machine's /etc/er-shell.yaml stays out of the tests. */
let emptyConfig: string | undefined
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  if (emptyConfig === undefined) {
    emptyConfig = join(tempDir('er-fleet-config-'), 'er-shell.yaml')
    writeFileSync(emptyConfig, '', {mode: 0o600})
  }
  const r = spawnSync(process.execPath, [CLI, ...args], {encoding: 'utf8', env: testEnv({ER_SHELL_CONFIG: emptyConfig, ...env}), timeout: 60_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

describe('fleet-wide sessions, events and replay', {skip: postgresSkipReason()}, () => {
  let cluster: PgCluster
  let uri: string
  let web: SimHost
  let db: SimHost
  const sessions: Record<string, SimSession[]> = {web: [], db: []}
  before(async () => {
    cluster = await PgCluster.start()
    uri = cluster.uri()
    web = simHost(tempDir('er-web-'), 'web-1')
    db = simHost(tempDir('er-db-'), 'db-1')
    for (const [name, host, user, programs] of [
      ['web', web, 'alice', ['ls', 'curl']],
      ['db', db, 'bob', ['psql', 'cat']],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        const session = simSession(host, {user, programs: [...programs], commands: 12, startMs: Date.now() - 3_600_000 + i * 1000})
        appendHostLog(host, session.lines)
        writeSessionFiles(host, session)
        sessions[name]!.push(session)
      }
      const r = cli(['ship', '--data-dir', host.dataDir, '--audit-events-uri', uri])
      assert.equal(r.status, 0, r.stderr)
    }
  })
  after(() => cluster?.destroy())

  it('sessions: every host, with HOST; --host and --server-id narrow it; --local reads the files', () => {
    const all = cli(['sessions', '--json', '--data-dir', web.dataDir, '--audit-events-uri', uri])
    assert.equal(all.status, 0, all.stderr)
    const list = JSON.parse(all.stdout) as Array<{
      sid: string
      host: string
      commands: number
      network: number
      disk_filtered: number
      unfinished: boolean
      recording: boolean
    }>
    assert.equal(list.length, 4)
    assert.deepEqual(new Set(list.map((s) => s.host)), new Set(['web-1', 'db-1']))
    for (const s of list) assert.deepEqual([s.commands, s.network, s.disk_filtered, s.unfinished, s.recording], [12, 1, 2, false, true])
    const table = cli(['sessions', '--data-dir', web.dataDir, '--audit-events-uri', uri])
    assert.match(table.stdout, /SESSION\s*│ HOST\s*│ START/)
    assert.match(table.stdout, /db-1/)
    const onlyDb = JSON.parse(cli(['sessions', '--json', '--host', 'db-1', '--audit-events-uri', uri]).stdout) as Array<{sid: string}>
    assert.deepEqual(onlyDb.map((s) => s.sid).sort(), sessions.db!.map((s) => s.sid).sort())
    const byId = JSON.parse(cli(['sessions', '--json', '--server-id', web.serverId, '--audit-events-uri', uri]).stdout) as Array<{sid: string}>
    assert.deepEqual(byId.map((s) => s.sid).sort(), sessions.web!.map((s) => s.sid).sort())
    const local = JSON.parse(cli(['sessions', '--json', '--local', '--data-dir', web.dataDir, '--audit-events-uri', uri]).stdout) as Array<{
      sid: string
      shipping: string
    }>
    assert.deepEqual(local.map((s) => s.sid).sort(), sessions.web!.map((s) => s.sid).sort())
    assert.deepEqual(
      local.map((s) => s.shipping),
      ['shipped', 'shipped'],
    )
    const down = cli(['sessions', '--audit-events-uri', `postgres://postgres:${PASSWORD}@127.0.0.1:1/postgres?connect_timeout=5`])
    assert.equal(down.status, 1)
    assert.equal(
      down.stderr,
      "er-shell: fleet store postgres://postgres:****@127.0.0.1:1/postgres?connect_timeout=5: cannot connect: connection refused (is PostgreSQL running and listening there?) (--local reads this host's files)\n",
    )
    const noStore = cli(['sessions', '--host', 'db-1', '--data-dir', web.dataDir])
    assert.equal(noStore.status, 2)
    assert.match(noStore.stderr, /^er-shell: --host reads the fleet store: configure audit_events_uri/)
  })

  it('events: who ran curl anywhere (HOST column, SQL filter), one session by prefix, --user, as JSON', () => {
    const curl = cli(['events', '--program', '^curl$', '--audit-events-uri', uri])
    assert.equal(curl.status, 0, curl.stderr)
    const rows = curl.stdout.trim().split('\n')
    assert.match(rows[0]!, /^TIME \(UTC\)\s+HOST\s+SESSION\s+USER/)
    assert.equal(rows.length - 1, 12, 'six curls in each web session')
    for (const row of rows.slice(1)) assert.match(row, /web-1\s+\w{8}\s+alice.*curl/)
    const sid = sessions.db![1]!.sid
    const one = cli(['events', sid.slice(0, 8), '--json', '--audit-events-uri', uri])
    assert.equal(one.status, 0, one.stderr)
    const events = one.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {uid: string; sid: string})
    assert.deepEqual(
      events.map((e) => e.uid),
      sessions.db![1]!.events.map((e) => e.uid),
      'every event of the session, once, in order',
    )
    const bob = cli(['events', '--json', '--user', 'bob', '--type', 'command', '--command', 'file6\\.c', '--audit-events-uri', uri])
    assert.equal(bob.stdout.trim().split('\n').length, 24)
    const lookbehind = cli(['events', '--json', '--program', '(ps)ql', '--host', 'db-1', '--audit-events-uri', uri])
    assert.equal(lookbehind.stdout.trim().split('\n').length, 12)
  })

  it('events from the store number commands #N as the session files do, whatever the filter', () => {
    const sid = sessions.web![1]!.sid
    /** The #N of each row that has one. */
    const numbers = (args: string[]) => {
      const r = cli(['events', ...args, '--data-dir', web.dataDir, '--audit-events-uri', uri])
      assert.equal(r.status, 0, r.stderr)
      return [...r.stdout.matchAll(/ #(\d+) /g)].map((m) => Number(m[1]))
    }
    const local = numbers([sid, '--local'])
    assert.deepEqual(
      local,
      Array.from({length: 12}, (_, i) => i + 1),
    )
    assert.deepEqual(numbers([sid]), local, 'one session')
    assert.deepEqual(numbers([sid, '--program', '^curl$']), numbers([sid, '--local', '--program', '^curl$']), 'only its curls')
    assert.deepEqual(numbers([sid, '--program', 'l']), numbers([sid, '--local', '--program', 'l']), 'a regular expression')
    const everyCurl = numbers(['--program', '^curl$', '--host', 'web-1'])
    assert.deepEqual(everyCurl, [...numbers(['--local', '--program', '^curl$'])], 'every session of the host')
    assert.equal(everyCurl.length, 12)
  })

  it('replay from a host that does not have the recording; --local does not look in the store', () => {
    const elsewhere = tempDir('er-elsewhere-')
    const session = sessions.web![0]!
    const r = cli(['replay', session.sid.slice(0, 8), '--format', 'json', '--data-dir', elsewhere, '--audit-events-uri', uri])
    assert.equal(r.status, 0, r.stderr)
    const uids = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as {uid: string}).uid)
    assert.deepEqual(
      uids,
      session.events.map((e) => e.uid),
    )
    const local = cli(['replay', session.sid.slice(0, 8), '--local', '--format', 'json', '--data-dir', elsewhere, '--audit-events-uri', uri])
    assert.equal(local.status, 1)
    assert.match(local.stderr, /^er-shell: no recorded session matches/)
  })

  it('sessions --local shows a session behind, then failing with the reason, without the password', async () => {
    const extra = simSession(web, {commands: 4})
    appendHostLog(web, extra.lines)
    writeSessionFiles(web, extra)
    const behind = JSON.parse(cli(['sessions', '--json', '--local', '--data-dir', web.dataDir, '--audit-events-uri', uri]).stdout) as Array<{
      sid: string
      shipping: string
    }>
    assert.equal(behind.find((s) => s.sid === extra.sid)?.shipping, `behind by ${extra.lines.length}`)
    const wrong = cluster.uri({password: 'nope-nope'})
    assert.equal(cli(['ship', '--data-dir', web.dataDir, '--audit-events-uri', wrong]).status, 1)
    const failing = cli(['sessions', '--local', '--data-dir', web.dataDir, '--audit-events-uri', wrong])
    assert.match(failing.stdout, /failing: cannot connect: password/)
    assert.ok(!failing.stdout.includes('nope-nope') && !failing.stdout.includes(PASSWORD))
    assert.equal(cli(['ship', '--data-dir', web.dataDir, '--audit-events-uri', uri]).status, 0)
    const shipped = JSON.parse(cli(['sessions', '--json', '--local', '--data-dir', web.dataDir, '--audit-events-uri', uri]).stdout) as Array<{shipping: string}>
    assert.deepEqual(new Set(shipped.map((s) => s.shipping)), new Set(['shipped']))
  })

  it('sessions --json from the store gives the output bytes local sessions gives', () => {
    const session = simSession(web, {commands: 3})
    appendHostLog(web, session.lines)
    writeSessionFiles(web, session)
    // Terminal output: print events in the session's events file (never in the host log).
    const prints = [700, 20, 4096].map(
      (bytes, ci) => JSON.stringify({...session.events[1], event: 'print', bytes, ms: ci, offset: 0, ci, uid: undefined}) + '\n',
    )
    const events = [session.lines[0]!, ...prints, ...session.lines.slice(1)].join('')
    writeFileSync(join(web.dataDir, 'log', web.serverId, 'sessions', 'default', `${session.sid}-0.events.gz`), gzipSync(events))
    assert.equal(cli(['ship', '--data-dir', web.dataDir, '--audit-events-uri', uri]).status, 0)
    const bytes = (args: string[]) => {
      const list = JSON.parse(cli(['sessions', '--json', ...args, '--data-dir', web.dataDir, '--audit-events-uri', uri]).stdout) as Array<{
        sid: string
        output_bytes: number
      }>
      return list.find((s) => s.sid === session.sid)?.output_bytes
    }
    assert.equal(bytes(['--local']), 4816)
    assert.equal(bytes([]), 4816)
  })
})

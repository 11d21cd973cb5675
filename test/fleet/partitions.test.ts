// #partitioning=monthly: a new store's events table partitioned by month of event_time; retention
// drops whole months, and every event still goes in exactly once (old ones into the default).
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {describe, it} from 'node:test'

import {runRetention} from '../../src/fleet/schema.js'
import {StoreConnection} from '../../src/fleet/store.js'
import {parseStoreUri} from '../../src/fleet/uri.js'
import {CLI, testEnv} from '../helpers/cli.js'
import {appendHostLog, simHost, simSession} from '../helpers/host-log.js'
import {PgCluster, postgresSkipReason} from '../helpers/postgres.js'
import {tempDir} from '../helpers/temp.js'

const DAY = 86_400_000

describe('monthly partitions', {skip: postgresSkipReason()}, () => {
  it('events land in monthly partitions; retention drops the months it no longer keeps', async (t) => {
    const cluster = await PgCluster.start(t)
    const uri = cluster.uri({fragment: 'partitioning=monthly&retention_period=1440h'})
    const host = simHost(tempDir('er-part-', t), 'web-1')
    const now = Date.now()
    const ages = [400, 45, 0]
    const sessions = ages.map((days) => simSession(host, {commands: 20, startMs: now - days * DAY - 60_000}))
    for (const s of sessions) appendHostLog(host, s.lines)
    const r = spawnSync(process.execPath, [CLI, 'ship', '--data-dir', host.dataDir, '--audit-events-uri', uri], {encoding: 'utf8', env: testEnv()})
    assert.equal(r.status, 0, r.stderr)
    assert.equal(cluster.psql("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'events'::regclass"), '1')
    const months = cluster.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass AND inhrelid::regclass::text ~ '^events_p'")
    assert.ok(Number(months) >= 4, `monthly partitions (${months})`)
    const where = (sid: string) => cluster.psql(`SELECT DISTINCT tableoid::regclass FROM events WHERE session_id = '${sid}'`)
    assert.equal(where(sessions[0]!.sid), 'events_default', 'older than retention: the default partition')
    assert.match(where(sessions[2]!.sid), /^events_p\d{6}$/)
    const total = sessions.reduce((n, s) => n + s.lines.length, 0)
    assert.equal(cluster.psql('SELECT count(*) FROM events'), String(total))

    // Keep 10 days: the 45-day-old session's month goes as a whole partition.
    const parsed = parseStoreUri(uri)
    assert.ok(parsed.ok)
    const store = await StoreConnection.open(parsed.value)
    try {
      await runRetention(store, 10 * DAY)
    } finally {
      await store.close()
    }
    const oldMonth = `events_p${new Date(now - 45 * DAY).toISOString().slice(0, 7).replace('-', '')}`
    assert.equal(cluster.psql(`SELECT to_regclass('${oldMonth}') IS NULL`), 't', `${oldMonth} dropped`)
    assert.equal(cluster.psql(`SELECT count(*) FROM events WHERE session_id = '${sessions[1]!.sid}'`), '0')
    assert.equal(cluster.psql(`SELECT count(*) FROM events WHERE session_id = '${sessions[2]!.sid}'`), String(sessions[2]!.lines.length))
    const commandRows = () => [
      cluster.psql("SELECT count(*) FROM events WHERE event_type = 'session.command'"),
      cluster.psql('SELECT count(*) FROM er_shell_commands'),
    ]
    assert.deepEqual(commandRows(), ['40', '40'], "the dropped month's command rows went with it")

    // Teleport's DELETE by creation_time: the oldest session's rows, and their command rows.
    cluster.psql(`UPDATE events SET creation_time = now() - interval '20 days' WHERE session_id = '${sessions[0]!.sid}'`)
    const again = await StoreConnection.open(parsed.value)
    try {
      assert.equal(await runRetention(again, 10 * DAY), sessions[0]!.lines.length)
    } finally {
      await again.close()
    }
    assert.deepEqual(commandRows(), ['20', '20'])
  })
})

// The test cluster helper itself: initdb, start, SQL, stop, start again, removed afterwards.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {describe, it} from 'node:test'

import {PgCluster, postgresSkipReason} from '../helpers/postgres.js'

describe('test PostgreSQL cluster', {skip: postgresSkipReason()}, () => {
  it('starts on a free port, answers, stops by pid, starts again, and is removed', async (t) => {
    const cluster = await PgCluster.start(t)
    assert.match(cluster.psql('select version()'), /PostgreSQL 1\d/)
    await cluster.stop('kill')
    assert.equal(cluster.running, false)
    await cluster.startServer()
    assert.equal(cluster.psql('select 1'), '1')
    await cluster.destroy()
    assert.equal(existsSync(cluster.root), false)
  })
})

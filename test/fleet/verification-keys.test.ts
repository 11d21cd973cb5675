// The integrity verification key in the fleet store (docs/integrity.md, "Keys"): a shipper puts
// its host's key there when it starts, and `verify` checks against that copy — also once the key is
// gone from the host, and it names a host secret replaced later. Real PostgreSQL, real sessions
// written by SessionWriter, the real CLI.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'

import type {VerifyReport} from '../../src/commands/verify.js'
import {INTEGRITY_DIR, VERIFY_KEY_FILE, readHostVerificationKey} from '../../src/integrity/keys.js'
import {readServerId} from '../../src/storage/layout.js'
import {CLI, testEnv} from '../helpers/cli.js'
import {PgCluster, postgresSkipReason} from '../helpers/postgres.js'
import {command, newWriter} from '../helpers/recordings.js'
import {tempDir} from '../helpers/temp.js'

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {encoding: 'utf8', env: testEnv(), timeout: 120_000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

async function writeSession(dataDir: string): Promise<string> {
  const w = await newWriter(dataDir)
  w.emit({event: 'session.start', size: '80:24', interactive: true})
  w.print(Buffer.from('$ id\r\n'))
  w.emit(command(101, '/usr/bin/id', []))
  w.print(Buffer.from('uid=0(root)\r\n$ '))
  await w.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}})
  return w.sid
}

describe('fleet store: the verification key kept off the host', {skip: postgresSkipReason()}, () => {
  let cluster: PgCluster
  before(async () => {
    cluster = await PgCluster.start()
  })
  after(() => cluster?.destroy())

  it('ship stores the key once; verify uses it, also after the key left the host; a replaced secret is named', async () => {
    cluster.psql('CREATE DATABASE keys')
    const uri = cluster.uri({database: 'keys'})
    const dataDir = tempDir('er-keys-')
    const first = await writeSession(dataDir)
    const key = readHostVerificationKey(dataDir)!
    const serverId = readServerId(dataDir)!

    const shipped = cli(['ship', '--data-dir', dataDir, '--audit-events-uri', uri])
    assert.equal(shipped.status, 0, shipped.stderr)
    assert.equal(
      cluster.psql(`SELECT key_id || ' ' || key FROM er_shell_verification_keys WHERE server_id = '${serverId}'`, 'keys'),
      `${key.id} ${key.key.toString('hex')}`,
    )
    assert.equal(cli(['ship', '--data-dir', dataDir, '--audit-events-uri', uri]).status, 0)
    assert.equal(cluster.psql('SELECT count(*) FROM er_shell_verification_keys', 'keys'), '1', 'shipped once')

    // The operator keeps the key elsewhere and removes it from the host: the store's copy verifies.
    fs.rmSync(path.join(dataDir, INTEGRITY_DIR, VERIFY_KEY_FILE))
    const v = cli(['verify', '--data-dir', dataDir, '--audit-events-uri', uri, '--all', '--json'])
    assert.equal(v.status, 0, v.stdout + v.stderr)
    const report = JSON.parse(v.stdout) as VerifyReport
    assert.equal(report.key_source, 'store')
    assert.equal(report.key_id, key.id)
    assert.deepEqual(
      report.sessions.map((s) => [s.sid, s.status]),
      [[first, 'intact']],
    )
    const text = cli(['verify', '--data-dir', dataDir, '--audit-events-uri', uri, first])
    assert.equal(text.status, 0, text.stderr)
    assert.match(text.stderr, new RegExp(`checked with the verification key the fleet store received from this host \\(${key.id}, `))

    // Root replaces the host's secret (new keys), records, and ships: the store keeps the first key,
    // so the new session does not verify, and the replacement is named with the time it came.
    fs.rmSync(path.join(dataDir, INTEGRITY_DIR), {recursive: true})
    const second = await writeSession(dataDir)
    const forged = readHostVerificationKey(dataDir)!
    assert.notEqual(forged.id, key.id)
    assert.equal(cli(['ship', '--data-dir', dataDir, '--audit-events-uri', uri]).status, 0)
    assert.equal(cluster.psql('SELECT count(*) FROM er_shell_verification_keys', 'keys'), '2')
    const after = cli(['verify', '--data-dir', dataDir, '--audit-events-uri', uri, second])
    assert.equal(after.status, 1, after.stdout + after.stderr)
    assert.match(after.stdout, new RegExp(`${second}: .*unknown key`))
    assert.match(
      after.stderr,
      new RegExp(`received other keys from this host after ${key.id}: ${forged.id} \\(received [0-9T:.-]+Z\\): its secret was replaced`),
    )
    assert.match(
      after.stderr,
      new RegExp(`the verification key on this host \\(${forged.id}\\) is not the one the fleet store received from it first \\(${key.id}\\)`),
    )
    // --local: the host's (replaced) copy, as before.
    const local = cli(['verify', '--data-dir', dataDir, '--audit-events-uri', uri, '--local', second, '--json'])
    assert.equal(local.status, 0, local.stdout + local.stderr)
    assert.equal((JSON.parse(local.stdout) as VerifyReport).key_source, 'host')
  })

  it('a store that cannot be reached: one line, and the host copy verifies', async () => {
    const dataDir = tempDir('er-keys-down-')
    const sid = await writeSession(dataDir)
    const down = cluster.uri({database: 'nowhere'})
    const v = cli(['verify', '--data-dir', dataDir, '--audit-events-uri', down, sid])
    assert.equal(v.status, 0, v.stdout + v.stderr)
    assert.match(v.stderr, /fleet store \S+: .*: the verification key kept on this host is used/)
    assert.match(v.stderr, /checked with the verification key kept on this host/)
    assert.match(v.stdout, /intact/)
  })
})

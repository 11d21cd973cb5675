// Security (issue 17, row 7): root writes recordings and the host audit log under data_dir. Every
// directory of that tree and above it must be root's alone (a root-owned sticky /tmp excepted), an
// existing host log must be a private regular file of root's, a FIFO at a file's name is refused
// (never waited on), a data dir reached through another user's symlink is refused, and
// `log/events.log` is only ever replaced when it is a symlink.
import assert from 'node:assert/strict'
import {randomUUID} from 'node:crypto'
import {spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {hostLogName} from '../../../src/storage/index.js'
import {hasStackTrace, kernelTestsSkipReason} from '../../helpers/cli.js'
import {guardLeaks, record} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()
const NOBODY = 65534

/** A data dir with its server_id and `log/<server_id>/` already there (as after a first session). */
function preparedDataDir(parent: string): {data: string; serverDir: string; hostLog: string} {
  const data = join(parent, 'data')
  const id = randomUUID()
  mkdirSync(join(data, 'log', id), {recursive: true, mode: 0o700})
  writeFileSync(join(data, 'host_uuid'), id, {mode: 0o600})
  const serverDir = join(data, 'log', id)
  return {data, serverDir, hostLog: join(serverDir, hostLogName(Date.now()))}
}

function assertRefused(r: {code: number | null; stderr: string}, pattern: RegExp): void {
  assert.notEqual(r.code, null, `ended by itself, not killed after a hang: ${r.stderr}`)
  assert.notEqual(r.code, 0, r.stderr)
  assert.equal(hasStackTrace(r.stderr), false, r.stderr)
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
  assert.match(r.stderr.trim(), pattern)
}

describe('security: the data dir and log tree', {skip}, () => {
  const {dataDir, checkDir} = guardLeaks()

  it('a group-writable server log dir is refused; nothing is appended to a host log there', async () => {
    const {data, serverDir, hostLog} = preparedDataDir(dataDir())
    checkDir(data)
    chmodSync(serverDir, 0o770)
    writeFileSync(hostLog, 'planted\n', {mode: 0o600})
    const r = await record(data, ['-c', 'true'], {timeoutMs: 30_000})
    assertRefused(r, new RegExp(`^er-shell: refusing to record into ${serverDir}: it is writable by group 0 \\(mode 0770\\)$`))
    assert.equal(readFileSync(hostLog, 'utf8'), 'planted\n')
  })

  it("a pre-created world-readable host log another user owns gets no audit line; nor does root's own 0644 one", async () => {
    const {data, hostLog} = preparedDataDir(dataDir())
    checkDir(data)
    writeFileSync(hostLog, 'planted\n')
    chmodSync(hostLog, 0o644)
    chownSync(hostLog, NOBODY, NOBODY)
    const r = await record(data, ['-c', 'true'], {timeoutMs: 30_000})
    assertRefused(r, new RegExp(`^er-shell: refusing to record into ${hostLog}: it is owned by uid 65534, not by uid 0$`))
    assert.equal(readFileSync(hostLog, 'utf8'), 'planted\n')

    chownSync(hostLog, 0, 0)
    const o = await record(data, ['-c', 'true'], {timeoutMs: 30_000})
    assertRefused(o, /: other users may read or write it \(mode 0644\)$/)
    assert.equal(readFileSync(hostLog, 'utf8'), 'planted\n')
  })

  it('a FIFO at the host log name: refused at once, record does not hang', async () => {
    const {data, hostLog} = preparedDataDir(dataDir())
    checkDir(data)
    assert.equal(spawnSync('mkfifo', ['-m', '600', hostLog]).status, 0)
    // A record that waited on the FIFO is killed after 60 s: no exit status, so not refused.
    const r = await record(data, ['-c', 'true'], {timeoutMs: 60_000})
    assertRefused(r, new RegExp(`^er-shell: refusing to record into ${hostLog}: it is a FIFO, not a regular file$`))
  })

  it('a FIFO as host_uuid: refused at once, record does not hang', async () => {
    const data = join(dataDir(), 'data')
    mkdirSync(data, {mode: 0o700})
    checkDir(data)
    assert.equal(spawnSync('mkfifo', ['-m', '600', join(data, 'host_uuid')]).status, 0)
    const r = await record(data, ['-c', 'true'], {timeoutMs: 20_000})
    assertRefused(r, /host_uuid is not a regular file/)
  })

  it("a data dir given through another user's symlink is refused; the victim directory's log/events.log is untouched", async () => {
    const base = dataDir()
    const victim = join(base, 'victim')
    mkdirSync(join(victim, 'log'), {recursive: true, mode: 0o700})
    writeFileSync(join(victim, 'log', 'events.log'), 'precious\n', {mode: 0o600})
    const link = join(base, 'data')
    symlinkSync(victim, link)
    lchownSync(link, NOBODY, NOBODY)
    checkDir(link)
    checkDir(victim)
    const r = await record(link, ['-c', 'true'], {timeoutMs: 30_000})
    assertRefused(r, new RegExp(`^er-shell: refusing to record into ${link}: ${link} is a symbolic link owned by uid 65534`))
    assert.equal(lstatSync(join(victim, 'log', 'events.log')).isFile(), true)
    assert.equal(readFileSync(join(victim, 'log', 'events.log'), 'utf8'), 'precious\n')
    assert.deepEqual(readdirSync(join(victim, 'log')), ['events.log'])
  })

  it('log/events.log that is a regular file (not made by er-shell) is left as it is, with a warning; recording goes on', async () => {
    const {data} = preparedDataDir(dataDir())
    checkDir(data)
    const events = join(data, 'log', 'events.log')
    writeFileSync(events, 'not ours\n', {mode: 0o600})
    const r = await record(data, ['-c', 'true'], {timeoutMs: 30_000})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /events\.log is not a symbolic link; left as it is/)
    assert.equal(lstatSync(events).isFile(), true)
    assert.equal(readFileSync(events, 'utf8'), 'not ours\n')
  })

  it('a parent directory another user owns, or one others may write, is refused naming it', async () => {
    const base = dataDir()
    const parent = join(base, 'parent')
    mkdirSync(parent, {mode: 0o755})
    chownSync(parent, NOBODY, NOBODY)
    const data = join(parent, 'data')
    checkDir(data)
    const r = await record(data, ['-c', 'true'], {timeoutMs: 30_000})
    assertRefused(r, new RegExp(`^er-shell: refusing to record into ${data}: ${parent} is owned by uid 65534 \\(that user could replace the recordings\\)$`))
    assert.equal(existsSync(data), false)

    chownSync(parent, 0, 0)
    chmodSync(parent, 0o777)
    const w = await record(data, ['-c', 'true'], {timeoutMs: 30_000})
    assertRefused(w, new RegExp(`^er-shell: refusing to record into ${data}: ${parent} is writable by every user \\(mode 0777\\)`))
    assert.equal(existsSync(data), false)
  })
})

// Faults and bad input: a data dir that fills up or turns read-only mid-session, a malformed
// config, unknown and ambiguous sids, symlinks planted in the log tree, a data dir owned by another
// user, and record run without privileges — one clear line each, the right exit status, no stack
// trace, nothing recorded lost or overwritten, nothing half-created.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {hostLogName, listSessions} from '../../../src/storage/index.js'
import {hasStackTrace, kernelTestsSkipReason} from '../../helpers/cli.js'
import {CGROUP_ROOT, chunksOf, eventsOf, guardLeaks, onlySession, record, REGISTRY, sleep, startCli} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

const mounted: string[] = []
function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, {recursive: true})
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'er-test-tmpfs', dir], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`)
  mounted.push(dir)
}
function unmountAll(): void {
  for (const dir of mounted.splice(0).reverse()) spawnSync('umount', ['-l', dir])
}

/** Session cgroups (uuid-named) under the default root: nothing may be half-created. */
function sessionCgroups(): string[] {
  try {
    return readdirSync(CGROUP_ROOT).filter((n) => /^[0-9a-f]{8}-[0-9a-f-]{27}$/.test(n))
  } catch {
    return []
  }
}

/** Session cgroups that appeared since `before` and belong to no live recorder (half-created ones). */
function orphanCgroups(before: string[]): string[] {
  return sessionCgroups().filter((n) => !before.includes(n) && !existsSync(join(REGISTRY, `${n}.json`)))
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n')
  assert.equal(lines.length, 1, `exactly one line on stderr:\n${stderr}`)
  assert.equal(hasStackTrace(stderr), false, stderr)
  return lines[0]!
}

describe('reliability: faults and bad input', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-fault-', cleanup: unmountAll})

  it('disk full mid-session (1 MB tmpfs): one clear message, the session goes on, its exit status, what was written stays readable', async () => {
    const base = dataDir()
    const mnt = join(base, 'mnt')
    mountTmpfs(mnt, '1m')
    const d = join(mnt, 'data')
    const r = await record(d, ['-c', 'head -c 3000000 /dev/urandom | base64; /bin/echo AFTER-FULL-$((2+3)); exit 5'])
    assert.equal(r.code, 5, r.stderr)
    assert.match(r.stdout.toString(), /AFTER-FULL-5\r?\n$/, 'the session kept running after the disk filled')
    assert.ok(r.stdout.length > 4_000_000, 'the screen got every byte')
    const problems = r.stderr.split('\n').filter((l) => /no space left/i.test(l))
    assert.equal(problems.length, 1, `one message about the disk:\n${r.stderr}`)
    assert.match(problems[0]!, /cannot write .*: no space left on device \(ENOSPC\)/)
    assert.equal(problems[0]!.split('stays readable').length - 1, 1, `said once, not twice: ${problems[0]}`)
    assert.equal(hasStackTrace(r.stderr), false)
    assert.match(r.stderr, /er-shell ▸ command {2}pid \d+ {2}\/bin\/echo AFTER-FULL-5/, 'live lines go on after the failure')
    assert.match(r.stderr, /ended \(exit 5\).*recording incomplete/i, 'the end notice says the recording is incomplete')
    // readable: the readers recover what was written and warn, without throwing
    const ref = onlySession(d)
    assert.equal(ref.completed, false)
    const warnings: string[] = []
    const chunks = await chunksOf(ref, warnings)
    await eventsOf(ref, warnings)
    assert.ok(chunks.length > 0, 'terminal output written before the disk filled is readable')
    assert.ok(r.stdout.subarray(0, chunks.length).equals(chunks), 'what was recorded is an exact prefix of the output')
    const [summary] = await listSessions(d, {onWarning: () => {}})
    assert.equal(summary?.unfinished, true)
    // the host log holds the session start
    const hostLog = readFileSync(join(d, 'log', 'events.log'), 'utf8')
    assert.match(hostLog, /"event":"session.start"/)
  })

  it('data dir filled by something else mid-session: one clear message, the session ends with its own status', async () => {
    const base = dataDir()
    const mnt = join(base, 'mnt')
    mountTmpfs(mnt, '4m')
    const d = join(mnt, 'data')
    const run = startCli([
      'record',
      '--data-dir',
      d,
      '-c',
      'echo ready; sleep 2; i=0; while [ $i -lt 20 ]; do /bin/echo line-$i; i=$((i+1)); sleep 0.05; done; exit 4',
    ])
    await run.waitFor('ready')
    // Output is sync-flushed every 500 ms: after two intervals 'ready' is on disk.
    await sleep(1100)
    // another process takes every free byte (dd stops at ENOSPC)
    spawnSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=64k'], {encoding: 'utf8'})
    const r = await run.done
    assert.equal(r.code, 4, r.stderr)
    assert.match(r.stdout.toString(), /line-19/)
    const problems = r.stderr.split('\n').filter((l) => /no space left/i.test(l))
    assert.equal(problems.length, 1, r.stderr)
    assert.equal(hasStackTrace(r.stderr), false)
    const warnings: string[] = []
    const events = await eventsOf(onlySession(d), warnings)
    assert.equal(events[0]?.event, 'session.start', 'what was written before stays readable')
    assert.ok((await chunksOf(onlySession(d))).toString().includes('ready'))
  })

  it('malformed config file: one line naming file and line, exit non-zero, nothing created', async () => {
    const base = dataDir()
    const cfg = join(base, 'bad.yaml')
    writeFileSync(cfg, 'ssh_service:\n  enhanced_recording:\n    enabled: [yes\n')
    const before = sessionCgroups()
    const r = await record(join(base, 'data'), ['--config', cfg, '-c', 'true'])
    assert.notEqual(r.code, 0)
    const line = oneLine(r.stderr)
    assert.ok(line.includes(cfg), line)
    assert.match(line, /:\d+:\d+:/)
    assert.equal(existsSync(join(base, 'data')), false)
    assert.deepEqual(orphanCgroups(before), [])
  })

  it('unknown and ambiguous sids (replay): one line each, non-zero exit', async () => {
    const d = dataDir()
    const r = await record(d, ['-q', '-c', 'echo one'])
    assert.equal(r.code, 0, r.stderr)
    const ref = onlySession(d)
    // a second session whose sid shares the first 8 characters
    const twin = `${ref.sid.slice(0, 9)}${ref.sid.slice(9).replace(/[0-9a-f]/g, (c) => ((parseInt(c, 16) + 1) % 16).toString(16))}`
    for (const name of readdirSync(ref.paths.dir).filter((n) => n.startsWith(ref.sid))) {
      copyFileSync(join(ref.paths.dir, name), join(ref.paths.dir, name.replace(ref.sid, twin)))
    }
    const unknown = await startCli(['replay', '--data-dir', d, 'ffffffff-0000-4000-8000-000000000000', '--format', 'text']).done
    assert.notEqual(unknown.code, 0)
    assert.match(oneLine(unknown.stderr), /ffffffff-0000-4000-8000-000000000000/)
    const ambiguous = await startCli(['replay', '--data-dir', d, ref.sid.slice(0, 8), '--format', 'text']).done
    assert.notEqual(ambiguous.code, 0)
    assert.match(oneLine(ambiguous.stderr), /ambiguous|matches/i)
  })

  it('a symlink planted as <data_dir>/log: record refuses, one line, nothing written through it', async () => {
    const base = dataDir()
    const d = join(base, 'data')
    const victim = join(base, 'victim')
    mkdirSync(d, {mode: 0o700})
    mkdirSync(victim)
    writeFileSync(join(victim, 'precious'), 'keep me')
    symlinkSync(victim, join(d, 'log'))
    const before = sessionCgroups()
    const r = await record(d, ['-c', 'true'])
    assert.equal(r.code, 1)
    assert.match(oneLine(r.stderr), /refusing to record into .*\/log: it is a symbolic link/)
    assert.deepEqual(readdirSync(victim), ['precious'])
    assert.equal(readFileSync(join(victim, 'precious'), 'utf8'), 'keep me')
    assert.deepEqual(orphanCgroups(before), [], 'no session cgroup left')
  })

  it('a symlink planted as the host audit log or as sessions/default: refused, the target untouched', async () => {
    const d = dataDir()
    const first = await record(d, ['-q', '-c', 'true'])
    assert.equal(first.code, 0, first.stderr)
    const serverId = readFileSync(join(d, 'host_uuid'), 'utf8').trim()
    const target = join(d, 'target.log')
    writeFileSync(target, 'precious\n')
    const hostLog = join(d, 'log', serverId, hostLogName())
    rmSync(hostLog)
    symlinkSync(target, hostLog)
    const r = await record(d, ['-c', 'true'])
    assert.notEqual(r.code, 0)
    assert.match(oneLine(r.stderr), /symbolic link|ELOOP/i)
    assert.equal(readFileSync(target, 'utf8'), 'precious\n')
    assert.equal(readdirSync(join(d, 'log', serverId, 'sessions', 'default')).filter((n) => n.endsWith('.index')).length, 1, 'no second session half-created')

    rmSync(hostLog)
    const sessions = join(d, 'log', serverId, 'sessions', 'default')
    const moved = join(d, 'moved-default')
    spawnSync('mv', [sessions, moved])
    symlinkSync(moved, sessions)
    const count = readdirSync(moved).length
    const r2 = await record(d, ['-c', 'true'])
    assert.equal(r2.code, 1)
    assert.match(oneLine(r2.stderr), /refusing to record into .*sessions\/default: it is a symbolic link/)
    assert.equal(readdirSync(moved).length, count, 'nothing written through the symlink')
  })

  it('a data dir owned by another user: refused, one line, non-zero exit, nothing created', async () => {
    const base = dataDir()
    const d = join(base, 'data')
    mkdirSync(d, {mode: 0o755})
    chownSync(d, 65534, 65534)
    const before = sessionCgroups()
    const r = await record(d, ['-c', 'true'])
    assert.notEqual(r.code, 0, r.stderr)
    assert.match(oneLine(r.stderr), new RegExp(`${d}.*owned by uid 65534`))
    assert.deepEqual(readdirSync(d), [], 'nothing written into it')
    assert.deepEqual(orphanCgroups(before), [])
  })

  it('a data dir every user may write to: refused, one line', async () => {
    const base = dataDir()
    const d = join(base, 'data')
    mkdirSync(d)
    spawnSync('chmod', ['0777', d])
    const r = await record(d, ['-c', 'true'])
    assert.notEqual(r.code, 0, r.stderr)
    assert.match(oneLine(r.stderr), /writable by/)
    assert.deepEqual(readdirSync(d), [])
  })

  it('unprivileged (as nobody): one line naming what is missing, non-zero exit, nothing created', async () => {
    const base = dataDir()
    spawnSync('chmod', ['0755', base])
    const d = join(base, 'data')
    const before = sessionCgroups()
    const r = await record(d, ['-c', 'true'], {asNobody: true})
    assert.notEqual(r.code, 0)
    const line = oneLine(r.stderr)
    assert.match(line, /needs root/)
    assert.match(line, /CAP_BPF/)
    assert.match(line, /sudo er-shell record/)
    assert.equal(existsSync(d), false)
    assert.deepEqual(orphanCgroups(before), [])
  })
})

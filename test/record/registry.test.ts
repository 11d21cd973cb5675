// Security (issue 17, row 13): every `record` cleans sessions whose recorder died, from their
// entries in /run/er-shell/sessions: it SIGHUPs (then SIGKILLs) the processes in the entry's
// cgroupDir and removes that cgroup. An entry is only acted on when it is root's, writable by no
// one else, and names a real directory <cgroup_path>/<root_path>/<sid> with a session-id-shaped
// sid; any other entry is reported in one line and left alone. The tests use their own registry
// directory (cleanStaleSessions takes it) so that no other recorder on the host sees their entries.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {chmodSync, chownSync, existsSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, it} from 'node:test'

import {cleanStaleSessions} from '../../src/record/session.js'
import {cleanupTestCgroups, makeTestCgroup} from '../helpers/cgroups.js'
import {kernelTestsSkipReason} from '../helpers/cli.js'
import {CGROUP_ROOT, gone, sleep} from '../helpers/record.js'
import {tempDir} from '../helpers/temp.js'

const skip = kernelTestsSkipReason()
const NOBODY = 65534

const registries: string[] = []
const sleepers: ChildProcess[] = []

function registryDir(): string {
  const dir = tempDir('er-sec-registry-')
  registries.push(dir)
  return dir
}

/** An entry of a recorder that is gone (pid 1 never has this start time). */
function writeEntry(dir: string, fields: {sid: string; cgroupDir: string}, mode = 0o600): string {
  const file = join(dir, `${fields.sid}.json`)
  writeFileSync(file, JSON.stringify({...fields, pid: 1, starttime: 'not-a-start-time', dataDir: '/nonexistent'}) + '\n', {mode})
  chmodSync(file, mode)
  return file
}

/** A cgroup outside the session root with a `sleep` in it: what a forged entry would target. */
async function victimCgroup(): Promise<{dir: string; pid: number}> {
  const dir = makeTestCgroup('er-sec-victim')
  const child = spawn('sleep', ['300'], {stdio: 'ignore'})
  sleepers.push(child)
  writeFileSync(join(dir, 'cgroup.procs'), `${child.pid}\n`)
  return {dir, pid: child.pid!}
}

async function clean(dir: string): Promise<string[]> {
  const notices: string[] = []
  await cleanStaleSessions((line) => notices.push(line), CGROUP_ROOT, dir)
  return notices
}

describe('security: session registry entries', {skip}, () => {
  afterEach(async () => {
    for (const child of sleepers.splice(0)) child.kill('SIGKILL')
    await cleanupTestCgroups()
    for (const dir of registries.splice(0)) rmSync(dir, {recursive: true, force: true})
  })

  for (const [name, cgroupDirOf] of [
    ['any cgroup on the host', (victim: string) => victim],
    ['a path that climbs out of the session root with ..', (victim: string) => `${CGROUP_ROOT}/..${victim.slice(victim.indexOf('/er-shell-test/'))}`],
  ] as const) {
    it(`an entry naming ${name}: its processes keep running, the cgroup stays, one line says why`, async () => {
      const victim = await victimCgroup()
      const dir = registryDir()
      const sid = randomUUID()
      const cgroupDir = cgroupDirOf(victim.dir)
      const entry = writeEntry(dir, {sid, cgroupDir})
      const notices = await clean(dir)
      await sleep(100)
      assert.equal(await gone(victim.pid, 0), false, 'the victim process still runs')
      assert.equal(existsSync(victim.dir), true, 'the victim cgroup is still there')
      assert.equal(existsSync(entry), true, 'the entry is left alone')
      assert.equal(notices.length, 1, notices.join('\n'))
      assert.match(notices[0]!, new RegExp(`^ignoring session registry entry ${entry}: its cgroupDir .* is not ${CGROUP_ROOT}/${sid}$`))
    })
  }

  for (const [name, prepare, problem] of [
    ['writable by other users (0666)', (file: string) => chmodSync(file, 0o666), /the file is writable by other users \(mode 0666\)/],
    ['owned by another user (nobody)', (file: string) => chownSync(file, NOBODY, NOBODY), /the file is owned by uid 65534, not by root/],
  ] as const) {
    it(`an entry file ${name} is not acted on, however well-formed`, async () => {
      const dir = registryDir()
      const sid = randomUUID()
      const entry = writeEntry(dir, {sid, cgroupDir: join(CGROUP_ROOT, sid)})
      prepare(entry)
      const notices = await clean(dir)
      assert.equal(existsSync(entry), true, 'left alone')
      assert.equal(notices.length, 1, notices.join('\n'))
      assert.match(notices[0]!, problem)
    })
  }

  it('an entry whose sid is not session-id-shaped is not acted on', async () => {
    const dir = registryDir()
    const entry = writeEntry(dir, {sid: 'er-shell-test', cgroupDir: join(CGROUP_ROOT, 'er-shell-test')})
    const notices = await clean(dir)
    assert.equal(existsSync(entry), true)
    assert.equal(notices.length, 1, notices.join('\n'))
    assert.match(notices[0]!, /its sid "er-shell-test" is not a session id/)
  })

  it('a valid entry of a dead recorder whose cgroup is gone is still cleaned (removed, one notice)', async () => {
    const dir = registryDir()
    const sid = randomUUID()
    const entry = writeEntry(dir, {sid, cgroupDir: join(CGROUP_ROOT, sid)})
    const notices = await clean(dir)
    assert.equal(existsSync(entry), false)
    assert.equal(notices.length, 1, notices.join('\n'))
    assert.match(notices[0]!, new RegExp(`^cleaned up session ${sid} left by a recorder that died \\(pid 1\\)`))
  })
})

// er-shell-join: joins the cgroup before exec, and fails with one line and the documented status.
import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, rmdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {readMounts} from '../../src/kernel/host.js'
import {JOIN_HELPER, kernelTestsSkipReason, run} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

const skip = kernelTestsSkipReason()

describe('er-shell-join', {skip}, () => {
  let root: string
  let cgroup: string
  let scratch: string
  before(() => {
    root = readMounts().find((m) => m.fsType === 'cgroup2')!.mountPoint
    cgroup = join(root, `er-shell-join-test-${process.pid}`)
    mkdirSync(cgroup)
    scratch = tempDir('er-join-')
  })
  after(() => {
    rmdirSync(cgroup)
    rmSync(scratch, {recursive: true, force: true})
  })

  test('the program is in the cgroup when it starts (reads /proc/self/cgroup)', () => {
    const r = run(JOIN_HELPER, [cgroup, 'cat', '/proc/self/cgroup'])
    assert.equal(r.stderr, '')
    assert.equal(r.status, 0)
    assert.match(r.stdout, new RegExp(`^0::/er-shell-join-test-${process.pid}$`, 'm'))
  })

  test("argv[0] is PROG and the arguments pass through; the exit status is the program's", () => {
    const script = 'tr "\\0" "|" < /proc/$$/cmdline; exit 7'
    const r = run(JOIN_HELPER, [cgroup, 'sh', '-c', script, 'a b', 'c'])
    assert.equal(r.stdout, `sh|-c|${script}|a b|c|`)
    assert.equal(r.status, 7)
  })

  test('a cgroup directory that does not exist: one line, exit 125', () => {
    const r = run(JOIN_HELPER, [join(root, 'no-such-cgroup'), 'true'])
    assert.equal(r.status, 125)
    assert.equal(r.stderr, `er-shell-join: cannot join cgroup ${join(root, 'no-such-cgroup')}: No such file or directory\n`)
  })

  test('a directory that is not a cgroup: one line, exit 125, nothing run', () => {
    const r = run(JOIN_HELPER, [scratch, 'echo', 'ran'])
    assert.equal(r.status, 125)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, new RegExp(`^er-shell-join: cannot join cgroup ${scratch}: .+\\n$`))
  })

  test('a program that does not exist: one line, exit 127', () => {
    const r = run(JOIN_HELPER, [cgroup, 'er-shell-no-such-program'])
    assert.equal(r.status, 127)
    assert.equal(r.stderr, 'er-shell-join: cannot run er-shell-no-such-program: No such file or directory\n')
  })

  test('a program that is not executable: one line, exit 126', () => {
    const file = join(scratch, 'not-executable')
    writeFileSync(file, '#!/bin/sh\necho ran\n')
    chmodSync(file, 0o644)
    const r = run(JOIN_HELPER, [cgroup, file])
    assert.equal(r.status, 126)
    assert.equal(r.stderr, `er-shell-join: cannot run ${file}: Permission denied\n`)
  })

  test('--user: joins as root, then runs as the account with its environment', () => {
    const r = run(JOIN_HELPER, ['--user', 'nobody', cgroup, 'sh', '-c', 'id -u; id -g; id -G; echo "$USER $LOGNAME $HOME"; pwd; cat /proc/self/cgroup'])
    assert.equal(r.status, 0, r.stderr)
    const [uid, gid, groups, names, cwd] = r.stdout.split('\n')
    assert.equal(uid, '65534')
    assert.equal(gid, '65534')
    assert.equal(groups, '65534')
    // nobody's home (/nonexistent) does not exist: like login(1), it starts in / and says so.
    assert.equal(names, 'nobody nobody /')
    assert.equal(cwd, '/')
    assert.match(r.stderr, /^er-shell-join: cannot enter home directory \/nonexistent \(No such file or directory\): starting in \/\n$/)
    assert.match(r.stdout, new RegExp(`^0::/er-shell-join-test-${process.pid}$`, 'm'))
  })

  test('--user with an unknown account: one line, exit 125', () => {
    const r = run(JOIN_HELPER, ['--user', 'er-shell-no-such-user', cgroup, 'true'])
    assert.equal(r.status, 125)
    assert.equal(r.stderr, 'er-shell-join: cannot switch to user er-shell-no-such-user: no such user\n')
  })

  test('missing arguments: usage, exit 125', () => {
    const r = run(JOIN_HELPER, [cgroup])
    assert.equal(r.status, 125)
    assert.match(r.stderr, /^usage: er-shell-join \[--allow-io-uring\] \[--keep-env NAME\]\.\.\. \[--user NAME\] CGROUP_DIR PROG \[ARGS\.\.\.\]\n$/)
  })
})

// Security (issue 17, row 5): `record` mounts cgroup2 at cgroup_path when nothing is mounted there.
// Mounted over a directory with content (cgroup_path=/etc, from a flag, the environment or a config
// file) it would hide that content from the whole host and stay mounted; so only an empty (or new)
// directory, or a known cgroup2 mount point, is mounted on. Tests use directories under /tmp.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {mountedAs} from '../../../src/cgroup/mounts.js'
import {hasStackTrace, kernelTestsSkipReason} from '../../helpers/cli.js'
import {guardLeaks, record} from '../../helpers/record.js'
import {tempDir} from '../../helpers/temp.js'

const skip = kernelTestsSkipReason()

/** Mount points a test chose; whatever got mounted on them is unmounted after each test. */
const chosen: string[] = []

function unmountChosen(): void {
  for (const path of chosen.splice(0)) {
    for (let i = 0; i < 5 && mountedAs(path) !== undefined; i++) spawnSync('umount', [path])
    assert.equal(mountedAs(path), undefined, `${path} still mounted`)
  }
}

/** A directory with a file in it, standing for /etc. */
function directoryWithContent(): string {
  const dir = join(tempDir('er-sec-mnt-'), 'etc')
  mkdirSync(dir)
  writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n')
  chosen.push(dir)
  return dir
}

function assertRefusedAndIntact(r: {code: number | null; stderr: string}, dir: string, shown = dir): void {
  assert.notEqual(r.code, 0, r.stderr)
  assert.equal(hasStackTrace(r.stderr), false, r.stderr)
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
  assert.match(r.stderr.trim(), new RegExp(`^er-shell: refusing to mount cgroup2 at ${shown}: `))
  assert.equal(mountedAs(dir), undefined, 'nothing mounted over it')
  assert.deepEqual(readdirSync(dir), ['passwd'])
  assert.equal(readFileSync(join(dir, 'passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n')
}

describe('security: cgroup_path is never mounted over content', {skip}, () => {
  const {dataDir} = guardLeaks({cleanup: unmountChosen})

  it('--cgroup-path at a non-empty directory: one-line refusal, nothing mounted, content still there', async () => {
    const dir = directoryWithContent()
    const data = join(dataDir(), 'data')
    const r = await record(data, ['--cgroup-path', dir, '-c', 'true'], {timeoutMs: 30_000})
    assertRefusedAndIntact(r, dir)
    assert.match(r.stderr, /the directory is not empty/)
  })

  it('ER_SHELL_CGROUP_PATH and cgroup_path in a config file are held to the same rule', async () => {
    const dir = directoryWithContent()
    const e = await record(join(dataDir(), 'data'), ['-c', 'true'], {env: {ER_SHELL_CGROUP_PATH: dir}, timeoutMs: 30_000})
    assertRefusedAndIntact(e, dir)

    const base = dataDir()
    const config = join(base, 'er-shell.yaml')
    writeFileSync(config, `cgroup_path: ${dir}\n`, {mode: 0o600})
    const c = await record(join(base, 'data'), ['--config', config, '-c', 'true'], {timeoutMs: 30_000})
    assertRefusedAndIntact(c, dir)
  })

  it('a symlink to a directory is not mounted through', async () => {
    const dir = directoryWithContent()
    const link = join(tempDir('er-sec-mnt-'), 'link')
    symlinkSync(dir, link)
    chosen.push(link)
    const r = await record(join(dataDir(), 'data'), ['--cgroup-path', link, '-c', 'true'], {timeoutMs: 30_000})
    assertRefusedAndIntact(r, dir, link)
    assert.equal(mountedAs(link), undefined)
  })

  it('an empty directory is still mounted on and recorded in', async () => {
    const dir = join(tempDir('er-sec-mnt-'), 'cg')
    mkdirSync(dir)
    chosen.push(dir)
    const r = await record(join(dataDir(), 'data'), ['--cgroup-path', dir, '-c', '/bin/echo in-empty'], {timeoutMs: 30_000})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(mountedAs(dir), 'cgroup2')
  })
})

// Security (issue 17, row 3): `record --live TARGET` runs as root and names every command of the
// session, so the target may only be the caller's own terminal, /dev/null, or a file or FIFO that
// the effective user owns and no one else may open. A FIFO another user made is a tap on the
// session; a FIFO nobody reads must be refused at once, never hang the recorder.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, it} from 'node:test'

import {hasStackTrace, kernelTestsSkipReason} from '../../helpers/cli.js'
import {guardLeaks, record, sleep} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()
const NOBODY = 65534

function mkfifo(path: string, mode: number, uid = 0): void {
  const r = spawnSync('mkfifo', ['-m', mode.toString(8), path])
  assert.equal(r.status, 0, r.stderr?.toString())
  chmodSync(path, mode)
  chownSync(path, uid, uid === 0 ? 0 : 65534)
}

const readers = new Set<ChildProcess>()

/**
 * `cat FIFO` as `uid` (root or nobody); collects what it reads. The FIFO is opened read-write
 * (`<>`), which does not wait for a writer, so the test knows when the reader is there.
 */
function reader(fifo: string, uid: number): {child: ChildProcess; text: () => string} {
  const cat = ['sh', '-c', 'exec cat <>"$0"', fifo]
  const argv = uid === 0 ? cat : ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...cat]
  const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'ignore']})
  readers.add(child)
  let text = ''
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()))
  child.on('close', () => readers.delete(child))
  return {child, text: () => text}
}

/** The reader has the FIFO open (/proc shows the fd). */
async function readerOpened(child: ChildProcess, fifo: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('ls', ['-l', `/proc/${child.pid}/fd`], {encoding: 'utf8'})
    if (r.stdout.includes(fifo)) return
    await sleep(20)
  }
  throw new Error(`reader ${child.pid} never opened ${fifo}`)
}

/** A FIFO `l` in `base` made with `mode` by `uid`, already opened for reading by `uid`. */
async function fifoWithReader(base: string, mode: number, uid: number): Promise<{fifo: string; tap: ReturnType<typeof reader>}> {
  const fifo = join(base, 'l')
  mkfifo(fifo, mode, uid)
  const tap = reader(fifo, uid)
  await readerOpened(tap.child, fifo)
  return {fifo, tap}
}

function assertRefused(r: {code: number | null; stderr: string}, pattern: RegExp): void {
  assert.notEqual(r.code, 0, r.stderr)
  assert.notEqual(r.code, null, 'ended by itself, not killed after a hang')
  assert.equal(hasStackTrace(r.stderr), false, r.stderr)
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
  assert.match(r.stderr.trim(), pattern)
}

describe('security: --live targets', {skip}, () => {
  const {dataDir} = guardLeaks()
  afterEach(() => {
    for (const child of readers) child.kill('SIGKILL')
    readers.clear()
  })

  it("a FIFO nobody made (mkfifo -m600) and reads gets none of root's session: one-line refusal before the session starts", async () => {
    const base = dataDir()
    chmodSync(base, 0o755) // nobody must reach its FIFO
    const {fifo, tap} = await fifoWithReader(base, 0o600, NOBODY)
    const r = await record(join(base, 'data'), ['--live', fifo, '-c', '/bin/echo secret-for-root-only'], {timeoutMs: 30_000})
    assertRefused(r, /^er-shell: refusing to write live lines to .*\/l: it is owned by uid 65534, not by uid 0$/)
    await sleep(200)
    assert.equal(tap.text(), '', 'nobody read nothing')
    assert.equal(existsSync(join(base, 'data')), false, 'no recording started')
  })

  it('a FIFO root made but others may open (0644) is refused like such a file', async () => {
    const base = dataDir()
    const {fifo} = await fifoWithReader(base, 0o644, 0)
    const r = await record(join(base, 'data'), ['--live', fifo, '-c', 'true'], {timeoutMs: 30_000})
    assertRefused(r, /^er-shell: refusing to write live lines to .*\/l: other users may read or write it \(mode 0644\)/)
    assert.equal(existsSync(join(base, 'data')), false)
  })

  it('a FIFO with no reader: refused at once (no hang), nothing created', async () => {
    const base = dataDir()
    const fifo = join(base, 'l')
    mkfifo(fifo, 0o600)
    // A record that waited for a reader is killed after 60 s: no exit status, so not refused.
    const r = await record(join(base, 'data'), ['--live', fifo, '-c', 'true'], {timeoutMs: 60_000})
    assertRefused(r, /^er-shell: refusing to write live lines to .*\/l: it is a FIFO that nobody reads$/)
    assert.equal(existsSync(join(base, 'data')), false)
  })

  it("root's own FIFO (0600) with a reader gets the live lines", async () => {
    const base = dataDir()
    const {fifo, tap} = await fifoWithReader(base, 0o600, 0)
    const r = await record(join(base, 'data'), ['--live', fifo, '-c', '/bin/echo via-fifo'], {timeoutMs: 30_000})
    assert.equal(r.code, 0, r.stderr)
    for (let i = 0; i < 50 && !tap.text().includes('via-fifo'); i++) await sleep(20)
    assert.match(tap.text(), /command {2}pid \d+ {2}\/bin\/echo via-fifo {2}→ 0/)
  })

  it("a device other than /dev/null or the caller's terminal (/dev/zero, /dev/full) is refused", async () => {
    const base = dataDir()
    for (const target of ['/dev/zero', '/dev/full']) {
      const r = await record(join(base, 'data'), ['--live', target, '-c', 'true'], {timeoutMs: 30_000})
      assertRefused(r, new RegExp(`^er-shell: refusing to write live lines to ${target}: it is a device other than /dev/null or your own terminal$`))
    }
    assert.equal(existsSync(join(base, 'data')), false)
  })
})

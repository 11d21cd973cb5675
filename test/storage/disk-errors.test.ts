// Disk trouble: a full (1 MB tmpfs) or read-only data dir surfaces one clear error; what was written stays readable.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {randomBytes, randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import {after, before, describe, it} from 'node:test'

import {StorageWriteError} from '../../src/errors/storage-write-error.js'
import {readSessionChunks, readSessionEvents, resolveSession, listSessions} from '../../src/storage/reader.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {rootSkipReason} from '../helpers/cli.js'
import {collect, collectBytes, commonFor} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

function mountTmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir])
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir])
  } catch {
    execFileSync('umount', ['-l', dir])
  }
}

describe('disk errors', {skip: rootSkipReason('mount -t tmpfs')}, () => {
  let mountPoint: string
  let mounted = false

  before(() => {
    mountPoint = tempDir('er-tmpfs-')
    mountTmpfs(mountPoint, '1m')
    mounted = true
  })
  after(() => {
    if (mounted) unmount(mountPoint)
    removeDir(mountPoint)
  })

  it('reports ENOSPC once, stops writing, and leaves a readable recording', async () => {
    const errors: StorageWriteError[] = []
    const writer = await SessionWriter.create({
      dataDir: mountPoint,
      sid: randomUUID(),
      common: commonFor(mountPoint),
      onError: (error) => errors.push(error),
    })
    writer.emit({event: 'session.start', size: '80:24', interactive: true})
    const printed: Buffer[] = []
    for (let i = 0; i < 64 && errors.length === 0; i++) {
      const piece = randomBytes(64 * 1024) // incompressible: fills 1 MB quickly
      printed.push(piece)
      if (!writer.print(piece)) await writer.drained()
      if (i % 4 === 0) await writer.flush()
    }
    await writer.flush()
    // Writing after the failure is harmless: no throw, nothing written.
    assert.equal(writer.print(Buffer.from('more')), true)
    writer.emit({event: 'resize', size: '1:1'})
    const result = await writer.end({interactive: true, exit_code: 0})

    assert.equal(errors.length, 1)
    const error = errors[0]!
    assert.ok(error instanceof StorageWriteError)
    assert.equal(error.code, 'ESTORAGE_WRITE')
    assert.equal(error.errno, 'ENOSPC')
    assert.match(error.message, /^cannot write \/.+: no space left on device \(ENOSPC\); recording stopped, what was written so far stays readable$/)
    assert.equal(result.completed, false)
    assert.equal(result.error, error)
    assert.equal(writer.error, error)
    assert.equal(fs.existsSync(writer.paths.completed), false)

    // Read back from the still-full disk.
    const ref = resolveSession(mountPoint, writer.sid)
    const warnings: string[] = []
    const events = await collect(readSessionEvents(ref, {onWarning: (w) => warnings.push(w)}))
    assert.equal(events[0]?.event, 'session.start')
    const chunks = await collectBytes(readSessionChunks(ref, {onWarning: (w) => warnings.push(w)}))
    const all = Buffer.concat(printed)
    assert.ok(chunks.length > 0)
    assert.ok(all.subarray(0, chunks.length).equals(chunks), 'recovered output is a byte-exact prefix')
    assert.ok(
      warnings.some((w) => w.includes('-0.chunks.gz: ')),
      warnings.join('\n'),
    )
    const [summary] = await listSessions(mountPoint, {onWarning: () => {}})
    assert.equal(summary!.unfinished, true)
  })

  it('when one file fails, the others write out what they were already given', async () => {
    // A file-size limit (EFBIG) stops the chunks file alone; the events file, far smaller, still
    // takes the events accepted since its last flush.
    const dir = tempDir('er-fsize-')
    const sid = randomUUID()
    const writerModule = new URL('../../src/storage/session-writer.js', import.meta.url).href
    const script = `
      import {randomBytes} from 'node:crypto'
      const {SessionWriter} = await import(${JSON.stringify(writerModule)})
      process.on('SIGXFSZ', () => {})
      const common = JSON.parse(process.argv[2])
      const errors = []
      const w = await SessionWriter.create({dataDir: process.argv[1], sid: ${JSON.stringify(sid)}, common, flushIntervalMs: 1000, onError: (e) => errors.push(e.errno)})
      w.emit({event: 'session.start', size: '80:24', interactive: false})
      await w.flush()
      w.emit({event: 'resize', size: '100:30'})
      for (let i = 0; i < 16 && errors.length === 0; i++) {
        if (!w.print(randomBytes(64 * 1024))) await w.drained()
      }
      // the chunks file fails on its own, well before the next periodic flush
      for (let t = 0; t < 150 && errors.length === 0; t++) await new Promise((r) => setTimeout(r, 5))
      const r = await w.end({interactive: false, exit_code: 0})
      process.stdout.write(JSON.stringify({errors, completed: r.completed}))
    `
    try {
      const out = execFileSync('prlimit', ['--fsize=262144', process.execPath, '--input-type=module', '-e', script, dir, JSON.stringify(commonFor(dir))], {
        encoding: 'utf8',
      })
      const result = JSON.parse(out) as {errors: string[]; completed: boolean}
      assert.deepEqual(result, {errors: ['EFBIG'], completed: false})
      const ref = resolveSession(dir, sid)
      const events = await collect(readSessionEvents(ref, {onWarning: () => {}}))
      assert.deepEqual(
        events.slice(0, 2).map((e) => e.event),
        ['session.start', 'resize'],
        'the resize accepted after the last flush was written out',
      )
      assert.ok(
        events.some((e) => e.event === 'print'),
        'print events accepted before the failure too',
      )
    } finally {
      removeDir(dir)
    }
  })

  it('refuses to start on a read-only data dir with one clear error, and old recordings stay readable', async () => {
    const dir = tempDir('er-ro-')
    mountTmpfs(dir, '1m')
    try {
      const common = commonFor(dir)
      const old = await SessionWriter.create({dataDir: dir, sid: randomUUID(), common})
      old.emit({event: 'session.start', size: '80:24', interactive: false})
      old.print(Buffer.from('kept\n'))
      await old.end({interactive: false, exit_code: 0})
      execFileSync('mount', ['-o', 'remount,ro', dir])

      await assert.rejects(
        SessionWriter.create({dataDir: dir, sid: randomUUID(), common}),
        (error: unknown) =>
          error instanceof StorageWriteError && error.errno === 'EROFS' && /: read-only file system \(EROFS\); recording stopped/.test(error.message),
      )
      const ref = resolveSession(dir, old.sid)
      assert.equal((await collectBytes(readSessionChunks(ref))).toString(), 'kept\n')
      assert.deepEqual(
        (await collect(readSessionEvents(ref))).map((e) => e.event),
        ['session.start', 'print', 'session.end'],
      )
    } finally {
      unmount(dir)
      removeDir(dir)
    }
  })
})

// Tamper evidence on real recordings (docs/integrity.md): `er-shell record` with the kernel capture
// writes <sid>.integrity; `er-shell verify` finds the recording intact, names a dropped kernel event,
// and finds a recorder killed with SIGKILL intact up to its last checkpoint.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {describe, it} from 'node:test'
import * as zlib from 'node:zlib'

import type {VerifyReport} from '../../../src/commands/verify.js'
import {kernelTestsSkipReason, runCli} from '../../helpers/cli.js'
import {chunksOf, eventsOf, guardLeaks, onlySession, record, sleep, startCli} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

function verifyJson(dataDir: string, args: string[]): {status: number | null; report: VerifyReport; stderr: string} {
  const r = runCli(['verify', '--data-dir', dataDir, '--json', ...args])
  return {status: r.status, report: JSON.parse(r.stdout) as VerifyReport, stderr: r.stderr}
}

describe('record: tamper evidence', {skip}, () => {
  const {dataDir, alsoCheck} = guardLeaks()

  it('a recorded session is intact (every event and output byte); a dropped command event is named', async () => {
    const d = dataDir()
    const r = await record(d, ['-q', '-c', 'echo first; /bin/echo second; cat /etc/hostname; sleep 1.2; /bin/echo third'])
    assert.equal(r.code, 0, r.stderr)
    const ref = onlySession(d)
    const events = await eventsOf(ref)
    const chunks = await chunksOf(ref)
    const v = verifyJson(d, ['--all'])
    assert.equal(v.status, 0, JSON.stringify(v.report))
    const s = v.report.sessions[0]!
    assert.equal(s.status, 'intact')
    assert.equal(s.events, events.length)
    assert.equal(s.bytes, chunks.length)
    assert.ok(s.checkpoints >= 2, `a checkpoint at start and at least one more: ${s.checkpoints}`)

    const second = events.find((e) => e.event === 'session.command' && (e as {argv?: string[]}).argv?.[0] === 'second')!
    const text = zlib.gunzipSync(readFileSync(ref.paths.events)).toString('utf8')
    writeFileSync(
      ref.paths.events,
      zlib.gzipSync(
        text
          .split('\n')
          .filter((l) => !l.startsWith(`{"ei":${second.ei},`))
          .join('\n'),
      ),
    )
    const t = verifyJson(d, [ref.sid])
    assert.equal(t.status, 1)
    assert.equal(t.report.sessions[0]!.problem!.reason, 'missing')
    assert.equal(t.report.sessions[0]!.problem!.event, second.ei)
  })

  it('the output hashed on the pump thread: every checkpoint holds the hash of the output before it', async () => {
    const d = dataDir()
    // ~11 MB of output over ~2 s: many pump batches, several checkpoints while it streams
    const r = await record(d, ['-q', '-c', 'for i in 1 2 3 4 5 6 7 8; do head -c 1000000 /dev/urandom | base64; /bin/sleep 0.25; done'])
    assert.equal(r.code, 0, r.stderr)
    const ref = onlySession(d)
    const chunks = await chunksOf(ref)
    assert.ok(chunks.length > 10_000_000, `${chunks.length} bytes of output`)
    const records = readFileSync(ref.paths.integrity, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {chunks?: {bytes: number; sha256: string}; sealed?: boolean})
      .filter((c) => c.chunks)
    assert.ok(records.filter((c) => c.chunks!.bytes > 0 && c.chunks!.bytes < chunks.length).length >= 3, 'checkpoints while the output streamed')
    for (const c of records)
      assert.equal(c.chunks!.sha256, createHash('sha256').update(chunks.subarray(0, c.chunks!.bytes)).digest('hex'), `at ${c.chunks!.bytes}`)
    const sealed = records.at(-1)!
    assert.equal(sealed.sealed, true)
    assert.equal(sealed.chunks!.bytes, chunks.length)
    assert.equal(verifyJson(d, ['--all']).status, 0)
  })

  it('a recorder killed with SIGKILL: intact up to its last checkpoint, unsealed (exit 3)', async () => {
    const d = dataDir()
    const run = startCli(['record', '--data-dir', d, '-c', 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo tick-$i; /bin/sleep 0.05; done'])
    await run.waitFor('tick-30')
    await sleep(500)
    const ref = onlySession(d)
    alsoCheck(ref.sid)
    process.kill(run.pid, 'SIGKILL')
    assert.equal((await run.done).signal, 'SIGKILL')
    const v = verifyJson(d, [ref.sid])
    assert.equal(v.status, 3, JSON.stringify(v.report))
    const s = v.report.sessions[0]!
    assert.equal(s.status, 'unsealed')
    assert.ok(s.events > 30 && s.bytes > 100, JSON.stringify(s))
    // The next record cleans up the dead recorder's cgroup (and takes the host's next number).
    const next = await record(dataDir(), ['-q', '-c', 'true'])
    assert.equal(next.code, 0, next.stderr)
  })
})

// How the engine loads its programs: preloaded (record starts the load before oclif) or not, under
// a storm of signals (the verifier gives up when one is pending for the loading thread), and the
// cgroup id check that runs before the session's programs are attached.
import assert from 'node:assert/strict'
import {type ChildProcess, spawn} from 'node:child_process'
import {cpus} from 'node:os'
import {after, describe, it} from 'node:test'
import {Worker} from 'node:worker_threads'

import {cgroupId} from '../../src/cgroup/cgroup.js'
import {CaptureEngine, discardPreload, loadParams, onlineCpuCount, preloadCapture} from '../../src/engine/capture.js'
import {ErShellError} from '../../src/errors/base.js'
import {joinHelperPath, loadNative} from '../../src/native/index.js'
import {startCapture} from '../helpers/capture.js'
import {cleanupTestCgroups, makeTestCgroup, runInCgroup} from '../helpers/cgroups.js'
import {kernelTestsSkipReason} from '../helpers/cli.js'
import {bpfProgramOwners} from '../helpers/record.js'
import type {ExecEvent} from '../helpers/wire.js'

/** BPF programs this process holds (prog or link fds). */
function ownPrograms(): number {
  let n = 0
  for (const owners of bpfProgramOwners().values()) if (owners.some((o) => o.pid === process.pid)) n++
  return n
}

/**
 * Floods this process with SIGUSR2 (a handler is installed, so each one is delivered) from a
 * shell loop until stopped; resolves once the first few arrived.
 */
async function signalStorm(): Promise<{received: () => number; stop: () => Promise<void>}> {
  let received = 0
  const onSignal = () => received++
  process.on('SIGUSR2', onSignal)
  const flooder: ChildProcess = spawn('/bin/sh', ['-c', `while kill -USR2 ${process.pid} 2>/dev/null; do :; done`], {stdio: 'ignore'})
  const deadline = Date.now() + 5000
  while (received < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
  assert.ok(received >= 20, `the storm started (${received} signals)`)
  return {
    received: () => received,
    stop: async () => {
      const gone = new Promise((r) => flooder.once('exit', r))
      flooder.kill('SIGKILL')
      await gone
      // Signals already queued are still delivered: keep the handler until they have been.
      await new Promise((r) => setTimeout(r, 50))
      process.off('SIGUSR2', onSignal)
    },
  }
}

function execsWith(events: readonly {kind: string}[], marker: string): ExecEvent[] {
  return events.filter((e): e is ExecEvent => e.kind === 'exec' && (e as ExecEvent).argv.includes(marker))
}

/** Loading BPF programs needs root; the two tests without `kernel` check what happens before any load. */
const kernel = kernelTestsSkipReason()

describe('capture engine loading', () => {
  after(cleanupTestCgroups)

  it('sizes rings by the CPUs online, counted as os.cpus() counts them', () => {
    assert.equal(onlineCpuCount(), cpus().length)
  })

  it('loads every program while the process is flooded with signals', {skip: kernel}, async () => {
    const cg = makeTestCgroup('storm-load')
    const storm = await signalStorm()
    let cap
    try {
      const before = storm.received()
      // All kinds: the longest verification (disk programs resolve paths).
      cap = startCapture(cg, ['command', 'disk', 'network'])
      assert.equal(cap.engine.timings.preloaded, false)
      // The signals kept coming while start() loaded: they were delivered to this (JS) thread.
      await new Promise((r) => setTimeout(r, 20))
      assert.ok(storm.received() - before > 20, `signals arrived during the load (${storm.received() - before})`)
    } finally {
      await storm.stop()
    }
    try {
      await runInCgroup(cg, '/bin/echo loaded-under-signals')
      await cap.settle()
      assert.equal(execsWith(cap.events, 'loaded-under-signals').length, 1)
    } finally {
      await cap.stop()
    }
  })

  it('preloads under a signal storm too', {skip: kernel}, async () => {
    const cg = makeTestCgroup('storm-preload')
    const storm = await signalStorm()
    let cap
    try {
      preloadCapture(['command', 'disk', 'network'])
      await new Promise((r) => setTimeout(r, 300)) // the load runs meanwhile, signals arriving
      cap = startCapture(cg, ['command', 'disk', 'network'])
      assert.equal(cap.engine.timings.preloaded, true)
    } finally {
      await storm.stop()
    }
    await cap.stop()
  })

  it('adopts preloaded programs for the same kinds and sizes, and scopes them to the session cgroup', {skip: kernel}, async () => {
    const cg = makeTestCgroup('preloaded')
    preloadCapture(['command', 'network'], {command: 16})
    const cap = startCapture(cg, ['command', 'network'], {bufferPages: {command: 16}})
    try {
      assert.equal(cap.engine.timings.preloaded, true)
      await runInCgroup(cg, '/bin/echo preloaded-exec')
      await runInCgroup(makeTestCgroup('preloaded-outsider'), '/bin/echo preloaded-outsider')
      await cap.settle()
      const [e] = execsWith(cap.events, 'preloaded-exec')
      assert.ok(e, 'exec recorded')
      assert.equal(e.task.cgroupId, cgroupId(cg))
      assert.equal(e.task.scope, 'cgroup')
      assert.equal(execsWith(cap.events, 'preloaded-outsider').length, 0, 'other cgroups are not recorded')
    } finally {
      await cap.stop()
    }
  })

  it('discards a preload made for other kinds or sizes and loads its own, leaving nothing behind', {skip: kernel}, async () => {
    const cg = makeTestCgroup('mismatch')
    const plain = startCapture(cg, ['command'])
    const held = ownPrograms()
    await plain.stop()
    assert.equal(ownPrograms(), 0)

    preloadCapture(['command'], {command: 32})
    const cap = startCapture(cg, ['command'])
    try {
      assert.equal(cap.engine.timings.preloaded, false)
      assert.equal(ownPrograms(), held, 'only the engine’s own programs are loaded')
      await runInCgroup(cg, '/bin/echo after-mismatch')
      await cap.settle()
      assert.equal(execsWith(cap.events, 'after-mismatch').length, 1)
    } finally {
      await cap.stop()
    }
    assert.equal(ownPrograms(), 0)
  })

  it('checks the cgroup id before the session is set, without recording the check', {skip: kernel}, async () => {
    const cg = makeTestCgroup('checked')
    const cap = startCapture(cg, ['command'], {cgroupCheck: {joinHelper: joinHelperPath(), program: '/bin/true'}})
    try {
      assert.ok(cap.engine.timings.checkMs > 0)
      await runInCgroup(cg, '/bin/echo after-check')
      await cap.settle()
      assert.deepEqual(
        cap.events.filter((e): e is ExecEvent => e.kind === 'exec').map((e) => e.path),
        ['/bin/echo'],
        'the check’s own exec is not an event',
      )
    } finally {
      await cap.stop()
    }
  })

  it('discardPreload() waits for the load and releases it; a second preload releases the first', {skip: kernel}, () => {
    preloadCapture(['command'])
    preloadCapture(['command', 'disk'])
    discardPreload()
    assert.equal(ownPrograms(), 0, 'nothing of either load is held')
    discardPreload() // none left: nothing to do
  })

  it('a preload belongs to its Node environment: a worker that exits without discarding it releases it', {skip: kernel}, async () => {
    const native = new URL('../../src/native/index.js', import.meta.url).href
    const params = {...loadParams(['command', 'disk', 'network'], undefined), cgroupCheck: false}
    const code = `import(${JSON.stringify(native)}).then((m) => m.loadNative().preload(${JSON.stringify(params)}))`
    const worker = new Worker(code, {eval: true})
    const error = new Promise((_, reject) => worker.once('error', reject))
    await Promise.race([new Promise((r) => worker.once('exit', r)), error])
    assert.equal(ownPrograms(), 0, 'the worker’s teardown waited for its load and released it')
    // A load left running past the worker (a detached thread, a process-wide slot) would hold its
    // programs by now (a load takes ~0.1-0.5 s here).
    await new Promise((r) => setTimeout(r, 1000))
    assert.equal(ownPrograms(), 0, 'and no load finished after it')
  })

  it('names the event kinds to load; an unknown one is refused before anything loads', () => {
    const params = {...loadParams(['command'], undefined), kinds: ['command', 'keyboard'] as never}
    assert.throws(() => loadNative().preload(params), {name: 'TypeError', message: 'unknown event kind: keyboard'})
    assert.equal(ownPrograms(), 0)
  })

  it('prepare() runs the check while the caller goes on; stop() before begin() leaves nothing behind', {skip: kernel}, async () => {
    const cg = makeTestCgroup('prepared')
    const events: unknown[] = []
    const engine = CaptureEngine.prepare({
      cgroupDir: cg,
      kinds: ['command'],
      cgroupCheck: {joinHelper: joinHelperPath(), program: '/bin/true'},
      onRecords: (batch) => events.push(batch),
    })
    assert.ok(ownPrograms() > 0)
    await runInCgroup(cg, '/bin/echo before-begin')
    await new Promise((r) => setTimeout(r, 100))
    await engine.stop()
    assert.equal(ownPrograms(), 0)
    assert.deepEqual(events, [], 'nothing is recorded before begin()')
  })

  it('fails with the helper’s own line when the check cannot run, leaving nothing behind', {skip: kernel}, () => {
    const cg = makeTestCgroup('check-fails')
    assert.throws(
      () => startCapture(cg, ['command'], {cgroupCheck: {joinHelper: joinHelperPath(), program: '/nonexistent/program'}}),
      (error: unknown) =>
        error instanceof ErShellError &&
        error.code === 'EHELPER' &&
        /er-shell-join exited with status 127: er-shell-join: .*\/nonexistent\/program/.test(error.message),
    )
    assert.equal(ownPrograms(), 0)
  })
})

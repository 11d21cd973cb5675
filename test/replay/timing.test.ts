// Playback timing: original gaps, --speed, --idle-limit, --at-command/--at catch-up, speed and pause keys.
//
// No assertion here depends on how busy the machine is. The schedule the player computes is
// checked exactly, on a clock the test moves (performance.now and setTimeout as the player sees
// them). The CLI runs check that the flags reach the player, with the only bounds a loaded machine
// keeps: a frame arrives no earlier than it is due (counted from the spawn), and a flag that did
// not work would hold the replay for two minutes, past the run's 60 s deadline.
import assert from 'node:assert/strict'
import {Writable} from 'node:stream'
import {performance} from 'node:perf_hooks'
import {after, before, describe, it, type TestContext} from 'node:test'

import {Player, type PlayerOptions} from '../../src/replay/player.js'
import {PacedWriter} from '../../src/replay/paced-writer.js'
import type {Frame} from '../../src/replay/timeline.js'
import {DEMO_START, writeTimedSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'
import {arrival, timedRun} from '../helpers/timed-run.js'

interface Timer {
  due: number
  seq: number
  fn: () => void
}

/** performance.now() and setTimeout as the player sees them, moved by the test from 0 ms. */
class FakeClock {
  now = 0
  private timers: Timer[] = []
  private seq = 0

  private readonly restores: Array<() => void>

  constructor(t: TestContext) {
    this.restores = [
      t.mock.method(performance, 'now', () => this.now),
      t.mock.method(globalThis, 'setTimeout', ((fn: () => void, ms?: number) => this.at(this.now + Math.max(0, ms ?? 0), fn)) as never),
      t.mock.method(globalThis, 'clearTimeout', ((timer: Timer) => {
        this.timers = this.timers.filter((x) => x !== timer)
      }) as never),
    ].map((m) => () => m.mock.restore())
  }

  /** The real clock again (newest mock first, so that a second clock in one test restores too). */
  restore(): void {
    for (const restore of this.restores.reverse()) restore()
  }

  /** Runs fn when the clock reaches `due` ms. */
  at(due: number, fn: () => void): Timer {
    const timer = {due, seq: this.seq++, fn}
    this.timers.push(timer)
    return timer
  }

  /** Moves the clock to the earliest timer and runs it; false when none is left. */
  fireNext(): boolean {
    this.timers.sort((a, b) => a.due - b.due || a.seq - b.seq)
    const timer = this.timers.shift()
    if (!timer) return false
    this.now = Math.max(this.now, timer.due)
    timer.fn()
    return true
  }
}

/** One output frame per time (ms), `f<i>\n`, event ids from 0. */
async function* frames(times: number[]): AsyncGenerator<Frame> {
  for (const [i, ms] of times.entries()) {
    yield {kind: 'output', ms, data: Buffer.from(`f${i}\n`), event: {ei: i, event: 'print', time: new Date(DEMO_START + ms).toISOString()} as never}
  }
}

/**
 * Plays `times` on the fake clock; returns the clock time (ms) at which each frame was written.
 * Between timers, everything else the player has to do (promises, the stream) runs to completion.
 */
async function schedule(
  t: TestContext,
  times: number[],
  options: Omit<PlayerOptions, 'output'> = {},
  keys: Array<[number, (p: Player) => void]> = [],
): Promise<{at: number[]; player: Player}> {
  const clock = new FakeClock(t)
  const at: number[] = []
  const stream = new Writable({
    write(_chunk, _enc, done) {
      at.push(clock.now)
      done()
    },
  })
  const player = new Player({output: new PacedWriter(stream), events: false, ...options})
  for (const [ms, press] of keys) clock.at(ms, () => press(player))
  let finished = false
  const playing = player.play(frames(times)).finally(() => (finished = true))
  try {
    for (;;) {
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r))
      if (finished) break
      if (!clock.fireNext()) throw new Error(`the player waits for nothing at ${clock.now} ms after ${at.length} frames`)
    }
  } finally {
    clock.restore()
  }
  const result = await playing
  assert.equal(result.frames, times.length)
  return {at, player}
}

describe('replay timing: the schedule the player computes', () => {
  it('keeps the recorded gaps', async (t) => {
    assert.deepEqual((await schedule(t, [0, 500, 1000])).at, [0, 500, 1000])
  })

  it('--speed 2 halves them, 0.5 doubles them', async (t) => {
    assert.deepEqual((await schedule(t, [0, 500, 1000], {speed: 2})).at, [0, 250, 500])
    assert.deepEqual((await schedule(t, [0, 500, 1000], {speed: 0.5})).at, [0, 1000, 2000])
  })

  it('--idle-limit 0.3 caps each gap at 300 ms and leaves shorter ones', async (t) => {
    assert.deepEqual((await schedule(t, [0, 100, 1100, 1600], {idleLimit: 0.3})).at, [0, 100, 400, 700])
  })

  it('a start event: everything before it is written at once, then the gaps from it on', async (t) => {
    assert.deepEqual((await schedule(t, [0, 400, 800, 1100, 1200, 1600], {startEi: 3})).at, [0, 0, 0, 0, 100, 500])
  })

  it('speed keys re-anchor the clock: "+" twice at 20 ms plays the rest at 4×', async (t) => {
    const faster = (p: Player) => {
      p.press('faster')
      p.press('faster')
    }
    const {at, player} = await schedule(t, [0, 400, 800], {}, [[20, faster]])
    assert.equal(player.currentSpeed, 4)
    // 20 ms at 1× (= 20 ms of recording), then 380 and 780 ms of recording at 4×.
    assert.deepEqual(at, [0, 20 + 380 / 4, 20 + 780 / 4])
  })

  it('pause holds playback; step plays exactly one frame; resume continues without catching up', async (t) => {
    const press = (key: 'pause' | 'step') => (p: Player) => p.press(key)
    const {at} = await schedule(t, [0, 100, 200, 300], {}, [
      [50, press('pause')],
      [450, press('step')],
      [480, press('pause')],
    ])
    // f1 when stepped; after resuming at 480 the remaining gaps of 100 ms are kept.
    assert.deepEqual(at, [0, 450, 580, 680])
  })
})

const GAPS_SID = '11110000-0000-4000-8000-000000000001'
const AT_SID = '22220000-0000-4000-8000-000000000002'
const LONG_SID = '44440000-0000-4000-8000-000000000004'

describe('replay timing through the CLI', () => {
  let dataDir: string
  const chunks = ['chunk 0', 'chunk 1', 'chunk 2']

  before(async () => {
    dataDir = tempDir()
    await writeTimedSession(dataDir, GAPS_SID, [0, 500, 1000])
    // Two minutes of silence, which a working flag skips.
    await writeTimedSession(dataDir, LONG_SID, [0, 120_000, 120_500])
    await writeTimedSession(dataDir, AT_SID, [0, 400, 120_000, 120_400, 120_800], {commandsAt: [500, 120_300]})
  })
  after(() => removeDir(dataDir))

  it('keeps the recorded gaps', async () => {
    const run = await timedRun(['replay', GAPS_SID, '--data-dir', dataDir], chunks)
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout, 'chunk 0\nchunk 1\nchunk 2\n')
    assert.ok(arrival(run, 'chunk 1') >= 500, `chunk 1 after ${arrival(run, 'chunk 1')} ms`)
    assert.ok(arrival(run, 'chunk 2') >= 1000, `chunk 2 after ${arrival(run, 'chunk 2')} ms`)
  })

  it('--speed 64 plays two minutes in 1.9 s', async () => {
    const run = await timedRun(['replay', LONG_SID, '--data-dir', dataDir, '--speed', '64'], chunks)
    assert.equal(run.status, 0, `killed at the deadline, or failed: ${run.stderr}`)
    assert.ok(arrival(run, 'chunk 1') >= 120_000 / 64, `chunk 1 after ${arrival(run, 'chunk 1')} ms`)
  })

  it('--idle-limit 0.3 caps each gap at 300 ms', async () => {
    const run = await timedRun(['replay', LONG_SID, '--data-dir', dataDir, '--idle-limit', '0.3'], chunks)
    assert.equal(run.status, 0, `killed at the deadline, or failed: ${run.stderr}`)
    assert.ok(arrival(run, 'chunk 1') >= 300, `chunk 1 after ${arrival(run, 'chunk 1')} ms`)
    assert.ok(arrival(run, 'chunk 2') >= 600, `chunk 2 after ${arrival(run, 'chunk 2')} ms`)
  })

  it('--at-command 2 writes everything before the command at once, then plays on with timing', async () => {
    const markers = ['chunk 0', 'chunk 2', 'chunk 3', 'chunk 4', '/bin/cmd1', '/bin/cmd2']
    const run = await timedRun(['replay', AT_SID, '--data-dir', dataDir, '--at-command', '2'], markers)
    assert.equal(run.status, 0, `killed at the deadline, or failed: ${run.stderr}`)
    assert.ok(run.stdout.indexOf('/bin/cmd1') < run.stdout.indexOf('chunk 2'), 'earlier event lines are part of the catch-up')
    assert.equal(run.stdout.match(/chunk \d/g)!.join(','), 'chunk 0,chunk 1,chunk 2,chunk 3,chunk 4')
    // The command ran at 120.3 s; chunk 3 at 120.4, chunk 4 at 120.8.
    assert.ok(arrival(run, 'chunk 3') >= 100, `chunk 3 after ${arrival(run, 'chunk 3')} ms`)
    assert.ok(arrival(run, 'chunk 4') >= 500, `chunk 4 after ${arrival(run, 'chunk 4')} ms`)
  })

  it('--at REGEX starts at the first matching command', async () => {
    const run = await timedRun(['replay', AT_SID, '--data-dir', dataDir, '--at', 'cmd2 arg'], ['chunk 2', 'chunk 4'])
    assert.equal(run.status, 0, `killed at the deadline, or failed: ${run.stderr}`)
    assert.equal(run.stdout.match(/chunk \d/g)!.join(','), 'chunk 0,chunk 1,chunk 2,chunk 3,chunk 4')
    assert.ok(arrival(run, 'chunk 4') >= 500, `chunk 4 after ${arrival(run, 'chunk 4')} ms`)
  })
})

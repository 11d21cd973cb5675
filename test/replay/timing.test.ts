// Playback timing: original gaps, --speed, --idle-limit, --at-command/--at catch-up, speed keys.
import assert from 'node:assert/strict'
import {Writable} from 'node:stream'
import {after, before, describe, it} from 'node:test'

import {Player} from '../../src/replay/player.js'
import {PacedWriter} from '../../src/replay/paced-writer.js'
import type {Frame} from '../../src/replay/timeline.js'
import {DEMO_START, writeTimedSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'
import {between, timedRun} from '../helpers/timed-run.js'

const GAPS_SID = '11110000-0000-4000-8000-000000000001'
const AT_SID = '22220000-0000-4000-8000-000000000002'

/** Timer slack on a loaded 2-vCPU machine: late by at most this much, never early by more than 30 ms. */
const LATE = 250
const EARLY = 30

function assertAbout(actual: number, expected: number, what: string): void {
  assert.ok(actual >= expected - EARLY && actual <= expected + LATE, `${what}: ${Math.round(actual)} ms, expected about ${expected} ms`)
}

describe('replay timing', () => {
  let dataDir: string
  const chunks = ['chunk 0', 'chunk 1', 'chunk 2']

  before(async () => {
    dataDir = tempDir()
    await writeTimedSession(dataDir, GAPS_SID, [0, 500, 1000])
    await writeTimedSession(dataDir, AT_SID, [0, 400, 800, 1200, 1600], {commandsAt: [700, 1100]})
  })
  after(() => removeDir(dataDir))

  it('keeps the recorded gaps (500 ms + 500 ms)', async () => {
    const run = await timedRun(['replay', GAPS_SID, '--data-dir', dataDir], chunks)
    assert.equal(run.status, 0, run.stderr)
    assertAbout(between(run, 'chunk 0', 'chunk 1'), 500, 'first gap')
    assertAbout(between(run, 'chunk 0', 'chunk 2'), 1000, 'whole')
  })

  it('--speed 2 halves them', async () => {
    const run = await timedRun(['replay', GAPS_SID, '--data-dir', dataDir, '--speed', '2'], chunks)
    assert.equal(run.status, 0, run.stderr)
    assertAbout(between(run, 'chunk 0', 'chunk 2'), 500, 'whole at speed 2')
  })

  it('--idle-limit 0.3 caps each gap at 300 ms', async () => {
    const run = await timedRun(['replay', GAPS_SID, '--data-dir', dataDir, '--idle-limit', '0.3'], chunks)
    assert.equal(run.status, 0, run.stderr)
    assertAbout(between(run, 'chunk 0', 'chunk 1'), 300, 'capped gap')
    assertAbout(between(run, 'chunk 0', 'chunk 2'), 600, 'whole capped')
  })

  it('--at-command 2 writes everything before the command at once, then plays on with timing', async () => {
    const markers = ['chunk 0', 'chunk 2', 'chunk 3', 'chunk 4', '/bin/cmd1', '/bin/cmd2']
    const run = await timedRun(['replay', AT_SID, '--data-dir', dataDir, '--at-command', '2'], markers)
    assert.equal(run.status, 0, run.stderr)
    assert.ok(between(run, 'chunk 0', 'chunk 2') < 100, 'caught up at once')
    assert.ok(run.stdout.indexOf('/bin/cmd1') < run.stdout.indexOf('chunk 3'), 'earlier event lines are part of the catch-up')
    // The command ran at 1100 ms; chunk 3 at 1200, chunk 4 at 1600.
    assertAbout(between(run, '/bin/cmd2', 'chunk 3'), 100, 'command to next output')
    assertAbout(between(run, '/bin/cmd2', 'chunk 4'), 500, 'command to last output')
    assert.equal(run.stdout.match(/chunk \d/g)!.join(','), 'chunk 0,chunk 1,chunk 2,chunk 3,chunk 4')
  })

  it('--at REGEX starts at the first matching command', async () => {
    const run = await timedRun(['replay', AT_SID, '--data-dir', dataDir, '--at', 'cmd2 arg'], ['chunk 2', 'chunk 4'])
    assert.equal(run.status, 0, run.stderr)
    assertAbout(between(run, 'chunk 2', 'chunk 4'), 500, 'from the catch-up to the last output')
  })

  it('speed keys re-anchor the clock: "+" twice after the first frame plays the rest at 4×', async () => {
    const frames = async function* (): AsyncGenerator<Frame> {
      for (const [i, ms] of [0, 400, 800].entries()) {
        const data = Buffer.from(`f${i}\n`)
        yield {kind: 'output', ms, data, event: {ei: i, event: 'print', time: new Date(DEMO_START + ms).toISOString()} as never}
      }
    }
    const arrivals: number[] = []
    const t0 = performance.now()
    const stream = new Writable({
      write(_chunk, _enc, done) {
        arrivals.push(performance.now() - t0)
        done()
      },
    })
    const player = new Player({output: new PacedWriter(stream), events: false})
    setTimeout(() => {
      player.press('faster')
      player.press('faster')
    }, 20)
    const result = await player.play(frames())
    assert.equal(result.frames, 3)
    assert.equal(player.currentSpeed, 4)
    // 20 ms at 1× (= 20 ms of recording), then 780 ms of recording at 4× = 195 ms.
    assertAbout(arrivals[2]! - arrivals[0]!, 215, 'rest at 4×')
  })

  it('pause holds playback; step plays exactly one frame; resume continues without catching up', async () => {
    const frames = async function* (): AsyncGenerator<Frame> {
      for (const [i, ms] of [0, 100, 200, 300].entries()) {
        yield {kind: 'output', ms, data: Buffer.from(`f${i}\n`), event: {ei: i, event: 'print', time: ''} as never}
      }
    }
    let out = ''
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString()
        done()
      },
    })
    const player = new Player({output: new PacedWriter(stream), events: false})
    const playing = player.play(frames())
    await new Promise((r) => setTimeout(r, 50))
    player.press('pause')
    await new Promise((r) => setTimeout(r, 400))
    assert.equal(out, 'f0\n', 'paused after the first frame')
    player.press('step')
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(out, 'f0\nf1\n', 'one frame per step')
    const resumed = performance.now()
    player.press('pause')
    await playing
    assert.equal(out, 'f0\nf1\nf2\nf3\n')
    assertAbout(performance.now() - resumed, 200, 'after resume the remaining gaps are kept')
  })
})

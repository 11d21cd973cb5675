// The record pipeline's sinks and backpressure without a kernel: the live printer shows a kernel
// event's line (parsed only when it is on, nothing for session events), and a producer the writer
// called behind waits until release.
import assert from 'node:assert/strict'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {Backpressure, type Producer} from '../../src/record/backpressure.js'
import {LivePrinter} from '../../src/record/live.js'
import type {EventLine} from '../../src/record/sink.js'
import {tempDir} from '../helpers/temp.js'

function line(text: string): EventLine {
  const event = (JSON.parse(text) as {event: string}).event
  return {event, text: `${text}\n`, bytes: Buffer.byteLength(text) + 1, timeMs: 0}
}

describe('LivePrinter as a sink', () => {
  const dir = tempDir('er-sinks-')
  after(() => rmSync(dir, {recursive: true, force: true}))

  it('shows kernel event lines and nothing for session events', async () => {
    const target = join(dir, 'live.log')
    const live = await LivePrinter.create({target, sharesTerminal: false, color: false})
    live.write(line('{"ei":0,"event":"session.start","size":"80:24"}'))
    live.write(line('{"ei":1,"event":"print","bytes":5}'))
    live.write(line('{"ei":2,"event":"session.command","pid":7,"path":"/bin/echo","argv":["hi there"],"return_code":0}'))
    live.write(line('{"ei":3,"event":"session.cgroup_escape","pid":8,"program":"sh","cgroup_id":2,"new_cgroup_id":1,"new_cgroup_path":"/elsewhere"}'))
    live.write({event: 'session.command', text: 'not json\n', bytes: 9, timeMs: 0})
    await live.end()
    await live.end()
    const shown = readFileSync(target, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.replace(/^\S+ /, ''))
    assert.deepEqual(shown, [
      "er-shell ▸ command  pid 7  /bin/echo 'hi there'  → 0",
      'er-shell ▸ escape   pid 8  left the session cgroup for /elsewhere (still recorded)',
    ])
  })

  it('parses nothing when live lines are off', async () => {
    const live = await LivePrinter.create({target: 'off', sharesTerminal: false, color: false})
    assert.equal(live.wantsEvents, false)
    live.write({event: 'session.command', text: 'not json\n', bytes: 9, timeMs: 0})
    await live.end()
  })
})

describe('Backpressure', () => {
  function producer(): Producer & {log: string[]} {
    const log: string[] = []
    return {log, pause: () => log.push('pause'), resume: () => log.push('resume')}
  }

  it('pauses a producer once however often it is behind, and resumes every paused one', () => {
    const flow = new Backpressure()
    const capture = producer()
    const pump = producer()
    const idle = producer()
    flow.pause(capture)
    flow.pause(capture)
    flow.pause(pump)
    flow.release()
    flow.release()
    assert.deepEqual(capture.log, ['pause', 'resume'])
    assert.deepEqual(pump.log, ['pause', 'resume'])
    assert.deepEqual(idle.log, [])
  })
})

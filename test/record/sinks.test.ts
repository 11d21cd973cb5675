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

  it('shows a batch given whole (writeLines) as it shows its lines one by one', async () => {
    const texts = [
      '{"ei":5,"event":"session.disk","pid":9,"program":"cat","path":"/etc/hosts","flags":0,"return_code":3}\n',
      '{"ei":6,"event":"session.network","pid":9,"program":"curl","src_addr":"127.0.0.1","dst_addr":"::1","dst_port":80,"version":6}\n',
      '{"ei":7,"event":"session.command","pid":7,"path":"/bin/echo","argv":["é"],"return_code":1}\n',
    ]
    const data = Buffer.from(texts.join(''))
    const ends = new Uint32Array(texts.map((_, i) => Buffer.byteLength(texts.slice(0, i + 1).join(''))))
    const lines = texts.map((t) => ({event: (JSON.parse(t) as {event: string}).event, timeMs: 0}))
    const shown: string[][] = []
    for (const whole of [true, false]) {
      const target = join(dir, `live-${whole}.log`)
      const live = await LivePrinter.create({target, sharesTerminal: false, color: false})
      if (whole) live.writeLines({data, ends, lines})
      else for (const t of texts) live.write(line(t.trimEnd()))
      await live.end()
      shown.push(
        readFileSync(target, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.replace(/^\S+ /, '')),
      )
    }
    assert.equal(shown[0]!.length, 3)
    assert.deepEqual(shown[0], shown[1])
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

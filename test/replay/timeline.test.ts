// The timeline: events and output merged by time (the recorder writes kernel events after the output they precede).
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {readTimeline} from '../../src/replay/timeline.js'
import {resolveSession} from '../../src/storage/reader.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {runCli} from '../helpers/cli.js'
import {DEMO_START, command, common} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const SID = '88880000-0000-4000-8000-00000000000b'

describe('timeline', () => {
  let dataDir: string

  before(async () => {
    dataDir = tempDir()
    const w = await SessionWriter.create({dataDir, sid: SID, common: common(), startedAt: DEMO_START})
    const at = (ms: number) => DEMO_START + ms
    w.emit({event: 'session.start', size: '80:24', interactive: false}, at(0))
    // As `record` writes them: the output of a command, then (a batch later) its exec event.
    w.print(Buffer.from('hello\n'), at(222))
    w.emit(command(1, '/bin/bash', ['-c', 'echo hello']), at(216))
    w.print(Buffer.from('second\n'), at(900))
    w.emit(command(2, '/bin/second', []), at(890))
    w.print(Buffer.from('late\n'), at(5000))
    await w.end({interactive: false, exit_code: 0}, at(5001))
  })
  after(() => removeDir(dataDir))

  it('orders frames by time within the window, ms never going back', async () => {
    const frames = []
    for await (const frame of readTimeline(resolveSession(dataDir, SID))) frames.push(frame)
    const names = frames.map((f) =>
      f.kind === 'output' ? f.data.toString().trim() : f.event.event === 'session.command' ? (f.event as {path: string}).path : f.event.event,
    )
    assert.deepEqual(names, ['session.start', '/bin/bash', 'hello', '/bin/second', 'second', 'late', 'session.end'])
    const ms = frames.map((f) => f.ms)
    assert.deepEqual(ms, [0, 216, 222, 890, 900, 5000, 5001])
  })

  it('keeps memory bounded: a tiny window still yields everything, in file order where it cannot reorder', async () => {
    const frames = []
    for await (const frame of readTimeline(resolveSession(dataDir, SID), {reorderMaxFrames: 0})) frames.push(frame)
    assert.equal(frames.length, 7)
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.ms >= frames[i - 1]!.ms)
  })

  it('replay shows the command line before its output; --at-command 1 starts at the command, not after its output', () => {
    const pty = runCli(['replay', SID, '--data-dir', dataDir, '--speed', '64'])
    assert.match(pty.stdout, /^\[er-shell\] command bash: \/bin\/bash -c 'echo hello'\r\nhello\n\[er-shell\] command second: \/bin\/second\r\nsecond\n/)
    const text = runCli(['replay', SID, '--data-dir', dataDir, '--format', 'text', '--at-command', '1'])
    assert.equal(text.stdout, 'hello\nsecond\nlate\n')
    const second = runCli(['replay', SID, '--data-dir', dataDir, '--format', 'text', '--at-command', '2'])
    assert.equal(second.stdout, 'second\nlate\n')
  })
})

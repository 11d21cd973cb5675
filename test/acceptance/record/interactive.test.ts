// An interactive recorded shell driven through tmux as a person would use it: type commands, see
// their output and the live lines, resize the window, interrupt and suspend a job, exit with a
// status; the terminal is back in cooked mode afterwards and the recording holds all of it.
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {CLI, kernelTestsSkipReason} from '../../helpers/cli.js'
import {chunksOf, commandsOf, endOf, eventsOf, guardLeaks, onlySession, processesMentioning, promptAfter, recorderPane, sleep} from '../../helpers/record.js'
import {tempDir} from '../../helpers/temp.js'
import {killTmuxSessions} from '../../helpers/tmux.js'

const skip = kernelTestsSkipReason()

describe('record: interactive (tmux)', {skip}, () => {
  const {checkDir} = guardLeaks({first: killTmuxSessions})

  it('type, see output and live lines, resize, Ctrl-C, Ctrl-Z, exit 7, terminal restored', async () => {
    const d = tempDir()
    checkDir(join(d, 'data'))
    const pane = recorderPane(d)
    try {
      await pane.waitFor(/recording session [0-9a-f-]{36}/)
      await promptAfter(pane, /recording session/)
      pane.line('echo MARK_$((6*7))')
      await pane.waitFor(/^MARK_42$/m)

      // a live line for the typed command, on its own line
      pane.line('/bin/echo LIVE_$((1+2))')
      await pane.waitFor(/^LIVE_3$/m)
      await pane.waitFor(/^er-shell ▸ command {2}pid \d+ {2}\/bin\/echo LIVE_3 {2}→ 0$/m)

      // a live line never splits a line of output: it waits for the line's end ...
      pane.line("printf 'PART-'; /bin/true split-$((1+1)); sleep 0.3; echo TAIL")
      await pane.waitFor(/^er-shell ▸ command {2}pid \d+ {2}\/bin\/true split-2 {2}→ 0$/m)
      assert.match(pane.text(), /^PART-TAIL$/m, pane.text())
      // ... for a second at most, then it goes on a fresh line
      pane.line("printf 'WAIT-'; /bin/true wait-$((1+2)); sleep 2; echo END")
      await pane.waitFor(/^END$/m)
      assert.match(pane.text(), /^WAIT-\ner-shell ▸ command {2}pid \d+ {2}\/bin\/true wait-3 {2}→ 0\n(er-shell ▸ .*\n)*END$/m, pane.text())

      // resize: the session sees the new size
      pane.resize(120, 40)
      await sleep(300)
      pane.line('stty size')
      await pane.waitFor(/^40 120$/m)

      // Ctrl-C interrupts the foreground sleep, not the session (a sleep it did not interrupt would
      // hold the typed-ahead echo for ten minutes, far past the wait)
      pane.line('sleep 600; echo AFTER_$((3*3))')
      await pane.waitFor(/command {2}pid \d+ {2}\/usr\/bin\/sleep 600/)
      pane.keys('C-c')
      pane.line('echo ALIVE_$((2+3))')
      await pane.waitFor(/^ALIVE_5$/m, 60_000)
      assert.doesNotMatch(pane.text(), /^AFTER_9$/m, 'Ctrl-C ended the command list')

      // Ctrl-Z suspends a job in the session; the shell goes on
      pane.line('sleep 40')
      await pane.waitFor(/command {2}pid \d+ {2}\/usr\/bin\/sleep 40/)
      pane.keys('C-z')
      await pane.waitFor(/Stopped\s+sleep 40/)
      // `wait` before the marker: bash drops the job only once it has reaped it, and an `exit`
      // typed while the job still shows as stopped is refused ("There are stopped jobs").
      pane.line('kill -9 %1; wait %1; echo KILLED_$((4+4))')
      await pane.waitFor(/^KILLED_8$/m)

      pane.line('exit 7')
      const text = await pane.exitReport()
      assert.match(text, /^ER_EXIT=7$/m)
      // the terminal is back in canonical mode with echo (stty -a after er-shell exited)
      const modes = text.slice(text.indexOf('ER_EXIT='))
      assert.match(modes, /(^|\s)icanon(\s|$)/m, modes)
      assert.match(modes, /(^|\s)echo(\s|$)/m, modes)
      assert.match(modes, /(^|\s)icrnl(\s|$)/m, modes)
      assert.match(modes, /(^|\s)opost(\s|$)/m, modes)
      assert.match(text, /session [0-9a-f-]{36} ended \(exit 7\)/)
    } finally {
      pane.kill()
    }

    const ref = onlySession(join(d, 'data'))
    assert.equal(ref.completed, true)
    const events = await eventsOf(ref)
    const start = events[0] as Record<string, any>
    assert.equal(start.event, 'session.start')
    assert.equal(start.interactive, true)
    assert.equal(start.size, '100:30')
    assert.equal(start.initial_command, undefined)
    const resizes = events.filter((e) => e.event === 'resize').map((e) => (e as any).size)
    assert.ok(resizes.includes('120:40'), `resize events: ${JSON.stringify(resizes)}`)
    const end = endOf(events)
    assert.equal(end.exit_code, 7)
    assert.equal(end.interactive, true)
    assert.equal(end.enhanced_recording, true)
    assert.deepEqual(end.lost_events, {command: 0, disk: 0, network: 0})
    const cmds = commandsOf(events)
    assert.ok(cmds.some((c) => c.path === '/bin/echo' && c.argv[0] === 'LIVE_3'))
    assert.ok(cmds.some((c) => c.program === 'sleep' && c.argv[0] === '600'))
    assert.ok(cmds.some((c) => c.program === 'stty' && c.argv[0] === 'size'))
    const data = events.find((e) => e.event === 'session.data') as Record<string, any>
    assert.ok(data.rx > 0, 'typed bytes are counted (rx)')
    const chunks = (await chunksOf(ref)).toString()
    assert.match(chunks, /MARK_42/)
    assert.match(chunks, /40 120/)
    assert.doesNotMatch(chunks, /er-shell ▸/, 'live lines are not part of the session output')
  })

  it('Ctrl-D ends the session with status 0; a background job it left is listed and ended', async () => {
    const d = tempDir()
    checkDir(join(d, 'data'))
    const pane = recorderPane(d)
    try {
      await pane.waitFor(/recording session [0-9a-f-]{36}/)
      await promptAfter(pane, /recording session/)
      pane.line('sleep 300 & echo BG_$((1+1))')
      await promptAfter(pane, /^BG_2$/)
      pane.keys('C-d')
      const text = await pane.waitFor(/^ER_EXIT=\d+/m, 20_000)
      assert.match(text, /^ER_EXIT=0$/m)
      assert.match(text, /1 leftover process\(es\) ended/)
    } finally {
      pane.kill()
    }
    const end = endOf(await eventsOf(onlySession(join(d, 'data'))))
    assert.equal(end.exit_code, 0)
    assert.deepEqual(
      (end.leftover_processes as Array<{program: string; action: string}>).map((l) => [l.program, l.action]),
      [['sleep', 'hup']],
    )
  })

  it('SIGTERM to er-shell while a foreground job runs: the session ends (exit 129), the job is gone, the terminal restored', async () => {
    const d = tempDir()
    checkDir(join(d, 'data'))
    const pane = recorderPane(d)
    try {
      await pane.waitFor(/recording session [0-9a-f-]{36}/)
      await promptAfter(pane, /recording session/)
      // A session that waited for its foreground job would end ten minutes later, far past the wait.
      pane.line('sleep 600')
      await pane.waitFor(/command {2}pid \d+ {2}\/usr\/bin\/sleep 600/)
      const recorder = processesMentioning([d]).find((p) => p.cmdline.startsWith(`${process.execPath} ${CLI} record `))
      assert.ok(recorder, 'found the recorder')
      process.kill(recorder.pid, 'SIGTERM')
      const text = await pane.exitReport(60_000)
      assert.match(text, /^ER_EXIT=129$/m)
      const modes = text.slice(text.indexOf('ER_EXIT='))
      assert.match(modes, /(^|\s)icanon(\s|$)/m, modes)
      assert.match(modes, /(^|\s)echo(\s|$)/m, modes)
    } finally {
      pane.kill()
    }
    const ref = onlySession(join(d, 'data'))
    assert.equal(ref.completed, true)
    const end = endOf(await eventsOf(ref))
    assert.equal(end.exit_code, 129)
    const sleepPid = commandsOf(await eventsOf(ref)).find((c) => c.program === 'sleep')?.pid
    assert.ok(sleepPid)
    assert.equal(
      processesMentioning(['sleep 600']).some((p) => p.pid === sleepPid),
      false,
      'the foreground job is gone',
    )
  })
})

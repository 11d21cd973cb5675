// Replay keys on a real terminal, driven through tmux: pause, step, resume, next command, quit, terminal restored.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {after, before, describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {CLI, ROOT} from '../helpers/cli.js'
import {writeTimedSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'
import {killTmuxSessions, REPORT_EXIT, TmuxPane} from '../helpers/tmux.js'

const SID = '33330000-0000-4000-8000-000000000003'
const tmuxMissing = spawnSync('tmux', ['-V']).status !== 0 ? 'tmux is not installed' : false

/** A pane running `replay ARGS`, then reporting its exit status and the terminal's modes. */
function replayPane(args: string): TmuxPane {
  return new TmuxPane(`sh -c 'cd ${ROOT} && ${process.execPath} ${CLI} replay ${args}; ${REPORT_EXIT}; sleep 60'`, {cols: 100, rows: 30})
}

describe('replay keys (tmux)', {skip: tmuxMissing}, () => {
  let dataDir: string

  before(async () => {
    dataDir = tempDir()
    // chunk 1 at 5 s, command 1, chunk 2; then a minute of silence before chunk 3 and command 2.
    await writeTimedSession(dataDir, SID, [0, 5000, 5200, 60_000, 60_100, 120_000], {commandsAt: [5100, 60_050]})
  })
  after(() => {
    killTmuxSessions()
    removeDir(dataDir)
  })

  it('space pauses, "." steps, space resumes, "n" jumps to the next command, "q" quits and restores the terminal', async () => {
    const pane = replayPane(`${SID.slice(0, 6)} --data-dir ${dataDir}`)
    // Every wait below is for what a working key shows at once (up to 20 s); a key that did not
    // work leaves the screen unchanged for a minute. The space must reach the replay within 5 s of
    // chunk 0 appearing, before chunk 1 is due.
    await pane.waitFor('chunk 0')
    pane.keys(' ')
    await sleep(5500)
    assert.doesNotMatch(pane.text(), /chunk 1/, 'paused: chunk 1 (due at 5 s) must not appear')

    pane.keys('.')
    await pane.waitFor('chunk 1')
    assert.doesNotMatch(pane.text(), /cmd1/, 'one step is one frame')
    pane.keys('.')
    await pane.waitFor('[er-shell] command cmd1: /bin/cmd1 arg1')
    await sleep(400)
    assert.doesNotMatch(pane.text(), /chunk 2/, 'still paused after stepping')

    pane.keys(' ')
    await pane.waitFor('chunk 2')

    // A minute of silence follows: "n" jumps to the next command at once.
    pane.keys('n')
    const jumped = await pane.waitFor('/bin/cmd2')
    assert.match(jumped, /chunk 3[\s\S]*\/bin\/cmd2/)
    await pane.waitFor('chunk 4')
    assert.doesNotMatch(pane.text(), /chunk 5/)

    pane.keys('q')
    const modes = await pane.exitReport()
    assert.match(modes, /^ER_EXIT=0$/m)
    assert.match(modes, /(^|\s)icanon(\s|$)/m, 'canonical mode restored')
    assert.match(modes, /(^|\s)echo(\s|$)/m, 'echo restored')
    assert.doesNotMatch(pane.text(), /chunk 5/, 'quit before the end')
    pane.kill()
  })

  it('Ctrl-C quits too, and the terminal is restored', async () => {
    const pane = replayPane(`${SID} --data-dir ${dataDir}`)
    await pane.waitFor('chunk 0')
    pane.keys('C-c')
    assert.match(await pane.exitReport(), /(^|\s)icanon(\s|$)/m)
    pane.kill()
  })
})

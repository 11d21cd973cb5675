// Replay keys on a real terminal, driven through tmux: pause, step, resume, next command, quit, terminal restored.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {CLI, ROOT} from '../helpers/cli.js'
import {writeTimedSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const SID = '33330000-0000-4000-8000-000000000003'
const SOCKET = `er-test-${process.pid}`
const SESSION = `er-test-${process.pid}`

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', SOCKET, ...args], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', SESSION)
}

async function waitFor(what: string, test: (text: string) => boolean, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const text = screen()
    if (test(text)) return text
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${text}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const tmuxMissing = spawnSync('tmux', ['-V']).status !== 0 ? 'tmux is not installed' : false

describe('replay keys (tmux)', {skip: tmuxMissing}, () => {
  let dataDir: string
  let outDir: string

  before(async () => {
    dataDir = tempDir()
    outDir = tempDir('er-keys-')
    // chunk 1 at 5 s, command 1, chunk 2; then a minute of silence before chunk 3 and command 2.
    await writeTimedSession(dataDir, SID, [0, 5000, 5200, 60_000, 60_100, 120_000], {commandsAt: [5100, 60_050]})
  })
  after(() => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', SESSION])
    removeDir(dataDir)
    removeDir(outDir)
  })

  it('space pauses, "." steps, space resumes, "n" jumps to the next command, "q" quits and restores the terminal', async () => {
    const stty = path.join(outDir, 'stty.txt')
    const status = path.join(outDir, 'status.txt')
    const script = `cd ${ROOT} && NO_COLOR=1 ${process.execPath} ${CLI} replay ${SID.slice(0, 6)} --data-dir ${dataDir}; echo $? > ${status}; stty -a > ${stty}; sleep 60`
    tmux('new-session', '-d', '-s', SESSION, '-x', '100', '-y', '30', script)

    await waitFor('chunk 0', (s) => s.includes('chunk 0'))
    // Past chunk 1's time: a pause that worked holds it back. (The space must reach the replay
    // within 5 s of chunk 0 appearing; everything else below waits for what it expects to see,
    // up to 20 s, where a key that did not work leaves the screen unchanged for a minute.)
    tmux('send-keys', '-t', SESSION, ' ')
    await sleep(5500)
    assert.doesNotMatch(screen(), /chunk 1/, 'paused: chunk 1 (due at 5 s) must not appear')

    tmux('send-keys', '-t', SESSION, '.')
    await waitFor('step to chunk 1', (s) => s.includes('chunk 1'), 20_000)
    assert.doesNotMatch(screen(), /cmd1/, 'one step is one frame')
    tmux('send-keys', '-t', SESSION, '.')
    await waitFor('step to the command line', (s) => s.includes('[er-shell] command cmd1: /bin/cmd1 arg1'), 20_000)
    await sleep(400)
    assert.doesNotMatch(screen(), /chunk 2/, 'still paused after stepping')

    tmux('send-keys', '-t', SESSION, ' ')
    await waitFor('resume', (s) => s.includes('chunk 2'), 20_000)

    // A minute of silence follows: "n" jumps to the next command at once.
    tmux('send-keys', '-t', SESSION, 'n')
    const jumped = await waitFor('next command', (s) => s.includes('/bin/cmd2'), 20_000)
    assert.match(jumped, /chunk 3[\s\S]*\/bin\/cmd2/)
    await waitFor('output after the command, with timing', (s) => s.includes('chunk 4'), 20_000)
    assert.doesNotMatch(screen(), /chunk 5/)

    tmux('send-keys', '-t', SESSION, 'q')
    await waitFor('exit', () => fs.existsSync(stty) && fs.statSync(stty).size > 0, 20_000)
    assert.equal(fs.readFileSync(status, 'utf8').trim(), '0')
    const modes = fs.readFileSync(stty, 'utf8')
    assert.match(modes, /(^|\s)icanon(\s|$)/, 'canonical mode restored')
    assert.match(modes, /(^|\s)echo(\s|$)/, 'echo restored')
    assert.doesNotMatch(screen(), /chunk 5/, 'quit before the end')
  })

  it('Ctrl-C quits too, and the terminal is restored', async () => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', SESSION])
    const stty = path.join(outDir, 'stty2.txt')
    const script = `cd ${ROOT} && ${process.execPath} ${CLI} replay ${SID} --data-dir ${dataDir}; stty -a > ${stty}; sleep 60`
    tmux('new-session', '-d', '-s', SESSION, '-x', '100', '-y', '30', script)
    await waitFor('chunk 0', (s) => s.includes('chunk 0'))
    tmux('send-keys', '-t', SESSION, 'C-c')
    await waitFor('exit', () => fs.existsSync(stty) && fs.statSync(stty).size > 0, 20_000)
    assert.match(fs.readFileSync(stty, 'utf8'), /(^|\s)icanon(\s|$)/)
  })
})

// Privacy: keystrokes are not recorded (a password typed with echo off is in no file, the command
// it fed is), recordings and runtime files are private whatever the caller's umask, and nothing
// secret shows in process titles.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {lstatSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {describe, it} from 'node:test'

import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {
  chunksOf,
  commandsOf,
  eventsOf,
  guardLeaks,
  onlySession,
  processesMentioning,
  promptAfter,
  recorderPane,
  REGISTRY,
  startCli,
} from '../../helpers/record.js'
import {tempDir} from '../../helpers/temp.js'
import {killTmuxSessions} from '../../helpers/tmux.js'

const skip = kernelTestsSkipReason()

function filesUnder(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...filesUnder(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

/** Every file's bytes, gunzipped when it is gzip (a truncated stream as far as it goes). */
function contentsOf(file: string): Buffer {
  const raw = readFileSync(file)
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return Buffer.concat([raw, gunzipSync(raw, {finishFlush: 2 /* Z_SYNC_FLUSH */})])
    } catch {
      return raw
    }
  }
  return raw
}

describe('reliability: privacy', {skip}, () => {
  const {checkDir} = guardLeaks({first: killTmuxSessions})

  it('a password typed with echo off is in no recording file; the command it fed is recorded', async () => {
    const d = tempDir('er-priv-')
    checkDir(join(d, 'data'))
    const secret = `hunter2-${randomBytes(6).toString('hex')}`
    const pane = recorderPane(d)
    try {
      await pane.waitFor(/recording session [0-9a-f-]{36}/)
      await promptAfter(pane, /recording session/)
      pane.line('stty -echo; printf "Password: "; read -r PW; stty echo; echo; printf %s "$PW" | sha256sum; echo READ_$((1+1))')
      await pane.waitFor('Password: ')
      await pane.waitFor(/command {2}pid \d+ {2}\/usr\/bin\/stty -echo/)
      pane.line(secret)
      await pane.waitFor(/^READ_2$/m)
      pane.line('exit')
      await pane.waitFor(/^ER_EXIT=0$/m)
      assert.equal(pane.text().includes(secret), false, 'not echoed on the screen either')
    } finally {
      pane.kill()
    }
    const ref = onlySession(join(d, 'data'))
    const cmds = commandsOf(await eventsOf(ref))
    assert.ok(
      cmds.some((c) => c.program === 'sha256sum'),
      'the command that read the secret is recorded',
    )
    assert.ok(cmds.some((c) => c.program === 'stty' && c.argv[0] === '-echo'))
    const expectedHash = (await import('node:crypto')).createHash('sha256').update(secret).digest('hex')
    assert.ok((await chunksOf(ref)).toString().includes(expectedHash), 'the output of the command is recorded')
    const files = filesUnder(d)
    assert.ok(files.length >= 8)
    for (const f of files) assert.equal(contentsOf(f).includes(secret), false, `${f} must not contain the typed secret`)
  })

  it('runtime registration and recordings are private under umask 000; process titles carry nothing but the command line', async () => {
    const d = tempDir('er-priv-')
    checkDir(d)
    const run = startCli(['record', '--data-dir', d, '-c', 'echo ready; sleep 2'], {wrap: ['sh', '-c', 'umask 000; exec "$0" "$@"']})
    await run.waitFor('ready')
    const ref = onlySession(d)
    // the registration of the live session
    assert.equal(statSync(REGISTRY).mode & 0o777, 0o700)
    assert.equal(statSync(join(REGISTRY, `${ref.sid}.json`)).mode & 0o777, 0o600)
    // files being written are already private
    for (const f of filesUnder(d)) assert.equal(lstatSync(f).mode & 0o777, 0o600, f)
    // process titles: the recorder and the session shell show only what was typed
    const procs = processesMentioning([d])
    assert.ok(procs.length >= 1)
    for (const p of procs) assert.match(p.cmdline, /record --data-dir \S+ -c echo ready; sleep 2 ?$/, p.cmdline)
    const r = await run.done
    assert.equal(r.code, 0)
  })
})

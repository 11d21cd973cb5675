// replay --format asciicast played by Debian's asciinema (2.2) in a real terminal (a tmux pane):
// the file parses, every output reaches the screen in order, markers and resizes are accepted.
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {runCli} from '../helpers/cli.js'
import {writeDemoSession} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'
import {REPORT_EXIT, TmuxPane, killTmuxSessions} from '../helpers/tmux.js'

const ASCIINEMA = ['/usr/bin/asciinema', '/usr/local/bin/asciinema'].find((p) => fs.existsSync(p))

describe('asciinema plays the asciicast export', () => {
  let dataDir: string
  before(async () => {
    assert.ok(ASCIINEMA, 'asciinema is not installed: run scripts/setup.sh')
    dataDir = tempDir()
    await writeDemoSession(dataDir)
  })
  after(() => {
    killTmuxSessions()
    removeDir(dataDir)
  })

  it('asciinema play shows the whole session, with markers and a resize in the file', async () => {
    const file = path.join(dataDir, 'demo.cast')
    const r = runCli(['replay', '86aca627', '--data-dir', dataDir, '--format', 'asciicast', '--filter'])
    assert.equal(r.status, 0, r.stderr)
    fs.writeFileSync(file, r.stdout)
    const lines = r.stdout.trimEnd().split('\n')
    assert.ok(
      lines.some((l) => JSON.parse(l)[1] === 'm'),
      'markers in the file',
    )
    assert.ok(
      lines.some((l) => JSON.parse(l)[1] === 'r'),
      'a resize in the file',
    )

    const pane = new TmuxPane(`sh -c '${ASCIINEMA} play -s 2 ${file}; ${REPORT_EXIT}'`, {cols: 100, rows: 30})
    try {
      const text = await pane.exitReport(30_000)
      assert.match(text, /^ER_EXIT=0$/m, text)
      const screen = text.slice(0, text.indexOf('ER_EXIT='))
      assert.match(
        screen,
        /\$ echo hi\n+hi\n+\$ curl -s http:\/\/127\.0\.0\.1:8080\/\n+red ok\n+progress 100%%\n+txt\s*\n+\$ bash: \/nope: No such file or directory\n+\$ exit/,
        screen,
      )
      // (A terminal's own rendering: "$ progress 10%" overwritten after CR leaves a "%"; "typo" and three backspaces.)
      // The filter took the clipboard write and the cursor query out: asciinema's terminal saw neither.
      assert.doesNotMatch(screen, /aGk=|\^\[\[6n/)
    } finally {
      pane.kill()
    }
  })
})

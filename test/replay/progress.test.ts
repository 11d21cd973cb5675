// The progress line of long replays and exports (src/replay/progress.ts): only on a terminal, erased at the end.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {Progress} from '../../src/replay/progress.js'

describe('progress line', () => {
  it('appears on a terminal after the delay and is erased at the end; never on a pipe', async () => {
    let written = ''
    const tty = {isTTY: true, write: (s: string) => ((written += s), true)}
    const p = new Progress(tty, 'exporting', 30).start()
    p.counters.events = 41_302
    p.counters.outputBytes = 40 * 1024 * 1024
    await new Promise((r) => setTimeout(r, 80))
    p.stop()
    assert.match(written, /\r\x1b\[Ker-shell: exporting… 41,302 events, 40\.0 MiB of output, \d+ s/)
    assert.ok(written.endsWith('\r\x1b[K'))
    let piped = ''
    const pipe = {isTTY: false, write: (s: string) => ((piped += s), true)}
    const q = new Progress(pipe, 'exporting', 10).start()
    await new Promise((r) => setTimeout(r, 40))
    q.stop()
    assert.equal(piped, '')
  })
})

// A real `er-shell record` session through every playback export: the Teleport ProtoStream file
// (decoded independently, the output byte-exact, every command there with its argv), read back
// by `replay FILE.tar`, and the HTML page in headless Chromium (the command in the timeline, the
// terminal showing its output after a click and play).
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {describe, it} from 'node:test'

import {Browser} from '../../helpers/chromium.js'
import {kernelTestsSkipReason, runCli} from '../../helpers/cli.js'
import {parseFile, strs, str, fields} from '../../helpers/protostream-decode.js'
import {chunksOf, commandsOf, eventsOf, guardLeaks, onlySession, record} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

describe('record, then replay --format teleport and html', {skip}, () => {
  const {dataDir} = guardLeaks()

  it('exports a recorded session that Teleport and a browser can play', async () => {
    const d = dataDir()
    const r = await record(d, ['-c', `echo playback-$((6*7)); /bin/echo '<script>alert(1)</script>' two; exit 0`])
    assert.equal(r.code, 0, r.stderr)
    const ref = onlySession(d)
    const events = await eventsOf(ref)
    const output = await chunksOf(ref)
    const echo = commandsOf(events).find((c) => c.path === '/bin/echo')
    assert.ok(echo, 'the recorder saw /bin/echo')

    const tar = path.join(d, `${ref.sid}.tar`)
    const t = runCli(['replay', ref.sid, '--data-dir', d, '--format', 'teleport', '-o', tar])
    assert.equal(t.status, 0, t.stderr)
    const parsed = parseFile(fs.readFileSync(tar))
    assert.deepEqual(
      parsed.records.map((x) => x.ei),
      parsed.records.map((_, i) => i),
    )
    const prints = parsed.records.filter((x) => x.type === 'print').map((x) => fields(x.message).find((f) => f.n === 3)!.b!)
    assert.ok(Buffer.concat(prints).equals(output), 'terminal output byte-exact')
    const cmd = parsed.records.find((x) => x.type === 'session.command' && str(x.f, 7) === '/bin/echo')
    assert.ok(cmd)
    assert.deepEqual(strs(cmd.f, 8), ['<script>alert(1)</script>', 'two'])
    assert.equal(parsed.records[0]!.type, 'session.start')
    assert.equal(parsed.records.at(-1)!.type, 'session.end')

    const back = runCli(['replay', tar, '--format', 'text'])
    assert.equal(back.status, 0, back.stderr)
    assert.match(back.stdout, /^playback-42$/m)

    const html = path.join(d, `${ref.sid}.html`)
    const h = runCli(['replay', ref.sid, '--data-dir', d, '--format', 'html', '-o', html])
    assert.equal(h.status, 0, h.stderr)
    const browser = await Browser.launch()
    try {
      const page = await browser.newPage()
      await page.goto(`file://${html}`)
      await page.waitFor('document.body.dataset.ready')
      const rows = await page.eval<string[]>('Array.from(document.querySelectorAll(".tl-row .tl-text")).map((e) => e.textContent)')
      assert.ok(rows.includes(`/bin/echo '<script>alert(1)</script>' two`), rows.join('\n'))
      const index = await page.eval<string>(`Array.from(document.querySelectorAll('.tl-row')).find((r) => r.textContent.includes('/bin/echo')).dataset.index`)
      await page.click(`.tl-row[data-index="${index}"]`)
      await page.waitFor('document.body.dataset.seeked')
      await page.click('#play')
      await page.waitFor('document.querySelector(".ap-term-text").innerText.includes("<script>alert(1)</script> two")', 20_000)
      assert.match(await page.eval<string>('document.querySelector(".ap-term-text").innerText'), /playback-42/)
      assert.deepEqual(page.log.dialogs, [])
      assert.deepEqual(page.log.requests, [`file://${html}`])
    } finally {
      await browser.close()
    }
  })
})

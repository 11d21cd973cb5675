// replay --format html in a real browser: Debian's headless Chromium loads the exported page offline
// (file://, every request recorded), the test reads the facts and the timeline from the DOM, clicks
// a command and checks the terminal shows that moment, plays, searches, changes speed, keeps a
// screenshot (test-artifacts/), and proves a hostile recording runs nothing.
import assert from 'node:assert/strict'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {SessionWriter} from '../../src/storage/session-writer.js'
import {Browser, CHROMIUM, type Page, artifactsDir} from '../helpers/chromium.js'
import {hasStackTrace, runCli} from '../helpers/cli.js'
import {DEMO_START, command, common} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const SID = '0b5e7a11-0000-4000-8000-000000000022'
const HOSTILE_SID = '0b5e7a11-bad0-4000-8000-000000000022'

/** The demo session plus a denied connect and a second command later on. */
async function writeSession(dataDir: string): Promise<void> {
  const w = await SessionWriter.create({dataDir, sid: SID, common: common(), startedAt: DEMO_START})
  const at = (ms: number) => DEMO_START + ms
  w.emit({event: 'session.start', size: '80:24', interactive: true}, at(0))
  w.print(Buffer.from('$ '), at(100))
  w.print(Buffer.from('echo hi\r\n'), at(600))
  w.emit(command(101, '/bin/echo', ['hi']), at(620))
  w.print(Buffer.from('hi\r\n$ '), at(640))
  w.print(Buffer.from('curl -s http://10.0.0.1:443/\r\n'), at(1200))
  w.emit(command(102, '/usr/bin/curl', ['-s', 'http://10.0.0.1:443/']), at(1220))
  w.emit(
    {
      event: 'session.network',
      pid: 102,
      cgroup_id: 2360,
      program: 'curl',
      src_addr: '0.0.0.0',
      dst_addr: '10.0.0.1',
      dst_port: 443,
      version: 4,
      operation: 0,
      action: 1,
    },
    at(1230),
  )
  w.print(Buffer.from('curl: (7) Failed to connect: Operation not permitted\r\n$ '), at(1250))
  w.print(Buffer.from('cat /etc/hostname\r\n'), at(2000))
  w.emit(command(103, '/bin/cat', ['/etc/hostname']), at(2020))
  w.emit({event: 'session.disk', pid: 103, cgroup_id: 2360, program: 'cat', path: '/etc/hostname', flags: 0, return_code: 3}, at(2030))
  w.print(Buffer.from('build-01\r\n$ exit\r\n'), at(2050))
  await w.end({interactive: true, exit_code: 0, lost_events: {command: 2, disk: 0, network: 0}}, at(2200))
}

/** Everything a recording controls, hostile: names, arguments, paths, output. */
async function writeHostileSession(dataDir: string): Promise<void> {
  const evil = {...common('<script>alert("user")</script>'), server_hostname: '</title><script>alert("host")</script>', cluster_name: '<!--'}
  const w = await SessionWriter.create({dataDir, sid: HOSTILE_SID, common: evil, startedAt: DEMO_START})
  const at = (ms: number) => DEMO_START + ms
  w.emit({event: 'session.start', size: '80:24', interactive: true}, at(0))
  w.print(Buffer.from('</script><script>window.pwned = 1; alert("output")</script><!-- <img src=x onerror=alert(2)>\r\n'), at(10))
  w.print(
    Buffer.from(
      '\x1b]8;;javascript:alert(3)\x1b\\click me\x1b]8;;\x1b\\ \x1b]52;c;aGk=\x07\x1b]0;<script>alert(4)</script>\x07\x1b[6n\x1bP+q544e\x1b\\done\r\n',
    ),
    at(20),
  )
  w.emit(
    command(201, '/bin/echo', [
      '<script>alert(1)</script>',
      '</script><script>alert(5)</script>',
      'javascript:alert(6)',
      '"><svg onload=alert(7)>',
      '\u2028\u2029',
      '\x1b[31mred',
    ]),
    at(30),
  )
  w.emit(command(202, 'javascript:alert(8)', ['<iframe src="https://example.com/">'], 0, '<b>comm</b>'), at(40))
  w.emit({event: 'session.disk', pid: 203, cgroup_id: 1, program: '<img src=x>', path: '/tmp/<script>alert(9)</script>', flags: 0, return_code: 3}, at(50))
  w.emit(
    {
      event: 'session.network',
      pid: 204,
      cgroup_id: 1,
      program: 'x',
      src_addr: '<b>',
      dst_addr: 'javascript:alert(10)',
      dst_port: 1,
      version: 4,
      operation: 0,
      action: 0,
    },
    at(60),
  )
  await w.end({interactive: true, exit_code: '<script>alert(11)</script>' as never, lost_events: {command: 0, disk: 0, network: 0}}, at(100))
}

const terminalText = (page: Page) => page.eval<string>('document.querySelector(".ap-term-text").innerText')

/** The timeline rows as rendered: [time, kind, program, text]. */
const timelineRows = (page: Page) =>
  page.eval<string[][]>(
    `Array.from(document.querySelectorAll('.tl-row')).sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top)).map((r) => Array.from(r.children).map((c) => c.textContent))`,
  )

/** Installed before the page's own scripts: records CSP violations (the page cannot switch it off). */
const WATCH = `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI))`

describe('replay --format html in headless Chromium', {skip: CHROMIUM ? false : undefined}, () => {
  let dataDir: string
  let outDir: string
  let browser: Browser

  before(async () => {
    assert.ok(CHROMIUM, 'chromium is not installed: run scripts/setup.sh')
    dataDir = tempDir()
    outDir = tempDir()
    await writeSession(dataDir)
    await writeHostileSession(dataDir)
    browser = await Browser.launch(1400, 820)
  })
  after(async () => {
    await browser?.close()
    removeDir(dataDir)
    removeDir(outDir)
  })

  const exportPage = (sid: string): string => {
    const file = path.join(outDir, `${sid}.html`)
    const r = runCli(['replay', sid.slice(0, 13), '--data-dir', dataDir, '--format', 'html', '-o', file])
    assert.equal(r.status, 0, r.stderr)
    assert.ok(!hasStackTrace(r.stderr))
    assert.match(r.stderr, /wrote .*\.html: \d+ events/)
    return file
  }

  const open = async (file: string): Promise<Page> => {
    const page = await browser.newPage()
    await page.send('Page.addScriptToEvaluateOnNewDocument', {source: WATCH})
    await page.goto(`file://${file}`)
    await page.waitFor('document.body.dataset.ready')
    return page
  }

  it('shows the facts and the timeline, seeks on a click, plays, searches, filters; offline', async () => {
    const file = exportPage(SID)
    const html = fs.readFileSync(file, 'utf8')
    assert.ok(!/<script[^>]+src=|<link[^>]+href=/.test(html), 'no script or style sheet from elsewhere')
    assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-`), 'a strict CSP')
    const page = await open(file)

    const facts = Object.fromEntries(
      await page.eval<string[][]>(`Array.from(document.querySelectorAll('#facts .fact')).map((f) => [f.children[0].textContent, f.children[1].textContent])`),
    ) as Record<string, string>
    // Checked with this host's verification key (the writer sealed the recording with it).
    assert.match(facts.integrity!, /^intact \(14 events, \d+ bytes, sealed at \S+\)$/)
    delete facts.integrity
    assert.deepEqual(facts, {
      user: 'alice as root',
      host: 'build-01',
      session: SID,
      start: '2026-11-22T16:42:18.000Z',
      duration: '2.2 s',
      'exit status': '0',
      'lost events': '2 (command 2, disk 0, network 0)',
      commands: '3',
      network: '1',
      denied: '1',
      'file opens': '1',
    })
    assert.deepEqual(await timelineRows(page), [
      ['0:00.620', 'command', 'echo', '/bin/echo hi'],
      ['0:01.220', 'command', 'curl', '/usr/bin/curl -s http://10.0.0.1:443/'],
      ['0:01.230', 'denied', 'curl', 'denied connect → 10.0.0.1:443'],
      ['0:02.020', 'command', 'cat', '/bin/cat /etc/hostname'],
      ['0:02.030', 'disk', 'cat', '/etc/hostname O_RDONLY'],
    ])
    assert.equal(await page.eval('document.querySelectorAll(".tl-row.denied").length'), 1)

    // Click the curl command: the terminal shows the screen of that moment (the command typed,
    // not yet its output).
    await page.click('.tl-row[data-index="1"]')
    await page.waitFor('document.body.dataset.seeked === "1220"')
    await page.waitFor('document.querySelector(".ap-term-text").innerText.includes("curl -s")')
    let screen = await terminalText(page)
    assert.match(screen, /\$ echo hi\s+hi\s+\$ curl -s http:\/\/10\.0\.0\.1:443\//)
    assert.doesNotMatch(screen, /Failed to connect/)
    assert.equal(await page.eval('document.querySelector(".tl-row.current").dataset.index'), '1')

    // The cat command, by keyboard search: one match; Enter seeks there.
    await page.click('#search')
    await page.type('hostname')
    assert.equal(await page.eval('document.getElementById("tl-count").textContent'), '2 of 5 events')
    await page.eval('document.querySelector(".tl-row").focus()')
    await page.send('Input.dispatchKeyEvent', {type: 'keyDown', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13})
    await page.waitFor('document.body.dataset.seeked === "2020"')
    await page.waitFor('document.querySelector(".ap-term-text").innerText.includes("cat /etc")')
    screen = await terminalText(page)
    assert.match(screen, /Operation not permitted\s+\$ cat \/etc\/hostname/)
    assert.doesNotMatch(screen, /build-01/)
    await page.screenshot(path.join(artifactsDir(), 'html-player.png'))

    // The kind filter: denied attempts only.
    await page.eval(
      `(() => { const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input')); const k = document.getElementById('kind'); k.value = 'denied'; k.dispatchEvent(new Event('change')) })()`,
    )
    assert.deepEqual(await timelineRows(page), [['0:01.230', 'denied', 'curl', 'denied connect → 10.0.0.1:443']])

    // Play at 16×: it reaches the end, the button follows.
    await page.eval(`(() => { const s = document.getElementById('speed'); s.value = '16'; s.dispatchEvent(new Event('change')) })()`)
    await page.click('#play')
    await page.waitFor('document.querySelector(".ap-term-text").innerText.includes("$ exit")', 20_000)
    assert.match(await terminalText(page), /build-01\s+\$ exit/)

    assert.deepEqual(page.log.requests, [`file://${file}`], 'no request but the page itself')
    assert.deepEqual(page.log.exceptions, [])
    assert.deepEqual(page.log.dialogs, [])
    assert.deepEqual(await page.eval('window.__csp'), [], 'the page needs nothing its CSP forbids')
  })

  it('a hostile recording runs nothing and shows its strings as text', async () => {
    const file = exportPage(HOSTILE_SID)
    const html = fs.readFileSync(file, 'utf8')
    // Data blocks: no "<" at all inside them, so no </script> or <!-- can end or change them.
    for (const block of html.matchAll(/<script type="application\/json"[^>]*>([\s\S]*?)<\/script>/g))
      assert.ok(!/[<>]/.test(block[1]!), 'no < or > in a data block')
    const page = await open(file)
    await page.click('.tl-row[data-index="0"]')
    await page.waitFor('document.body.dataset.seeked')
    await page.click('#play')
    await page.waitFor('document.querySelector(".ap-term-text").innerText.includes("done")', 20_000)
    await page.click('.ap-term-text')

    assert.equal(await page.eval('typeof window.pwned'), 'undefined')
    assert.deepEqual(page.log.dialogs, [], 'no alert() ran')
    assert.deepEqual(page.log.exceptions, [])
    assert.deepEqual(page.log.requests, [`file://${file}`])
    assert.deepEqual(await page.eval('window.__csp'), [])
    assert.equal(await page.eval('document.title'), 'er-shell session ' + HOSTILE_SID)
    assert.equal(await page.eval('document.querySelectorAll("script").length'), 2)
    assert.equal(await page.eval('document.querySelectorAll("iframe, img, a[href], object, embed, form, #player svg[onload]").length'), 0)
    assert.equal(
      await page.eval(`Array.from(document.querySelectorAll('*')).filter((e) => Array.from(e.attributes).some((a) => a.name.startsWith('on'))).length`),
      0,
    )
    // The strings are there, as text.
    const rows = await timelineRows(page)
    assert.deepEqual(rows[0], [
      '0:00.030',
      'command',
      'echo',
      `/bin/echo '<script>alert(1)</script>' '</script><script>alert(5)</script>' 'javascript:alert(6)' '"><svg onload=alert(7)>' '\u2028\u2029' '\\x1b[31mred'`,
    ])
    assert.equal(rows[1]![3], `javascript:alert(8) '<iframe src="https://example.com/">'`)
    assert.equal(rows[1]![2], '<b>comm</b>')
    const facts = await page.eval<string>('document.getElementById("facts").textContent')
    assert.match(facts, /<script>alert\("user"\)<\/script>/)
    assert.match(facts, /<\/title><script>alert\("host"\)<\/script>/)
    const screen = await terminalText(page)
    assert.match(screen.replace(/\n/g, ''), /<\/script><script>window\.pwned = 1; alert\("output"\)<\/script><!-- <img src=x onerror=alert\(2\)>/)
    assert.match(screen, /click me done/)
    // And the CSP is real: an inline script added now is refused.
    await page.eval(`(() => { const s = document.createElement('script'); s.textContent = 'window.pwned = 2'; document.body.append(s) })()`)
    assert.equal(await page.eval('typeof window.pwned'), 'undefined')
    // The violation event is dispatched as a task of its own: wait for it (a CI run read it too soon).
    await page.waitFor('window.__csp.length > 0', 5000)
    assert.match((await page.eval<string[]>('window.__csp')).join(), /script-src/)
  })
})

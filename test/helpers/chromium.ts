// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: fd 3 in, fd 4 out, NUL-terminated JSON), for tests of the HTML player:
// load a page offline, read the DOM, click, screenshot, and see every request, dialog, console
// message and CSP report the page causes.
import {type ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type {Readable, Writable} from 'node:stream'

import {ROOT} from './cli.js'
import {removeDir, tempDir} from './temp.js'

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p))

/** Where tests keep screenshots (ER_SHELL_TEST_ARTIFACTS, else test-artifacts/ in the repository). */
export function artifactsDir(): string {
  const dir = process.env.ER_SHELL_TEST_ARTIFACTS ?? path.join(ROOT, 'test-artifacts')
  try {
    fs.mkdirSync(dir, {recursive: true})
    fs.accessSync(dir, fs.constants.W_OK)
    return dir
  } catch {
    // Another user's (root's, from an earlier run in this checkout): this user's own, in /tmp.
    const own = path.join(os.tmpdir(), `er-shell-test-artifacts-${process.getuid?.() ?? 'user'}`)
    fs.mkdirSync(own, {recursive: true})
    return own
  }
}

interface Pending {
  resolve: (value: Record<string, unknown>) => void
  reject: (error: Error) => void
  method: string
}

export interface PageLog {
  /** Every request the page made (URL), the page's own file included. */
  requests: string[]
  dialogs: string[]
  console: string[]
  exceptions: string[]
  /** Console/log entries about the Content-Security-Policy. */
  csp: string[]
}

export class Browser {
  private readonly child: ChildProcess
  private readonly input: Writable
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly listeners: Array<(message: Record<string, unknown>) => void> = []
  private readonly profile: string
  private exited = false

  private constructor(width: number, height: number) {
    this.profile = tempDir('er-chromium-')
    this.child = spawn(
      CHROMIUM!,
      [
        '--headless=new',
        '--remote-debugging-pipe',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-extensions',
        '--disable-background-networking',
        '--disable-sync',
        '--disable-component-update',
        '--no-proxy-server',
        '--mute-audio',
        `--user-data-dir=${this.profile}`,
        `--window-size=${width},${height}`,
        'about:blank',
      ],
      {stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe']},
    )
    this.child.stderr!.resume()
    this.input = this.child.stdio[3] as Writable
    const output = this.child.stdio[4] as Readable
    let buffered = Buffer.alloc(0)
    output.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      let end: number
      while ((end = buffered.indexOf(0)) >= 0) {
        const message = JSON.parse(buffered.subarray(0, end).toString('utf8')) as Record<string, unknown>
        buffered = buffered.subarray(end + 1)
        this.dispatch(message)
      }
    })
    this.child.on('exit', () => {
      this.exited = true
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited during ${p.method}`))
      this.pending.clear()
    })
  }

  static async launch(width = 1400, height = 900): Promise<Browser> {
    if (!CHROMIUM) throw new Error('chromium is not installed (scripts/setup.sh installs it)')
    const browser = new Browser(width, height)
    await browser.send('Browser.getVersion')
    return browser
  }

  private dispatch(message: Record<string, unknown>): void {
    if (typeof message.id === 'number') {
      const p = this.pending.get(message.id)
      if (!p) return
      this.pending.delete(message.id)
      if (message.error) p.reject(new Error(`${p.method}: ${JSON.stringify(message.error)}`))
      else p.resolve((message.result ?? {}) as Record<string, unknown>)
      return
    }
    for (const listener of this.listeners) listener(message)
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error('chromium has exited'))
    const id = this.nextId++
    const message = JSON.stringify({id, method, params, ...(sessionId ? {sessionId} : {})})
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject, method})
      this.input.write(message + '\0')
    })
  }

  on(listener: (message: Record<string, unknown>) => void): void {
    this.listeners.push(listener)
  }

  /** A new tab with every domain the tests watch enabled. */
  async newPage(): Promise<Page> {
    const {targetId} = (await this.send('Target.createTarget', {url: 'about:blank'})) as {targetId: string}
    const {sessionId} = (await this.send('Target.attachToTarget', {targetId, flatten: true})) as {sessionId: string}
    const page = new Page(this, sessionId)
    this.on((m) => {
      if (m.sessionId === sessionId) page.event(m.method as string, (m.params ?? {}) as Record<string, unknown>)
    })
    for (const domain of ['Page', 'Runtime', 'Network', 'Log']) await page.send(`${domain}.enable`)
    return page
  }

  /** Ends chromium (by its pid) and removes its profile. */
  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve))
      this.send('Browser.close').catch(() => undefined)
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    removeDir(this.profile)
  }
}

export class Page {
  readonly log: PageLog = {requests: [], dialogs: [], console: [], exceptions: [], csp: []}
  private loadWaiters: Array<() => void> = []

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId)
  }

  event(method: string, params: Record<string, unknown>): void {
    if (method === 'Network.requestWillBeSent') this.log.requests.push(String((params.request as {url: string}).url))
    else if (method === 'Page.javascriptDialogOpening') {
      this.log.dialogs.push(String(params.message))
      void this.send('Page.handleJavaScriptDialog', {accept: false})
    } else if (method === 'Runtime.consoleAPICalled') {
      const text = ((params.args as Array<{value?: unknown; description?: string}>) ?? []).map((a) => String(a.value ?? a.description)).join(' ')
      this.log.console.push(text)
      if (/Content.Security.Policy/i.test(text)) this.log.csp.push(text)
    } else if (method === 'Runtime.exceptionThrown') {
      const d = params.exceptionDetails as {text?: string; exception?: {description?: string}}
      this.log.exceptions.push(`${d.text ?? ''} ${d.exception?.description ?? ''}`)
    } else if (method === 'Log.entryAdded') {
      const entry = params.entry as {text: string; source: string}
      this.log.console.push(entry.text)
      if (/Content.Security.Policy/i.test(entry.text)) this.log.csp.push(entry.text)
    } else if (method === 'Page.loadEventFired') {
      for (const w of this.loadWaiters.splice(0)) w()
    }
  }

  async goto(url: string, timeoutMs = 60_000): Promise<void> {
    const loaded = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${url}: no load event in ${timeoutMs} ms`)), timeoutMs)
      this.loadWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
    await this.send('Page.navigate', {url})
    await loaded
  }

  /** The value of a JS expression in the page (promises awaited). */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', {expression, returnByValue: true, awaitPromise: true})) as {
      result: {value?: T}
      exceptionDetails?: {text: string; exception?: {description?: string}}
    }
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`)
    return r.result.value as T
  }

  /** Waits until the expression is truthy; returns its value. */
  async waitFor<T = unknown>(expression: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = await this.eval<T>(expression)
      if (value) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** A real mouse click (pressed and released) at the centre of the first element matching selector. */
  async click(selector: string): Promise<void> {
    const box = await this.eval<{x: number; y: number} | null>(
      `(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({block: 'nearest'}); const r = e.getBoundingClientRect(); return {x: r.left + r.width / 2, y: r.top + r.height / 2} })()`,
    )
    if (!box) throw new Error(`no element ${selector}`)
    for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased']) {
      await this.send('Input.dispatchMouseEvent', {type, x: box.x, y: box.y, button: 'left', clickCount: 1})
    }
  }

  /** Closes the tab. */
  async close(): Promise<void> {
    await this.send('Page.close').catch(() => undefined)
  }

  async type(text: string): Promise<void> {
    await this.send('Input.insertText', {text})
  }

  async screenshot(file: string): Promise<void> {
    const {data} = (await this.send('Page.captureScreenshot', {format: 'png'})) as {data: string}
    fs.writeFileSync(file, Buffer.from(data, 'base64'))
  }
}

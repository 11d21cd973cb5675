// How fast the HTML player opens a session in headless Chromium: `replay --format html`'s page
// against a baseline in the same run, the conventional self-contained embedding (the same session
// as one asciicast text blob handed to asciinema-player's own parser, no timeline). Measured from
// navigation start: the load event (as the DevTools client sees it), and when the player has
// taken the recording in (the page's own clock); for ours also
// the export and a seek to the last timeline event. The baseline gets at most BASELINE_CAP_MS.
// Run alone: node dist/bench/html-open.js [RUNS] [MB,MB,...] (1,000 timeline events and 500
// writes per MB of output; default 5,100)
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import {createRequire} from 'node:module'
import * as os from 'node:os'
import * as path from 'node:path'

import {Browser, type Page} from '../test/helpers/chromium.js'
import {generateLargeSession, type LargeSession} from './gen-large.js'
import {RUN_JS, median, round} from './lib.js'

export const BASELINE_CAP_MS = 60_000

export interface HtmlOpenResult {
  session: LargeSession
  exportMs: number[]
  exportRssKb: number
  pageBytes: number
  castBytes: number
  ours: {load: number[]; loaded: number[]; seek: number[]}
  /** loaded: NaN when the cap was reached first. */
  baseline: {load: number[]; loaded: number[]}
}

/** The baseline page: asciinema-player's script and CSS inline, the .cast as a text blob, its default parser. */
function baselinePage(cast: string): string {
  const require = createRequire(import.meta.url)
  const asset = (name: string) => fs.readFileSync(require.resolve(`asciinema-player/dist/bundle/${name}`), 'utf8')
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><style>${asset('asciinema-player.css')}</style></head><body><div id="player"></div>
<script type="text/plain" id="cast">${cast.replace(/<\//g, '<\\/')}</script>
<script>${asset('asciinema-player.min.js')}</script>
<script>
const p = AsciinemaPlayer.create({data: document.getElementById('cast').textContent}, document.getElementById('player'), {preload: true, fit: 'width'})
const t = setInterval(() => { if (p.getDuration() === undefined) return; clearInterval(t); document.body.dataset.loaded = String(Math.round(performance.now())) }, 20)
</script></body></html>`
}

async function open(browser: Browser, file: string, capMs: number): Promise<{load: number; loaded: number; page: Page}> {
  const page = await browser.newPage()
  const t0 = Date.now()
  await page.goto(`file://${file}`, 300_000)
  // Measured here, not asked of the page: a page busy parsing answers nothing until it is done.
  const load = Date.now() - t0
  // Raced against a timer: a page busy parsing does not even answer the poll until it is done.
  const cap = new Promise<number>((resolve) => setTimeout(() => resolve(NaN), capMs).unref())
  const loaded = await Promise.race([page.waitFor<string>('document.body.dataset.loaded', capMs).then(Number, () => NaN), cap])
  return {load, loaded, page}
}

export async function benchHtmlSize(work: string, runs: number, mb: number, log: (line: string) => void): Promise<HtmlOpenResult> {
  const dataDir = fs.mkdtempSync(path.join(work, 'html-data-'))
  const session = await generateLargeSession(dataDir, {timeline: mb * 1000, prints: mb * 500, outputBytes: mb * 1024 * 1024})
  log(`html: ${mb} MB: generated ${session.events} events (${session.timeline} in the timeline), ${round(session.outputBytes / 1048576)} MB of output`)
  const page = path.join(work, `${session.sid}.html`)
  const castFile = path.join(work, `baseline-${session.sid}.html`)
  const result: HtmlOpenResult = {
    session,
    exportMs: [],
    exportRssKb: 0,
    pageBytes: 0,
    castBytes: 0,
    ours: {load: [], loaded: [], seek: []},
    baseline: {load: [], loaded: []},
  }
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(
      '/bin/sh',
      [
        '-c',
        `/usr/bin/time -f '%e %M' ${process.execPath} ${RUN_JS} replay ${session.sid} --data-dir ${dataDir} --format html -o ${page} 2>&1 >/dev/null | tail -1`,
      ],
      {encoding: 'utf8'},
    )
    const [seconds, kb] = out.trim().split(' ').map(Number)
    result.exportMs.push(seconds! * 1000)
    result.exportRssKb = Math.max(result.exportRssKb, kb!)
  }
  result.pageBytes = fs.statSync(page).size
  const cast = execFileSync(process.execPath, [RUN_JS, 'replay', session.sid, '--data-dir', dataDir, '--format', 'asciicast'], {
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  })
  result.castBytes = Buffer.byteLength(cast)
  fs.writeFileSync(castFile, baselinePage(cast))
  // A fresh browser for every page: a page still busy (the baseline past its cap) cannot hold up
  // the next one in a shared renderer, and closing the browser ends it.
  const measure = async <T>(fn: (browser: Browser) => Promise<T>): Promise<T> => {
    const browser = await Browser.launch(1400, 900)
    try {
      return await fn(browser)
    } finally {
      await browser.close()
    }
  }
  try {
    for (let i = 0; i < runs; i++) {
      // Interleaved: ours, then the baseline.
      const a = await measure(async (browser) => {
        const a = await open(browser, page, 120_000)
        await a.page.eval('(() => { const l = document.getElementById("tl-list"); l.scrollTop = l.scrollHeight })()')
        await new Promise((r) => setTimeout(r, 200))
        const index = await a.page.eval<string>(
          '(() => { const r = Array.from(document.querySelectorAll(".tl-row")); return r.sort((x, y) => parseFloat(y.style.top) - parseFloat(x.style.top))[0].dataset.index })()',
        )
        const t0 = Date.now()
        await a.page.click(`.tl-row[data-index="${index}"]`)
        await a.page.waitFor('document.body.dataset.seeked', 120_000)
        return {...a, seek: Date.now() - t0}
      })
      result.ours.load.push(a.load)
      result.ours.loaded.push(a.loaded)
      result.ours.seek.push(a.seek)
      const b = await measure((browser) => open(browser, castFile, BASELINE_CAP_MS))
      result.baseline.load.push(b.load)
      result.baseline.loaded.push(b.loaded)
      log(`html: ${mb} MB run ${i + 1}: ours load ${a.load} ms, loaded ${a.loaded} ms, seek ${a.seek} ms; baseline load ${b.load} ms, loaded ${b.loaded} ms`)
    }
  } finally {
    fs.rmSync(dataDir, {recursive: true, force: true})
    fs.rmSync(page, {force: true})
    fs.rmSync(castFile, {force: true})
  }
  return result
}

const ms = (xs: number[]): string => (xs.some(Number.isNaN) ? `> ${BASELINE_CAP_MS / 1000} s (cap)` : `${median(xs)} ms`)

/** ours / baseline of the medians of "player loaded"; with a capped baseline, an upper bound. */
export function loadedRatio(r: HtmlOpenResult): string {
  const ours = median(r.ours.loaded)
  if (r.baseline.loaded.some(Number.isNaN)) return `< ${round(ours / BASELINE_CAP_MS, 3)}`
  return String(round(ours / median(r.baseline.loaded), 2))
}

export function summarize(r: HtmlOpenResult): string {
  return [
    `session: ${r.session.events} events (${r.session.timeline} in the timeline), ${round(r.session.outputBytes / 1048576)} MB of output`,
    `  export (replay --format html): ${median(r.exportMs)} ms, peak RSS ${round(r.exportRssKb / 1024)} MB, page ${round(r.pageBytes / 1048576)} MB`,
    `  ours: load event ${median(r.ours.load)} ms, player loaded ${ms(r.ours.loaded)}, seek to the last event ${median(r.ours.seek)} ms`,
    `  baseline (one ${round(r.castBytes / 1048576)} MB .cast blob, asciinema's parser): load event ${median(r.baseline.load)} ms, player loaded ${ms(r.baseline.loaded)}`,
    `  ratio ours/baseline (player loaded): ${loadedRatio(r)}`,
  ].join('\n')
}

if (process.argv[1]?.endsWith('html-open.js')) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'er-bench-html-'))
  try {
    for (const mb of (process.argv[3] ?? '5,100').split(',').map(Number)) {
      console.log(summarize(await benchHtmlSize(work, Number(process.argv[2] ?? 3), mb, console.error)))
    }
  } finally {
    fs.rmSync(work, {recursive: true, force: true})
  }
}

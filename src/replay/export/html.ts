// `replay --format html`: one self-contained page that plays the session (asciinema-player, embedded)
// beside a timeline of its enhanced events; no network, strict CSP, every recorded string inert.
import {writeFileAtomically} from './atomic-file.js'
import {createHash} from 'node:crypto'
import * as fs from 'node:fs'
import {createRequire} from 'node:module'
import {StringDecoder} from 'node:string_decoder'

import {visible} from '../../events/escape.js'
import type {AuditEvent} from '../../events/types.js'
import {describeEvent, shortType} from '../describe.js'
import type {Progress} from '../progress.js'
import {TerminalSafetyFilter} from '../terminal/safety-filter.js'
import {STEP_EVENT_TYPES, type Frame} from '../timeline.js'
import {parseSize} from './asciicast.js'
import {APP_SCRIPT} from './html/app.js'
import {PAGE_STYLE} from './html/style.js'

export interface HtmlOptions {
  /** Cap every pause at this many seconds (the player's clock and the timeline's alike). */
  idleLimit?: number
  sid?: string
  progress?: Progress
  /** The recording's integrity as checked (a line, e.g. `intact (…)`), and whether it is bad; shown with the facts. */
  integrity?: {text: string; bad: boolean}
  /** Characters of output per data block (the page parses block by block). Default 1 MiB. */
  blockChars?: number
}

export interface HtmlResult {
  outputBytes: number
  events: number
  bytes: number
}

/** The player's script and style sheet, from the asciinema-player package. */
function playerAssets(): {script: string; style: string} {
  const require = createRequire(import.meta.url)
  const read = (name: string): string => fs.readFileSync(require.resolve(`asciinema-player/dist/bundle/${name}`), 'utf8')
  return {script: read('asciinema-player.min.js'), style: read('asciinema-player.css')}
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`

/** JSON that is safe inside a <script> data block: no `<`, `>` or `&` (so no `</script>` or `<!--`), and no U+2028/9. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Text for HTML element content or a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Flags of a timeline entry (bit 0: a denied network attempt, bit 1: a failed command or open). */
function entryFlags(event: AuditEvent): number {
  const e = event as unknown as {action?: unknown; return_code?: unknown}
  let flags = 0
  if (event.event === 'session.network' && e.action === 1) flags |= 1
  if ((event.event === 'session.command' || event.event === 'session.disk') && typeof e.return_code === 'number' && e.return_code < 0) flags |= 2
  return flags
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h} h ${m} min ${s % 60} s` : m > 0 ? `${m} min ${s % 60} s` : `${(ms / 1000).toFixed(1)} s`
}

/**
 * Writes the page to `file` (through a temporary file, renamed when complete). Output is streamed
 * into data blocks as the frames come; the timeline and the facts follow; the scripts come last.
 */
export async function exportHtml(frames: AsyncIterable<Frame>, file: string, options: HtmlOptions = {}): Promise<HtmlResult> {
  const assets = playerAssets()
  const blockChars = options.blockChars ?? 1024 * 1024
  const result: HtmlResult = {outputBytes: 0, events: 0, bytes: 0}
  return writeFileAtomically(file, async (fd) => {
    let written = 0
    const write = (text: string): void => {
      const buffer = Buffer.from(text, 'utf8')
      let done = 0
      while (done < buffer.length) done += fs.writeSync(fd, buffer, done)
      written += buffer.length
    }
    const csp = [
      "default-src 'none'",
      `script-src ${sha256(assets.script)} ${sha256(APP_SCRIPT)} 'wasm-unsafe-eval'`,
      `style-src ${sha256(assets.style)} ${sha256(PAGE_STYLE)}`,
      "img-src 'none'",
      "connect-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "object-src 'none'",
    ].join('; ')
    const title = `er-shell session ${options.sid ?? ''}`.trim()
    write(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(visible(title))}</title>
<style>${assets.style}</style>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(visible(title))}</h1><dl id="facts"></dl></header>
<main>
<div id="left"><div id="player"></div>
<div id="controls"><button id="play" type="button">Play</button>
<label>Speed <select id="speed"><option value="0.5">0.5×</option><option value="1" selected>1×</option><option value="2">2×</option><option value="4">4×</option><option value="8">8×</option><option value="16">16×</option></select></label></div></div>
<aside>
<div id="tl-tools"><input id="search" type="search" placeholder="Search commands, hosts, files  ( / )" autocomplete="off" spellcheck="false">
<select id="kind"><option value="all">all</option><option value="command">commands</option><option value="network">network</option><option value="disk">files</option><option value="denied">denied</option><option value="cgroup_escape">escapes</option></select>
<span id="tl-count"></span></div>
<div id="tl-list"><div id="tl-spacer"><div id="tl-rows"></div></div></div>
</aside>
</main>
`)
    const speedless = options.idleLimit === undefined ? Infinity : options.idleLimit * 1000
    const decoder = new StringDecoder('utf8')
    const filter = new TerminalSafetyFilter()
    let block: unknown[] = []
    let blockSize = 0
    const flushOutput = (): void => {
      if (block.length === 0) return
      write(`<script type="application/json" class="er-output">${scriptJson(block)}</script>\n`)
      block = []
      blockSize = 0
    }
    const entries: unknown[] = []
    let start: AuditEvent | undefined
    let end: AuditEvent | undefined
    let first: AuditEvent | undefined
    let previousMs: number | undefined
    let virtualMs = 0
    let size: [number, number] | undefined
    const counts = {command: 0, network: 0, disk: 0, denied: 0, failed: 0}
    for await (const frame of frames) {
      if (options.progress) options.progress.counters.events++
      if (previousMs !== undefined) virtualMs += Math.min(Math.max(0, frame.ms - previousMs), speedless)
      previousMs = frame.ms
      const t = Math.round(virtualMs)
      first ??= frame.event
      if (frame.kind === 'output') {
        result.outputBytes += frame.data.length
        if (options.progress) options.progress.counters.outputBytes += frame.data.length
        const text = decoder.write(filter.write(frame.data))
        if (text === '') continue
        block.push([t, 'o', text])
        blockSize += text.length
        if (blockSize >= blockChars) flushOutput()
        continue
      }
      const event = frame.event
      result.events++
      if (event.event === 'session.start') {
        start ??= event
        size ??= parseSize((event as {size?: unknown}).size)
      } else if (event.event === 'session.end') end = event
      else if (event.event === 'resize') {
        const s = parseSize((event as {size?: unknown}).size)
        if (s) block.push([t, 'r', `${s[0]}x${s[1]}`])
      } else if (STEP_EVENT_TYPES.has(event.event)) {
        const flags = entryFlags(event)
        const kind = shortType(event.event)
        if (kind === 'command') counts.command++
        else if (kind === 'network') counts.network++
        else if (kind === 'disk') counts.disk++
        if (flags & 1) counts.denied++
        if (flags & 2) counts.failed++
        const program = (event as {program?: unknown}).program
        entries.push([t, kind, typeof program === 'string' ? visible(program) : '', describeEvent(event), flags])
      }
    }
    const rest = decoder.end(filter.end())
    if (rest !== '') block.push([Math.round(virtualMs), 'o', rest])
    flushOutput()
    for (let i = 0; i < entries.length; i += 20000) {
      write(`<script type="application/json" class="er-timeline">${scriptJson(entries.slice(i, i + 20000))}</script>\n`)
    }
    const facts = sessionFacts({start, end, first, sid: options.sid, counts, durationMs: virtualMs, idleLimit: options.idleLimit})
    if (options.integrity) facts.push(['integrity', visible(options.integrity.text), options.integrity.bad ? 'bad' : ''])
    const [width, height] = size ?? [80, 24]
    write(`<script type="application/json" id="er-facts">${scriptJson({width, height, list: facts})}</script>\n`)
    write(`<script>${assets.script}</script>\n<script>${APP_SCRIPT}</script>\n</body>\n</html>\n`)
    result.bytes = written
    return result
  })
}

interface FactSources {
  start?: AuditEvent
  end?: AuditEvent
  first?: AuditEvent
  sid?: string
  counts: {command: number; network: number; disk: number; denied: number; failed: number}
  durationMs: number
  idleLimit?: number
}

/** [name, value, class] rows: who, where, when, how it ended, what was lost. Values made visible. */
function sessionFacts(s: FactSources): Array<[string, string, string]> {
  const head = (s.start ?? s.first) as Record<string, unknown> | undefined
  const end = s.end as Record<string, unknown> | undefined
  const str = (v: unknown): string => (v === undefined || v === null ? '?' : visible(String(v)))
  const rows: Array<[string, string, string]> = []
  const user = str(head?.user)
  const login = str(head?.login)
  rows.push(['user', user === login ? user : `${user} as ${login}`, ''])
  rows.push(['host', str(head?.server_hostname), ''])
  if (head?.sid !== undefined) rows.push(['session', str(head.sid), ''])
  const startTime = typeof end?.session_start === 'string' ? end.session_start : head?.time
  rows.push(['start', str(startTime), ''])
  const startMs = Date.parse(String(startTime))
  const stopMs = Date.parse(String(end?.session_stop ?? ''))
  rows.push(['duration', !Number.isNaN(startMs) && !Number.isNaN(stopMs) ? duration(stopMs - startMs) : `${duration(s.durationMs)} (no session.end)`, ''])
  if (s.idleLimit !== undefined) rows.push(['pauses', `capped at ${s.idleLimit} s`, 'warn'])
  if (!end) rows.push(['exit status', 'unknown: the session did not finish (no session.end)', 'warn'])
  else if (end.exit_code === undefined || end.exit_code === null) rows.push(['exit status', 'unknown', ''])
  else rows.push(['exit status', str(end.exit_code), end.exit_code === 0 ? '' : 'bad'])
  const lost = end?.lost_events as Record<string, unknown> | undefined
  if (lost && typeof lost === 'object') {
    const total = Object.values(lost).reduce((sum: number, v) => sum + (typeof v === 'number' ? v : 0), 0)
    rows.push([
      'lost events',
      total === 0
        ? '0'
        : `${total} (${Object.entries(lost)
            .map(([k, v]) => `${visible(k)} ${str(v)}`)
            .join(', ')})`,
      total === 0 ? '' : 'bad',
    ])
  } else rows.push(['lost events', 'not recorded', ''])
  rows.push(['commands', String(s.counts.command), ''])
  rows.push(['network', String(s.counts.network), ''])
  if (s.counts.denied > 0) rows.push(['denied', String(s.counts.denied), 'bad'])
  rows.push(['file opens', String(s.counts.disk), ''])
  return rows
}

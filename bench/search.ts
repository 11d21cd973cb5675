// Local search against grep (`npm run bench` section "search", or `node dist/bench/search.js` alone):
// a session of BENCH_SEARCH_EVENTS events (default 1,000,000; bench/gen-large.ts: a third each
// commands `cc -O2 -c src/fileN.c`, connects by curl, file opens) written through SessionWriter,
// then `er-shell events --local` with common filters, output to a file, side by side with
// `grep -c PATTERN` over the same session's host log, interleaved, BENCH_RUNS rounds (default 5):
// warm (both files in the page cache) and cold (every file of the data dir dropped from the page
// cache before each run, `dd iflag=nocache count=0`). Ratio = median of per-round events ÷ grep.
// Prints a markdown table and one JSON line ("SEARCH_JSON {...}") for bench/run.ts.
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {generateLargeSession} from './gen-large.js'
import {RUN_JS, bash, median, pairedRatio, round, shq} from './lib.js'

const EVENTS = Number(process.env.BENCH_SEARCH_EVENTS ?? 1_000_000)
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5))

const log = (message: string): void => void process.stderr.write(`search: ${message}\n`)

/** A question: `events` arguments, and the grep pattern that finds the same lines in the host log. */
const QUERIES: Array<{name: string; args: string[]; grep: string}> = [
  {name: '--command file6\\.c', args: ['--command', 'file6\\.c'], grep: 'file6\\.c'},
  {name: '--command file6\\.c --json', args: ['--command', 'file6\\.c', '--json'], grep: 'file6\\.c'},
  {name: '--user alice (no such user)', args: ['--user', 'alice'], grep: '"alice"'},
  {name: '--since 13:00 --until 13:01 (one minute)', args: ['--since', '2026-01-01T13:00', '--until', '2026-01-01T13:01'], grep: '"time":"2026-01-01T13:00'},
  {name: '--program curl (a third of all events)', args: ['--program', 'curl'], grep: 'curl'},
]

export interface SearchResult {
  events: number
  hostLogBytes: number
  loadavg: string
  queries: Record<string, {rows: number; warm: {events: number; grep: number; ratio: number}; cold: {events: number; grep: number; ratio: number}}>
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, {recursive: true, withFileTypes: true}).flatMap((d) => (d.isFile() ? [path.join(d.parentPath, d.name)] : []))
}

/** Drops the files from the page cache (GNU dd: iflag=nocache count=0 advises the whole file away). */
function dropCache(files: string[]): void {
  execFileSync('sync', files)
  for (const file of files) execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0'], {stdio: 'ignore'})
}

/** Wall time of one run. Output goes to a file: GNU grep stops at the first match when it writes to /dev/null. */
async function timed(script: string, out: string): Promise<number> {
  const r = await bash(`exec ${script} >${shq(out)}`)
  if (r.code !== 0 && !(r.code === 1 && script.startsWith('grep'))) throw new Error(`${script}: exit ${String(r.code)}: ${r.stderr.slice(-300)}`)
  return r.ms
}

export async function benchSearch(root: string): Promise<SearchResult> {
  const dataDir = path.join(root, 'search-data')
  log(`writing a ${EVENTS}-event session (bench/gen-large.ts)`)
  await generateLargeSession(dataDir, {timeline: EVENTS, prints: 0, outputBytes: 0})
  const files = filesUnder(dataDir)
  const hostLog = files.find((f) => /\/\d{4}-\d\d-\d\d\.00:00:00\.log$/.test(f))
  if (hostLog === undefined) throw new Error(`no host log under ${dataDir}`)
  const hostLogBytes = fs.statSync(hostLog).size
  const events = (args: string[]): string => `${shq(process.execPath)} ${shq(RUN_JS)} events --local --data-dir ${shq(dataDir)} ${args.map(shq).join(' ')}`
  const grep = (pattern: string): string => `grep -c ${shq(pattern)} ${shq(hostLog)}`
  const result: SearchResult = {events: EVENTS, hostLogBytes, loadavg: '', queries: {}}
  const out = path.join(root, 'out')
  for (const q of QUERIES) {
    const rows = Number((await bash(`${events(q.args)} | wc -l`)).stdout.trim()) - (q.args.includes('--json') ? 0 : 1)
    const times = {warm: {events: [] as number[], grep: [] as number[]}, cold: {events: [] as number[], grep: [] as number[]}}
    for (let i = 0; i < RUNS; i++) {
      // Warm: each once more first, so both read from the page cache.
      await timed(grep(q.grep), out)
      await timed(events(q.args), out)
      times.warm.grep.push(await timed(grep(q.grep), out))
      times.warm.events.push(await timed(events(q.args), out))
      dropCache(files)
      times.cold.grep.push(await timed(grep(q.grep), out))
      dropCache(files)
      times.cold.events.push(await timed(events(q.args), out))
    }
    const summary = (t: {events: number[]; grep: number[]}) => ({events: median(t.events), grep: median(t.grep), ratio: pairedRatio(t.events, t.grep)})
    result.queries[q.name] = {rows: Math.max(0, rows), warm: summary(times.warm), cold: summary(times.cold)}
    const r = result.queries[q.name]!
    log(
      `${q.name}: ${r.rows} rows; warm ${round(r.warm.events)} ms vs grep ${round(r.warm.grep)} ms (${round(r.warm.ratio, 2)}×), cold ${round(r.cold.events)} ms vs ${round(r.cold.grep)} ms (${round(r.cold.ratio, 2)}×)`,
    )
  }
  result.loadavg = os
    .loadavg()
    .map((x) => round(x, 2))
    .join(' ')
  return result
}

/** The markdown table of a result. */
export function searchTable(r: SearchResult): string {
  const lines = [
    `| \`events --local\` (${r.events.toLocaleString('en')} events; host log ${round(r.hostLogBytes / 1048576)} MB) | rows | warm: events / grep -c | ratio | cold: events / grep -c | ratio | goal |`,
    '|---|---|---|---|---|---|---|',
  ]
  for (const [name, q] of Object.entries(r.queries)) {
    lines.push(
      `| ${name.replace(/\|/g, '\\|')} | ${q.rows} | ${round(q.warm.events)} ms / ${round(q.warm.grep)} ms | ${round(q.warm.ratio, 2).toFixed(2)} | ${round(q.cold.events)} ms / ${round(q.cold.grep)} ms | ${round(q.cold.ratio, 2).toFixed(2)} | ≤ 3.0 |`,
    )
  }
  return lines.join('\n')
}

if (process.argv[1]?.endsWith('search.js')) {
  const root = fs.mkdtempSync(path.join(process.env.BENCH_WORK ?? os.tmpdir(), 'er-bench-search-'))
  try {
    const r = await benchSearch(root)
    console.log(searchTable(r))
    console.log(`SEARCH_JSON ${JSON.stringify(r)}`)
  } finally {
    fs.rmSync(root, {recursive: true, force: true})
  }
}

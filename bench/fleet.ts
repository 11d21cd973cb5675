// The fleet store benchmark (`npm run bench` section "fleet", or `node dist/bench/fleet.js` alone):
// a private PostgreSQL cluster (test/helpers/postgres.ts), HOSTS simulated hosts' host logs in one
// data dir (BENCH_FLEET_EVENTS events in all), then
//   1. ingest: `ship`'s batches (Shipper.pass) vs Teleport's way, one INSERT per event (on a
//      sample), events/s and the ratio;
//   2. shipping keeps up with a 10k events/s recorded session: lines appended at 10k/s for 5 s
//      while `ship --follow`'s loop runs; the lag at the end;
//   3. query latency at scale, p50/p99 over repeated runs, side by side with the same question
//      answered by scanning the host log files (read + JSON.parse + the same filter):
//      "who ran curl in the last 7 days" (first page of 500, and all of them),
//      "all events of session X", "sessions of user U today".
// Prints a markdown table and one JSON line ("FLEET_JSON {...}") for bench/run.ts.
import {randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {compileEventFilter, matchEvent} from '../src/query/event-filter.js'
import {compileSessionFilter} from '../src/query/session-filter.js'
import {fleetEvents, fleetSessions} from '../src/fleet/query.js'
import {ensureSchema} from '../src/fleet/schema.js'
import {Shipper} from '../src/fleet/shipper.js'
import {StoreConnection} from '../src/fleet/store.js'
import {parseStoreUri} from '../src/fleet/uri.js'
import type {AuditEvent} from '../src/events/types.js'
import {PgCluster} from '../test/helpers/postgres.js'

const TOTAL = Number(process.env.BENCH_FLEET_EVENTS ?? 1_000_000)
const INGEST = Number(process.env.BENCH_FLEET_INGEST ?? 200_000)
const HOSTS = 100
const PER_SESSION = 100
const QUERY_RUNS = Number(process.env.BENCH_FLEET_QUERY_RUNS ?? 41)
/** Rounds of the file-scan side (0: skip it, for a large store whose scans would take minutes each). */
const FILE_RUNS = Number(process.env.BENCH_FLEET_FILE_RUNS ?? 3)
const PROGRAMS = ['ls', 'cat', 'grep', 'git', 'make', 'cc', 'ssh', 'vim', 'sed', 'awk']
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']

const log = (message: string): void => void process.stderr.write(`fleet: ${message}\n`)

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

interface Generated {
  dataDir: string
  files: string[]
  events: number
  sampleSid: string
  todayUser: string
}

/**
 * `hosts` host logs of `total` events: sessions spread over the last `days` days, 1 in 1000
 * commands a curl; each host's log in time order, as a recorder appends it.
 */
function generate(root: string, total: number, hosts: number, days: number): Generated {
  const SESSIONS_PER_HOST = Math.max(1, Math.round(total / hosts / PER_SESSION))
  const HOSTS = hosts
  const dataDir = path.join(root, `data-${hosts}`)
  const now = Date.now()
  let events = 0
  let sampleSid = ''
  const files: string[] = []
  let seq = 0
  for (let h = 0; h < HOSTS; h++) {
    const serverId = randomUUID()
    const hostname = `host-${String(h).padStart(3, '0')}`
    const dir = path.join(dataDir, 'log', serverId)
    fs.mkdirSync(dir, {recursive: true, mode: 0o700})
    const byDay = new Map<string, string[]>()
    // Oldest session first (s counts back in time).
    for (let s = SESSIONS_PER_HOST - 1; s >= 0; s--) {
      const sid = randomUUID()
      if (h === HOSTS / 2 && s === 0) sampleSid = sid
      const user = USERS[(h + s) % USERS.length]!
      const start = now - Math.floor(((h * SESSIONS_PER_HOST + s) / (HOSTS * SESSIONS_PER_HOST)) * days * 86_400_000) - 60_000
      const day = new Date(start).toISOString().slice(0, 10)
      const lines = byDay.get(day) ?? []
      byDay.set(day, lines)
      const common = (ei: number, ms: number) =>
        `"ei":${ei},"uid":"${randomUUID()}","time":"${new Date(start + ms).toISOString()}","cluster_name":"bench","sid":"${sid}","namespace":"default","server_id":"${serverId}","server_hostname":"${hostname}","login":"root","user":"${user}"`
      lines.push(`{${common(0, 0).replace('"ei":0,', '"ei":0,"event":"session.start","code":"T2000I",')},"size":"80:24","interactive":true}\n`)
      for (let i = 1; i < PER_SESSION - 1; i++) {
        const program = ++seq % 1000 === 0 ? 'curl' : PROGRAMS[seq % PROGRAMS.length]!
        lines.push(
          `{"ei":${i},"event":"session.command","code":"T4000I",${common(i, i).replace(/^"ei":\d+,/, '')},"pid":${1000 + i},"ppid":999,"cgroup_id":4242,"program":"${program}","path":"/usr/bin/${program}","argv":["--flag","file${i}.c"],"return_code":0}\n`,
        )
      }
      const stop = new Date(start + PER_SESSION).toISOString()
      lines.push(
        `{"ei":${PER_SESSION - 1},"event":"session.end","code":"T2004I",${common(PER_SESSION - 1, PER_SESSION).replace(/^"ei":\d+,/, '')},"enhanced_recording":true,"interactive":true,"session_start":"${new Date(start).toISOString()}","session_stop":"${stop}","exit_code":0,"lost_events":{"command":0,"disk":0,"network":0}}\n`,
      )
      events += PER_SESSION
    }
    for (const [day, lines] of byDay) {
      const file = path.join(dir, `${day}.00:00:00.log`)
      fs.writeFileSync(file, lines.join(''), {mode: 0o600})
      files.push(file)
    }
  }
  return {dataDir, files, events, sampleSid, todayUser: USERS[0]!}
}

/** The file-scan answer to an event question: every host log read and filtered as `events` filters. */
async function scanFiles(files: string[], match: (event: AuditEvent) => boolean, limit = Infinity): Promise<number> {
  let n = 0
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8')
    let at = 0
    for (;;) {
      const end = text.indexOf('\n', at)
      if (end < 0) break
      const event = JSON.parse(text.slice(at, end)) as AuditEvent
      at = end + 1
      if (match(event) && ++n >= limit) return n
    }
  }
  return n
}

async function timed<T>(fn: () => Promise<T>): Promise<{ms: number; value: T}> {
  const t0 = performance.now()
  const value = await fn()
  return {ms: performance.now() - t0, value}
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'er-bench-fleet-'))
  // Durable: fsync and synchronous commit on, as a production server has them.
  const cluster = await PgCluster.start(undefined, {durable: true})
  const result: Record<string, unknown> = {events: TOTAL, hosts: HOSTS}
  const rows: string[][] = []
  try {
    const parsed = parseStoreUri(cluster.uri())
    if (!parsed.ok) throw new Error(parsed.problem)
    const address = parsed.value

    // ---- 1. ingest: one host's log (its last hour: 2,000 sessions of 100 events), into a store that already holds the fleet's indexes
    const one = generate(root, INGEST, 1, 1 / 24)
    const oneBytes = one.files.reduce((sum, f) => sum + fs.statSync(f).size, 0)
    const oneShipper = new Shipper({dataDir: one.dataDir, address})
    await oneShipper.open()
    log(`ingest: shipping ${one.events} events of one host (${(oneBytes / 1e6).toFixed(0)} MB of host log)`)
    const ship = await timed(() => oneShipper.pass())
    await oneShipper.close()
    const rate = ship.value.inserted / (ship.ms / 1000)

    log(`generating ${TOTAL} events on ${HOSTS} hosts over 30 days`)
    const gen = generate(root, TOTAL, HOSTS, 30)
    const shipper = new Shipper({dataDir: gen.dataDir, address})
    const load = await timed(() => shipper.pass())
    const loadRate = load.value.inserted / (load.ms / 1000)
    log(`fleet load: ${load.value.inserted} events in ${(load.ms / 1000).toFixed(1)} s`)
    // The store holds both: the files answer for both.
    const allFiles = [...one.files, ...gen.files]
    log(`ingest ${Math.round(rate)} events/s (one host), fleet load ${Math.round(loadRate)} events/s`)
    const single = await StoreConnection.open(address)
    await ensureSchema(single)
    const sample = fs.readFileSync(gen.files[0]!, 'utf8').split('\n').filter(Boolean).slice(0, 5000)
    await single.query('CREATE TEMP TABLE one_by_one (LIKE events INCLUDING ALL)')
    const t0 = performance.now()
    for (const line of sample) {
      const e = JSON.parse(line) as {time: string; uid: string; event: string; sid: string}
      await single.query(
        'INSERT INTO one_by_one (event_time, event_id, event_type, session_id, event_data) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
        [e.time, e.uid, e.event, e.sid, line],
      )
    }
    const singleRate = sample.length / ((performance.now() - t0) / 1000)
    result.ingest = {eventsPerSecond: Math.round(rate), oneByOnePerSecond: Math.round(singleRate), ratio: rate / singleRate, seconds: ship.ms / 1000}
    result.fleetLoad = {eventsPerSecond: Math.round(loadRate), seconds: load.ms / 1000, files: load.value.files}
    rows.push([
      'ingest',
      `ship, one host, ${one.events} events (batches of 5000, COPY)`,
      `${Math.round(rate)} events/s`,
      (rate / singleRate).toFixed(1),
      '≥ 50,000/s',
      rate >= 50_000 ? 'met' : 'NOT met',
    ])
    rows.push([
      'ingest',
      `ship, ${HOSTS} hosts × 30 day files (${load.value.files} files), ${load.value.inserted} events`,
      `${Math.round(loadRate)} events/s`,
      (loadRate / singleRate).toFixed(1),
      '',
      '',
    ])
    rows.push(['ingest', 'one INSERT per event (Teleport), 5000-event sample', `${Math.round(singleRate)} events/s`, '1.0', '', ''])

    // ---- 2. keeping up with a 10k events/s session
    const liveFile = path.join(path.dirname(gen.files[0]!), `${new Date().toISOString().slice(0, 10)}.00:00:00.log`)
    const controller = new AbortController()
    const following = shipper.follow(controller.signal, 200)
    const seconds = 5
    let appended = 0
    const startMs = Date.now()
    const sid = randomUUID()
    while (Date.now() - startMs < seconds * 1000) {
      const want = Math.floor(((Date.now() - startMs) / 1000) * 10_000)
      const lines: string[] = []
      for (; appended < want; appended++) {
        lines.push(
          `{"ei":${appended},"event":"session.disk","uid":"${randomUUID()}","time":"${new Date().toISOString()}","sid":"${sid}","server_hostname":"live","user":"alice","login":"root","program":"cat","path":"/etc/hostname","flags":0,"return_code":3}\n`,
        )
      }
      if (lines.length > 0) fs.appendFileSync(liveFile, lines.join(''))
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const endAppend = Date.now()
    let lagMs = -1
    for (;;) {
      const {rows: r} = await single.query<{n: string}>('SELECT events AS n FROM er_shell_sessions WHERE sid = $1', [sid])
      if (Number(r[0]?.n ?? 0) >= appended) {
        lagMs = Date.now() - endAppend
        break
      }
      if (Date.now() - endAppend > 30_000) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    controller.abort()
    await following
    result.keepUp = {appended, seconds, lagMs}
    rows.push([
      'keep up',
      `10k events/s for ${seconds} s while ship --follow runs`,
      lagMs < 0 ? 'fell behind' : `all in the store ${lagMs} ms after the last`,
      '',
      'keeps up',
      lagMs >= 0 && lagMs < 2000 ? 'met' : 'NOT met',
    ])
    await shipper.close()

    // ---- 3. queries
    await single.query('ANALYZE')
    const now = Date.now()
    const questions: Array<{name: string; db: () => Promise<number>; files: () => Promise<number>}> = []
    const curl = compileEventFilter({program: '^curl$', since: '7d'}, now)
    questions.push({
      name: 'who ran curl in the last 7 days (first page, 500)',
      db: async () => {
        let n = 0
        for await (const batch of fleetEvents(single, curl, {})) {
          for (const {event} of batch) if (matchEvent(event, curl)) n++
          if (n >= 500) return 500
        }
        return n
      },
      files: () => scanFiles(allFiles, (e) => matchEvent(e, curl), 500),
    })
    questions.push({
      name: 'who ran curl in the last 7 days (all)',
      db: async () => {
        let n = 0
        for await (const batch of fleetEvents(single, curl, {})) for (const {event} of batch) if (matchEvent(event, curl)) n++
        return n
      },
      files: () => scanFiles(allFiles, (e) => matchEvent(e, curl)),
    })
    const all = compileEventFilter({}, now)
    questions.push({
      name: 'all events of session X',
      db: async () => {
        let n = 0
        for await (const batch of fleetEvents(single, all, {}, gen.sampleSid)) for (const {event} of batch) if (matchEvent(event, all)) n++
        return n
      },
      files: () => scanFiles(allFiles, (e) => e.sid === gen.sampleSid && matchEvent(e, all)),
    })
    const today = compileSessionFilter({user: gen.todayUser, since: new Date(now).toISOString().slice(0, 10)}, now)
    questions.push({
      name: 'sessions of user U today',
      db: async () => (await fleetSessions(single, today, {})).length,
      files: () =>
        scanFiles(
          allFiles,
          (e) => e.event === 'session.start' && (e.user === gen.todayUser || e.login === gen.todayUser) && Date.parse(e.time) >= today.range.since!,
        ),
    })
    const fileRuns = FILE_RUNS
    const queryResults: Record<string, unknown> = {}
    for (const q of questions) {
      const dbTimes: number[] = []
      let dbCount = 0
      for (let i = 0; i < QUERY_RUNS; i++) {
        const r = await timed(q.db)
        dbTimes.push(r.ms)
        dbCount = r.value
      }
      const fileTimes: number[] = []
      let fileCount = 0
      for (let i = 0; i < fileRuns; i++) {
        const r = await timed(q.files)
        fileTimes.push(r.ms)
        fileCount = r.value
      }
      if (fileRuns > 0 && dbCount !== fileCount) throw new Error(`${q.name}: the store answered ${dbCount}, the files ${fileCount}`)
      const p50 = percentile(dbTimes, 50)
      const p99 = percentile(dbTimes, 99)
      const f50 = fileRuns > 0 ? percentile(fileTimes, 50) : NaN
      queryResults[q.name] = {rows: dbCount, p50, p99, filesP50: f50, ratio: f50 / p50}
      rows.push([
        'query',
        `${q.name}: ${dbCount} rows`,
        `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (files: ${fileRuns > 0 ? `${f50.toFixed(0)} ms` : 'not measured'})`,
        fileRuns > 0 ? `${(f50 / p50).toFixed(0)}× faster` : '',
        'p50 ≤ 50 ms, p99 ≤ 250 ms',
        p50 <= 50 && p99 <= 250 ? 'met' : 'NOT met',
      ])
    }
    result.queries = queryResults
    const {rows: size} = await single.query<{s: string}>('SELECT pg_size_pretty(pg_database_size(current_database())) AS s')
    result.databaseSize = size[0]?.s
    await single.close()
  } finally {
    await cluster.destroy()
    fs.rmSync(root, {recursive: true, force: true})
  }
  const header = ['section', 'what', 'result', 'ratio', 'goal', 'verdict']
  const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')
  process.stdout.write(`${table}\n\nFLEET_JSON ${JSON.stringify(result)}\n`)
}

await main()

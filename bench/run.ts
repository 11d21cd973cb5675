// `npm run bench` (scripts/bench.sh builds, installs what is compared against, then runs this).
// Side-by-side, interleaved (A B C A B C …) comparisons on this machine; medians and ratios.
//
// Environment (set by scripts/bench.sh):
//   BENCH_WORK   scratch directory (removed by bench.sh)       BENCH_BIN  compiled C helpers
//   BENCH_STATE  where this run notes what bench.sh must undo if it dies (auditd pid, rule)
//   BENCH_RUNS   rounds per comparison (default 5; fixed cost, exec storm and UDP storm use max(21, BENCH_RUNS))
//   BENCH_ONLY   comma list of: storm,throughput,terminal,fixed,memory,replay,storage,udp,integrity,diskfilter,html,fleet,search (default all)
//   BENCH_FLEET_EVENTS, BENCH_FLEET_INGEST, BENCH_FLEET_QUERY_RUNS, BENCH_FLEET_FILE_RUNS  the fleet section (bench/fleet.ts)
//   BENCH_SEARCH_EVENTS  the search section (bench/search.ts)
import {createHash} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import {
  GNU_TIME,
  ROOT,
  RUN_JS,
  bash,
  log,
  median,
  pairedRatio,
  readRecording,
  record,
  rmrf,
  round,
  run,
  shq,
  startDaemon,
  stopChild,
  type BenchRow,
  type RecordRun,
} from './lib.js'
import {generateSession} from './gen-session.js'
import {chainShare, pumpHashShare, shareRows, verifySpeed} from './integrity.js'
import {BASELINE_CAP_MS, benchHtmlSize, loadedRatio} from './html-open.js'
import {UDP_N, benchUdpStorm} from './udp-storm.js'
import type {SearchResult} from './search.js'
import {findSessions, readChunkFile} from '../src/storage/index.js'

const OWN_WORK = process.env.BENCH_WORK === undefined
const WORK = process.env.BENCH_WORK ?? fs.mkdtempSync(path.join(os.tmpdir(), 'er-bench-'))
const BIN = process.env.BENCH_BIN ?? path.join(WORK, 'bin')
const STATE = process.env.BENCH_STATE ?? path.join(WORK, 'state')
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5))
// Fixed cost and exec storm are short and this shared host's speed drifts by ±10 % between runs:
// at least 21 rounds (fewer only for a smoke run, BENCH_RUNS < 5). Single bracketed storm rounds
// still scatter by ~7 % (standard deviation), so a 21-round median is good to about ±1.5 %.
const RUNS_STORM = RUNS < 5 ? RUNS : Math.max(21, RUNS)
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? 'storm,throughput,terminal,fixed,memory,replay,storage,udp,integrity,diskfilter,html,fleet,search')
    .split(',')
    .map((s) => s.trim()),
)
fs.mkdirSync(STATE, {recursive: true})

let dirSeq = 0
const freshDir = (tag: string) => path.join(WORK, `${tag}-${++dirSeq}`)

interface Row extends BenchRow {
  section: string
}
const rows: Row[] = []
const results: Record<string, unknown> = {}
const notes: string[] = []

const fmtMs = (ms: number) => `${round(ms, ms < 10 ? 1 : 0)} ms`
const fmtMb = (kb: number | undefined) => (kb === undefined || !Number.isFinite(kb) ? 'n/a' : `${round(kb / 1024)} MB`)
const pass = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? '✅ met' : '❌ not met')

/** The integrity chain's share of each record run's session time (section 7). */
const chainShares = {storm: [] as number[], terminal: [] as number[], terminalPump: [] as number[]}

// ================================================================================= 1. exec storm
const STORM_N = 2000
const stormScript = (n: number) => `s=$(date +%s%N); i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done; e=$(date +%s%N); echo STORM $((e-s))`

function stormNs(out: string): number {
  const m = /STORM (\d+)/.exec(out)
  if (!m) throw new Error(`no STORM line in output: ${out.slice(-300)}`)
  return Number(m[1])
}

interface AuditState {
  enabled: number
  backlog: number
  pid: number
  lost: number
}
function auditStatus(): AuditState {
  const s = execFileSync('auditctl', ['-s'], {encoding: 'utf8'})
  const get = (k: string) => Number(new RegExp(`^${k} (\\d+)`, 'm').exec(s)?.[1] ?? NaN)
  return {enabled: get('enabled'), backlog: get('backlog_limit'), pid: get('pid'), lost: get('lost')}
}

async function stormUntraced(): Promise<{ns: number}> {
  const r = await run('/bin/sh', ['-c', stormScript(STORM_N)])
  return {ns: stormNs(r.stdout)}
}

/** The storm with no tracing, in a fresh cgroup at a session's depth (<cgroup2>/teleport/<name>), as record runs it. */
async function stormInCgroup(): Promise<{ns: number}> {
  const mount = fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'cgroup2')?.[1]
  if (!mount) throw new Error('no cgroup2 mount')
  const dir = path.join(mount, 'teleport', `er-bench-${process.pid}`)
  fs.mkdirSync(dir, {recursive: true})
  try {
    const r = await run(path.join(ROOT, 'build/Release/er-shell-join'), [dir, '/bin/sh', '-c', stormScript(STORM_N)])
    return {ns: stormNs(r.stdout)}
  } finally {
    fs.rmdirSync(dir)
  }
}

async function stormErShell(n = STORM_N): Promise<{ns: number; captured: number; lost: number; rssKb?: number; run: RecordRun}> {
  const dir = freshDir('storm')
  const r = await record(dir, stormScript(n))
  if (r.code !== 0) throw new Error(`record failed (${r.code}): ${r.stderr.slice(-500)}`)
  const share = chainShare(r.timings)
  if (share !== undefined && n === STORM_N) chainShares.storm.push(share)
  const rec = await readRecording(dir, (e) => e.event === 'session.command' && e.path === '/bin/true')
  rmrf(dir)
  return {ns: stormNs(r.stdout), captured: rec.matched, lost: rec.lostTotal, rssKb: r.maxRssKb, run: r}
}

/** The storm while bench/c/hooks holds do-nothing programs on er-shell's command hooks. */
async function stormHooks(): Promise<{ns: number}> {
  const d = await startDaemon(path.join(BIN, 'hooks'), [path.join(BIN, 'hooks.bpf.o')], (o) => o.includes('attached'))
  fs.writeFileSync(path.join(STATE, 'hooks.pid'), String(d.child.pid))
  try {
    const r = await run('/bin/sh', ['-c', stormScript(STORM_N)])
    return {ns: stormNs(r.stdout)}
  } finally {
    await stopChild(d.child, 'SIGTERM')
    fs.rmSync(path.join(STATE, 'hooks.pid'), {force: true})
  }
}

async function stormBpftrace(): Promise<{ns: number; captured: number}> {
  // sys_exit_execve: comm is already the new program's, so @[true] counts the storm's execs.
  const prog = 'BEGIN { printf("ready\\n"); } tracepoint:syscalls:sys_exit_execve { @[comm] = count(); }'
  const d = await startDaemon('bpftrace', ['-e', prog], (o) => o.includes('ready'))
  fs.writeFileSync(path.join(STATE, 'bpftrace.pid'), String(d.child.pid))
  try {
    const r = await run('/bin/sh', ['-c', stormScript(STORM_N)])
    await stopChild(d.child, 'SIGINT')
    const m = /@\[true\]: (\d+)/.exec(d.output())
    return {ns: stormNs(r.stdout), captured: m ? Number(m[1]) : 0}
  } finally {
    await stopChild(d.child, 'SIGKILL')
    fs.rmSync(path.join(STATE, 'bpftrace.pid'), {force: true})
  }
}

const AUDIT_KEY = 'erbench'
const AUDIT_RULE = ['always,exit', '-F', 'arch=b64', '-S', 'execve', '-k', AUDIT_KEY]

function auditdConfDir(): string {
  const dir = path.join(WORK, 'auditd')
  const logDir = path.join(dir, 'log')
  fs.mkdirSync(path.join(dir, 'plugins.d'), {recursive: true, mode: 0o750})
  fs.mkdirSync(logDir, {recursive: true, mode: 0o700})
  const conf = [
    'local_events = yes',
    'write_logs = yes',
    `log_file = ${path.join(logDir, 'audit.log')}`,
    'log_group = root',
    'log_format = RAW',
    'flush = INCREMENTAL_ASYNC',
    'freq = 50',
    'max_log_file = 1024',
    'num_logs = 2',
    'priority_boost = 4',
    'name_format = NONE',
    'max_log_file_action = IGNORE',
    'space_left = 2',
    'space_left_action = IGNORE',
    'admin_space_left = 1',
    'admin_space_left_action = IGNORE',
    'disk_full_action = IGNORE',
    'disk_error_action = IGNORE',
    'use_libwrap = no',
    `plugin_dir = ${path.join(dir, 'plugins.d')}`,
    'q_depth = 2000',
    'overflow_action = IGNORE',
    'max_restarts = 0',
    'end_of_event_timeout = 2',
    '',
  ].join('\n')
  fs.writeFileSync(path.join(dir, 'auditd.conf'), conf, {mode: 0o640})
  return dir
}

/** One auditd run: start our own auditd (unless one runs), add the rule, storm, remove, stop. */
async function stormAuditd(orig: AuditState): Promise<{ns: number; captured: number; lost: number}> {
  const confDir = auditdConfDir()
  const logFile = path.join(confDir, 'log', 'audit.log')
  fs.rmSync(logFile, {force: true})
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined
  const pidFile = path.join(STATE, 'auditd.pid')
  try {
    if (orig.pid === 0) {
      daemon = await startDaemon('auditd', ['-n', '-c', confDir], () => true, 5000).catch((e) => {
        throw new Error(`cannot start auditd: ${(e as Error).message}`)
      })
      fs.writeFileSync(pidFile, String(daemon.child.pid))
      const deadline = Date.now() + 10000
      while (auditStatus().pid !== daemon.child.pid) {
        if (Date.now() > deadline || daemon.child.exitCode !== null) throw new Error(`auditd did not register: ${daemon.output().slice(-300)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    // Debian's default rules raise the backlog to 8192 (the kernel default 64 overflows at once).
    execFileSync('auditctl', ['-b', '8192'], {stdio: 'ignore'})
    fs.writeFileSync(path.join(STATE, 'audit.rule'), AUDIT_RULE.join(' '))
    execFileSync('auditctl', ['-a', ...AUDIT_RULE], {stdio: 'ignore'})
    const lost0 = auditStatus().lost
    const r = await run('/bin/sh', ['-c', stormScript(STORM_N)])
    execFileSync('auditctl', ['-d', ...AUDIT_RULE], {stdio: 'ignore'})
    fs.rmSync(path.join(STATE, 'audit.rule'), {force: true})
    const lost = auditStatus().lost - lost0
    let captured = 0
    if (daemon) {
      await stopChild(daemon.child, 'SIGTERM')
      fs.rmSync(pidFile, {force: true})
      daemon = undefined
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''
      for (const line of text.split('\n'))
        if (line.startsWith('type=SYSCALL') && line.includes('comm="true"') && line.includes(`key="${AUDIT_KEY}"`)) captured++
    } else {
      const s = await bash(`ausearch -k ${AUDIT_KEY} -ts recent --raw 2>/dev/null | grep '^type=SYSCALL' | grep -c 'comm="true"'`)
      captured = Number(s.stdout.trim()) || 0
    }
    return {ns: stormNs(r.stdout), captured, lost}
  } finally {
    try {
      execFileSync('auditctl', ['-d', ...AUDIT_RULE], {stdio: 'ignore'})
    } catch {
      // already removed
    }
    fs.rmSync(path.join(STATE, 'audit.rule'), {force: true})
    if (daemon) await stopChild(daemon.child, 'SIGTERM')
    fs.rmSync(pidFile, {force: true})
    try {
      execFileSync('auditctl', ['-b', String(orig.backlog)], {stdio: 'ignore'})
      if (orig.pid === 0) execFileSync('auditctl', ['-e', String(orig.enabled)], {stdio: 'ignore'})
    } catch {
      // best effort; bench.sh restores too
    }
  }
}

/** er-shell's BPF programs (their names in bpf/er_shell.bpf.c). */
const ERSHELL_PROGS = new Set(['on_exec_enter', 'on_exec_image', 'on_exec_exit', 'on_fork', 'on_exit', 'on_cgroup_check', 'on_cgroup_attach', 'on_sock_state'])

/**
 * One recorded storm with the kernel's BPF statistics on (kernel.bpf_stats_enabled): the time
 * er-shell's programs ran, per program, read inside the session right after the storm. This is
 * the part of er-shell's cost paid on the session's own CPU time, measured directly (no untraced
 * comparison, so none of the host's drift); the statistics add their own clock reads, so the
 * storm's time from this run is not used.
 */
async function stormBpfTime(): Promise<{perExecNs: number; progs: Record<string, {ns: number; runs: number}>}> {
  const statsFile = path.join(STATE, 'bpf-stats.json')
  const sysctl = '/proc/sys/kernel/bpf_stats_enabled'
  const orig = fs.readFileSync(sysctl, 'utf8').trim()
  fs.writeFileSync(path.join(STATE, 'bpf-stats.orig'), `${orig}\n`)
  fs.writeFileSync(sysctl, '1\n')
  try {
    const dir = freshDir('storm-bpf')
    const r = await record(dir, `${stormScript(STORM_N)}; bpftool -j prog show > ${statsFile}`)
    rmrf(dir)
    if (r.code !== 0) throw new Error(`record failed (${r.code}): ${r.stderr.slice(-300)}`)
  } finally {
    fs.writeFileSync(sysctl, `${orig}\n`)
    fs.rmSync(path.join(STATE, 'bpf-stats.orig'), {force: true})
  }
  const list = JSON.parse(fs.readFileSync(statsFile, 'utf8')) as {name?: string; run_time_ns?: number; run_cnt?: number}[]
  fs.rmSync(statsFile, {force: true})
  const progs: Record<string, {ns: number; runs: number}> = {}
  let total = 0
  for (const p of list) {
    if (!p.name || !ERSHELL_PROGS.has(p.name) || !p.run_cnt) continue
    progs[p.name] = {ns: (p.run_time_ns ?? 0) / p.run_cnt, runs: p.run_cnt}
    total += p.run_time_ns ?? 0
  }
  if (!progs.on_exec_image) throw new Error("no statistics for er-shell's programs")
  // Each storm iteration is one fork, one exec and one exit (plus a few execs around the storm).
  return {perExecNs: total / STORM_N, progs}
}

async function benchStorm(): Promise<void> {
  log(
    `exec storm: ${STORM_N} × /bin/true, ${RUNS_STORM} rounds of in a session-depth cgroup / er-shell's hooks, empty / er-shell / bpftrace / auditd, each between two untraced runs`,
  )
  const orig = auditStatus()
  fs.writeFileSync(path.join(STATE, 'audit.orig'), `${orig.enabled} ${orig.backlog}\n`)
  const r = {untraced: [] as number[], cgroup: [] as number[], hooks: [] as number[], ershell: [] as number[], bpftrace: [] as number[], auditd: [] as number[]}
  const captured = {ershell: [] as number[], bpftrace: [] as number[], auditd: [] as number[]}
  const lost = {ershell: [] as number[], auditd: [] as number[]}
  const rss: number[] = []
  const errors: string[] = []
  // Each traced run is bracketed by untraced runs, and compared with their mean: the machine's
  // speed drifts over a round (shared host), and a baseline taken minutes apart adds that drift.
  const bases = {cgroup: [] as number[], hooks: [] as number[], ershell: [] as number[], bpftrace: [] as number[], auditd: [] as number[]}
  // A comparison that fails is reported in the notes and leaves NaN in its row.
  const attempt = async (label: string, measure: () => Promise<number>): Promise<number> => {
    try {
      return await measure()
    } catch (err) {
      errors.push(`${label}: ${(err as Error).message}`)
      return NaN
    }
  }
  const untraced = async () => {
    const ns = (await stormUntraced()).ns
    r.untraced.push(ns)
    return ns
  }
  for (let i = 0; i < RUNS_STORM; i++) {
    let before = await untraced()
    const bracket = async (kind: keyof typeof bases, measure: () => Promise<number>) => {
      const ns = await measure()
      const after = await untraced()
      bases[kind].push((before + after) / 2)
      before = after
      return ns
    }
    r.cgroup.push(await bracket('cgroup', () => attempt('session-depth cgroup', async () => (await stormInCgroup()).ns)))
    r.hooks.push(await bracket('hooks', () => attempt('hooks floor', async () => (await stormHooks()).ns)))
    r.ershell.push(
      await bracket('ershell', async () => {
        const e = await stormErShell()
        captured.ershell.push(e.captured)
        lost.ershell.push(e.lost)
        if (e.rssKb) rss.push(e.rssKb)
        return e.ns
      }),
    )
    r.bpftrace.push(
      await bracket('bpftrace', () =>
        attempt('bpftrace', async () => {
          const b = await stormBpftrace()
          captured.bpftrace.push(b.captured)
          return b.ns
        }),
      ),
    )
    r.auditd.push(
      await bracket('auditd', () =>
        attempt('auditd', async () => {
          const a = await stormAuditd(orig)
          captured.auditd.push(a.captured)
          lost.auditd.push(a.lost)
          return a.ns
        }),
      ),
    )
    log(
      `  round ${i + 1}: untraced ${round(before / 1e6)} ms, in a cgroup ${round(r.cgroup.at(-1)! / 1e6)}, hooks ${round(r.hooks.at(-1)! / 1e6)}, er-shell ${round(r.ershell.at(-1)! / 1e6)}, bpftrace ${round((r.bpftrace.at(-1) ?? NaN) / 1e6)}, auditd ${round((r.auditd.at(-1) ?? NaN) / 1e6)}`,
    )
  }
  const base = median(r.untraced)
  // Each run against the mean of the untraced runs just before and after it (median of the ratios).
  const ratio = (kind: keyof typeof bases) => pairedRatio(r[kind], bases[kind])
  const lossFree = lost.ershell.every((l) => l === 0) && captured.ershell.every((c) => c === STORM_N)
  let bpfTime: (Awaited<ReturnType<typeof stormBpfTime>> & {shareOfUntracedExec: number}) | undefined
  try {
    const b = await stormBpfTime()
    bpfTime = {...b, shareOfUntracedExec: b.perExecNs / (base / STORM_N)}
  } catch (err) {
    errors.push(`BPF run time: ${(err as Error).message}`)
  }
  results.storm = {
    bpfTime,
    execs: STORM_N,
    runs: RUNS_STORM,
    ns: r,
    captured,
    lost,
    ershellMaxRssKb: rss,
    errors,
    medianNs: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)])),
    ratio: {
      cgroup: ratio('cgroup'),
      hooks: ratio('hooks'),
      ershell: ratio('ershell'),
      ershellVsCgroup: pairedRatio(r.ershell, r.cgroup),
      bpftrace: ratio('bpftrace'),
      auditd: ratio('auditd'),
    },
    ratioOfMedians: {ershell: median(r.ershell) / base, bpftrace: median(r.bpftrace) / base, auditd: median(r.auditd) / base},
  }
  const rate = STORM_N / (base / 1e9)
  rows.push({
    section: '1 exec storm',
    variant: 'untraced (sh -c)',
    median: fmtMs(base / 1e6),
    ratio: '1.000',
    detail: `${round(rate)} exec/s`,
    goal: '',
    verdict: '',
  })
  const row = (kind: keyof typeof bases, variant: string, detail: string, goal = '', verdict = '') =>
    rows.push({section: '1 exec storm', variant, median: fmtMs(median(r[kind]) / 1e6), ratio: round(ratio(kind), 3).toFixed(3), detail, goal, verdict})
  const range = (xs: number[]) => `${Math.min(...xs)}–${Math.max(...xs)}`
  row('cgroup', 'untraced, in a cgroup at session depth', 'no BPF: what the session cgroup itself costs')
  row('hooks', "er-shell's hooks, empty BPF programs", 'bench/c/hooks.bpf.c: what the tracepoints themselves cost')
  row(
    'ershell',
    'er-shell record',
    `captured ${range(captured.ershell)}/${STORM_N}, lost ${Math.max(...lost.ershell)}; ${round(pairedRatio(r.ershell, r.cgroup), 3).toFixed(3)}× the same cgroup untraced`,
    '≤ 1.03, zero loss',
    pass(ratio('ershell') <= 1.03 && lossFree),
  )
  if (bpfTime) {
    const each = Object.entries(bpfTime.progs)
      .filter(([, v]) => v.runs >= STORM_N / 2)
      .map(([k, v]) => `${k} ${round(v.ns / 1000, 2)}`)
      .join(', ')
    rows.push({
      section: '1 exec storm',
      variant: "er-shell's BPF programs, run time",
      median: `${round(bpfTime.perExecNs / 1000, 2)} µs/exec`,
      ratio: `+${(bpfTime.shareOfUntracedExec * 100).toFixed(2)} %`,
      detail: `kernel.bpf_stats_enabled; µs per run: ${each}`,
      goal: '',
      verdict: '',
    })
  }
  row('bpftrace', 'bpftrace execve one-liner', captured.bpftrace.length ? `@[true] ${range(captured.bpftrace)} (host-wide)` : 'failed')
  row('auditd', 'auditd execve rule', captured.auditd.length ? `logged ${range(captured.auditd)}, kernel lost ${Math.max(...lost.auditd)}` : 'failed')
  for (const e of errors) notes.push(`exec storm: ${e}`)
}

// ============================================================================ 2. event throughput
const TPUT_SECONDS = 2
// Rate shown is opens in the file ÷ (pty spawn → files finished): the session's start and the
// last batch's lag are in it, so a step at 100k/s shows a little less than 100k even when
// sustained; the steps above it show whether ≥ 100k ev/s is.
const TPUT_RATES = [10000, 25000, 50000, 100000, 150000, 200000, 0]
const OPEN_PATH = '/etc/hostname'

interface TputRun {
  target: number
  producerRate: number
  opens: number
  captured: number
  lost: number
  pipelineRate: number
  lagMs: number
  rssKb?: number
  detachMs?: number
  outputLost: 'none' | 'stdout' | 'stdout+recording'
}

async function throughputRun(target: number, seconds: number): Promise<TputRun> {
  const count = target > 0 ? target * seconds : 400000
  const dir = freshDir('tput')
  const r = await record(dir, `${shq(path.join(BIN, 'opener'))} ${count} ${target} ${OPEN_PATH}`, {extra: ['--events', 'command,disk']})
  if (r.code !== 0) throw new Error(`opener under record failed (${r.code}): ${r.stdout.slice(-300)} ${r.stderr.slice(-300)}`)
  let m = /OPENER (\{.*\})/.exec(r.stdout)
  // The session's only output line missing from er-shell's stdout is a lost terminal tail: say
  // so (and whether the recording kept it) instead of failing the whole comparison.
  let outputLost: 'none' | 'stdout' | 'stdout+recording' = 'none'
  if (!m) {
    let text = ''
    const ref = findSessions(dir)[0]
    if (ref) for await (const c of readChunkFile(ref.paths.chunks)) text += c.toString('utf8')
    m = /OPENER (\{.*\})/.exec(text)
    outputLost = m ? 'stdout' : 'stdout+recording'
  }
  const o = m ? (JSON.parse(m[1]!) as {opens: number; ns: number; rate: number}) : {opens: count, ns: NaN, rate: NaN}
  const rec = await readRecording(dir, (e) => e.event === 'session.disk' && e.path === OPEN_PATH)
  rmrf(dir)
  const t = r.timings
  // kernel → JS → files: from the pty spawn (the producer starts a few ms later) to the last
  // file finished, minus link detach (not pipeline work).
  const pipeMs = t ? t.filesFinished - t.ptySpawned - t.detachMs - (t.leftoversHandled - t.shellExited) : NaN
  const lagMs = t ? t.filesFinished - t.ptySpawned - t.detachMs - o.ns / 1e6 : NaN
  return {
    target,
    producerRate: o.rate,
    opens: o.opens,
    captured: rec.matched,
    lost: rec.lostTotal,
    pipelineRate: rec.matched / (pipeMs / 1000),
    lagMs,
    rssKb: r.maxRssKb,
    detachMs: t?.detachMs,
    outputLost,
  }
}

async function benchThroughput(): Promise<void> {
  log(`event throughput: open() at ${TPUT_RATES.map((r) => r || 'max').join(', ')}/s for ${TPUT_SECONDS} s inside record --events command,disk, ${RUNS} rounds`)
  const all: TputRun[] = []
  for (let i = 0; i < RUNS; i++) {
    for (const rate of TPUT_RATES) {
      const x = await throughputRun(rate, TPUT_SECONDS)
      all.push(x)
      log(
        `  round ${i + 1} target ${rate || 'max'}:${x.outputLost !== 'none' ? ` OUTPUT LOST (${x.outputLost})` : ''} producer ${round(x.producerRate)}/s, pipeline ${round(x.pipelineRate)}/s, captured ${x.captured}/${x.opens}, lost ${x.lost}, lag ${round(x.lagMs)} ms, rss ${fmtMb(x.rssKb)}`,
      )
    }
  }
  const summary = TPUT_RATES.map((rate) => {
    const xs = all.filter((x) => x.target === rate)
    const exact = xs.every((x) => x.lost === 0 && x.captured === x.opens)
    const producer = median(xs.map((x) => x.producerRate))
    const pipeline = median(xs.map((x) => x.pipelineRate))
    const lag = median(xs.map((x) => x.lagMs))
    const reached = rate === 0 || producer >= 0.95 * rate
    // Sustained: nothing lost, every open in the file, and the files were finished within 0.5 s
    // of the producer's end (no backlog building up in memory).
    const sustained = exact && reached && lag < 500
    return {rate, runs: xs.length, exact, producer, pipeline, lag, rss: median(xs.map((x) => x.rssKb ?? NaN)), reached, sustained}
  })
  const tailLost = all.filter((x) => x.outputLost !== 'none')
  if (tailLost.length > 0) {
    notes.push(
      `terminal tail lost: in ${tailLost.length} of ${all.length} throughput runs the session's only output line never reached er-shell's stdout (${tailLost.map((x) => `${x.target || 'max'}/s: ${x.outputLost}`).join(', ')})`,
    )
  }
  const best = summary.filter((s) => s.sustained).reduce((a, s) => Math.max(a, s.pipeline), 0)
  results.throughput = {seconds: TPUT_SECONDS, path: OPEN_PATH, runs: all, summary, maxSustainedPipelineRate: best}
  for (const s of summary) {
    rows.push({
      section: '2 event throughput',
      variant: s.rate ? `open() at ${s.rate / 1000}k/s` : 'open() unpaced (max)',
      median: `${round(s.pipeline / 1000, 1)}k ev/s`,
      ratio: '',
      detail: `producer ${round(s.producer / 1000, 1)}k/s, ${s.exact ? 'zero loss, all in file' : 'LOSS or missing events'}, lag ${round(s.lag)} ms, RSS ${fmtMb(s.rss)}`,
      goal: s.rate === 100000 ? '≥ 100k ev/s, zero loss' : '',
      verdict: s.sustained ? 'sustained' : 'not sustained',
    })
  }
  rows.push({
    section: '2 event throughput',
    variant: 'max sustained (kernel → JS → files)',
    median: `${round(best / 1000, 1)}k ev/s`,
    ratio: '',
    detail: 'sustained = zero loss, every open in the file, files done ≤ 0.5 s after the producer',
    goal: '≥ 100k ev/s',
    verdict: pass(best >= 100000),
  })
}

// ========================================================================= 3. terminal throughput
const TERM_MB = Number(process.env.BENCH_TERM_MB ?? 200)

function makeTermFile(file: string): {bytes: number; sha256: string} {
  // Pty-like text (ls -l lines with colour escapes), deterministic.
  const words = ['drwxr-xr-x', '-rw-r--r--', 'root', 'alice', 'node_modules', 'src', 'dist', 'package.json', '\x1b[01;34m', '\x1b[0m', 'Nov', '22', '16:42']
  let seed = 7
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  let block = ''
  while (block.length < 1 << 20) block += `${words[rand(words.length)]} ${rand(100000)} ${words[rand(words.length)]} ${words[rand(words.length)]}\n`
  const buf = Buffer.from(block.slice(0, 1 << 20))
  const fd = fs.openSync(file, 'w')
  const hash = createHash('sha256')
  for (let i = 0; i < TERM_MB; i++) {
    // vary each MiB a little so nothing dedups
    buf.write(String(i).padStart(8, '0'), 0)
    fs.writeSync(fd, buf)
    hash.update(buf)
  }
  fs.closeSync(fd)
  return {bytes: TERM_MB << 20, sha256: hash.digest('hex')}
}

interface ConsumerOut {
  bytes: number
  first_ns: number
  full_ns: number
  eof_ns: number
}
function consumerOut(stderr: string): ConsumerOut {
  const line = stderr.split('\n').find((l) => l.startsWith('{"bytes"'))
  if (!line) throw new Error(`no consumer line: ${stderr.slice(-300)}`)
  return JSON.parse(line) as ConsumerOut
}

async function benchTerminal(): Promise<void> {
  log(`terminal throughput: ${TERM_MB} MB cat → pipe; untraced / script(1) / er-shell record, ${RUNS} rounds`)
  const file = path.join(WORK, 'term.txt')
  const {bytes, sha256} = makeTermFile(file)
  const consumer = `${shq(path.join(BIN, 'consumer'))} ${bytes}`
  const inner = `stty -opost; cat ${shq(file)}`
  const variants: Record<string, (pipeTo: string) => Promise<{code: number | null; stderr: string; ms: number; maxRssKb?: number}>> = {
    untraced: (pipeTo) => bash(`set -o pipefail; cat ${shq(file)} | ${pipeTo}`),
    script: (pipeTo) => bash(`set -o pipefail; script -q -c ${shq(inner)} /dev/null | ${pipeTo}`),
    ershell: async (pipeTo) => {
      const dir = freshDir('term')
      const r = await record(dir, inner, {pipeTo})
      const share = chainShare(r.timings)
      if (share !== undefined) chainShares.terminal.push(share)
      const pumpShare = pumpHashShare(r.timings)
      if (pumpShare !== undefined) chainShares.terminalPump.push(pumpShare)
      let chunkSha = ''
      if (pipeTo.startsWith('sha256sum')) {
        const h = createHash('sha256')
        const ref = findSessions(dir)[0]
        if (ref) for await (const c of readChunkFile(ref.paths.chunks)) h.update(c)
        chunkSha = h.digest('hex')
        ;(r as unknown as {chunkSha: string}).chunkSha = chunkSha
      }
      rmrf(dir)
      return r
    },
  }
  const mbps: Record<string, number[]> = {untraced: [], script: [], ershell: []}
  const wall: Record<string, number[]> = {untraced: [], script: [], ershell: []}
  const rss: number[] = []
  const sizeOk: Record<string, boolean> = {untraced: true, script: true, ershell: true}
  for (let i = 0; i < RUNS; i++) {
    for (const [name, fn] of Object.entries(variants)) {
      const r = await fn(consumer)
      if (r.code !== 0) throw new Error(`terminal ${name} failed (${r.code}): ${r.stderr.slice(-300)}`)
      const c = consumerOut(r.stderr)
      if (c.bytes !== bytes) sizeOk[name] = false
      mbps[name]!.push(bytes / 1048576 / ((c.full_ns - c.first_ns) / 1e9))
      wall[name]!.push(r.ms)
      if (name === 'ershell' && r.maxRssKb) rss.push(r.maxRssKb)
    }
    log(
      `  round ${i + 1}: untraced ${round(mbps.untraced!.at(-1)!)} MB/s, script ${round(mbps.script!.at(-1)!)} MB/s, er-shell ${round(mbps.ershell!.at(-1)!)} MB/s`,
    )
  }
  // Byte-exactness: one run each with sha256sum as the consumer (and the er-shell recording too).
  const exact: Record<string, boolean> = {}
  let recordingExact = false
  for (const [name, fn] of Object.entries(variants)) {
    const r = await fn('sha256sum')
    exact[name] = r.code === 0 && (r as unknown as {stdout: string}).stdout.startsWith(sha256) && sizeOk[name]!
    if (name === 'ershell') recordingExact = (r as unknown as {chunkSha: string}).chunkSha === sha256
  }
  const med = (k: string) => median(mbps[k]!)
  const ratio = pairedRatio(mbps.ershell!, mbps.script!)
  const wallRatio = pairedRatio(wall.ershell!, wall.script!)
  results.terminal = {mb: TERM_MB, sha256, mbps, wallMs: wall, exact, recordingExact, ershellMaxRssKb: rss, ratioVsScript: ratio, wallRatioVsScript: wallRatio}
  rows.push({
    section: '3 terminal 200 MB',
    variant: 'untraced cat',
    median: `${round(med('untraced'))} MB/s`,
    ratio: '',
    detail: `byte-exact ${exact.untraced ? 'yes' : 'NO'}`,
    goal: '',
    verdict: '',
  })
  rows.push({
    section: '3 terminal 200 MB',
    variant: 'script -q -c',
    median: `${round(med('script'))} MB/s`,
    ratio: '1.00',
    detail: `byte-exact ${exact.script ? 'yes' : 'NO'}`,
    goal: '',
    verdict: '',
  })
  rows.push({
    section: '3 terminal 200 MB',
    variant: 'er-shell record',
    median: `${round(med('ershell'))} MB/s`,
    ratio: round(ratio, 2).toFixed(2),
    detail: `byte-exact: stdout ${exact.ershell ? 'yes' : 'NO'}, recording ${recordingExact ? 'yes' : 'NO'}; wall ratio ${round(wallRatio, 2)}; RSS ${fmtMb(median(rss))}`,
    goal: '≥ 0.9× script, byte-exact',
    verdict: pass(ratio >= 0.9 && exact.ershell === true && recordingExact),
  })
  fs.rmSync(file, {force: true})
}

// ================================================================================ 4. fixed cost
async function benchFixed(): Promise<void> {
  log(`fixed cost: node -e 0 / er-shell --version / record -c true, ${RUNS_STORM} rounds`)
  const node: number[] = []
  const version: number[] = []
  const rec: number[] = []
  const exitLatency: number[] = []
  const phases: Record<string, number[]> = {}
  const add = (k: string, v: number) => (phases[k] ??= []).push(v)
  for (let i = 0; i < RUNS_STORM; i++) {
    node.push((await run(process.execPath, ['-e', '0'])).ms)
    version.push((await run(process.execPath, [RUN_JS, '--version'])).ms)
    const dir = freshDir('fixed')
    const r = await record(dir, 'true')
    if (r.code !== 0) throw new Error(`record -c true failed: ${r.stderr.slice(-300)}`)
    rec.push(r.ms)
    const summary = await readRecording(dir, () => false)
    rmrf(dir)
    const t = r.timings
    if (t) {
      if (t.preloadStarted !== undefined) add('BPF load started (bin/run.js preload)', t.preloadStarted)
      add('node + oclif + imports (to record entry)', t.entry)
      add('privileges, cgroup, registration', t.cgroupCreated - t.entry)
      add('engine prepare (wait for the load, attach the rest, start the cgroup-id check)', t.enginePrepared - t.cgroupCreated)
      add('  BPF load + verify (on its own thread)', t.engine.loadMs)
      add('  of which waited for the load', t.engine.waitMs)
      add('  attach (mostly on the loading thread)', t.engine.attachMs)
      add('recording files created', t.writerCreated - t.enginePrepared)
      add('engine begin (finish the cgroup-id check, rings)', t.engineStarted - t.writerCreated)
      add('  cgroup-id check, from its start', t.engine.checkMs)
      add('preloaded (1 = yes)', t.engine.preloaded ? 1 : 0)
      add('pty spawn', t.ptySpawned - t.engineStarted)
      add('session runs `true` (to exit seen)', t.shellExited - t.ptySpawned)
      add('leftovers check', t.leftoversHandled - t.shellExited)
      add('engine stop (drain + detach)', t.engineStopped - t.leftoversHandled)
      add('  of which detach', t.detachMs)
      add('finish files', t.filesFinished - t.engineStopped)
      add('cgroup removal, unregister', t.cleanedUp - t.filesFinished)
      add('process exit after cleanup', r.endEpochMs - (t.origin + t.cleanedUp))
      add('links', t.engine.links)
    }
    if (summary.lastCommandEpochMs !== undefined) exitLatency.push(r.endEpochMs - summary.lastCommandEpochMs)
  }
  const ratio = pairedRatio(rec, node)
  const breakdown = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, round(median(v), 1)]))
  results.fixed = {runs: RUNS_STORM, nodeMs: node, versionMs: version, recordMs: rec, ratio, exitLatencyMs: exitLatency, breakdownMedianMs: breakdown}
  rows.push({section: '4 fixed cost', variant: 'node -e 0', median: fmtMs(median(node)), ratio: '1.00', detail: '', goal: '', verdict: ''})
  rows.push({
    section: '4 fixed cost',
    variant: 'er-shell --version (oclif)',
    median: fmtMs(median(version)),
    ratio: round(pairedRatio(version, node), 2).toFixed(2),
    detail: '',
    goal: '',
    verdict: '',
  })
  rows.push({
    section: '4 fixed cost',
    variant: 'er-shell record -c true',
    median: fmtMs(median(rec)),
    ratio: round(ratio, 2).toFixed(2),
    detail: `exit latency (last exec → process gone) ${fmtMs(median(exitLatency))}`,
    goal: '≤ 3× node -e 0',
    verdict: pass(ratio <= 3),
  })
}

// ================================================================================== 5. memory
// A rate the pipeline sustains here (see 2.): growth would then be a leak, not a backlog.
// Beyond the sustained rate memory grows with the backlog; 2.'s RSS column shows that.
const MEM_RATE = 25000
async function benchMemory(): Promise<void> {
  const longStorm = STORM_N * 5
  const longSeconds = TPUT_SECONDS * 5
  const rounds = Math.max(3, Math.ceil(RUNS / 2))
  log(
    `memory: peak RSS, short vs 5× longer runs (storm ${STORM_N} vs ${longStorm} execs; open() ${MEM_RATE / 1000}k/s for ${TPUT_SECONDS} vs ${longSeconds} s), ${rounds} rounds`,
  )
  const s = {short: [] as number[], long: [] as number[]}
  const t = {short: [] as number[], long: [] as number[]}
  const longLoss: number[] = []
  for (let i = 0; i < rounds; i++) {
    const a = await stormErShell(STORM_N)
    const b = await stormErShell(longStorm)
    const c = await throughputRun(MEM_RATE, TPUT_SECONDS)
    const d = await throughputRun(MEM_RATE, longSeconds)
    s.short.push(a.rssKb ?? NaN)
    s.long.push(b.rssKb ?? NaN)
    t.short.push(c.rssKb ?? NaN)
    t.long.push(d.rssKb ?? NaN)
    longLoss.push(b.lost + d.lost + (b.captured === longStorm ? 0 : 1) + (d.captured === d.opens ? 0 : 1))
    log(`  round ${i + 1}: storm ${fmtMb(a.rssKb)} → ${fmtMb(b.rssKb)}, open() ${fmtMb(c.rssKb)} → ${fmtMb(d.rssKb)} (long run lag ${round(d.lagMs)} ms)`)
  }
  const growth = (x: {short: number[]; long: number[]}) => median(x.long) / median(x.short)
  results.memory = {
    rounds,
    stormKb: s,
    throughputKb: t,
    stormGrowth: growth(s),
    throughputGrowth: growth(t),
    longRunsLossFree: longLoss.every((l) => l === 0),
    gnuTime: Boolean(GNU_TIME),
  }
  const flat = (g: number) => g <= 1.25
  rows.push({
    section: '5 memory (peak RSS)',
    variant: `exec storm ${STORM_N} → ${longStorm}`,
    median: `${fmtMb(median(s.short))} → ${fmtMb(median(s.long))}`,
    ratio: round(growth(s), 2).toFixed(2),
    detail: '',
    goal: 'flat (≤ 1.25× for 5× longer)',
    verdict: pass(flat(growth(s))),
  })
  rows.push({
    section: '5 memory (peak RSS)',
    variant: `open() ${MEM_RATE / 1000}k/s ${TPUT_SECONDS} s → ${longSeconds} s`,
    median: `${fmtMb(median(t.short))} → ${fmtMb(median(t.long))}`,
    ratio: round(growth(t), 2).toFixed(2),
    detail: '',
    goal: 'flat (≤ 1.25× for 5× longer)',
    verdict: pass(flat(growth(t))),
  })
}

// ============================================================================= 6. replay/export
function replayCommitted(): boolean {
  try {
    execFileSync('git', ['-C', ROOT, 'cat-file', '-e', 'HEAD:src/commands/replay.ts'], {stdio: 'ignore'})
    return fs.existsSync(path.join(ROOT, 'dist', 'src', 'commands', 'replay.js'))
  } catch {
    return false
  }
}

async function benchReplay(): Promise<void> {
  const dir = freshDir('replay')
  const t0 = process.hrtime.bigint()
  const gen = await generateSession(dir, 100000)
  const genMs = Number(process.hrtime.bigint() - t0) / 1e6
  log(`replay/export: generated a ${gen.events}-event session (${gen.sid}) in ${round(genMs)} ms`)
  if (!replayCommitted()) {
    results.replay = {pending: true, generated: gen, generateMs: genMs}
    rows.push({
      section: '6 replay/export',
      variant: '100k-event session',
      median: 'pending',
      ratio: '',
      detail: '`er-shell replay` not committed yet; the session generator is ready',
      goal: 'time + peak RSS',
      verdict: 'pending',
    })
    rmrf(dir)
    return
  }
  const formats = ['json', 'asciicast'] as const
  const ms: Record<string, number[]> = {json: [], asciicast: []}
  const rss: Record<string, number[]> = {json: [], asciicast: []}
  const bytes: Record<string, number> = {}
  const errors: string[] = []
  for (let i = 0; i < RUNS; i++) {
    for (const f of formats) {
      const rssFile = path.join(WORK, 'replay.rss')
      const timePrefix = GNU_TIME ? `${GNU_TIME} -f %M -o ${shq(rssFile)} ` : ''
      const r = await bash(
        `set -o pipefail; ${timePrefix}${shq(process.execPath)} ${shq(RUN_JS)} replay ${gen.sid} --data-dir ${shq(dir)} --format ${f} | wc -c`,
      )
      if (r.code !== 0) {
        errors.push(`${f}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`)
        continue
      }
      ms[f]!.push(r.ms)
      bytes[f] = Number(r.stdout.trim())
      if (GNU_TIME) rss[f]!.push(Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()))
    }
  }
  results.replay = {pending: false, generated: gen, ms, rssKb: rss, bytes, errors}
  for (const f of formats) {
    rows.push({
      section: '6 replay/export',
      variant: `replay --format ${f} (100k events)`,
      median: ms[f]!.length ? fmtMs(median(ms[f]!)) : 'failed',
      ratio: '',
      detail: ms[f]!.length
        ? `peak RSS ${fmtMb(median(rss[f]!))}, ${round((bytes[f] ?? 0) / 1048576, 1)} MB out, ${round(gen.events / (median(ms[f]!) / 1000) / 1000)}k ev/s`
        : errors
            .filter((e) => e.startsWith(f))
            .slice(0, 1)
            .join(''),
      goal: 'time + peak RSS',
      verdict: '',
    })
  }
  for (const e of errors.slice(0, 4)) notes.push(`replay: ${e}`)
  rmrf(dir)
}

// ============================================================== 10. the HTML player opening
async function benchHtml(): Promise<void> {
  for (const mb of [5, 100]) {
    const r = await benchHtmlSize(WORK, Math.min(RUNS, 3), mb, log)
    results[`html${mb}`] = r
    rows.push({
      section: '10 html player',
      variant: `${r.session.timeline / 1000}k timeline events, ${mb} MB output: player loaded (vs one .cast blob)`,
      median: `${median(r.ours.loaded)} ms`,
      ratio: loadedRatio(r),
      detail: `load event ${median(r.ours.load)} ms, seek to the end ${median(r.ours.seek)} ms, export ${fmtMs(median(r.exportMs))} (peak RSS ${round(r.exportRssKb / 1024)} MB, page ${round(r.pageBytes / 1048576)} MB); baseline ${r.baseline.loaded.some(Number.isNaN) ? `> ${BASELINE_CAP_MS / 1000} s (cap)` : `${median(r.baseline.loaded)} ms`}`,
      goal: 'opens in a few seconds',
      verdict: median(r.ours.loaded) < 5000 ? 'ok' : 'slow',
    })
  }
}

// ====================================================================== storage micro-benchmark
async function benchStorage(): Promise<void> {
  log(`storage-throughput (SessionWriter.print vs raw file write, 200 MB), ${RUNS} runs`)
  const ratio: number[] = []
  const rate: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const r = await run(process.execPath, [path.join(ROOT, 'dist', 'bench', 'storage-throughput.js'), '200'])
    const m1 = /SessionWriter\.print : ([\d.]+) MB\/s/.exec(r.stdout)
    const m2 = /ratio print\/raw\s*: ([\d.]+)/.exec(r.stdout)
    if (r.code !== 0 || !m1 || !m2) throw new Error(`storage-throughput failed: ${r.stdout}${r.stderr}`)
    rate.push(Number(m1[1]))
    ratio.push(Number(m2[1]))
  }
  results.storage = {printMBps: rate, ratioPrintRaw: ratio}
  rows.push({
    section: 'storage (bench/storage-throughput)',
    variant: 'SessionWriter.print 200 MB',
    median: `${round(median(rate))} MB/s`,
    ratio: round(median(ratio), 2).toFixed(2),
    detail: 'ratio vs raw file write',
    goal: '',
    verdict: '',
  })
}

// ============================================================================== 7. UDP send storm
// bench/udp-storm.ts; as short and as drift-prone as the exec storm, so as many rounds.
async function benchUdp(): Promise<void> {
  const {rows: udpRows, result, errors} = await benchUdpStorm(RUNS_STORM, freshDir, STATE)
  results.udp = result
  notes.push(...errors)
  for (const r of udpRows) rows.push({section: `7 UDP storm (${UDP_N / 1000}k sends)`, ...r})
}

// ================================================================================ 9. disk filter
// An open flood, 90 % of it on a path the session's disk filter drops in the kernel: 360,000
// unpaced opens of /etc/hostname beside 40,000 of /etc/hosts at 20,000/s, recorded without a
// filter and with --disk-exclude /etc/hostname. What the filter drops costs no ring space and no
// user-space work, so the kept opens all arrive (zero loss) where the unfiltered flood, past the
// pipeline's ceiling, loses.
const FILTER_DROPPED = 360000
const FILTER_KEPT = 40000

interface FilterRun {
  ms: number
  kept: number
  dropped: number
  lost: number
  filtered: number
}

async function filterRun(filtered: boolean): Promise<FilterRun> {
  const dir = freshDir('diskfilter')
  const opener = shq(path.join(BIN, 'opener'))
  const cmd = `${opener} ${FILTER_DROPPED} 0 /etc/hostname & ${opener} ${FILTER_KEPT} 20000 /etc/hosts; wait`
  const extra = ['--events', 'command,disk', ...(filtered ? ['--disk-exclude', '/etc/hostname'] : [])]
  const t0 = performance.now()
  const r = await record(dir, cmd, {extra})
  const ms = performance.now() - t0
  if (r.code !== 0) throw new Error(`opener under record failed (${r.code}): ${r.stderr.slice(-300)}`)
  let kept = 0
  let dropped = 0
  let counted = 0
  const rec = await readRecording(dir, (e) => {
    if (e.event === 'session.disk' && e.path === '/etc/hosts') kept++
    if (e.event === 'session.disk' && e.path === '/etc/hostname') dropped++
    if (e.event === 'session.end') counted = Number((e.event_counts as {disk_filtered?: number} | undefined)?.disk_filtered ?? 0)
    return false
  })
  rmrf(dir)
  return {ms, kept, dropped, lost: rec.lostTotal, filtered: counted}
}

async function benchDiskFilter(): Promise<void> {
  log(
    `disk filter: ${FILTER_DROPPED / 1000}k unpaced + ${FILTER_KEPT / 1000}k opens at 20k/s, without and with --disk-exclude on the first path, ${RUNS} rounds`,
  )
  const runs: {plain: FilterRun[]; filtered: FilterRun[]} = {plain: [], filtered: []}
  for (let i = 0; i < RUNS; i++) {
    const a = await filterRun(false)
    const b = await filterRun(true)
    runs.plain.push(a)
    runs.filtered.push(b)
    log(
      `  round ${i + 1}: no filter ${round(a.ms)} ms (kept ${a.kept}, lost ${a.lost}); filter ${round(b.ms)} ms (kept ${b.kept}, lost ${b.lost}, filtered ${b.filtered})`,
    )
  }
  results.diskfilter = runs
  const med = (xs: FilterRun[], f: (x: FilterRun) => number) => median(xs.map(f))
  const base = med(runs.plain, (x) => x.ms)
  const total = FILTER_DROPPED + FILTER_KEPT
  for (const [name, xs] of [
    ['no filter: every open recorded', runs.plain],
    ['--disk-exclude /etc/hostname (90 % dropped in the kernel)', runs.filtered],
  ] as const) {
    const ms = med(xs, (x) => x.ms)
    rows.push({
      section: `9 disk filter (${total / 1000}k opens)`,
      variant: name,
      median: `${round(ms)} ms`,
      ratio: round(ms / base, 3).toString(),
      detail: `kept path ${med(xs, (x) => x.kept)}/${FILTER_KEPT} recorded, lost ${med(xs, (x) => x.lost)}, dropped path in file ${med(xs, (x) => x.dropped)}, counted as filtered ${med(xs, (x) => x.filtered)}`,
      goal: xs === runs.filtered ? 'kept opens all recorded, the rest counted' : '',
      verdict: xs === runs.filtered ? pass(xs.every((x) => x.kept === FILTER_KEPT && x.lost === 0 && x.dropped === 0 && x.filtered === FILTER_DROPPED)) : '',
    })
  }
}

// ====================================================================== fleet store (PostgreSQL)
async function benchFleet(): Promise<void> {
  log('fleet store (bench/fleet.ts: a private PostgreSQL cluster, ingest, keeping up, query latency vs scanning files)')
  const r = await run(process.execPath, [path.join(ROOT, 'dist', 'bench', 'fleet.js')])
  const json = /^FLEET_JSON (.*)$/m.exec(r.stdout)
  if (r.code !== 0 || !json) throw new Error(`fleet bench failed: ${r.stdout}${r.stderr}`)
  const result = JSON.parse(json[1]!) as {
    events: number
    ingest: {eventsPerSecond: number; oneByOnePerSecond: number; ratio: number}
    keepUp: {lagMs: number}
    queries: Record<string, {rows: number; p50: number; p99: number; filesP50: number; ratio: number}>
  }
  results.fleet = result
  const section = 'fleet store (bench/fleet.ts)'
  rows.push({
    section,
    variant: 'ship: batches into PostgreSQL',
    median: `${result.ingest.eventsPerSecond} events/s`,
    ratio: round(result.ingest.ratio, 1).toFixed(1),
    detail: `vs one INSERT per event ${result.ingest.oneByOnePerSecond}/s`,
    goal: '≥ 50,000/s',
    verdict: result.ingest.eventsPerSecond >= 50_000 ? 'met' : 'NOT met',
  })
  rows.push({
    section,
    variant: 'ship --follow behind a 10k events/s session',
    median: result.keepUp.lagMs < 0 ? 'fell behind' : `${result.keepUp.lagMs} ms lag`,
    ratio: '',
    detail: 'time from the last line written to all in the store',
    goal: 'keeps up',
    verdict: result.keepUp.lagMs >= 0 && result.keepUp.lagMs < 2000 ? 'met' : 'NOT met',
  })
  for (const [name, q] of Object.entries(result.queries)) {
    rows.push({
      section,
      variant: `${name} (${result.events} events, 100 hosts)`,
      median: `p50 ${round(q.p50, 1)} ms, p99 ${round(q.p99, 1)} ms`,
      ratio: round(q.ratio, 0).toFixed(0),
      detail: `${q.rows} rows; scanning the host logs: ${round(q.filesP50)} ms`,
      goal: 'p50 ≤ 50 ms, p99 ≤ 250 ms',
      verdict: q.p50 <= 50 && q.p99 <= 250 ? 'met' : 'NOT met',
    })
  }
}

// ============================================================================ local search vs grep
async function benchSearch(): Promise<void> {
  log('local search (bench/search.ts: events --local with common filters vs grep -c over the same host log)')
  const r = await run(process.execPath, [path.join(ROOT, 'dist', 'bench', 'search.js')], {env: {...process.env, BENCH_WORK: WORK, BENCH_RUNS: String(RUNS)}})
  const json = /^SEARCH_JSON (.*)$/m.exec(r.stdout)
  if (r.code !== 0 || !json) throw new Error(`search bench failed: ${r.stdout}${r.stderr}`)
  const result = JSON.parse(json[1]!) as SearchResult
  results.search = result
  for (const [name, q] of Object.entries(result.queries)) {
    for (const cache of ['warm', 'cold'] as const) {
      rows.push({
        section: 'search (bench/search.ts)',
        variant: `events --local ${name}, ${cache} page cache`,
        median: `${round(q[cache].events)} ms`,
        ratio: round(q[cache].ratio, 2).toFixed(2),
        detail: `${q.rows} rows; grep -c over the ${round(result.hostLogBytes / 1048576)} MB host log: ${round(q[cache].grep)} ms`,
        goal: '≤ 3× grep -c',
        verdict: q[cache].ratio <= 3 ? 'met' : 'NOT met',
      })
    }
  }
}

// ======================================================================================= main
function machine(): Record<string, string | number> {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0)
  let distro = ''
  try {
    distro = /^PRETTY_NAME="?([^"\n]*)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? ''
  } catch {
    // none
  }
  return {
    nproc: os.availableParallelism(),
    kernel: os.release(),
    cpu,
    memoryGiB: round(memKb / 1048576, 1),
    distro,
    node: process.version,
    loadavg: os
      .loadavg()
      .map((x) => round(x, 2))
      .join(' '),
  }
}

function table(): string {
  const head = '| benchmark | variant | median | ratio | detail | goal | verdict |\n|---|---|---|---|---|---|---|'
  return [
    head,
    ...rows.map((r) => `| ${r.section} | ${r.variant} | ${r.median} | ${r.ratio} | ${r.detail.replace(/\|/g, '\\|')} | ${r.goal} | ${r.verdict} |`),
  ].join('\n')
}

// ================================================================================= 7. integrity
async function benchIntegrity(): Promise<void> {
  // Without the storm section's runs, a few of its own.
  if (chainShares.storm.length === 0) for (let i = 0; i < 3; i++) await stormErShell()
  const add = (r: Omit<Row, 'section'>) => rows.push({section: '7 integrity', ...r})
  shareRows(chainShares).forEach(add)
  ;(await verifySpeed(WORK, 3, 200)).forEach(add)
  results.integrity = {chainShares}
}

const started = new Date()
const m = machine()
log(`machine: ${m.nproc} vCPU, ${m.cpu}, ${m.memoryGiB} GiB, Linux ${m.kernel}, ${m.distro}, node ${m.node}; work dir ${WORK}`)
const sections: Array<[string, () => Promise<void>]> = [
  ['fixed', benchFixed],
  ['storm', benchStorm],
  ['throughput', benchThroughput],
  ['terminal', benchTerminal],
  ['memory', benchMemory],
  ['replay', benchReplay],
  ['storage', benchStorage],
  ['udp', benchUdp],
  ['integrity', benchIntegrity],
  ['diskfilter', benchDiskFilter],
  ['html', benchHtml],
  ['fleet', benchFleet],
  ['search', benchSearch],
]
let failed = false
for (const [name, fn] of sections) {
  if (!ONLY.has(name)) continue
  const t0 = Date.now()
  try {
    await fn()
  } catch (error) {
    failed = true
    notes.push(`${name}: FAILED: ${(error as Error).message.split('\n')[0]}`)
    log(`${name} FAILED: ${(error as Error).stack}`)
  }
  log(`${name}: ${round((Date.now() - t0) / 1000, 1)} s`)
}
const finished = new Date()
const out = {
  date: started.toISOString(),
  durationS: round((finished.getTime() - started.getTime()) / 1000),
  machine: m,
  runs: RUNS,
  stormRuns: RUNS_STORM,
  rows,
  notes,
  results,
}
const md = table()
console.log(md)
if (notes.length) console.log(`\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}`)
console.log(`\n${JSON.stringify(out)}`)

const resultsDir = path.join(ROOT, 'bench', 'results')
fs.mkdirSync(resultsDir, {recursive: true})
const stamp = started.toISOString().replace(/[:.]/g, '-')
const jsonFile = path.join(resultsDir, `${stamp}.json`)
fs.writeFileSync(jsonFile, `${JSON.stringify(out, null, 2)}\n`)
if (ONLY.size === sections.length) {
  // Only a full run replaces RESULTS.md's table (a partial run would drop rows).
  const file = path.join(ROOT, 'bench', 'RESULTS.md')
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
  const begin = '<!-- bench:table:begin -->'
  const end = '<!-- bench:table:end -->'
  const block = [
    begin,
    `Ratios are medians of per-round ratios: each run against its own round's baseline; in the exec storm, against the mean of the untraced runs just before and after it.`,
    '',
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench\` (${out.durationS} s; ${RUNS_STORM} interleaved rounds for fixed cost and exec storm, ${RUNS} elsewhere).`,
    '',
    `Machine: ${m.nproc} vCPU ${m.cpu}, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, ${m.distro}, Node ${m.node} (load average at start ${m.loadavg}).`,
    '',
    md,
    ...(notes.length ? ['', 'Notes from this run:', ...notes.map((n) => `- ${n}`)] : []),
    '',
    `Fixed-cost breakdown (median ms): ${Object.entries((results.fixed as {breakdownMedianMs?: Record<string, number>} | undefined)?.breakdownMedianMs ?? {})
      .map(([k, v]) => `${k.trim()} ${v}`)
      .join('; ')}.`,
    end,
  ].join('\n')
  const next = old.includes(begin) && old.includes(end) ? old.replace(new RegExp(`${begin}[\\s\\S]*${end}`), block) : `# Benchmarks\n\n${block}\n`
  fs.writeFileSync(file, next)
  log(`wrote ${path.relative(ROOT, file)}`)
}
log(`wrote ${path.relative(ROOT, jsonFile)}`)
if (OWN_WORK) rmrf(WORK)
process.exitCode = failed ? 1 : 0

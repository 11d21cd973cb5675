// The UDP send storm of `npm run bench` (bench/run.ts, section `udp`): 100,000 sendto() calls to
// one loopback destination by test/helpers/netprobe.c (build/Release/netprobe), untraced, recorded
// by er-shell, and recorded with an egress policy whose allow rule matches every send. Each
// recorded run is bracketed by untraced runs and compared with their mean (as the exec storm is);
// netprobe times its own sends (`-s`: `ok N`, `ns T`), so the recorder's start and stop are not in
// the figure. Every recorded run must lose nothing: session.end's lost_events all 0, and the
// `sends` of its folded session.network events adding up to exactly 100,000. One more recorded run
// with the kernel's BPF statistics on says how much of the cost is the session cgroup's programs.
import {type ChildProcess, spawn} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

import {ROOT, log, median, pairedRatio, record, rmrf, round, run, stopChild, type BenchRow} from './lib.js'
import {findSessions, readEventFile} from '../src/storage/index.js'

export const UDP_N = 100_000
const NETPROBE = path.join(ROOT, 'build', 'Release', 'netprobe')

interface Sink {
  child: ChildProcess
  port: number
}

/**
 * Where the sends go: a UDP socket on 127.0.0.1 that is bound but never read, so the kernel drops
 * what does not fit its buffer without waking anyone (no ICMP port-unreachable, no reader competing
 * for the CPU).
 */
async function startSink(): Promise<Sink> {
  const script =
    'import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("127.0.0.1",0))\nprint(s.getsockname()[1],flush=True)\ntime.sleep(86400)'
  const child = spawn('python3', ['-c', script], {stdio: ['ignore', 'pipe', 'inherit']})
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(Number(out.trim()))
    })
    child.on('error', reject)
    child.on('exit', (code) => reject(new Error(`the UDP sink exited (${code})`)))
  })
  return {child, port}
}

function parseProbe(out: string): number {
  const ok = /^ok (\d+)\r?$/m.exec(out)
  const ns = /^ns (\d+)\r?$/m.exec(out)
  if (!ok || Number(ok[1]) !== UDP_N || !ns) throw new Error(`netprobe did not send ${UDP_N} datagrams: ${out.slice(-300)}`)
  return Number(ns[1])
}

interface Recorded {
  ns: number
  sends: number
  events: number
  lost: number
  denied: number
}

/** The storm in a recorded session (extra: record's flags, e.g. a policy). */
async function recorded(dir: string, port: number, extra: string[]): Promise<Recorded> {
  const r = await record(dir, `${NETPROBE} -s udp-sendto 127.0.0.1 ${port} ${UDP_N}`, {extra})
  if (r.code !== 0) throw new Error(`record failed (${r.code}): ${r.stderr.slice(-500)}`)
  const refs = findSessions(dir)
  if (refs.length !== 1) throw new Error(`expected one session under ${dir}, found ${refs.length}`)
  let sends = 0
  let events = 0
  let lost = -1
  let denied = -1
  for await (const ev of readEventFile(refs[0]!.paths.events)) {
    const e = ev as unknown as Record<string, unknown>
    if (e.event === 'session.network' && e.dst_port === port && e.protocol === 'udp') {
      events++
      sends += typeof e.sends === 'number' ? e.sends : 0
    }
    if (e.event === 'session.end') {
      const l = (e.lost_events ?? {}) as Record<string, number>
      lost = (l.command ?? 0) + (l.disk ?? 0) + (l.network ?? 0)
      denied = ((e.event_counts ?? {}) as Record<string, number>).network_denied ?? -1
    }
  }
  rmrf(dir)
  return {ns: parseProbe(r.stdout), sends, events, lost, denied}
}

interface BpfTime {
  /** All of the session cgroup's programs, ns per send. */
  perSendNs: number
  progs: Record<string, {ns: number; runs: number}>
}

/**
 * One storm recorded with the policy and the kernel's BPF statistics on (kernel.bpf_stats_enabled):
 * the time the programs attached to the session cgroup ran, read inside the session right after
 * the storm (`bpftool cgroup show` names them: other sessions' programs of the same names are not
 * counted). The cost paid on the session's own CPU time, with none of the host's drift; the
 * statistics add their own clock reads, so this run's storm time is not used. Notes what bench.sh
 * must restore in `state` (bpf-stats.orig), as the exec storm's measurement does.
 */
async function bpfTimePerSend(state: string, dir: string, port: number, policy: string[]): Promise<BpfTime> {
  const sysctl = '/proc/sys/kernel/bpf_stats_enabled'
  const attached = path.join(state, 'udp-cgroup-progs.json')
  const stats = path.join(state, 'udp-bpf-stats.json')
  const orig = fs.readFileSync(sysctl, 'utf8').trim()
  fs.writeFileSync(path.join(state, 'bpf-stats.orig'), `${orig}\n`)
  fs.writeFileSync(sysctl, '1\n')
  try {
    const cg = '/cgroup2$(sed -n "s/^0:://p" /proc/self/cgroup)'
    const command = `${NETPROBE} -s udp-sendto 127.0.0.1 ${port} ${UDP_N}; bpftool -j prog show > ${stats}; bpftool -j cgroup show ${cg} > ${attached}`
    const r = await record(dir, command, {extra: policy})
    rmrf(dir)
    if (r.code !== 0) throw new Error(`record failed (${r.code}): ${r.stderr.slice(-300)}`)
  } finally {
    fs.writeFileSync(sysctl, `${orig}\n`)
    fs.rmSync(path.join(state, 'bpf-stats.orig'), {force: true})
  }
  const ids = new Set((JSON.parse(fs.readFileSync(attached, 'utf8')) as {id: number}[]).map((p) => p.id))
  const list = JSON.parse(fs.readFileSync(stats, 'utf8')) as {id: number; name?: string; run_time_ns?: number; run_cnt?: number}[]
  fs.rmSync(attached, {force: true})
  fs.rmSync(stats, {force: true})
  const progs: Record<string, {ns: number; runs: number}> = {}
  let total = 0
  for (const p of list) {
    if (!ids.has(p.id) || !p.run_cnt) continue
    progs[p.name ?? String(p.id)] = {ns: (p.run_time_ns ?? 0) / p.run_cnt, runs: p.run_cnt}
    total += p.run_time_ns ?? 0
  }
  if (Object.keys(progs).length === 0) throw new Error('no statistics for the session cgroup programs')
  return {perSendNs: total / UDP_N, progs}
}

/** Runs the storm `runs` rounds; returns the table rows and the raw results. */
export async function benchUdpStorm(
  runs: number,
  freshDir: (tag: string) => string,
  state: string,
): Promise<{rows: BenchRow[]; result: Record<string, unknown>; errors: string[]}> {
  log(`UDP storm: ${UDP_N} × sendto to 127.0.0.1, ${runs} rounds of er-shell record / record + policy, each between two untraced runs`)
  const sink = await startSink()
  try {
    const policy = ['--allow-net', `127.0.0.1:${sink.port}`]
    const ns = {untraced: [] as number[], ershell: [] as number[], policy: [] as number[]}
    const bases = {ershell: [] as number[], policy: [] as number[]}
    const checks = {ershell: [] as Recorded[], policy: [] as Recorded[]}
    const untraced = async () => {
      const r = await run(NETPROBE, ['-s', 'udp-sendto', '127.0.0.1', String(sink.port), String(UDP_N)])
      const t = parseProbe(r.stdout)
      ns.untraced.push(t)
      return t
    }
    for (let i = 0; i < runs; i++) {
      let before = await untraced()
      for (const kind of ['ershell', 'policy'] as const) {
        const r = await recorded(freshDir(`udp-${kind}`), sink.port, kind === 'policy' ? policy : [])
        const after = await untraced()
        ns[kind].push(r.ns)
        bases[kind].push((before + after) / 2)
        checks[kind].push(r)
        before = after
      }
      log(
        `  round ${i + 1}: untraced ${round(before / 1e6, 1)} ms, er-shell ${round(ns.ershell.at(-1)! / 1e6, 1)} (${checks.ershell.at(-1)!.events} events), with a policy ${round(ns.policy.at(-1)! / 1e6, 1)} (${checks.policy.at(-1)!.events} events)`,
      )
    }
    const ratio = (kind: 'ershell' | 'policy') => pairedRatio(ns[kind], bases[kind])
    const complete = (kind: 'ershell' | 'policy') => checks[kind].every((c) => c.lost === 0 && c.sends === UDP_N && c.denied === 0)
    const fmt = (xs: number[]) => `${round(median(xs) / 1e6, 1)} ms`
    const rate = UDP_N / (median(ns.untraced) / 1e9)
    const detail = (kind: 'ershell' | 'policy') => {
      const c = checks[kind]
      const sends = [...new Set(c.map((x) => x.sends))].join('/')
      return `lost ${Math.max(...c.map((x) => x.lost))}, sum of sends ${sends}, ${Math.min(...c.map((x) => x.events))}–${Math.max(...c.map((x) => x.events))} events`
    }
    const verdict = (kind: 'ershell' | 'policy') => (ratio(kind) <= 1.05 && complete(kind) ? '✅ met' : '❌ not met')
    const rows: BenchRow[] = [
      {variant: 'untraced (netprobe)', median: fmt(ns.untraced), ratio: '1.000', detail: `${round(rate)} sends/s`, goal: '', verdict: ''},
      {
        variant: 'er-shell record',
        median: fmt(ns.ershell),
        ratio: round(ratio('ershell'), 3).toFixed(3),
        detail: detail('ershell'),
        goal: '≤ 1.05, zero loss',
        verdict: verdict('ershell'),
      },
      {
        variant: 'er-shell record, allow rule matching',
        median: fmt(ns.policy),
        ratio: round(ratio('policy'), 3).toFixed(3),
        detail: detail('policy'),
        goal: '≤ 1.05, zero loss',
        verdict: verdict('policy'),
      },
    ]
    const errors: string[] = []
    let bpfTime: BpfTime | undefined
    try {
      bpfTime = await bpfTimePerSend(state, freshDir('udp-bpf'), sink.port, policy)
      const each = Object.entries(bpfTime.progs)
        .filter(([, v]) => v.runs >= UDP_N / 2)
        .map(([k, v]) => `${k} ${round(v.ns, 0)} ns × ${v.runs}`)
        .join(', ')
      const perUntraced = bpfTime.perSendNs / (median(ns.untraced) / UDP_N)
      rows.push({
        variant: "er-shell's BPF programs (with the policy), run time",
        median: `${round(bpfTime.perSendNs, 0)} ns/send`,
        ratio: `+${(perUntraced * 100).toFixed(1)} %`,
        detail: `kernel.bpf_stats_enabled; per run: ${each}`,
        goal: '',
        verdict: '',
      })
    } catch (err) {
      errors.push(`UDP storm, BPF run time: ${(err as Error).message}`)
    }
    const result = {
      bpfTime,
      errors,
      sends: UDP_N,
      runs,
      ns,
      checks,
      medianNs: Object.fromEntries(Object.entries(ns).map(([k, v]) => [k, median(v)])),
      ratio: {ershell: ratio('ershell'), policy: ratio('policy')},
      complete: {ershell: complete('ershell'), policy: complete('policy')},
    }
    return {rows, result, errors}
  } finally {
    await stopChild(sink.child, 'SIGKILL')
  }
}

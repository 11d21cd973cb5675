// The integrity chain's cost (docs/integrity.md) and verify's speed, for bench/run.ts section 7.
//
// - Chain time in real record runs: ER_SHELL_TIMINGS=1 reports the main-thread time spent in the
//   chain (hashing, checkpoints: `integrityMs`); its share of the session's running time (pty spawn
//   → shell exit) bounds what the chain can take from the exec-storm and terminal benchmarks.
// - Output hashing in those runs: the native pump hashes the terminal bytes on its thread, beside
//   the main thread (`pumpHashMs`), reported as its share of the session time too.
// - verify: a recording of 200 MB of output (and a command event per 256 KiB), checked by verifySession.
import {randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {performance} from 'node:perf_hooks'

import {HostKeys, readHostVerificationKey, verifySession} from '../src/integrity/index.js'
import {ensureServerId} from '../src/storage/layout.js'
import {findSessions} from '../src/storage/reader.js'
import {SessionWriter} from '../src/storage/session-writer.js'
import {log, median, rmrf, round, type Timings, type BenchRow} from './lib.js'

const pass = (ok: boolean) => (ok ? '✅ met' : '❌ not met')

/** The chain's share of a record run's session time, from its timings line. */
export function chainShare(t: Timings | undefined): number | undefined {
  const ms = (t as (Timings & {integrityMs?: number}) | undefined)?.integrityMs
  if (t === undefined || ms === undefined) return undefined
  return ms / Math.max(1, t.shellExited - t.ptySpawned)
}

/** The pump thread's time hashing the output (it runs beside the main thread) ÷ the session's running time. */
export function pumpHashShare(t: Timings | undefined): number | undefined {
  const ms = (t as (Timings & {pumpHashMs?: number}) | undefined)?.pumpHashMs
  if (t === undefined || ms === undefined) return undefined
  return ms / Math.max(1, t.shellExited - t.ptySpawned)
}

/** Rows for the chain's share in the storm and terminal runs bench/run.ts made. */
export function shareRows(shares: {storm: number[]; terminal: number[]; terminalPump: number[]}): BenchRow[] {
  const rows: BenchRow[] = []
  const row = (name: string, xs: number[], what: string, goal: boolean) => {
    if (xs.length === 0) return
    const m = median(xs)
    rows.push({
      variant: name,
      median: `${round(m * 100, 2)} %`,
      ratio: '',
      detail: `${what} ÷ session time, ${xs.length} runs (max ${round(Math.max(...xs) * 100, 2)} %)`,
      goal: goal ? '≤ 1 %' : '',
      verdict: goal ? pass(m <= 0.01) : '',
    })
  }
  row('chain time in exec storm (er-shell record)', shares.storm, 'main-thread time in the chain', true)
  row('chain time in terminal 200 MB (er-shell record)', shares.terminal, 'main-thread time in the chain', true)
  row('output hashing on the pump thread, terminal 200 MB', shares.terminalPump, 'pump-thread time hashing (beside the main thread)', false)
  return rows
}

function termChunks(): Buffer[] {
  const words = ['drwxr-xr-x', '-rw-r--r--', 'root', 'alice', 'node_modules', 'src', 'dist', 'package.json', '\x1b[01;34m', '\x1b[0m', 'Nov', '22', '16:42']
  let seed = 11
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const chunks: Buffer[] = []
  for (let c = 0; c < 64; c++) {
    let text = ''
    while (text.length < 65536) text += `${words[rand(words.length)]} ${rand(100000)} ${words[rand(words.length)]} ${words[rand(words.length)]}\r\n`
    chunks.push(Buffer.from(text.slice(0, 65536)))
  }
  return chunks
}

/** Writes `mb` MB of output (and a command event every 256 KiB) through SessionWriter; ms taken. */
async function writeSession(dataDir: string, mb: number): Promise<number> {
  const writer = await SessionWriter.create({
    dataDir,
    sid: randomUUID(),
    common: {cluster_name: 'bench', server_id: ensureServerId(dataDir), server_hostname: 'bench', login: 'root', user: 'root'},
  })
  const chunks = termChunks()
  const total = mb * 1024 * 1024
  const start = performance.now()
  let written = 0
  let i = 0
  while (written < total) {
    const chunk = Buffer.from(chunks[i++ % chunks.length]!)
    written += chunk.length
    const ok = writer.print(chunk)
    if (i % 4 === 0)
      writer.emit({event: 'session.command', pid: 1000 + i, ppid: 1, cgroup_id: 1, program: 'ls', path: '/bin/ls', argv: ['-l', String(i)], return_code: 0})
    if (!ok) await writer.drained()
    if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await writer.end({interactive: true, exit_code: 0})
  return performance.now() - start
}

/** verify's speed on a recording of `mb` MB of output with a command event per 256 KiB. */
export async function verifySpeed(work: string, runs: number, mb: number): Promise<BenchRow[]> {
  const dir = path.join(work, 'integrity-verify')
  await writeSession(dir, mb)
  const ref = findSessions(dir)[0]!
  const files = [ref.paths.events, ref.paths.chunks, ...Object.values(ref.paths.enhanced), ref.paths.integrity]
  const disk = files.reduce((n, f) => n + fs.statSync(f).size, 0)
  const keys = new HostKeys(readHostVerificationKey(dir)!, dir)
  const times: number[] = []
  let covered = 0
  let status = ''
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const v = await verifySession(ref, keys)
    times.push(performance.now() - t0)
    status = v.status
    covered = v.bytes
  }
  const eventsBytes = fs.statSync(ref.paths.events).size
  rmrf(dir)
  const s = median(times) / 1000
  const mbOut = covered / 1048576
  const mbDisk = disk / 1048576
  log(`integrity: verify ${round(mbOut)} MB of output (${round(mbDisk)} MB on disk) in ${round(s, 2)} s (${status})`)
  return [
    {
      variant: `er-shell verify (${round(mbOut)} MB output, ${round(mbDisk)} MB on disk)`,
      median: `${round(mbOut / s)} MB/s`,
      ratio: '',
      detail: `${round(s, 2)} s, ${status}; on-disk ${round(mbDisk / s)} MB/s (events file ${round(eventsBytes / 1048576)} MB compressed); ${runs} runs`,
      goal: '≥ 100 MB/s',
      verdict: pass(mbOut / s >= 100 && status === 'intact'),
    },
  ]
}

// The integrity chain's cost (docs/integrity.md) and verify's speed, for bench/run.ts section 7.
//
// - Chain time in real record runs: ER_SHELL_TIMINGS=1 reports the main-thread time spent in the
//   chain (hashing, checkpoints: `integrityMs`); its share of the session's running time (pty spawn
//   → shell exit) bounds what the chain can take from the exec-storm and terminal benchmarks.
// - SessionWriter A/B: 200 MB of terminal output through SessionWriter, and the same with a second
//   IntegrityChain fed the same bytes (what one chain adds), interleaved.
// - verify: a recording of 200 MB of output (and a command event per 256 KiB), checked by verifySession.
import {randomBytes, randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {performance} from 'node:perf_hooks'

import {IntegrityChain} from '../src/integrity/chain.js'
import {HostKeys, readHostVerificationKey, verifySession} from '../src/integrity/index.js'
import {ensureServerId} from '../src/storage/layout.js'
import {findSessions} from '../src/storage/reader.js'
import {SessionWriter} from '../src/storage/session-writer.js'
import {log, median, pairedRatio, rmrf, round, type Timings, type BenchRow} from './lib.js'

const pass = (ok: boolean) => (ok ? '✅ met' : '❌ not met')

/** The chain's share of a record run's session time, from its timings line. */
export function chainShare(t: Timings | undefined): number | undefined {
  const ms = (t as (Timings & {integrityMs?: number}) | undefined)?.integrityMs
  if (t === undefined || ms === undefined) return undefined
  return ms / Math.max(1, t.shellExited - t.ptySpawned)
}

/** Rows for the chain's share in the storm and terminal runs bench/run.ts made. */
export function shareRows(storm: number[], terminal: number[]): BenchRow[] {
  const rows: BenchRow[] = []
  const row = (name: string, xs: number[]) => {
    if (xs.length === 0) return
    const m = median(xs)
    rows.push({
      variant: `chain time in ${name}`,
      median: `${round(m * 100, 2)} %`,
      ratio: '',
      detail: `main-thread time in the chain ÷ session time, ${xs.length} runs (max ${round(Math.max(...xs) * 100, 2)} %)`,
      goal: '≤ 1 %',
      verdict: pass(m <= 0.01),
    })
  }
  row('exec storm (er-shell record)', storm)
  row('terminal 200 MB (er-shell record)', terminal)
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
async function writeSession(dataDir: string, mb: number, extraChain: boolean): Promise<number> {
  const writer = await SessionWriter.create({
    dataDir,
    sid: randomUUID(),
    common: {cluster_name: 'bench', server_id: ensureServerId(dataDir), server_hostname: 'bench', login: 'root', user: 'root'},
  })
  let extra: IntegrityChain | undefined
  let extraFd: number | undefined
  if (extraChain) {
    const file = path.join(dataDir, `extra-${randomUUID()}.integrity`)
    extraFd = fs.openSync(file, 'w', 0o600)
    extra = new IntegrityChain({
      path: file,
      fd: extraFd,
      sid: 'bench',
      serverId: 'bench',
      claim: {keyId: 'bench', seq: 0, key: randomBytes(32)},
      timeMs: Date.now(),
      onError: (error) => {
        throw error
      },
    })
  }
  const chunks = termChunks()
  const total = mb * 1024 * 1024
  const start = performance.now()
  let written = 0
  let i = 0
  while (written < total) {
    const chunk = Buffer.from(chunks[i++ % chunks.length]!)
    written += chunk.length
    extra?.addOutput(chunk)
    const ok = writer.print(chunk)
    if (i % 4 === 0)
      writer.emit({event: 'session.command', pid: 1000 + i, ppid: 1, cgroup_id: 1, program: 'ls', path: '/bin/ls', argv: ['-l', String(i)], return_code: 0})
    if (!ok) await writer.drained()
    if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await writer.end({interactive: true, exit_code: 0})
  extra?.seal()
  return performance.now() - start
}

/** SessionWriter with one chain (as recorded) vs two (one more chain's work), interleaved. */
export async function writerAB(work: string, runs: number, mb: number): Promise<BenchRow[]> {
  log(`integrity: SessionWriter ${mb} MB with its chain vs with one more chain, ${runs} rounds`)
  const one: number[] = []
  const two: number[] = []
  for (let i = 0; i < runs; i++) {
    for (const [list, extra] of [
      [one, false],
      [two, true],
    ] as const) {
      const dir = path.join(work, `integrity-ab-${i}-${extra ? 2 : 1}`)
      list.push(await writeSession(dir, mb, extra))
      rmrf(dir)
    }
    log(`  round ${i + 1}: one chain ${round(mb / (one.at(-1)! / 1000))} MB/s, two chains ${round(mb / (two.at(-1)! / 1000))} MB/s`)
  }
  const ratio = pairedRatio(two, one)
  return [
    {
      variant: `SessionWriter.print ${mb} MB, + one more chain`,
      median: `${round(mb / (median(two) / 1000))} MB/s`,
      ratio: round(ratio, 3).toFixed(3),
      detail: `vs ${round(mb / (median(one) / 1000))} MB/s as recorded: time ratio = what one chain costs the writer`,
      goal: '',
      verdict: '',
    },
  ]
}

/** verify's speed on a recording of `mb` MB of output with a command event per 256 KiB. */
export async function verifySpeed(work: string, runs: number, mb: number): Promise<BenchRow[]> {
  const dir = path.join(work, 'integrity-verify')
  await writeSession(dir, mb, false)
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

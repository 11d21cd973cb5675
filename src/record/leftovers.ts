// Processes still in a session cgroup when its shell exited: ended (SIGHUP, then SIGKILL after a
// grace period; the default) or kept running outside the session, unmonitored (as Teleport does).
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {cgroupPids} from '../cgroup/cgroup.js'

export type LeftoverPolicy = 'kill' | 'keep'

export interface Leftover {
  pid: number
  program: string
  /** hup: ended on SIGHUP; killed: needed SIGKILL; kept: moved out and left running. */
  action: 'hup' | 'killed' | 'kept'
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // exited meanwhile
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** SIGHUP (bit 0) and SIGKILL (bit 8) in /proc/<pid>/status signal masks. */
const FATAL = (1n << 0n) | (1n << 8n)

/**
 * A SIGHUP or SIGKILL is pending that the process neither ignores, catches nor blocks: it is
 * already ending (e.g. a background job of the shell, on the terminal's hangup when the shell
 * exited), only not yet scheduled to die — on a loaded machine that took long enough for it to be
 * listed and reported as a leftover ended by er-shell.
 */
function ending(pid: number): boolean {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return false // gone
  }
  const mask = (name: string): bigint => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'}`)
  const pending = mask('SigPnd') | mask('ShdPnd')
  const handled = mask('SigIgn') | mask('SigCgt') | mask('SigBlk')
  return (pending & FATAL & ~handled) !== 0n
}

async function waitEmpty(dir: string, ms: number): Promise<Set<number>> {
  const deadline = Date.now() + ms
  let left = new Set(cgroupPids(dir))
  while (left.size > 0 && Date.now() < deadline) {
    await sleep(20)
    left = new Set(cgroupPids(dir))
  }
  return left
}

/** Handles what is left in `cgroupDir` (descendant cgroups included) and reports it. */
export async function handleLeftovers(cgroupDir: string, policy: LeftoverPolicy, graceMs: number, keepIn?: string): Promise<Leftover[]> {
  let pids = cgroupPids(cgroupDir)
  // Processes already ending are no leftovers: they get up to graceMs to go.
  for (const deadline = Date.now() + graceMs; pids.some(ending) && Date.now() < deadline;) {
    await sleep(10)
    pids = cgroupPids(cgroupDir)
  }
  if (pids.length === 0) return []
  const names = new Map(pids.map((p) => [p, comm(p)]))
  if (policy === 'keep' && keepIn) {
    for (const pid of pids) {
      try {
        writeFileSync(join(keepIn, 'cgroup.procs'), `${pid}\n`)
      } catch {
        // exited meanwhile
      }
    }
    return pids.map((pid) => ({pid, program: names.get(pid) ?? '', action: 'kept' as const}))
  }
  for (const pid of pids) {
    signal(pid, 'SIGHUP')
    signal(pid, 'SIGCONT') // a stopped job must run to see its SIGHUP
  }
  const stubborn = await waitEmpty(cgroupDir, graceMs)
  for (const pid of stubborn) signal(pid, 'SIGKILL')
  // Processes forked after the first listing are killed too.
  for (let i = 0; i < 10; i++) {
    const more = cgroupPids(cgroupDir)
    if (more.length === 0) break
    for (const pid of more) {
      if (!names.has(pid)) names.set(pid, comm(pid))
      stubborn.add(pid)
      signal(pid, 'SIGKILL')
    }
    await waitEmpty(cgroupDir, 200)
  }
  return [...names.entries()].map(([pid, program]) => ({pid, program, action: stubborn.has(pid) ? ('killed' as const) : ('hup' as const)}))
}

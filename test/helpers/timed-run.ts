// Runs `er-shell replay` as a child and notes when each piece of output arrived (for timing tests).
import {spawn} from 'node:child_process'
import {performance} from 'node:perf_hooks'

import {CLI, ROOT} from './cli.js'

export interface TimedRun {
  status: number | null
  stdout: string
  stderr: string
  /** ms (since spawn) at which each marker first appeared in stdout. */
  seen: Map<string, number>
}

/** Spawns the CLI with stdout to a pipe and records when each of `markers` first shows up. */
export function timedRun(args: string[], markers: string[]): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [CLI, ...args], {cwd: ROOT, env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    const seen = new Map<string, number>()
    child.stdout.setEncoding('utf8').on('data', (data: string) => {
      stdout += data
      const now = performance.now() - started
      for (const marker of markers) if (!seen.has(marker) && stdout.includes(marker)) seen.set(marker, now)
    })
    child.stderr.setEncoding('utf8').on('data', (data: string) => (stderr += data))
    child.on('error', reject)
    child.on('close', (status) => resolve({status, stdout, stderr, seen}))
  })
}

/** Milliseconds between two markers' arrival. */
export function between(run: TimedRun, from: string, to: string): number {
  const a = run.seen.get(from)
  const b = run.seen.get(to)
  if (a === undefined || b === undefined) throw new Error(`marker missing: ${a === undefined ? from : to}\n${run.stdout}\n${run.stderr}`)
  return b - a
}

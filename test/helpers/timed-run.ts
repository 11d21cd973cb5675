// Runs `er-shell replay` as a child and notes when each piece of output arrived (for timing tests).
import {spawn} from 'node:child_process'
import {performance} from 'node:perf_hooks'

import {CLI, ROOT} from './cli.js'

export interface TimedRun {
  /** null when killed at the deadline. */
  status: number | null
  stdout: string
  stderr: string
  /** ms since the spawn at which each marker first appeared in stdout. */
  seen: Map<string, number>
}

/**
 * Spawns the CLI with stdout to a pipe and records when each of `markers` first shows up. The
 * child is killed after `deadlineMs` (status null).
 *
 * Only lower bounds hold on a loaded machine: the child starts after the spawn and writes a
 * frame no earlier than it is due, so a marker's time since the spawn is at least its due time;
 * how much later it comes (start-up, scheduling, the pipe) has no bound.
 */
export function timedRun(args: string[], markers: string[], deadlineMs = 60_000): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [CLI, ...args], {cwd: ROOT, env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs)
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
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({status, stdout, stderr, seen})
    })
  })
}

/** Milliseconds from the spawn to the marker's arrival. */
export function arrival(run: TimedRun, marker: string): number {
  const at = run.seen.get(marker)
  if (at === undefined) throw new Error(`marker missing: ${marker}\n${run.stdout}\n${run.stderr}`)
  return at
}

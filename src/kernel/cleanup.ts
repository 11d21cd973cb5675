// The undo stack for what a command creates on the host (mounts, directories, cgroups, a recording
// in progress): steps run newest first, a failing step is reported and the others still run. One
// class for check-kernel (whose probes undo everything, synchronously) and record (whose teardown
// awaits: the capture engine drains, the live file closes).
import {existsSync, mkdirSync} from 'node:fs'
import {dirname} from 'node:path'

import {removeDir} from '../cgroup/cgroup.js'

interface Step {
  what: string
  run: () => unknown
}

export class Cleanup {
  private readonly steps: Step[] = []

  /** `what` names the step in a failure line ("remove /sys/fs/cgroup/x: EBUSY …"). */
  push(what: string, run: () => unknown): void {
    this.steps.push({what, run})
  }

  /**
   * Runs every step, newest first, even when one fails; returns one line per failure. Steps must
   * be synchronous here: one that returns a promise is reported as a failure (use unwind()).
   */
  runAll(): string[] {
    const failures: string[] = []
    while (this.steps.length > 0) {
      const step = this.steps.pop()!
      try {
        const pending = step.run()
        if (pending instanceof Promise) {
          pending.catch(() => undefined)
          failures.push(`${step.what}: an asynchronous step (run it with unwind())`)
        }
      } catch (error) {
        failures.push(failureLine(step, error))
      }
    }
    return failures
  }

  /** As runAll(), awaiting each step before the next. */
  async unwind(): Promise<string[]> {
    const failures: string[] = []
    while (this.steps.length > 0) {
      const step = this.steps.pop()!
      try {
        await step.run()
      } catch (error) {
        failures.push(failureLine(step, error))
      }
    }
    return failures
  }
}

function failureLine(step: Step, error: unknown): string {
  return `${step.what}: ${error instanceof Error ? error.message : String(error)}`
}

/**
 * Creates `path` (and missing parents); the cleanup removes exactly the directories it created.
 * With `shared`, a directory that someone else started using meanwhile (a session cgroup appeared
 * in it: EBUSY/ENOTEMPTY) is left in place instead of being reported.
 */
export function makeDir(path: string, cleanup: Cleanup, options: {shared?: boolean} = {}): boolean {
  if (existsSync(path)) return false
  const first = mkdirSync(path, {recursive: true})
  if (first === undefined) return false
  const created: string[] = []
  for (let dir = path; ; dir = dirname(dir)) {
    created.push(dir)
    if (dir === first || dir === dirname(dir)) break
  }
  for (const dir of created.reverse()) {
    cleanup.push(`remove ${dir}`, () => {
      try {
        removeDir(dir)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (!options.shared || (code !== 'EBUSY' && code !== 'ENOTEMPTY')) throw error
      }
    })
  }
  return true
}

// ER_SHELL_TIMINGS=1: `record` prints one JSON line of phase marks (ms since process start) on
// stderr at the end; the benchmark reads it. Shared by the preload (bin/run.js) and the session,
// which are separate copies of this module (record's command is bundled: scripts/bundle.mjs), so
// the marks live on globalThis.
import {performance} from 'node:perf_hooks'

export const TIMINGS = process.env.ER_SHELL_TIMINGS === '1'

const KEY = Symbol.for('er-shell.timings')
const shared = globalThis as {[KEY]?: Record<string, number>}

export const marks: Record<string, number> = (shared[KEY] ??= {})

export function mark(name: string): void {
  if (TIMINGS) marks[name] = Math.round(performance.now() * 10) / 10
}

// Runs the real capture engine around a test and collects its events.
import {CaptureEngine, type CaptureOptions, type CaptureStopResult} from '../../src/engine/capture.js'
import type {EventKind, ExecEvent, KernelEvent} from '../../src/engine/events.js'

export interface Capture {
  engine: CaptureEngine
  events: KernelEvent[]
  errors: Error[]
  /** Waits until the poll thread has delivered what the kernel produced so far. */
  settle(ms?: number): Promise<void>
  stop(): Promise<CaptureStopResult>
  execs(): ExecEvent[]
}

export function startCapture(
  cgroupDir: string,
  kinds: readonly EventKind[] = ['command', 'disk', 'network'],
  extra: Partial<CaptureOptions> = {},
): Capture {
  const events: KernelEvent[] = []
  const errors: Error[] = []
  const engine = CaptureEngine.start({
    cgroupDir,
    kinds,
    onEvents: (batch) => {
      for (const e of batch) if (e.kind !== 'formatted') events.push(e) // no line format is given here
    },
    onError: (e) => errors.push(e),
    ...extra,
  })
  return {
    engine,
    events,
    errors,
    settle: (ms = 150) => new Promise((r) => setTimeout(r, ms)),
    stop: () => engine.stop(),
    execs: () => events.filter((e): e is ExecEvent => e.kind === 'exec'),
  }
}

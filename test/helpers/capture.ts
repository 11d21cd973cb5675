// Runs the real capture engine around a test and collects what BPF recorded: the wire records
// (no line format), decoded by the test-only decoder (helpers/wire.ts).
import {CaptureEngine, type CaptureOptions, type CaptureStopResult} from '../../src/engine/capture.js'
import type {EventKind} from '../../src/engine/events.js'
import {loadNative} from '../../src/native/index.js'
import {createDecoder, type ExecEvent, type KernelEvent} from './wire.js'

export interface Capture {
  engine: CaptureEngine
  events: KernelEvent[]
  errors: Error[]
  /** Records that could not be decoded. */
  malformed: number
  /** Waits until the poll thread has delivered what the kernel produced so far. */
  settle(ms?: number): Promise<void>
  /** Waits until `done()` holds (events keep arriving), at most `ms`: for a loaded host. */
  until(done: () => boolean, ms?: number): Promise<void>
  stop(): Promise<CaptureStopResult>
  execs(): ExecEvent[]
}

export function startCapture(cgroupDir: string, kinds: readonly EventKind[] = ['command', 'disk', 'network'], extra: Partial<CaptureOptions> = {}): Capture {
  const events: KernelEvent[] = []
  const errors: Error[] = []
  // The engine's own offset is not exposed: times are within a millisecond of what it computes.
  const decode = createDecoder(loadNative().layout(), Date.now() - Number(process.hrtime.bigint()) / 1e6)
  const cap: Capture = {
    engine: undefined as unknown as CaptureEngine,
    events,
    errors,
    malformed: 0,
    settle: (ms = 150) => new Promise((r) => setTimeout(r, ms)),
    until: async (done, ms = 5000) => {
      const deadline = Date.now() + ms
      while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    },
    stop: () => cap.engine.stop(),
    execs: () => events.filter((e): e is ExecEvent => e.kind === 'exec'),
  }
  cap.engine = CaptureEngine.start({
    cgroupDir,
    kinds,
    onRecords: (batch) => {
      const r = decode(batch)
      events.push(...r.events)
      cap.malformed += r.malformed.command + r.malformed.disk + r.malformed.network
    },
    onError: (e) => errors.push(e),
    ...extra,
  })
  return cap
}

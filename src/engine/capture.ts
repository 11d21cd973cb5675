// The event source `record` uses: start(session cgroup, kinds, buffer sizes) → typed events and
// loss counts; stop() drains, detaches and reports what was lost.
import {readFileSync} from 'node:fs'
import {cpus} from 'node:os'

import {cgroupId, cgroupLevel} from '../cgroup/cgroup.js'
import {TRACEFS, ensureMounted} from '../cgroup/mounts.js'
import {sharedRingBytes} from '../config/page-size.js'
import {CaptureStartError, CgroupIdMismatchError, ConfigError, ErShellError, HelperError} from '../errors/index.js'
import {loadNative} from '../native/index.js'
import type {NativeEngine, NativeLoadParams, NativeLost, NativeStartTimings} from '../native/types.js'
import {createDecoder} from './decoder.js'
import type {CapturedEvent, EventKind, LostCounts} from './events.js'

export interface BufferPages {
  command: number
  disk: number
  network: number
}

/** Teleport's defaults, in pages. */
export const DEFAULT_BUFFER_PAGES: BufferPages = {command: 8, disk: 128, network: 8}

export interface CaptureOptions {
  /** The session cgroup directory (e.g. /cgroup2/teleport/<sid>). */
  cgroupDir: string
  kinds: readonly EventKind[]
  bufferPages?: Partial<BufferPages>
  /**
   * Before attaching, prove that the cgroup id BPF sees for a process in cgroupDir is the one user
   * space computed (Teleport #3212: where they differ nothing is recorded): runs
   * `joinHelper cgroupDir program` (joins, then execs) and compares the id seen at that exec.
   */
  cgroupCheck?: {joinHelper: string; program: string}
  /** How long kernel records wait on the poll thread to go to onEvents together (default 50 ms). */
  batchMs?: number
  /** Decoded events; with begin(lines), execs, opens and connects come as FormattedEvents. */
  onEvents: (events: CapturedEvent[]) => void
  onError?: (error: Error) => void
}

/**
 * The parts of an audit event line the native addon cannot know (EventLineFormatter.lineFormat()):
 * with them, it writes the line of every exec, open and connect on its poll thread.
 */
export interface LineFormat {
  /** `"event":"session.command","code":"T4000I",` */
  commandHead: string
  /** `"event":"session.disk","code":"T4001I",` */
  diskHead: string
  /** `"event":"session.network","code":"T4002I",` */
  networkHead: string
  /** The session's common fields as JSON members: `"cluster_name":…,"user":…`. */
  common: string
}

export interface CaptureStopResult {
  lost: LostCounts
  /** Kernel-side counters, including tracking/pending map failures. */
  kernel: NativeLost
  drainMs: number
  detachMs: number
}

let onlineCpus: number | undefined

/**
 * CPUs online: the count os.cpus() gives, read from /sys/devices/system/cpu/online ("0-1,4")
 * because os.cpus() also parses every CPU's model and times (~1.5 ms, on every call).
 */
export function onlineCpuCount(): number {
  if (onlineCpus === undefined) {
    let count = 0
    try {
      for (const range of readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split(',')) {
        const [first, last = first] = range.split('-').map(Number)
        if (!Number.isInteger(first) || !Number.isInteger(last) || last! < first!) throw new Error(`bad range ${range}`)
        count += last! - first! + 1
      }
    } catch {
      count = 0
    }
    onlineCpus = count > 0 ? count : cpus().length
  }
  return onlineCpus
}

/** Ring bytes for a buffer size in pages (per CPU, see sharedRingBytes). */
function ringBytes(pages: number, what: string): number {
  if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
    throw new ConfigError({setting: what}, `${what} must be a positive power of two (pages), got ${pages}`)
  }
  return sharedRingBytes(pages, onlineCpuCount())
}

/** What the BPF load depends on (with whether the cgroup id check's program is loaded too). */
export function loadParams(kinds: readonly EventKind[], bufferPages: Partial<BufferPages> | undefined): Omit<NativeLoadParams, 'cgroupCheck'> {
  const pages = {...DEFAULT_BUFFER_PAGES, ...bufferPages}
  return {
    kinds: [...kinds],
    commandRingBytes: ringBytes(pages.command, 'command_buffer_size'),
    diskRingBytes: ringBytes(pages.disk, 'disk_buffer_size'),
    networkRingBytes: ringBytes(pages.network, 'network_buffer_size'),
  }
}

/**
 * Starts loading (verifier included) and attaching the BPF programs for these kinds and buffer
 * sizes now, on a native thread; they match nothing until a session is set. A later
 * CaptureEngine.start() with the same kinds, sizes and check (cgroupCheck given or not) adopts
 * them; one with others discards them and loads its own.
 */
export function preloadCapture(kinds: readonly EventKind[], bufferPages?: Partial<BufferPages>, options: {cgroupCheck?: boolean} = {}): void {
  loadNative().preload({...loadParams(kinds, bufferPages), cgroupCheck: options.cgroupCheck ?? false})
}

/**
 * Discards what preloadCapture() loaded if no engine took it: attached programs would otherwise
 * make the process exit wait for the kernel to detach them.
 */
export function discardPreload(): void {
  loadNative().discardPreload()
}

/** A failed start as one line: the cgroup id check's own messages, else "cannot start kernel capture". */
function startError(error: unknown): ErShellError {
  const e = error as Error & {code?: string; bpf?: bigint; inode?: bigint}
  if (e.code === 'ECGROUPID') return new CgroupIdMismatchError(e.bpf, e.inode, error)
  if (e.code === 'EHELPER') return new HelperError(e.message, error)
  return new CaptureStartError(error)
}

export class CaptureEngine {
  readonly cgroupId: bigint
  readonly cgroupLevel: number
  readonly timings: NativeStartTimings
  /** Records that reached user space but could not be decoded, per kind. */
  private readonly userLost: LostCounts = {command: 0, disk: 0, network: 0}
  private stopping: Promise<CaptureStopResult> | undefined

  private constructor(
    private readonly native: NativeEngine,
    id: bigint,
    level: number,
    timings: NativeStartTimings,
    private readonly wallOffsetMs: number,
  ) {
    this.cgroupId = id
    this.cgroupLevel = level
    this.timings = timings
  }

  /**
   * Loads (or adopts the preloaded programs, see preloadCapture) and attaches the probes for the
   * selected kinds, scoped to cgroupDir; with cgroupCheck, proves the cgroup id first.
   */
  static start(options: CaptureOptions): CaptureEngine {
    const engine = CaptureEngine.prepare(options)
    engine.begin()
    return engine
  }

  /**
   * start() in two steps, so that the caller can work while the cgroup id check runs: prepare()
   * attaches the probes (matching nothing yet) and starts the check's helper; begin() waits for
   * the check, scopes the probes to cgroupDir and starts delivering events. An engine that was
   * prepared must be begun or stopped.
   */
  static prepare(options: CaptureOptions): CaptureEngine {
    const addon = loadNative()
    const id = cgroupId(options.cgroupDir)
    const level = cgroupLevel(options.cgroupDir)
    // Syscall tracepoints are attached through perf events named in tracefs.
    ensureMounted('tracefs', TRACEFS)

    const wallOffsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6
    const decode = createDecoder(addon.layout(), wallOffsetMs)

    let engine: CaptureEngine | undefined
    const check = options.cgroupCheck
    const native = new addon.Engine(
      {
        sessionCgroupId: id,
        sessionLevel: level,
        ...loadParams(options.kinds, options.bufferPages),
        batchMs: options.batchMs ?? 50,
        ...(check ? {cgroupCheck: {cgroupDir: options.cgroupDir, ...check}} : {}),
      },
      (batch) => {
        const {events, malformed} = decode(batch)
        if (engine) for (const k of ['command', 'disk', 'network'] as const) engine.userLost[k] += malformed[k]
        if (events.length > 0) options.onEvents(events)
      },
      (error) => options.onError?.(error),
    )
    let timings: NativeStartTimings
    try {
      timings = {...native.start(), checkMs: 0}
    } catch (error) {
      throw startError(error)
    }
    engine = new CaptureEngine(native, id, level, timings, wallOffsetMs)
    return engine
  }

  /**
   * The second step of start() (see prepare). With `lines`, every exec, open and connect arrives as a
   * FormattedEvent carrying its audit event line, written on the poll thread.
   */
  begin(lines?: LineFormat): void {
    try {
      this.timings.checkMs = this.native.begin(lines && {...lines, wallOffsetMs: this.wallOffsetMs}).checkMs
    } catch (error) {
      throw startError(error)
    }
  }

  /** Lost events so far, per kind (kernel drops + user-space drops). */
  lost(): LostCounts {
    return this.combine(this.native.lost())
  }

  /** Test hook: stop consuming (records pile up in the rings, then are dropped and counted). */
  pause(): void {
    this.native.pause()
  }

  resume(): void {
    this.native.resume()
  }

  /** Delivers everything in flight, detaches every program; idempotent. */
  stop(): Promise<CaptureStopResult> {
    this.stopping ??= this.native.stop().then((r) => ({
      lost: this.combine(r.lost),
      kernel: r.lost,
      drainMs: r.drainMs,
      detachMs: r.detachMs,
    }))
    return this.stopping
  }

  private combine(k: NativeLost): LostCounts {
    return {
      command: k.command + k.control + this.userLost.command,
      disk: k.disk + this.userLost.disk,
      network: k.network + this.userLost.network,
    }
  }
}

// The event source `record` uses: start(session cgroup, kinds, buffer sizes) → audit event lines
// (written on the poll thread, native/src/lines.h) and loss counts; stop() drains, detaches and
// reports what was lost.
import {readFileSync} from 'node:fs'
import {cpus} from 'node:os'

import {cgroupId, cgroupLevel} from '../cgroup/cgroup.js'
import {TRACEFS, ensureMounted} from '../cgroup/mounts.js'
import {sharedRingBytes} from '../config/page-size.js'
import {defaultConfig, type EventKind} from '../config/schema.js'
import {CaptureStartError, CgroupIdMismatchError, ConfigError, ErShellError, HelperError} from '../errors/index.js'
import {loadNative} from '../native/index.js'
import type {NativeDiskFilter, NativeEngine, NativeLayout, NativeLoadParams, NativeLost, NativeNetRule, NativeStartTimings} from '../native/types.js'
import type {LostEvents} from '../events/types.js'
import type {KernelLine, KernelLineEvent, LineFormat} from './events.js'

/** Ring buffer sizes in pages, per kind. */
export type BufferPages = Record<EventKind, number>

const defaults = defaultConfig('')
/** The configuration's defaults (Teleport's), in pages. */
const DEFAULT_BUFFER_PAGES: BufferPages = {command: defaults.command_buffer_size, disk: defaults.disk_buffer_size, network: defaults.network_buffer_size}

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
  /** How long kernel records wait on the poll thread to go to JavaScript together (default 50 ms). */
  batchMs?: number
  /**
   * The session's network policy, applied in the kernel by cgroup programs on cgroupDir (needs the
   * network kind); none or empty: everything allowed.
   */
  netRules?: readonly NativeNetRule[]
  /** The session's disk filter, applied in the kernel (filtered opens are counted, not recorded). */
  diskFilter?: NativeDiskFilter
  /** Kernel events as audit event lines, in order (begin() with a line format). */
  onLines?: (lines: KernelLine[]) => void
  /**
   * Without a line format (begin() without one): the wire records themselves, batch by batch
   * (bpf/er_shell.h). For tests and test/engine/fixtures/wire/record.ts; `record` never asks for them.
   */
  onRecords?: (batch: Buffer) => void
  onError?: (error: Error) => void
}

export interface CaptureStopResult {
  lost: LostEvents
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
export function loadParams(
  kinds: readonly EventKind[],
  bufferPages: Partial<BufferPages> | undefined,
  netPolicy = false,
): Omit<NativeLoadParams, 'cgroupCheck'> {
  const pages = {...DEFAULT_BUFFER_PAGES, ...bufferPages}
  return {
    kinds: [...kinds],
    netPolicy,
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
export function preloadCapture(
  kinds: readonly EventKind[],
  bufferPages?: Partial<BufferPages>,
  options: {cgroupCheck?: boolean; netPolicy?: boolean} = {},
): void {
  loadNative().preload({...loadParams(kinds, bufferPages, options.netPolicy), cgroupCheck: options.cgroupCheck ?? false})
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
    const split = lineSplitter(addon.layout(), wallOffsetMs)

    const check = options.cgroupCheck
    const native = new addon.Engine(
      {
        sessionCgroupId: id,
        sessionLevel: level,
        sessionCgroupDir: options.cgroupDir,
        ...loadParams(options.kinds, options.bufferPages, (options.netRules?.length ?? 0) > 0),
        ...(options.netRules?.length ? {netRules: options.netRules} : {}),
        ...(options.diskFilter ? {diskFilter: options.diskFilter} : {}),
        ...(options.batchMs === undefined ? {} : {batchMs: options.batchMs}),
        ...(check ? {cgroupCheck: {cgroupDir: options.cgroupDir, ...check}} : {}),
      },
      (batch) => {
        if (options.onRecords) options.onRecords(batch)
        else if (options.onLines) {
          let lines: KernelLine[]
          try {
            lines = split(batch)
          } catch (error) {
            options.onError?.(error as Error)
            return
          }
          options.onLines(lines)
        }
      },
      (error) => options.onError?.(error),
    )
    let timings: NativeStartTimings
    try {
      timings = {...native.start(), checkMs: 0}
    } catch (error) {
      throw startError(error)
    }
    return new CaptureEngine(native, id, level, timings, wallOffsetMs)
  }

  /**
   * The second step of start() (see prepare). With a line format, every exec, open, connect and
   * migrate arrives at onLines as its audit event line, written on the poll thread;
   * `sessionCgroupRel` is the session cgroup's path below the cgroup2 root (/teleport/<sid>): a
   * move there or below is no escape. Without one, onRecords gets the records themselves.
   */
  begin(lines?: {format: LineFormat; sessionCgroupRel: string}): void {
    try {
      const format = lines && {...lines.format, sessionCgroupRel: lines.sessionCgroupRel, wallOffsetMs: this.wallOffsetMs}
      this.timings.checkMs = this.native.begin(format).checkMs
    } catch (error) {
      throw startError(error)
    }
  }

  /** Lost events so far, per kind (kernel drops + records that could not be made into lines). */
  lost(): LostEvents {
    return this.combine(this.native.lost())
  }

  /** Backpressure: stop consuming (records pile up in the rings, then are dropped and counted). */
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

  private combine(k: NativeLost): LostEvents {
    return {
      command: k.command + k.control + k.malformed.command,
      disk: k.disk + k.malformed.disk,
      network: k.network + k.malformed.network,
    }
  }
}

/** A line of a batch: its text is decoded only when read (the session files take the bytes). */
class BatchLine implements KernelLine {
  constructor(
    readonly event: KernelLineEvent,
    readonly denied: boolean,
    readonly timeMs: number,
    readonly bytes: Buffer,
    readonly tailStart: number,
    readonly tailBytes: number,
  ) {}

  get tail(): string {
    return this.bytes.toString('utf8', this.tailStart, this.tailStart + this.tailBytes)
  }
}

/**
 * Splits a batch of line records (type ER_REC_LINE + the record's type, native/src/lines.h) into
 * KernelLines. `wallOffsetMs` converts the kernel's CLOCK_MONOTONIC stamps to wall-clock ms.
 */
export function lineSplitter(layout: NativeLayout, wallOffsetMs: number): (batch: Buffer) => KernelLine[] {
  const constant = (name: string): number => {
    const v = layout.constants[name]
    if (v === undefined) throw new Error(`wire layout has no constant ${name}`)
    return v
  }
  const line = constant('ER_REC_LINE')
  const events = new Map<number, KernelLineEvent>([
    [line + constant('ER_REC_EXEC'), 'session.command'],
    [line + constant('ER_REC_OPEN'), 'session.disk'],
    [line + constant('ER_REC_NET'), 'session.network'],
    [line + constant('ER_REC_NET_DENIED'), 'session.network'],
    [line + constant('ER_REC_MIGRATE'), 'session.cgroup_escape'],
    [line + constant('ER_REC_EXIT'), 'session.process_exit'],
  ])
  const denied = line + constant('ER_REC_NET_DENIED')
  const hdr = layout.structs.er_hdr
  if (!hdr) throw new Error('wire layout has no struct er_hdr')
  const HDR = hdr.size
  const {type: TYPE, size: SIZE, ktime_ns: KTIME} = hdr.offsets as Record<string, number>
  if (TYPE === undefined || SIZE === undefined || KTIME === undefined) throw new Error('wire layout: er_hdr fields missing')
  return (batch) => {
    const out: KernelLine[] = []
    for (let r = 0; r + HDR <= batch.length;) {
      const size = batch.readUInt32LE(r + SIZE)
      if (size < HDR || r + size > batch.length) throw new Error(`line record of ${size} bytes at ${r} of a ${batch.length}-byte batch`)
      const type = batch.readUInt32LE(r + TYPE)
      const event = events.get(type)
      if (event === undefined) throw new Error(`record of type ${type} where a line was expected`)
      out.push(new BatchLine(event, type === denied, wallOffsetMs + Number(batch.readBigUInt64LE(r + KTIME)) / 1e6, batch, r + HDR, size - HDR))
      r += size
    }
    return out
  }
}

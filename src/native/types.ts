// The typed contract of the native addon (native/src/*.cc). Keep in step with the C++.

/** Lost-record counters, summed over CPUs (kernel side: failed ring reserves, full maps). */
export interface NativeLost {
  command: number
  disk: number
  network: number
  control: number
  tracking: number
  pending: number
}

export interface NativeEngineOptions {
  /** cgroup v2 id (inode) of the session cgroup. */
  sessionCgroupId: bigint
  /** Depth of the session cgroup below the hierarchy root (root = 0). */
  sessionLevel: number
  /** Bit mask of ER_KIND_COMMAND/DISK/NETWORK (1 << kind). */
  kinds: number
  /** Ring buffer sizes in bytes (power of two, multiple of the page size). */
  commandRingBytes: number
  diskRingBytes: number
  networkRingBytes: number
  /** How long the poll thread waits between batches when the kernel does not wake it. */
  batchMs?: number
}

export interface NativeStartTimings {
  openMs: number
  loadMs: number
  attachMs: number
  /** Programs attached (one link each). */
  links: number
}

export interface NativeStopResult {
  lost: NativeLost
  drainMs: number
  detachMs: number
}

export interface NativeEngine {
  /** Open, load and attach. Throws an Error with `code` (EPERM, ENOENT, ...) on failure. */
  start(): NativeStartTimings
  /** Kernel-side lost counters so far. */
  lost(): NativeLost
  /** Test hook: stop consuming the rings (records pile up, then are dropped and counted). */
  pause(): void
  resume(): void
  /** Drain what is in flight, deliver it, detach every program and join the poll thread. */
  stop(): Promise<NativeStopResult>
}

export interface NativeEngineConstructor {
  new (
    options: NativeEngineOptions,
    onBatch: (batch: Buffer) => void,
    onError: (error: Error & {code?: string}) => void,
  ): NativeEngine
}

export interface StructLayout {
  size: number
  offsets: Record<string, number>
}

export interface NativeAddon {
  Engine: NativeEngineConstructor
  /** sizeof/offsetof of the wire structs and the values of the header's constants. */
  layout(): {structs: Record<string, StructLayout>; constants: Record<string, number>}
  // --- kernel probes for check-kernel (native/src/probe.cc) ---
  probe: KernelProbes
}

/** Real probes behind `er-shell check-kernel`. Each throws an Error with `code` on failure. */
export interface KernelProbes {
  [name: string]: (...args: never[]) => unknown
}

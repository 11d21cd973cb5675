// The typed contract of the native addon (native/src/*.cc). Keep in step with the C++.

import type {LineFormat} from '../engine/events.js'

/** Lost-record counters, summed over CPUs (kernel side: failed ring reserves, full maps). */
export interface NativeLost {
  command: number
  disk: number
  network: number
  control: number
  tracking: number
  pending: number
  /** Records that reached user space but could not be made into lines (native/src/lines.h), per kind. */
  malformed: {command: number; disk: number; network: number}
  /** Not a loss: opens the session's disk filter dropped in the kernel, on purpose. */
  diskFiltered: number
}

/** A session's disk filter as the kernel applies it: a DFA over path bytes (src/disk/filter.ts). */
export interface NativeDiskFilter {
  /** next[state * 256 + byte]; state 0 dead, 1 the start. */
  next: Uint8Array
  /** accept[state]: bit 0 an include pattern matches, bit 1 an exclude pattern does. */
  accept: Uint8Array
  /** Whether there are include patterns (then only what one matches is recorded). */
  includes: boolean
}

/** What loading the BPF object depends on (preload() and an engine match on all of it). */
export interface NativeLoadParams {
  /** The event kinds whose programs are loaded (the addon maps them to bpf/er_shell.h's ER_KIND_*). */
  kinds: ReadonlyArray<'command' | 'disk' | 'network'>
  /** Ring buffer sizes in bytes (power of two, multiple of the page size). */
  commandRingBytes: number
  diskRingBytes: number
  networkRingBytes: number
  /** Also load the cgroup id check's program (the engine will be given cgroupCheck). */
  cgroupCheck?: boolean
  /** Also load the network policy's cgroup sock_addr programs (the engine will be given netRules). */
  netPolicy?: boolean
}

/** One rule of a session's network policy, as the kernel applies it (struct er_net_rule). */
export interface NativeNetRule {
  action: 'allow' | 'deny'
  family: 4 | 6
  /** The network address: 4 bytes for IPv4, 16 for IPv6, network order. */
  addr: Uint8Array
  prefixLen: number
  /** Ports lo..hi (0..65535 for all). */
  portLo: number
  portHi: number
}

export interface NativeEngineOptions extends Omit<NativeLoadParams, 'cgroupCheck'> {
  /** cgroup v2 id (inode) of the session cgroup. */
  sessionCgroupId: bigint
  /** Depth of the session cgroup below the hierarchy root (root = 0). */
  sessionLevel: number
  /** How long records read from the rings wait on the poll thread to go to JS together (and the
   * longest wait for a ring the kernel has not woken us for). Default 50 ms. */
  batchMs?: number
  /**
   * Before attaching: run `joinHelper cgroupDir program` and check that the cgroup id BPF sees at
   * its exec is sessionCgroupId. start() throws code EHELPER when the helper fails, ECGROUPID
   * (with `bpf` and `inode`) when the ids differ.
   */
  cgroupCheck?: {cgroupDir: string; joinHelper: string; program: string}
  /** The session cgroup's directory: the cgroup programs (UDP and DNS capture, the policy) are attached there. */
  sessionCgroupDir?: string
  /** The session's network policy (needs netPolicy: true); at most ER_NET_RULES_MAX rules. */
  netRules?: readonly NativeNetRule[]
  /** The session's disk filter; none: every open recorded. */
  diskFilter?: NativeDiskFilter
}

export interface NativeLineFormat extends LineFormat {
  /** The session cgroup's path below the cgroup2 root (/teleport/<sid>): a move there or below is no escape. */
  sessionCgroupRel: string
  /** Date.now() minus CLOCK_MONOTONIC in ms: converts the kernel's stamps to wall-clock time. */
  wallOffsetMs: number
}

export interface NativeStartTimings {
  /** The programs had been loaded by preload() (with the same kinds and ring sizes). */
  preloaded: boolean
  /** Links the loading thread had attached already (the engine attached the rest). */
  preattached: number
  /** How long start() waited for the load to finish. */
  waitMs: number
  /** Open and load (verifier included) as they took on the loading thread. */
  openMs: number
  loadMs: number
  /** The cgroup id check, from its start in start() to its end in begin() (0 without one). */
  checkMs: number
  attachMs: number
  /** Links made (a program attached to several tracepoints has one link per tracepoint). */
  links: number
  /** The programs loaded use bpf_loop (Linux 5.17+); false: their bounded-loop variants. */
  bpfLoop: boolean
  /** bpf_get_current_ancestor_cgroup_id() is called (tracing programs: Linux 5.14+); false: the id
   * is read from the task's cgroup. */
  ancestorHelper: boolean
}

export interface NativeStopResult {
  lost: NativeLost
  drainMs: number
  detachMs: number
}

export interface NativeEngine {
  /**
   * Take the preloaded programs or load them, attach them (matching nothing yet) and start the
   * cgroup id check's helper. Throws an Error with `code` (EPERM, ENOENT, ...) on failure.
   */
  start(): Omit<NativeStartTimings, 'checkMs'>
  /**
   * Finish the check (EHELPER, ECGROUPID), give the programs the session cgroup, start polling.
   * With `lines`, each record is delivered as a record of type ER_REC_LINE + its type: its audit
   * event line after `{"ei":N,` (native/src/lines.h); without, the records themselves.
   */
  begin(lines?: NativeLineFormat): {checkMs: number}
  /** Kernel-side lost counters so far. */
  lost(): NativeLost
  /** Backpressure: stop consuming the rings (records pile up, then are dropped and counted). */
  pause(): void
  resume(): void
  /** Drain what is in flight, deliver it, detach every program and join the poll thread. */
  stop(): Promise<NativeStopResult>
}

export interface NativeEngineConstructor {
  new (options: NativeEngineOptions, onBatch: (batch: Buffer) => void, onError: (error: Error & {code?: string}) => void): NativeEngine
}

/**
 * The session terminal's output path (native/src/pump.cc): a thread copies the pty master to
 * `outFd` as script(1) does and hands the same bytes to JS in batches for the recording.
 */
export interface NativePump {
  /** The recording is behind: stop reading the master (the session's output waits). */
  pause(): void
  resume(): void
  /** A live line (no newline) for lineFd, written where the screen is at a line start, or after 1 s. */
  line(text: string): void
  /** The session program exited: read what is left in the terminal, then call onEnd. */
  finish(): void
  /** End the thread now (what is unread stays unread) and join it. */
  stop(): void
  /** With hashOutput: the SHA-256 of every byte handed to onOutput so far (the thread hashes as it reads). */
  outputDigest(): OutputDigest & {hashMs: number}
}

/** The SHA-256 (hex) of a stream's first `bytes` bytes. */
export interface OutputDigest {
  bytes: number
  sha256: string
}

export interface NativePumpConstructor {
  new (
    /** hashOutput: the thread also hashes what it hands over (outputDigest). */
    options: {masterFd: number; outFd: number; lineFd?: number; hashOutput?: boolean},
    /** Output read from the terminal (already on outFd); timeMs: wall clock of its first byte. */
    onOutput: (bytes: Buffer, timeMs: number) => void,
    /** After the last onOutput: finish() drained the terminal, or it reported EOF or an error. */
    onEnd: (error?: Error & {code?: string}) => void,
  ): NativePump
}

export interface StructLayout {
  size: number
  offsets: Record<string, number>
  /** sizeof each member, padding members included. */
  sizes: Record<string, number>
}

export interface NativeLayout {
  structs: Record<string, StructLayout>
  constants: Record<string, number>
}

export interface NativeAddon {
  Engine: NativeEngineConstructor
  Pump: NativePumpConstructor
  /**
   * Starts loading the BPF object for these kinds and ring sizes on a native thread that takes no
   * signals; the next Engine with the same ones adopts it (one with others discards it).
   */
  preload(params: NativeLoadParams): void
  /** Discards a preload no engine took (waits for it, then detaches in the background). */
  discardPreload(): void
  /** sizeof/offsetof of the wire structs and the values of the header's constants. */
  layout(): NativeLayout
  /** Calls back on the JS thread once `pid` has exited (pidfd; works when someone else reaps it). */
  watchExit(pid: number, callback: () => void): void
  /** _exit(code): no exit handlers, no teardown. Only once files are closed and output is written. */
  exitNow(code: number): never
  // --- kernel probes for check-kernel (native/src/probe.cc) ---
  probe: KernelProbes
}

/**
 * The test addon's own functions (native/test/test_addon.cc, loaded by loadNativeTest()): what only
 * tests use. The module also has every export of NativeAddon, with test hooks in its loading
 * (ER_SHELL_TEST_BPF_REJECT=1 makes the verifier refuse the capture object); tests use loadNative()
 * for those and run the CLI on it with ER_SHELL_NATIVE_DIR=testAddonDir().
 */
export interface NativeTestAddon {
  /** The JSON string contents (no quotes) the native line formatter writes for these bytes. */
  jsonText(bytes: Buffer): string
  /** The native line formatter's path.posix.normalize(path) for an absolute path. */
  normalizePath(path: Buffer): Buffer
  /** The native line formatter's path.posix.resolve(base, rel), base absolute and rel relative. */
  resolvePath(base: Buffer, rel: Buffer): Buffer
  /**
   * Runs the line formatter over a buffer of wire records as the poll thread does, with the
   * session cgroup id given (test/engine/fixtures/wire/). Each line: [type, ktime_ns, text].
   */
  formatLines(records: Buffer, format: NativeLineFormat, sessionCgroupId: bigint): {lines: Array<[number, bigint, string]>; malformed: number}
}

/** Load and attach timings of one probe, in milliseconds. */
export interface ProbeTimings {
  loadMs: number
  attachMs: number
}

/** What probe.captureObject() loaded and how long each step took, in milliseconds. */
export interface CaptureObjectReport {
  bpfLoop: boolean
  ancestorHelper: boolean
  /** Names of the programs loaded. */
  programs: string[]
  links: number
  openMs: number
  loadMs: number
  attachMs: number
  detachMs: number
}

/** Cgroup ids of one cgroup v2 directory: as BPF saw it, and as user space computes it. */
export interface CgroupIds {
  /** inode number of the directory (what bpf_get_current_cgroup_id() should return). */
  inode: bigint
  /** The 8-byte name_to_handle_at() handle of the directory. */
  handle: bigint
}

/**
 * Real probes behind `er-shell check-kernel` (native/src/probe.cc, bpf/probe.bpf.c). Each one
 * loads/attaches for real and destroys everything it created before returning. Failures throw an
 * Error with `code` (EPERM, ENOENT, ...; EHELPER when the join helper failed) whose message ends
 * with libbpf's first log line; `log` holds the tail of libbpf's log.
 */
export interface KernelProbes {
  /** bpf() works with the current privileges (creates and closes an array map). */
  bpfSyscall(): void
  /** A BPF ring buffer of `bytes` (default one page) can be created and mapped. */
  ringBuffer(bytes?: number): {bytes: number}
  /** The cgroup/connect4 program loads and attaches to the cgroup v2 directory `cgroupDir`. */
  cgroupProgram(cgroupDir: string): ProbeTimings
  /** The ids user space computes for a cgroup v2 directory. */
  cgroupIdOf(cgroupDir: string): CgroupIds
  /**
   * Runs `joinHelper cgroupDir program` (joins, then execs) under the execve tracepoint program
   * and returns the cgroup id BPF saw at that exec next to the user-space ids.
   */
  cgroupId(cgroupDir: string, joinHelper: string, program: string): CgroupIds & {bpf: bigint; pid: number}
  /**
   * What `record` loads for these parameters (the capture engine's object, same variant selection):
   * loads, attaches, then detaches and destroys all of it before returning. A failure throws with
   * `reason` (the verifier's or libbpf's meaningful lines) and `log`.
   */
  /** With cgroupDir, the cgroup programs are attached to that cgroup too (and detached again). */
  captureObject(params: NativeLoadParams & {cgroupDir?: string}): CaptureObjectReport
  /** Informational: does a kprobe / fentry / LSM program load and attach on this kernel? */
  optionalProgram(kind: 'kprobe' | 'fentry' | 'lsm'): ProbeTimings
  /** mount(2) a pseudo filesystem (cgroup2, tracefs, securityfs) at target, nosuid,nodev,noexec. */
  mount(fstype: string, target: string): void
  /** umount2(target, UMOUNT_NOFOLLOW). */
  unmount(target: string): void
}

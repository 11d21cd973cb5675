// Typed kernel events as decoded from the ring buffers: a discriminated union on `kind`.

export type EventKind = 'command' | 'disk' | 'network'
export const EVENT_KINDS: readonly EventKind[] = ['command', 'disk', 'network']

/** How the process was found to belong to the session. */
export type Scope = 'cgroup' | 'tracked'

export interface TaskInfo {
  /** tgid */
  pid: number
  tid: number
  ppid: number
  uid: number
  /** Audit login uid; undefined when unset. */
  loginuid?: number
  /** Kernel audit session id; undefined when unset. */
  auditSessionId?: number
  cgroupId: bigint
  /** comm: for execs, the name after the exec. */
  program: string
  scope: Scope
}

interface Base {
  /** Wall-clock time in ms since the epoch (from the kernel's monotonic stamp). */
  timeMs: number
  task: TaskInfo
}

export interface ExecEvent extends Base {
  kind: 'exec'
  syscall: 'execve' | 'execveat'
  /** The filename passed to exec. */
  path: string
  /**
   * Absolute path of the new image (successful execs): what ran when `path` does not say it
   * (fexecve, execveat with a dirfd, a symlink, the interpreter of a #! script).
   */
  exe?: string
  /** The first string of the argument block (for a #! script: its interpreter). */
  argv0: string
  /** Arguments without argv[0]. */
  argv: string[]
  argvTruncated: boolean
  pathTruncated: boolean
  /** The exec's own result: 0 or -errno. */
  returnCode: number
  dirfd: number
  atFlags: number
}

export interface OpenEvent extends Base {
  kind: 'open'
  syscall: 'open' | 'openat' | 'openat2' | 'creat'
  /** The path as passed. */
  path: string
  /** Absolute path when it could be resolved, else undefined. */
  resolvedPath?: string
  /** 'fd': from the opened file; 'joined': relative path joined to its resolved base dir. */
  resolvedFrom?: 'fd' | 'joined'
  flags: number
  mode: number
  dirfd: number
  /** fd or -errno. */
  returnCode: number
  pathTruncated: boolean
}

export interface ConnectEvent extends Base {
  kind: 'connect'
  version: 4 | 6
  srcAddr: string
  dstAddr: string
  /** The source port is not chosen yet when the connect is seen (SYN_SENT), so it is not here. */
  dstPort: number
}

/** A session process was moved to another cgroup (by itself or by someone else). */
export interface MigrateEvent extends Base {
  kind: 'migrate'
  /** The task that was moved (tid). `task` is the writer. */
  movedPid: number
  dstCgroupId: bigint
  /** Path of the destination below the cgroup2 root, e.g. /elsewhere. */
  dstPath: string
  dstLevel: number
}

export type KernelEvent = ExecEvent | OpenEvent | ConnectEvent | MigrateEvent

/**
 * An exec, open or connect whose audit event line the native addon already wrote (CaptureEngine
 * begin() with a line format): what the JavaScript path would write for it, uid aside.
 */
export interface FormattedEvent {
  kind: 'formatted'
  event: 'session.command' | 'session.disk' | 'session.network'
  /** Wall-clock time in ms since the epoch, as for KernelEvent. */
  timeMs: number
  /** The line after `{"ei":N,` (the writer numbers it), ending in "}\n". */
  tail: string
  /** tail's length in UTF-8 bytes. */
  tailBytes: number
  /** The record itself, decoded (e.g. for a live line); decodes on every call. */
  decode(): ExecEvent | OpenEvent | ConnectEvent | undefined
}

/** What the capture engine delivers: decoded events, and formatted ones when asked for lines. */
export type CapturedEvent = KernelEvent | FormattedEvent

/** Lost events per kind: kernel ring drops plus user-space drops. */
export interface LostCounts {
  command: number
  disk: number
  network: number
}

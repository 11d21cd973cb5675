// The audit event model: Teleport-compatible session events (docs/event-schema.md) as a discriminated union.

/** Event type names, exactly as Teleport writes them. */
export const EventType = {
  sessionStart: 'session.start',
  resize: 'resize',
  sessionEnd: 'session.end',
  sessionData: 'session.data',
  sessionCommand: 'session.command',
  sessionDisk: 'session.disk',
  sessionNetwork: 'session.network',
  print: 'print',
  /**
   * er-shell addition (Teleport readers ignore unknown event types): a process of the session
   * moved itself (or was moved) out of the session cgroup. er-shell keeps recording it by
   * following the process tree; this event reports the move so the escape is never silent.
   */
  sessionCgroupEscape: 'session.cgroup_escape',
  /**
   * er-shell addition: a process of the session ended (its last thread exited) — how, and after how
   * long; `command_uid` names the session.command of its last exec.
   */
  sessionProcessExit: 'session.process_exit',
} as const

export type EventTypeName = (typeof EventType)[keyof typeof EventType]

/** Event codes. `print` has none (Teleport omits `code` for print events). */
export const EventCode = {
  'session.start': 'T2000I',
  resize: 'T2002I',
  'session.end': 'T2004I',
  'session.data': 'T2006I',
  'session.command': 'T4000I',
  'session.disk': 'T4001I',
  'session.network': 'T4002I',
  /** er-shell code space `ERS`; `W` = warning, like Teleport's I/W/E suffixes. */
  'session.cgroup_escape': 'ERS0001W',
  'session.process_exit': 'ERS0002I',
} as const satisfies Record<Exclude<EventTypeName, 'print'>, string>

/** The enhanced (BPF) event kinds that also get their own `<sid>-0.<kind>-events.gz` file. */
export const ENHANCED_EVENT_TYPES = ['session.command', 'session.disk', 'session.network'] as const
export type EnhancedEventType = (typeof ENHANCED_EVENT_TYPES)[number]

/** Per-session fields the recorder knows up front; stamped on every event. */
export interface SessionCommon {
  cluster_name: string
  server_id: string
  server_hostname: string
  /** OS account the session's shell runs as. */
  login: string
  /** Who started the session (the sudo caller, else the login). */
  user: string
}

/** Fields every written event carries, in this key order (see STAMP_ORDER). */
export interface EventHeader extends SessionCommon {
  ei: number
  event: EventTypeName
  /** Absent only on `print`. */
  code?: string
  uid: string
  /** RFC 3339 UTC with milliseconds, e.g. 2026-11-22T16:42:20.540Z */
  time: string
  sid: string
  namespace: 'default'
}

/** Key order of the header; the event-specific fields follow. */
export const HEADER_KEYS = ['ei', 'event', 'code', 'uid', 'time', 'cluster_name', 'sid', 'namespace', 'server_id', 'server_hostname', 'login', 'user'] as const

export interface LostEvents {
  command: number
  disk: number
  network: number
}

/** Fields shared by the three BPF event kinds. */
export interface BpfFields {
  /** Process id (tgid). */
  pid: number
  /** cgroup v2 id of the process at event time. */
  cgroup_id: number
  /** comm, ≤ 15 chars (for commands: the name after the exec). */
  program: string
  audit_session_id?: number
}

// ---- event bodies: what the caller passes to SessionWriter.emit() ----

export interface SessionStartBody {
  event: 'session.start'
  /** "COLS:ROWS" */
  size: string
  initial_command?: string[]
  interactive: boolean
}

export interface ResizeBody {
  event: 'resize'
  size: string
}

export interface SessionEndBody {
  event: 'session.end'
  enhanced_recording: true
  interactive: boolean
  participants: string[]
  session_start: string
  session_stop: string
  initial_command?: string[]
  /** er-shell: the shell's exit status (128 + signal when killed), null if unknown. */
  exit_code?: number | null
  /** er-shell: events lost in the kernel or in user space, per kind. */
  lost_events?: LostEvents
  /** er-shell: processes still in the session cgroup when the shell exited. */
  leftover_processes?: unknown
  /** er-shell: kernel events recorded, per kind; network_denied counts the network policy's refusals. */
  event_counts?: EventCountsField
}

/** session.end's event_counts: network counts every session.network event, denied ones included. */
export interface EventCountsField {
  command: number
  disk: number
  network: number
  network_denied: number
  /** session.process_exit events */
  exit: number
  /** Opens the session's disk filter dropped in the kernel (not recorded, on purpose). */
  disk_filtered: number
}

export interface SessionDataBody {
  event: 'session.data'
  tx: number
  rx: number
}

export interface SessionCommandBody extends BpfFields {
  event: 'session.command'
  ppid: number
  /** The filename passed to exec. */
  path: string
  /** Arguments without argv[0]. */
  argv: string[]
  /** The exec's own result: 0 or -errno. */
  return_code: number
  /** er-shell: arguments were cut. */
  argv_truncated?: boolean
  /**
   * er-shell: absolute path of the executed image, resolved by the kernel; set on every successful
   * exec. It names what ran when `path` does not: fexecve/execveat with an empty or relative path,
   * a symlink, a #! script (exe is its interpreter). Absent for failed execs.
   */
  exe?: string
}

export interface SessionDiskBody extends BpfFields {
  event: 'session.disk'
  path: string
  flags: number
  /** fd or -errno. */
  return_code: number
}

/** er-shell: the transport of a session.network event. */
export type NetworkProtocol = 'tcp' | 'udp'

export interface SessionNetworkBody extends BpfFields {
  event: 'session.network'
  /** The source address; "0.0.0.0" or "::" on a denied attempt (none chosen yet). */
  src_addr: string
  /** v4-mapped destinations of a v6 socket are "::ffff:a.b.c.d" with version 6. */
  dst_addr: string
  dst_port: number
  version: 4 | 6
  /** 0 = connect, 1 = send (UDP datagrams; DNS queries over TCP) */
  operation: 0 | 1
  /** 0 = observed, 1 = denied by the session's network policy (the program got EPERM) */
  action: 0 | 1
  /** er-shell: the transport; absent in recordings made before UDP was captured (then: tcp). */
  protocol?: NetworkProtocol
  /**
   * er-shell, sends only (operation 1, action 0): how many sends this event stands for. Sends of
   * one process to one destination (and DNS question) are folded to one event per second; the sum
   * over a session's events is every send. Denied sends are not folded (no `sends`).
   */
  sends?: number
  /** er-shell, DNS queries only: the queried name, dotted, without the trailing dot ("." = root). */
  dns_name?: string
  /** er-shell, DNS queries only: the query type: "A", "AAAA", "MX", …, else "TYPE<n>". */
  dns_type?: string
}

/** er-shell: a session process left the session cgroup (see EventType.sessionCgroupEscape). */
export interface SessionCgroupEscapeBody {
  event: 'session.cgroup_escape'
  pid: number
  ppid?: number
  program: string
  /** The session cgroup the process left. */
  cgroup_id: number
  /** The cgroup it moved to. */
  new_cgroup_id: number
  /** Path of that cgroup below the cgroup2 mount, when known. */
  new_cgroup_path?: string
}

/** er-shell: a session process ended (see EventType.sessionProcessExit). */
export interface SessionProcessExitBody extends BpfFields {
  event: 'session.process_exit'
  ppid: number
  /** Its exit status, when it exited (absent when a signal ended it). */
  exit_code?: number
  /** The signal that ended it ("SIGKILL"), when one did. */
  signal?: string
  /** true when it dumped core. */
  core_dumped?: boolean
  /** How long it ran, from its fork (ms). */
  elapsed_ms: number
  /** The uid of the session.command event of its last exec, when it exec'd during the session. */
  command_uid?: string
}

/** Terminal output: written by SessionWriter.print(), never passed to emit(). */
export interface PrintBody {
  event: 'print'
  bytes: number
  /** Milliseconds since session start. */
  ms: number
  /** Offset of this chunk in the chunks stream. */
  offset: number
  /** Chunk index (counts print events only). */
  ci: number
}

export type EventBody =
  | SessionStartBody
  | ResizeBody
  | SessionEndBody
  | SessionDataBody
  | SessionCommandBody
  | SessionDiskBody
  | SessionNetworkBody
  | SessionCgroupEscapeBody
  | SessionProcessExitBody
  | PrintBody

/** Bodies the caller may emit directly (print and resize have their own methods, resize also here). */
export type EmittableBody = Exclude<EventBody, PrintBody>

/** A written event: the header plus its body. */
export type AuditEvent<B extends EventBody = EventBody> = EventHeader & B

export type SessionStartEvent = AuditEvent<SessionStartBody>
export type ResizeEvent = AuditEvent<ResizeBody>
export type SessionEndEvent = AuditEvent<SessionEndBody>
export type SessionDataEvent = AuditEvent<SessionDataBody>
export type SessionCommandEvent = AuditEvent<SessionCommandBody>
export type SessionDiskEvent = AuditEvent<SessionDiskBody>
export type SessionNetworkEvent = AuditEvent<SessionNetworkBody>
export type SessionCgroupEscapeEvent = AuditEvent<SessionCgroupEscapeBody>
export type SessionProcessExitEvent = AuditEvent<SessionProcessExitBody>
export type PrintEvent = AuditEvent<PrintBody>

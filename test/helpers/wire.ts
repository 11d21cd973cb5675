// Test-only: decodes batches of raw wire records (bpf/er_shell.h) into typed objects, so that the
// kernel tests can check what BPF recorded (fields the event lines do not carry: syscall, dirfd,
// scope, …) and the fixture test can check the native line formatter (native/src/lines.h) against
// an independent reading. Offsets come from the native layout() (offsetof/sizeof of
// bpf/er_shell.h), never from numbers written here. `record` never decodes records: it gets lines.
import {posix} from 'node:path'

import type {EventKind} from '../../src/config/schema.js'
import type {NativeLayout as WireLayout} from '../../src/native/types.js'

/** The struct fields this decoder reads; a test checks them against the C header's layout. */
export const DECODED_FIELDS: Record<string, readonly string[]> = {
  er_hdr: ['type', 'size', 'ktime_ns'],
  er_task: ['cgroup_id', 'pid', 'tid', 'ppid', 'uid', 'loginuid', 'audit_session_id', 'scope', 'comm'],
  er_exec: ['hdr', 'task', 'retval', 'syscall', 'dirfd', 'at_flags', 'flags', 'path_len', 'args_len', 'exe_len', 'argv_skip', 'exe_root'],
  er_open: ['hdr', 'task', 'retval', 'flags', 'mode', 'dirfd', 'syscall', 'flags2', 'path_len', 'res_len', 'res_kind', 'res_root'],
  er_net: ['hdr', 'task', 'saddr', 'daddr', 'dport', 'family', 'protocol', 'operation', 'action', 'sends', 'dns_len'],
  er_migrate: ['hdr', 'task', 'dst_cgroup_id', 'moved_pid', 'dst_level', 'path_len'],
  er_exit: ['hdr', 'task', 'exit_code', 'start_ns'],
}

const AF_INET6 = 10
const UNSET = 0xffffffff
const EXEC_SYSCALLS = ['execve', 'execveat'] as const
const OPEN_SYSCALLS = ['open', 'openat', 'openat2', 'creat'] as const

export interface DecodeResult {
  /** Records in order. */
  events: KernelEvent[]
  /** Records that could not be decoded (malformed), per kind: counted as user-space drops. */
  malformed: Record<EventKind, number>
}

function need(layout: WireLayout, struct: string): {size: number; o: Record<string, number>} {
  const s = layout.structs[struct]
  if (!s) throw new Error(`wire layout has no struct ${struct}`)
  for (const f of DECODED_FIELDS[struct] ?? []) {
    if (s.offsets[f] === undefined) throw new Error(`wire layout: ${struct}.${f} missing`)
  }
  return {size: s.size, o: s.offsets as Record<string, number>}
}

function constant(layout: WireLayout, name: string): number {
  const v = layout.constants[name]
  if (v === undefined) throw new Error(`wire layout has no constant ${name}`)
  return v
}

/** NUL-terminated string of at most `len` bytes at `off`. */
function cstr(buf: Buffer, off: number, len: number): string {
  if (len <= 0) return ''
  const end = buf.indexOf(0, off)
  const stop = end < 0 || end > off + len ? off + len : end
  return buf.toString('utf8', off, stop)
}

/** NUL-separated strings; a last string without NUL (cut block) is kept. */
function splitBlock(buf: Buffer, off: number, len: number): string[] {
  const out: string[] = []
  let start = off
  const end = off + len
  while (start < end) {
    let z = buf.indexOf(0, start)
    if (z < 0 || z > end) z = end
    out.push(buf.toString('utf8', start, z))
    start = z + 1
  }
  return out
}

export type Decoder = (batch: Buffer) => DecodeResult

/**
 * Builds a decoder for the given layout. `wallOffsetMs` converts the kernel's CLOCK_MONOTONIC
 * stamps to wall-clock ms (Date.now() - monotonic ms, taken at start).
 */
export function createDecoder(layout: WireLayout, wallOffsetMs: number): Decoder {
  const hdr = need(layout, 'er_hdr').o
  const task = need(layout, 'er_task')
  const t = task.o
  const ex = need(layout, 'er_exec')
  const op = need(layout, 'er_open')
  const co = need(layout, 'er_net')
  const mi = need(layout, 'er_migrate')
  const xt = need(layout, 'er_exit')
  const REC_EXEC = constant(layout, 'ER_REC_EXEC')
  const REC_OPEN = constant(layout, 'ER_REC_OPEN')
  const REC_NET = constant(layout, 'ER_REC_NET')
  const REC_MIGRATE = constant(layout, 'ER_REC_MIGRATE')
  const REC_EXIT = constant(layout, 'ER_REC_EXIT')
  const SCOPE_TRACKED = constant(layout, 'ER_SCOPE_TRACKED')
  const F_ARGS_TRUNC = constant(layout, 'ER_F_ARGS_TRUNCATED')
  const F_PATH_TRUNC = constant(layout, 'ER_F_PATH_TRUNCATED')
  const F_ARGS_FROM_MM = constant(layout, 'ER_F_ARGS_FROM_MM')
  const F_RES_TRUNC = constant(layout, 'ER_F_RES_TRUNCATED')
  const ARG_MAX_FAIL = constant(layout, 'ER_ARG_MAX_FAIL')
  const RES_FILE = constant(layout, 'ER_RES_FILE')
  const RES_BASE = constant(layout, 'ER_RES_BASE')
  const COMM_LEN = constant(layout, 'ER_COMM_LEN')
  const hdrSize = need(layout, 'er_hdr').size

  const time = (buf: Buffer, base: number): number => wallOffsetMs + Number(buf.readBigUInt64LE(base + (hdr.ktime_ns as number))) / 1e6

  const readTask = (buf: Buffer, base: number): TaskInfo => {
    const b = base
    const loginuid = buf.readUInt32LE(b + t.loginuid!)
    const sessionId = buf.readUInt32LE(b + t.audit_session_id!)
    return {
      pid: buf.readUInt32LE(b + t.pid!),
      tid: buf.readUInt32LE(b + t.tid!),
      ppid: buf.readUInt32LE(b + t.ppid!),
      uid: buf.readUInt32LE(b + t.uid!),
      loginuid: loginuid === UNSET ? undefined : loginuid,
      auditSessionId: sessionId === UNSET ? undefined : sessionId,
      cgroupId: buf.readBigUInt64LE(b + t.cgroup_id!),
      program: cstr(buf, b + t.comm!, COMM_LEN),
      scope: buf.readUInt32LE(b + t.scope!) === SCOPE_TRACKED ? 'tracked' : 'cgroup',
    }
  }

  const decodeExec = (buf: Buffer, r: number, size: number): ExecEvent | undefined => {
    const o = ex.o
    const pathLen = buf.readUInt32LE(r + o.path_len!)
    const argsLen = buf.readUInt32LE(r + o.args_len!)
    const exeLen = buf.readUInt32LE(r + o.exe_len!)
    if (ex.size + pathLen + argsLen + exeLen > size) return undefined
    const flags = buf.readUInt32LE(r + o.flags!)
    const returnCode = buf.readInt32LE(r + o.retval!)
    const data = r + ex.size
    const args = splitBlock(buf, data + pathLen, argsLen)
    // Strings before the caller's argv[1]: 1, or more when a #! interpreter rewrote the block
    // ([interpreter, its optional argument, script path, argv[1..]]).
    const skip = buf.readUInt32LE(r + o.argv_skip!) || 1
    let argvTruncated = (flags & F_ARGS_TRUNC) !== 0
    // A failed exec's arguments are read one by one, each cut at ER_ARG_MAX_FAIL - 1 bytes.
    if (!(flags & F_ARGS_FROM_MM) && args.some((a) => Buffer.byteLength(a) >= ARG_MAX_FAIL - 1)) argvTruncated = true
    const ev: ExecEvent = {
      kind: 'exec',
      timeMs: time(buf, r),
      task: readTask(buf, r + o.task!),
      syscall: EXEC_SYSCALLS[buf.readUInt32LE(r + o.syscall!)] ?? 'execve',
      path: cstr(buf, data, pathLen),
      argv0: args[0] ?? '',
      argv: args.slice(skip),
      argvTruncated,
      pathTruncated: (flags & F_PATH_TRUNC) !== 0,
      returnCode,
      dirfd: buf.readInt32LE(r + o.dirfd!),
      atFlags: buf.readUInt32LE(r + o.at_flags!),
    }
    // A walk cut at ER_PATH_DEPTH components holds only the path's lower part: no exe then.
    if (exeLen > 0 && !(flags & F_RES_TRUNC)) {
      // Below the process's root directory (a chroot): the image as the process sees it.
      const at = data + pathLen + argsLen
      const whole = cstr(buf, at, exeLen)
      const root = buf.readUInt32LE(r + o.exe_root!)
      const chrooted = root > 0 && root < Buffer.byteLength(whole) && buf[at + root] === 0x2f
      ev.exe = chrooted ? cstr(buf, at + root, exeLen - root) : whole
      if (chrooted) ev.hostExe = whole
    }
    return ev
  }

  const decodeOpen = (buf: Buffer, r: number, size: number): OpenEvent | undefined => {
    const o = op.o
    const pathLen = buf.readUInt32LE(r + o.path_len!)
    const resLen = buf.readUInt32LE(r + o.res_len!)
    if (op.size + pathLen + resLen > size) return undefined
    const data = r + op.size
    const path = cstr(buf, data, pathLen)
    const resKind = buf.readUInt32LE(r + o.res_kind!)
    const flags2 = buf.readUInt32LE(r + o.flags2!)
    const ev: OpenEvent = {
      kind: 'open',
      timeMs: time(buf, r),
      task: readTask(buf, r + o.task!),
      syscall: OPEN_SYSCALLS[buf.readUInt32LE(r + o.syscall!)] ?? 'openat',
      path,
      flags: Number(buf.readBigUInt64LE(r + o.flags!)),
      mode: buf.readUInt32LE(r + o.mode!),
      dirfd: buf.readInt32LE(r + o.dirfd!),
      returnCode: Number(buf.readBigInt64LE(r + o.retval!)),
      pathTruncated: (flags2 & F_PATH_TRUNC) !== 0,
    }
    // A walk cut at ER_PATH_DEPTH components holds only the path's lower part: not resolved then.
    if (resLen > 0 && !(flags2 & F_RES_TRUNC)) {
      // Below the process's root directory (a chroot): the path as the process sees it.
      const whole = cstr(buf, data + pathLen, resLen)
      const root = buf.readUInt32LE(r + o.res_root!)
      const wholeBytes = Buffer.byteLength(whole)
      const resolved =
        root > 0 && root < wholeBytes && buf[data + pathLen + root] === 0x2f
          ? cstr(buf, data + pathLen + root, resLen - root)
          : root > 0 && root === wholeBytes
            ? '/'
            : whole
      if (resolved !== whole) ev.hostPath = whole
      if (resKind === RES_FILE) {
        ev.resolvedPath = resolved
        ev.resolvedFrom = 'fd'
      } else if (resKind === RES_BASE) {
        ev.resolvedPath = posix.resolve(resolved, path)
        ev.resolvedFrom = 'joined'
      }
    } else if (path.startsWith('/')) {
      ev.resolvedPath = posix.normalize(path)
      ev.resolvedFrom = 'joined'
    }
    return ev
  }

  const decodeNetwork = (buf: Buffer, r: number, size: number): NetworkEvent | undefined => {
    const o = co.o
    const v6 = buf.readUInt16LE(r + o.family!) === AF_INET6
    const dnsLen = buf.readUInt32LE(r + o.dns_len!)
    if (co.size + dnsLen > size) return undefined
    return {
      kind: 'network',
      timeMs: time(buf, r),
      task: readTask(buf, r + o.task!),
      version: v6 ? 6 : 4,
      srcAddr: v6 ? formatIPv6(buf, r + o.saddr!) : formatIPv4(buf, r + o.saddr!),
      dstAddr: v6 ? formatIPv6(buf, r + o.daddr!) : formatIPv4(buf, r + o.daddr!),
      dstPort: buf.readUInt16LE(r + o.dport!),
      protocol: buf.readUInt8(r + o.protocol!) === 17 ? 'udp' : 'tcp',
      operation: buf.readUInt8(r + o.operation!),
      action: buf.readUInt8(r + o.action!),
      sends: buf.readUInt32LE(r + o.sends!),
      dns: Buffer.from(buf.subarray(r + co.size, r + co.size + dnsLen)),
    }
  }

  const decodeMigrate = (buf: Buffer, r: number, size: number): MigrateEvent | undefined => {
    const o = mi.o
    const pathLen = buf.readUInt32LE(r + o.path_len!)
    if (mi.size + pathLen > size) return undefined
    return {
      kind: 'migrate',
      timeMs: time(buf, r),
      task: readTask(buf, r + o.task!),
      movedPid: buf.readUInt32LE(r + o.moved_pid!),
      dstCgroupId: buf.readBigUInt64LE(r + o.dst_cgroup_id!),
      dstLevel: buf.readInt32LE(r + o.dst_level!),
      dstPath: cstr(buf, r + mi.size, pathLen),
    }
  }

  const decodeExit = (buf: Buffer, r: number): ExitEvent => ({
    kind: 'exit',
    timeMs: time(buf, r),
    task: readTask(buf, r + xt.o.task!),
    exitCode: buf.readInt32LE(r + xt.o.exit_code!),
    startNs: buf.readBigUInt64LE(r + xt.o.start_ns!),
    endNs: buf.readBigUInt64LE(r + (hdr.ktime_ns as number)),
  })

  return (batch: Buffer): DecodeResult => {
    const events: KernelEvent[] = []
    const malformed: Record<EventKind, number> = {command: 0, disk: 0, network: 0}
    let r = 0
    while (r + hdrSize <= batch.length) {
      const type = batch.readUInt32LE(r + hdr.type!)
      const size = batch.readUInt32LE(r + hdr.size!)
      if (size < hdrSize || r + size > batch.length) {
        malformed.command++ // the rest of the batch cannot be framed
        break
      }
      let ev: KernelEvent | undefined
      if (type === REC_EXEC && size >= ex.size) ev = decodeExec(batch, r, size)
      else if (type === REC_OPEN && size >= op.size) ev = decodeOpen(batch, r, size)
      else if (type === REC_NET && size >= co.size) ev = decodeNetwork(batch, r, size)
      else if (type === REC_MIGRATE && size >= mi.size) ev = decodeMigrate(batch, r, size)
      else if (type === REC_EXIT && size >= xt.size) ev = decodeExit(batch, r)
      if (ev) events.push(ev)
      else malformed[type === REC_OPEN ? 'disk' : type === REC_NET ? 'network' : 'command']++
      r += size
    }
    return {events, malformed}
  }
}

// Text forms of IP addresses: IPv4 dotted quad, IPv6 per RFC 5952 (lower case, the longest run of
// two or more zero groups compressed, the first on a tie, IPv4-mapped in mixed notation).

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`
}

export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push(((bytes[offset + 2 * i] ?? 0) << 8) | (bytes[offset + 2 * i + 1] ?? 0))

  // ::ffff:a.b.c.d (IPv4-mapped), RFC 5952 section 5.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(bytes, offset + 12)}`
  }

  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  const head = hex.slice(0, bestStart).join(':')
  const tail = hex.slice(bestStart + bestLen).join(':')
  return `${head}::${tail}`
}

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
  /** The image as the host sees it, when the process is chrooted and it differs. */
  hostExe?: string
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
  /** The resolved path as the host sees it, when the process is chrooted and it differs. */
  hostPath?: string
  /** 'fd': from the opened file; 'joined': relative path joined to its resolved base dir. */
  resolvedFrom?: 'fd' | 'joined'
  flags: number
  mode: number
  dirfd: number
  /** fd or -errno. */
  returnCode: number
  pathTruncated: boolean
}

/** A TCP connect, folded UDP sends (or DNS queries), or an attempt the policy denied. */
export interface NetworkEvent extends Base {
  kind: 'network'
  version: 4 | 6
  srcAddr: string
  dstAddr: string
  /** The source port is not chosen yet when a connect is seen (SYN_SENT), so it is not here. */
  dstPort: number
  protocol: 'tcp' | 'udp'
  /** 0 connect, 1 send */
  operation: number
  /** 0 observed, 1 denied */
  action: number
  /** The sends a send record stands for. */
  sends: number
  /** The DNS message's first bytes (a query to port 53), else empty. */
  dns: Buffer
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

/** A session process ended (its last thread). */
export interface ExitEvent extends Base {
  kind: 'exit'
  /** The wait status: (status << 8), or the signal | 0x80 when it dumped core. */
  exitCode: number
  startNs: bigint
  endNs: bigint
}

export type KernelEvent = ExecEvent | OpenEvent | NetworkEvent | MigrateEvent | ExitEvent

// Maps typed kernel events to Teleport audit event bodies (session.command / disk / network) and
// er-shell's session.cgroup_escape.
import type {KernelEvent} from '../engine/events.js'
import type {EmittableBody} from '../events/index.js'

export interface MappingContext {
  /** cgroup id of the session cgroup. */
  sessionCgroupId: bigint
  /** Path of the session cgroup below the cgroup2 root, e.g. /teleport/<sid>. */
  sessionCgroupRel: string
}

/** True when relPath is the session cgroup or one of its descendants. */
export function insideSession(relPath: string, sessionRel: string): boolean {
  return relPath === sessionRel || relPath.startsWith(`${sessionRel}/`)
}

/** The audit event body for a kernel event, or undefined when it is not reported (a move inside the session). */
export function toAuditBody(ev: KernelEvent, ctx: MappingContext): EmittableBody | undefined {
  const task = ev.task
  const base = {
    pid: task.pid,
    cgroup_id: Number(task.cgroupId),
    program: task.program,
    ...(task.auditSessionId === undefined ? {} : {audit_session_id: task.auditSessionId}),
  }
  switch (ev.kind) {
    case 'exec':
      return {
        event: 'session.command',
        ...base,
        ppid: task.ppid,
        path: ev.path,
        argv: ev.argv,
        return_code: ev.returnCode,
        ...(ev.argvTruncated ? {argv_truncated: true} : {}),
        ...(ev.exe ? {exe: ev.exe} : {}),
      }
    case 'open':
      return {
        event: 'session.disk',
        ...base,
        path: ev.resolvedPath ?? ev.path,
        flags: ev.flags,
        return_code: ev.returnCode,
      }
    case 'connect':
      return {
        event: 'session.network',
        ...base,
        src_addr: ev.srcAddr,
        dst_addr: ev.dstAddr,
        dst_port: ev.dstPort,
        version: ev.version,
        operation: 0,
        action: 0,
      }
    case 'migrate':
      if (insideSession(ev.dstPath, ctx.sessionCgroupRel)) return undefined
      return {
        event: 'session.cgroup_escape',
        pid: ev.movedPid,
        program: ev.movedPid === task.pid ? task.program : '',
        cgroup_id: Number(ctx.sessionCgroupId),
        new_cgroup_id: Number(ev.dstCgroupId),
        new_cgroup_path: ev.dstPath,
      }
  }
}

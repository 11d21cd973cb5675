// Host audit logs and session files for fleet tests, written as `er-shell record` writes them
// (docs/event-schema.md, docs/file-layout.md): a data dir per simulated host, each with its own
// server_id (host_uuid) and host name, sessions of commands/network events ending in session.end.
import {randomUUID} from 'node:crypto'
import {appendFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'

export interface SimHost {
  dataDir: string
  serverId: string
  hostname: string
}

export function simHost(dataDir: string, hostname: string, serverId: string = randomUUID()): SimHost {
  mkdirSync(join(dataDir, 'log', serverId, 'sessions', 'default'), {recursive: true, mode: 0o700})
  writeFileSync(join(dataDir, 'host_uuid'), serverId, {mode: 0o600})
  return {dataDir, serverId, hostname}
}

export interface SimSession {
  sid: string
  lines: string[]
  /** Every event of the session (what its events.gz holds, print aside). */
  events: Array<Record<string, unknown>>
}

/**
 * One session's event lines: session.start, `commands` commands (program `programs[i % n]`), a
 * network connect per 10 commands, session.end; times from `startMs`, 1 ms apart.
 */
export function simSession(
  host: SimHost,
  options: {sid?: string; user?: string; login?: string; startMs?: number; commands?: number; programs?: string[]; end?: boolean} = {},
): SimSession {
  const sid = options.sid ?? randomUUID()
  const start = options.startMs ?? Date.now() - 60_000
  const programs = options.programs ?? ['ls', 'curl', 'cat']
  const common = (ei: number, ms: number) => ({
    ei,
    uid: randomUUID(),
    time: new Date(start + ms).toISOString(),
    cluster_name: host.hostname,
    sid,
    namespace: 'default',
    server_id: host.serverId,
    server_hostname: host.hostname,
    login: options.login ?? 'root',
    user: options.user ?? 'alice',
  })
  const events: Array<Record<string, unknown>> = []
  let ei = 0
  events.push({...common(ei++, 0), event: 'session.start', code: 'T2000I', size: '80:24', interactive: false, initial_command: ['bash', '-c', 'work']})
  const n = options.commands ?? 10
  let network = 0
  for (let i = 0; i < n; i++) {
    const program = programs[i % programs.length]!
    events.push({
      ...common(ei++, i + 1),
      event: 'session.command',
      code: 'T4000I',
      pid: 1000 + i,
      ppid: 999,
      cgroup_id: 4242,
      program,
      path: `/usr/bin/${program}`,
      argv: [`arg${i}`, 'file6.c'],
      return_code: 0,
    })
    if (i % 10 === 9) {
      network++
      events.push({
        ...common(ei++, i + 1),
        event: 'session.network',
        code: 'T4002I',
        pid: 1000 + i,
        cgroup_id: 4242,
        program,
        src_addr: '127.0.0.1',
        dst_addr: '127.0.0.1',
        dst_port: 8080,
        version: 4,
        operation: 0,
        action: 0,
        protocol: 'tcp',
      })
    }
  }
  if (options.end !== false) {
    const stop = new Date(start + n + 2).toISOString()
    events.push({
      ...common(ei++, n + 2),
      event: 'session.end',
      code: 'T2004I',
      enhanced_recording: true,
      interactive: false,
      participants: [options.user ?? 'alice'],
      session_start: new Date(start).toISOString(),
      session_stop: stop,
      initial_command: ['bash', '-c', 'work'],
      exit_code: 0,
      lost_events: {command: 0, disk: 0, network: 0},
      event_counts: {command: n, disk: 0, network, network_denied: 0, disk_filtered: 2},
    })
  }
  return {sid, events, lines: events.map((e) => JSON.stringify(e) + '\n')}
}

/** The host log file of a time (`YYYY-MM-DD.00:00:00.log`). */
export function hostLogPath(host: SimHost, atMs: number): string {
  return join(host.dataDir, 'log', host.serverId, `${new Date(atMs).toISOString().slice(0, 10)}.00:00:00.log`)
}

/** Appends lines to the host log of the first event's day (as the recorder does, O_APPEND). */
export function appendHostLog(host: SimHost, lines: string[]): void {
  if (lines.length === 0) return
  const first = JSON.parse(lines[0]!) as {time: string}
  appendFileSync(hostLogPath(host, Date.parse(first.time)), lines.join(''), {mode: 0o600})
}

/** Writes the session's recording files (events.gz, per-kind files, empty chunks, index, completed). */
export function writeSessionFiles(host: SimHost, session: SimSession): void {
  const dir = join(host.dataDir, 'log', host.serverId, 'sessions', 'default')
  const byType = (type: string) => session.lines.filter((_, i) => session.events[i]!.event === type).join('')
  writeFileSync(join(dir, `${session.sid}-0.events.gz`), gzipSync(session.lines.join('')), {mode: 0o600})
  writeFileSync(join(dir, `${session.sid}-0.chunks.gz`), gzipSync(Buffer.alloc(0)), {mode: 0o600})
  writeFileSync(join(dir, `${session.sid}-0.session.command-events.gz`), gzipSync(byType('session.command')), {mode: 0o600})
  writeFileSync(join(dir, `${session.sid}-0.session.network-events.gz`), gzipSync(byType('session.network')), {mode: 0o600})
  const index = ['events', 'chunks', 'session.command-events', 'session.network-events']
    .map((type) => JSON.stringify({file_name: `${session.sid}-0.${type === 'events' || type === 'chunks' ? type : type}.gz`, type, index: 0, offset: 0}))
    .join('\n')
  writeFileSync(join(dir, `${session.sid}.index`), index + '\n', {mode: 0o600})
  if (session.events.at(-1)?.event === 'session.end') writeFileSync(join(dir, `${session.sid}.completed`), '', {mode: 0o600})
}

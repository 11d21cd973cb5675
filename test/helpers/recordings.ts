// Deterministic recordings written with SessionWriter (no kernel needed), for the storage, replay
// and reading-command tests, and what reads them back.
import {randomUUID} from 'node:crypto'
import * as fs from 'node:fs'

import type {SessionCommon} from '../../src/events/types.js'
import {ensureServerId} from '../../src/storage/layout.js'
import {SessionWriter, type SessionWriterOptions} from '../../src/storage/session-writer.js'

export const SERVER_ID = '531dc1de-c2c9-49bd-a0e3-4f4f3a523f5f'
export const DEMO_SID = '86aca627-971d-4883-854d-d309ba04c658'
export const DEMO_START = Date.parse('2026-11-22T16:42:18.000Z')

export function common(user = 'alice', login = 'root'): SessionCommon {
  return {cluster_name: 'build-01', server_id: SERVER_ID, server_hostname: 'build-01', login, user}
}

export function command(pid: number, path: string, argv: string[], returnCode = 0, program = path.split('/').pop()!.slice(0, 15)) {
  return {event: 'session.command' as const, pid, ppid: 100, cgroup_id: 2360, program, path, argv, return_code: returnCode}
}

/** Session fields for a writer in dataDir, with that data dir's own server_id. */
export function commonFor(dataDir: string): SessionCommon {
  return {...common(), server_id: ensureServerId(dataDir)}
}

/** A writer for a new session (random sid) in dataDir. */
export async function newWriter(dataDir: string, extra: Partial<SessionWriterOptions> = {}): Promise<SessionWriter> {
  return SessionWriter.create({dataDir, sid: randomUUID(), common: commonFor(dataDir), ...extra})
}

/** The i-th of a series of distinct commands: curl of URL /i. */
export function commandBody(i: number) {
  return command(1000 + i, '/usr/bin/curl', [`http://127.0.0.1:8080/${i}`])
}

/**
 * The demo session (fixed times): a prompt, `echo hi`, `curl` with a connection, coloured output,
 * a file open, a progress line using CR, backspaces, a failed exec, a resize, and sequences a
 * replay must not send to a terminal (clipboard write, cursor position query).
 */
export async function writeDemoSession(dataDir: string, options: {sid?: string; start?: number; user?: string; end?: boolean} = {}): Promise<SessionWriter> {
  const start = options.start ?? DEMO_START
  const w = await SessionWriter.create({dataDir, sid: options.sid ?? DEMO_SID, common: common(options.user), startedAt: start})
  const at = (ms: number): number => start + ms
  w.emit({event: 'session.start', size: '80:24', interactive: true}, at(0))
  w.print(Buffer.from('$ '), at(100))
  w.print(Buffer.from('echo hi\r\n'), at(600))
  w.emit(command(101, '/bin/echo', ['hi']), at(620))
  w.print(Buffer.from('hi\r\n$ '), at(640))
  w.print(Buffer.from('curl -s http://127.0.0.1:8080/\r\n'), at(1200))
  w.emit(command(102, '/usr/bin/curl', ['-s', 'http://127.0.0.1:8080/']), at(1220))
  w.emit(
    {
      event: 'session.network',
      pid: 102,
      cgroup_id: 2360,
      program: 'curl',
      src_addr: '127.0.0.1',
      dst_addr: '127.0.0.1',
      dst_port: 8080,
      version: 4,
      operation: 0,
      action: 0,
    },
    at(1230),
  )
  w.print(Buffer.from('\x1b[31mred\x1b[0m ok\x1b]52;c;aGk=\x07\x1b[6n\r\n$ '), at(1250))
  w.emit({event: 'session.disk', pid: 103, cgroup_id: 2360, program: 'cat', path: '/etc/passwd', flags: 0, return_code: 3}, at(1300))
  w.print(Buffer.from('progress 10%\rprogress 100%\r\n'), at(1400))
  w.print(Buffer.from('typo\b\b\bxt  \r\n$ '), at(1500))
  w.resize(100, 30, at(1600))
  w.emit(command(104, '/nope', [], -2, 'bash'), at(1650))
  w.print(Buffer.from('bash: /nope: No such file or directory\r\n$ exit\r\n'), at(1700))
  if (options.end !== false) await w.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, at(1800))
  else await w.flush()
  return w
}

/** Output chunks at the given times (ms), each `chunk <i>\n`, and a command event at `commandAt` if given. */
export async function writeTimedSession(dataDir: string, sid: string, times: number[], options: {commandsAt?: number[]; start?: number} = {}): Promise<void> {
  const start = options.start ?? DEMO_START
  const w = await SessionWriter.create({dataDir, sid, common: common(), startedAt: start})
  w.emit({event: 'session.start', size: '80:24', interactive: true}, start)
  const commands = [...(options.commandsAt ?? [])]
  let c = 0
  for (const [i, ms] of times.entries()) {
    while (commands.length > 0 && commands[0]! <= ms) {
      c++
      w.emit(command(200 + c, `/bin/cmd${c}`, [`arg${c}`]), start + commands.shift()!)
    }
    w.print(Buffer.from(`chunk ${i}\n`), start + ms)
  }
  for (const ms of commands) {
    c++
    w.emit(command(200 + c, `/bin/cmd${c}`, [`arg${c}`]), start + ms)
  }
  await w.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, start + (times.at(-1) ?? 0) + 1)
}

/** Replaces each event's random uid with "UID" so outputs can be compared with golden files. */
export function normalizeUids(text: string): string {
  return text.replace(/("uid":\s*"|uid: )[0-9a-f-]{36}"?/g, (_m, prefix: string) => `${prefix}UID${prefix.endsWith('"') ? '"' : ''}`)
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

export async function collectBytes(iterable: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of iterable) parts.push(part)
  return Buffer.concat(parts)
}

/** A file's permission bits. */
export function mode(file: string): number {
  return fs.lstatSync(file).mode & 0o777
}

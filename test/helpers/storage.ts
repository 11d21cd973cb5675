// Shared helpers for the storage tests: temp data dirs, a writer factory, collecting iterators.
import {randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import type {SessionCommon} from '../../src/events/types.js'
import {ensureServerId} from '../../src/storage/layout.js'
import {SessionWriter, type SessionWriterOptions} from '../../src/storage/session-writer.js'

export function tempDir(prefix = 'er-storage-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, {recursive: true, force: true})
}

export function commonFor(dataDir: string): SessionCommon {
  return {
    cluster_name: 'build-01',
    server_id: ensureServerId(dataDir),
    server_hostname: 'build-01',
    login: 'root',
    user: 'alice',
  }
}

export async function newWriter(
  dataDir: string,
  extra: Partial<SessionWriterOptions> = {},
): Promise<SessionWriter> {
  return SessionWriter.create({dataDir, sid: randomUUID(), common: commonFor(dataDir), ...extra})
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

export function commandBody(i: number) {
  return {
    event: 'session.command' as const,
    pid: 1000 + i,
    ppid: 999,
    cgroup_id: 2360,
    program: 'curl',
    path: '/usr/bin/curl',
    argv: [`http://127.0.0.1:8080/${i}`],
    return_code: 0,
  }
}

export function mode(file: string): number {
  return fs.lstatSync(file).mode & 0o777
}

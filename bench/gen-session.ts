// Generates a finished recording with N events (commands, connections, file opens and terminal
// output, the mix of a busy session) through the real SessionWriter, for replay/export benchmarks.
// Run alone: node dist/bench/gen-session.js DATA_DIR [N]
import {randomUUID} from 'node:crypto'

import type {EmittableBody} from '../src/events/types.js'
import {SessionWriter, ensureServerId} from '../src/storage/index.js'

export interface GeneratedSession {
  sid: string
  events: number
  printBytes: number
}

export async function generateSession(dataDir: string, total: number): Promise<GeneratedSession> {
  const sid = randomUUID()
  const start = Date.UTC(2026, 0, 1, 12, 0, 0)
  const writer = await SessionWriter.create({
    dataDir,
    sid,
    startedAt: start,
    common: {cluster_name: 'bench', server_id: ensureServerId(dataDir), server_hostname: 'bench', login: 'root', user: 'root'},
    onError: (error) => {
      throw error
    },
  })
  const bpf = (i: number) => ({pid: 10000 + (i % 30000), cgroup_id: 4242, program: ['bash', 'curl', 'make', 'cc1', 'git'][i % 5]!})
  let events = 0
  let printBytes = 0
  const emit = (body: EmittableBody, at: number) => {
    events++
    return writer.emit(body, at)
  }
  emit({event: 'session.start', size: '120:40', interactive: true} as EmittableBody, start)
  let i = 0
  // 2 events are session.data + session.end
  while (events < total - 2) {
    const at = start + i * 5
    let ok: boolean
    switch (i % 10) {
      case 0:
      case 1:
      case 2: {
        const line = Buffer.from(`\x1b[01;32mroot@bench\x1b[0m:~/src$ make -j2 target-${i}\r\ncc -O2 -c file${i}.c -o file${i}.o\r\n`)
        printBytes += line.length
        events++
        ok = writer.print(line, at)
        break
      }
      case 3:
        ok = emit(
          {
            event: 'session.network',
            ...bpf(i),
            src_addr: '10.0.0.5',
            dst_addr: '93.184.216.34',
            dst_port: 443,
            version: 4,
            operation: 0,
            action: 0,
          } as EmittableBody,
          at,
        )
        break
      case 4:
      case 5:
        ok = emit({event: 'session.disk', ...bpf(i), path: `/home/alice/src/file${i}.c`, flags: 0, return_code: 3} as EmittableBody, at)
        break
      default:
        ok = emit(
          {
            event: 'session.command',
            ...bpf(i),
            ppid: 9999,
            path: '/usr/bin/cc',
            argv: ['-O2', '-c', `file${i}.c`, '-o', `file${i}.o`],
            return_code: 0,
          } as EmittableBody,
          at,
        )
    }
    if (!ok) await writer.drained()
    i++
  }
  const end = start + i * 5
  emit({event: 'session.data', tx: printBytes, rx: 0} as EmittableBody, end)
  events++ // session.end
  const r = await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}} as Parameters<SessionWriter['end']>[0], end)
  if (!r.completed) throw r.error ?? new Error('session not completed')
  return {sid, events, printBytes}
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2]
  if (!dir) {
    console.error('usage: node dist/bench/gen-session.js DATA_DIR [N]')
    process.exit(2)
  }
  const g = await generateSession(dir, Number(process.argv[3] ?? 100000))
  console.log(JSON.stringify(g))
}

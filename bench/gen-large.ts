// Generates a large finished recording for the HTML player's measurements: `events` events of
// which a third are commands, connections (some denied) and file opens, the rest terminal output
// adding up to `outputBytes`; through the real SessionWriter.
// Run alone: node dist/bench/gen-large.js DATA_DIR [EVENTS] [OUTPUT_MB]
import {randomUUID} from 'node:crypto'

import type {EmittableBody} from '../src/events/types.js'
import {SessionWriter, ensureServerId} from '../src/storage/index.js'

export interface LargeSession {
  sid: string
  events: number
  outputBytes: number
}

export async function generateLargeSession(dataDir: string, events = 100_000, outputBytes = 100 * 1024 * 1024): Promise<LargeSession> {
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
  writer.emit({event: 'session.start', size: '120:40', interactive: true}, start)
  const prints = Math.floor((events - 2) * (2 / 3))
  const perPrint = Math.ceil(outputBytes / prints)
  const line = (i: number) => `\x1b[32m${String(i).padStart(8, '0')}\x1b[0m cc -O2 -c src/file${i % 977}.c -o build/file${i % 977}.o # ${'x'.repeat(40)}\r\n`
  let written = 0
  let n = 1
  for (let i = 0; n < events - 1; i++) {
    const at = start + i * 20
    let ok = true
    if (i % 3 !== 2) {
      let text = ''
      while (text.length < perPrint) text += line(i * 100 + text.length)
      const data = Buffer.from(text.slice(0, Math.max(1, Math.min(perPrint, outputBytes - written))))
      written += data.length
      ok = writer.print(data, at)
    } else {
      const pid = 10000 + (i % 30000)
      const body: EmittableBody =
        i % 9 === 2
          ? {
              event: 'session.command',
              pid,
              ppid: 1,
              cgroup_id: 4242,
              program: 'cc',
              path: '/usr/bin/cc',
              argv: ['-O2', '-c', `src/file${i % 977}.c`],
              return_code: 0,
            }
          : i % 9 === 5
            ? {
                event: 'session.network',
                pid,
                cgroup_id: 4242,
                program: 'curl',
                src_addr: '0.0.0.0',
                dst_addr: '10.1.2.3',
                dst_port: 443,
                version: 4,
                operation: 0,
                action: i % 27 === 5 ? 1 : 0,
              }
            : {event: 'session.disk', pid, cgroup_id: 4242, program: 'cc', path: `/usr/include/h${i % 500}.h`, flags: 0, return_code: 3}
      ok = writer.emit(body, at)
    }
    n++
    if (!ok) await writer.drained()
  }
  await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, start + n * 20)
  return {sid, events: n + 1, outputBytes: written}
}

if (process.argv[1]?.endsWith('gen-large.js')) {
  const dir = process.argv[2]!
  const r = await generateLargeSession(dir, Number(process.argv[3] ?? 100_000), Number(process.argv[4] ?? 100) * 1024 * 1024)
  console.log(JSON.stringify(r))
}

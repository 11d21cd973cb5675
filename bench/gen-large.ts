// Generates a large finished recording for the HTML player's measurements: `timeline` enhanced
// events (commands, connections, some denied, file opens) between `prints` terminal writes that
// add up to `outputBytes`; through the real SessionWriter.
// Run alone: node dist/bench/gen-large.js DATA_DIR [TIMELINE] [PRINTS] [OUTPUT_MB]
import {randomUUID} from 'node:crypto'

import type {EmittableBody} from '../src/events/types.js'
import {SessionWriter, ensureServerId} from '../src/storage/index.js'

export interface LargeSession {
  sid: string
  events: number
  timeline: number
  outputBytes: number
}

export interface LargeOptions {
  timeline?: number
  prints?: number
  outputBytes?: number
}

export async function generateLargeSession(dataDir: string, options: LargeOptions = {}): Promise<LargeSession> {
  const timeline = options.timeline ?? 100_000
  const prints = options.prints ?? 50_000
  const outputBytes = options.outputBytes ?? 100 * 1024 * 1024
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
  const perPrint = Math.ceil(outputBytes / prints)
  const line = (i: number) => `\x1b[32m${String(i).padStart(8, '0')}\x1b[0m cc -O2 -c src/file${i % 977}.c -o build/file${i % 977}.o # ${'x'.repeat(40)}\r\n`
  const total = timeline + prints
  let written = 0
  let printed = 0
  let events = 0
  for (let i = 0; i < total; i++) {
    const at = start + i * 10
    let ok: boolean
    // Spread the prints evenly among the other events.
    if (Math.floor(((i + 1) * prints) / total) > printed) {
      printed++
      let text = ''
      while (text.length < perPrint) text += line(i * 100 + text.length)
      const data = Buffer.from(text.slice(0, Math.max(1, Math.min(perPrint, outputBytes - written))))
      written += data.length
      ok = writer.print(data, at)
    } else {
      events++
      const pid = 10000 + (i % 30000)
      const body: EmittableBody =
        i % 3 === 0
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
          : i % 3 === 1
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
                action: i % 10 === 1 ? 1 : 0,
              }
            : {event: 'session.disk', pid, cgroup_id: 4242, program: 'cc', path: `/usr/include/h${i % 500}.h`, flags: 0, return_code: 3}
      ok = writer.emit(body, at)
    }
    if (!ok) await writer.drained()
  }
  await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, start + total * 10)
  return {sid, events: total + 2, timeline: events, outputBytes: written}
}

if (process.argv[1]?.endsWith('gen-large.js')) {
  const [dir, timeline, prints, mb] = process.argv.slice(2)
  const r = await generateLargeSession(dir!, {
    timeline: Number(timeline ?? 100_000),
    prints: Number(prints ?? 50_000),
    outputBytes: Number(mb ?? 100) * 1024 * 1024,
  })
  console.log(JSON.stringify(r))
}

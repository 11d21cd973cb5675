// A deterministic recording with every kind of session.network event (no kernel needed): an
// observed TCP connect, folded UDP sends with a DNS question, a denied TCP connect, a denied UDP
// send over IPv6, and a connect as recordings made before er-shell wrote `protocol` have it.
import type {SessionNetworkBody} from '../../src/events/types.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {DEMO_START, command, common} from './recordings.js'

export const NET_SID = '4e7e0000-0000-4000-8000-00000000000a'

const base = {event: 'session.network' as const, cgroup_id: 2360}

/** The network events of the recording, in order (their times: NET_TIMES). */
export const NET_EVENTS: SessionNetworkBody[] = [
  {...base, pid: 105, program: 'curl', src_addr: '127.0.0.1', dst_addr: '127.0.0.1', dst_port: 8080, version: 4, operation: 0, action: 0, protocol: 'tcp'},
  {
    ...base,
    pid: 106,
    program: 'dig',
    src_addr: '127.0.0.1',
    dst_addr: '127.0.0.53',
    dst_port: 53,
    version: 4,
    operation: 1,
    action: 0,
    protocol: 'udp',
    sends: 3,
    dns_name: 'example.com',
    dns_type: 'A',
  },
  {...base, pid: 107, program: 'curl', src_addr: '0.0.0.0', dst_addr: '10.0.0.1', dst_port: 443, version: 4, operation: 0, action: 1, protocol: 'tcp'},
  {...base, pid: 108, program: 'nc', src_addr: '::', dst_addr: '2001:db8::1', dst_port: 5353, version: 6, operation: 1, action: 1, protocol: 'udp'},
  {...base, pid: 109, program: 'wget', src_addr: '127.0.0.1', dst_addr: '127.0.0.1', dst_port: 80, version: 4, operation: 0, action: 0},
]

/** Writes the recording: session.start, one command, the network events, session.end with event_counts. */
export async function writeNetworkSession(dataDir: string, sid = NET_SID): Promise<void> {
  const start = DEMO_START
  const w = await SessionWriter.create({dataDir, sid, common: common(), startedAt: start})
  w.emit({event: 'session.start', size: '80:24', interactive: false}, start)
  w.emit(command(105, '/usr/bin/curl', ['-s', 'http://127.0.0.1:8080/']), start + 100)
  w.print(Buffer.from('ok\r\n'), start + 150)
  for (const [i, body] of NET_EVENTS.entries()) w.emit(body, start + 200 + i * 100)
  w.print(Buffer.from('done\r\n'), start + 900)
  await w.end(
    {
      interactive: false,
      exit_code: 0,
      lost_events: {command: 0, disk: 0, network: 0},
      event_counts: {command: 1, disk: 0, network: NET_EVENTS.length, network_denied: 2, exit: 0, disk_filtered: 0},
    },
    start + 1000,
  )
}

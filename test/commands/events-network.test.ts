// `events` and `replay` on network events: --denied and --protocol, denied attempts shown apart,
// UDP sends with their count and DNS question, session.end's denied count; --json lines as recorded.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {hasStackTrace, runCli} from '../helpers/cli.js'
import {NET_SID, writeNetworkSession} from '../helpers/network-recording.js'
import {removeDir, tempDir} from '../helpers/temp.js'

interface Ev {
  ei: number
  event: string
  pid?: number
  action?: number
  protocol?: string
}

describe('events and replay: network events', () => {
  let dataDir: string
  const events = (...args: string[]) => runCli(['events', '--data-dir', dataDir, ...args])
  const jsonLines = (...args: string[]): string[] => {
    const r = events('--json', ...args)
    assert.equal(r.status, 0, r.stderr)
    return r.stdout === '' ? [] : r.stdout.trimEnd().split('\n')
  }

  before(async () => {
    dataDir = tempDir('er-events-net-')
    await writeNetworkSession(dataDir)
  })
  after(() => removeDir(dataDir))

  it('the table: protocol, folded sends (×N) and the DNS question; denied attempts say so, without a source', () => {
    const r = events(NET_SID, '--type', 'network')
    assert.equal(r.status, 0, r.stderr)
    assert.equal(
      r.stdout,
      [
        'TIME (UTC)               TYPE           PROGRAM              PID  WHAT',
        '2026-11-22 16:42:18.200  network        curl                 105  connect 127.0.0.1 → 127.0.0.1:8080 (tcp)',
        '2026-11-22 16:42:18.300  network        dig                  106  send 127.0.0.1 → 127.0.0.53:53 (udp) ×3 DNS A example.com',
        '2026-11-22 16:42:18.400  network        curl                 107  denied connect → 10.0.0.1:443 (tcp)',
        '2026-11-22 16:42:18.500  network        nc                   108  denied send → [2001:db8::1]:5353 (udp)',
        '2026-11-22 16:42:18.600  network        wget                 109  connect 127.0.0.1 → 127.0.0.1:80',
        '',
      ].join('\n'),
    )
  })

  it('--denied: only the attempts the policy refused, in every session or one; --json lines exactly as recorded', () => {
    const all = jsonLines(NET_SID)
    const denied = jsonLines(NET_SID, '--denied')
    assert.deepEqual(
      denied,
      all.filter((line) => (JSON.parse(line) as Ev).action === 1),
    )
    assert.deepEqual(
      denied.map((line) => (JSON.parse(line) as Ev).pid),
      [107, 108],
    )
    const table = events('--denied')
    assert.equal(table.status, 0, table.stderr)
    const rows = table.stdout.trimEnd().split('\n')
    assert.match(rows[0]!, /^TIME \(UTC\) +SESSION +USER +LOGIN +TYPE/)
    assert.equal(rows.length, 3)
    assert.ok(rows.slice(1).every((row) => row.includes(' denied ')))
  })

  it('--protocol: tcp (recordings without the field held TCP connects only) or udp; it combines with --denied', () => {
    const pids = (...args: string[]) => jsonLines(NET_SID, ...args).map((line) => (JSON.parse(line) as Ev).pid)
    assert.deepEqual(pids('--protocol', 'udp'), [106, 108])
    assert.deepEqual(pids('--protocol', 'TCP'), [105, 107, 109])
    assert.deepEqual(pids('--protocol', 'udp', '--denied'), [108])
    assert.deepEqual(pids('--denied', '--program', '^curl$'), [107])
    assert.deepEqual(pids('--denied', '--type', 'command'), [])
  })

  it('an unknown --protocol is one line on stderr, exit 2', () => {
    const r = events(NET_SID, '--protocol', 'quic')
    assert.equal(r.status, 2)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^er-shell: --protocol: unknown protocol "quic" \(known: tcp, udp\)/)
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
    assert.ok(!hasStackTrace(r.stderr))
  })

  it("session.end's event_counts: the row says how many attempts were denied", () => {
    const r = events(NET_SID, '--type', 'end')
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /end +exit 0, 2 network attempts denied\n$/)
    const [end] = jsonLines(NET_SID, '--type', 'end').map((line) => JSON.parse(line) as {event_counts: unknown})
    assert.deepEqual(end!.event_counts, {command: 1, disk: 0, network: 5, network_denied: 2, exit: 0, disk_filtered: 0})
  })

  it('replay shows the denied attempts and the DNS question in step with the output, and as asciicast markers', () => {
    const r = runCli(['replay', NET_SID, '--data-dir', dataDir, '--speed', '64'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /\[er-shell\] network dig: send 127\.0\.0\.1 → 127\.0\.0\.53:53 \(udp\) ×3 DNS A example\.com\r\n/)
    assert.match(r.stdout, /\[er-shell\] network curl: denied connect → 10\.0\.0\.1:443 \(tcp\)\r\n/)
    assert.match(r.stdout, /\[er-shell\] network nc: denied send → \[2001:db8::1\]:5353 \(udp\)\r\n/)
    const cast = runCli(['replay', NET_SID, '--data-dir', dataDir, '--format', 'asciicast'])
    assert.equal(cast.status, 0, cast.stderr)
    const markers = cast.stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((line) => JSON.parse(line) as [number, string, string])
      .filter((e) => e[1] === 'm' && e[2].startsWith('network'))
      .map((e) => e[2])
    assert.deepEqual(markers, [
      'network curl: connect 127.0.0.1 → 127.0.0.1:8080 (tcp)',
      'network dig: send 127.0.0.1 → 127.0.0.53:53 (udp) ×3 DNS A example.com',
      'network curl: denied connect → 10.0.0.1:443 (tcp)',
      'network nc: denied send → [2001:db8::1]:5353 (udp)',
      'network wget: connect 127.0.0.1 → 127.0.0.1:80',
    ])
  })
})

// Hostile fields read back from a recording — an event type, exit_code, size, tx/rx, lost_events,
// a network event's protocol and DNS question, a session file's name — are printed escaped by every human output (events, sessions, replay's
// event lines, reader warnings and errors): an OSC 52 clipboard write never reaches the terminal.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {SessionWriter} from '../../src/storage/session-writer.js'
import {sessionsDir} from '../../src/storage/layout.js'
import {runCli} from '../helpers/cli.js'
import {DEMO_START, SERVER_ID, command, common} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const SID = '5ec0b000-0000-4000-8000-000000000008'
/** A clipboard write (OSC 52) in 7-bit and 8-bit form, and a bidi override. */
const OSC = '\x1b]52;c;aGk=\x07'
const OSC8 = '\u009d52;c;aGk=\u009c'
const HOSTILE = `${OSC}${OSC8}\u202e`

/** ESC, BEL, other C0 but CR/LF, DEL, C1, bidi controls. */
const RAW_CONTROL = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

function assertClean(text: string, where: string): void {
  const m = RAW_CONTROL.exec(text)
  assert.equal(
    m,
    null,
    `${where}: raw U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} in ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 20))}`,
  )
}

describe('security: hostile recording fields in human output', () => {
  let dataDir: string

  before(async () => {
    dataDir = tempDir('er-sec-fields-')
    const w = await SessionWriter.create({dataDir, sid: SID, common: common(), startedAt: DEMO_START})
    const emit = (body: Record<string, unknown>, ms: number): void => void w.emit(body as never, DEMO_START + ms)
    emit({event: 'session.start', size: HOSTILE, interactive: false}, 0)
    w.print(Buffer.from('plain\r\n'), DEMO_START + 5)
    w.emit(command(101, '/bin/echo', ['hi']), DEMO_START + 10)
    emit({event: 'resize', size: HOSTILE}, 20)
    emit({event: `session.${HOSTILE}`, pid: 7, program: 'x'}, 30)
    emit({event: 'session.data', tx: HOSTILE, rx: HOSTILE}, 40)
    const network = {event: 'session.network', pid: 8, cgroup_id: 1, program: 'dig', src_addr: HOSTILE, dst_addr: HOSTILE, dst_port: 53, version: 4}
    emit({...network, operation: 1, action: 0, protocol: HOSTILE, sends: HOSTILE, dns_name: HOSTILE, dns_type: HOSTILE}, 42)
    emit({...network, operation: 0, action: 1, protocol: 'udp', dns_name: HOSTILE}, 44)
    w.print(Buffer.from('more\r\n'), DEMO_START + 50)
    await w.end(
      {interactive: false, exit_code: HOSTILE, lost_events: {command: HOSTILE, disk: 1, network: 0}, event_counts: {network_denied: HOSTILE}} as never,
      DEMO_START + 60,
    )
    // A file whose name makes a session of its own, and a reader warning naming it.
    writeFileSync(join(sessionsDir(dataDir, SERVER_ID), `${HOSTILE}-0.events.gz`), 'not gzip')
  })
  after(() => removeDir(dataDir))

  it('events (one session and all sessions): rows and warnings escaped', () => {
    const one = runCli(['events', SID, '--data-dir', dataDir, '--type', 'start,end,resize,data,command,network'])
    assert.equal(one.status, 0, one.stderr)
    assert.match(one.stdout, /\\x1b\]52;c;aGk=\\x07/, 'the field is shown, escaped')
    assertClean(one.stdout, 'events SID')
    assertClean(one.stderr, 'events SID stderr')
    const all = runCli(['events', '--data-dir', dataDir])
    assert.ok(all.stdout.includes('\\x1b]52'), all.stdout)
    assertClean(all.stdout, 'events')
    assert.match(all.stderr, /warning: .*\\x1b\]52/, 'the file name in the warning, escaped')
    assertClean(all.stderr, 'events stderr')
  })

  it('events SID of the session named by the hostile file: the error is escaped', () => {
    const r = runCli(['events', HOSTILE.slice(0, 4), '--data-dir', dataDir])
    assertClean(r.stdout + r.stderr, 'events <hostile prefix>')
  })

  it('sessions: table cells and warnings escaped', () => {
    const r = runCli(['sessions', '--data-dir', dataDir])
    assert.equal(r.status, 0, r.stderr)
    assertClean(r.stdout, 'sessions')
    assertClean(r.stderr, 'sessions stderr')
  })

  it('replay: event lines (pty) and asciicast markers escaped', () => {
    const pty = runCli(['replay', SID, '--data-dir', dataDir])
    assert.equal(pty.status, 0, pty.stderr)
    assert.match(pty.stdout, /\[er-shell\] command echo/)
    assert.match(pty.stdout, /\[er-shell\] network dig: denied connect → /)
    assertClean(pty.stdout, 'replay (pty)')
    assertClean(pty.stderr, 'replay (pty) stderr')
    const cast = runCli(['replay', SID, '--data-dir', dataDir, '--format', 'asciicast'])
    assert.equal(cast.status, 0, cast.stderr)
    assertClean(cast.stdout, 'asciicast')
  })

  it('replay of the damaged hostile-named session: warnings and the error escaped', () => {
    const r = runCli(['replay', HOSTILE.slice(0, 2), '--data-dir', dataDir, '--format', 'text'])
    assert.notEqual(r.status, 0)
    assertClean(r.stdout, 'replay <hostile> stdout')
    assertClean(r.stderr, 'replay <hostile> stderr')
  })
})

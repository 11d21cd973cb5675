// End to end against real recordings made by `er-shell record` (needs root and a host that can record).
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {kernelTestsSkipReason, runCli} from '../helpers/cli.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const skip = kernelTestsSkipReason()

describe('replay, sessions, events on a real recording', {skip}, () => {
  let dataDir: string
  let sid: string
  const script = 'echo hello; sleep 0.3; /bin/true one two; curl -s -m 1 http://127.0.0.1:9/; printf "\\033]52;c;eA==\\007\\033[6ndone\\n"; exit 3'

  before(() => {
    dataDir = tempDir('er-e2e-')
    const r = runCli(['record', '--quiet', '--data-dir', dataDir, '-c', script])
    assert.equal(r.status, 3, r.stderr)
    const list = runCli(['sessions', '--json', '--data-dir', dataDir])
    assert.equal(list.status, 0, list.stderr)
    const rows = JSON.parse(list.stdout) as Array<{sid: string}>
    assert.equal(rows.length, 1)
    sid = rows[0]!.sid
  })
  after(() => removeDir(dataDir))

  it('sessions --json: finished, exit 3, commands and a connection counted, nothing lost', () => {
    const [row] = JSON.parse(runCli(['sessions', '--json', '--data-dir', dataDir]).stdout) as Array<Record<string, unknown>>
    assert.equal(row!.unfinished, false)
    assert.equal(row!.exit_code, 3)
    assert.equal(row!.interactive, false)
    assert.ok((row!.commands as number) >= 3, `commands ${String(row!.commands)}`)
    assert.equal(row!.network, 1)
    assert.deepEqual(row!.lost_events, {command: 0, disk: 0, network: 0})
    assert.equal(typeof row!.session_stop, 'string')
  })

  it('events: who ran curl, with the connection; commands numbered', () => {
    const r = runCli(['events', '--data-dir', dataDir, '--command', 'curl'])
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, new RegExp(`${sid.slice(0, 8)} +root +root +command +curl +\\d+ +#\\d /usr/bin/curl -s -m 1 http://127\\.0\\.0\\.1:9/`))
    const net = runCli(['events', sid.slice(0, 8), '--data-dir', dataDir, '--type', 'network', '--json'])
    const [event] = net.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.equal(event!.dst_port, 9)
    assert.equal(event!.program, 'curl')
  })

  it('replay --format text has the output; pty drops the clipboard write and the query; events in step', () => {
    const text = runCli(['replay', sid, '--data-dir', dataDir, '--format', 'text'])
    assert.equal(text.status, 0, text.stderr)
    assert.equal(text.stdout, 'hello\ndone\n')
    const pty = runCli(['replay', sid, '--data-dir', dataDir])
    assert.equal(pty.status, 0, pty.stderr)
    assert.doesNotMatch(pty.stdout, /\x1b\]52;|\x1b\[6n/)
    assert.match(pty.stdout, /\[er-shell\] command true: \/bin\/true one two\r\n/)
    const bash = pty.stdout.indexOf('[er-shell] command bash:')
    assert.ok(bash >= 0 && bash < pty.stdout.indexOf('hello'), 'the shell command is shown before its output')
  })

  it('replay --at /bin/true starts there; asciicast and json export are complete', () => {
    const at = runCli(['replay', sid, '--data-dir', dataDir, '--format', 'text', '--at', '^/bin/true'])
    assert.equal(at.status, 0, at.stderr)
    assert.equal(at.stdout, 'done\n')
    const cast = runCli(['replay', sid, '--data-dir', dataDir, '--format', 'asciicast'])
    const [header, ...events] = cast.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown)
    assert.equal((header as {version: number}).version, 2)
    assert.ok((events as Array<[number, string, string]>).some((e) => e[1] === 'm' && e[2].includes('/bin/true one two')))
    const json = runCli(['replay', sid, '--data-dir', dataDir, '--format', 'json'])
      .stdout.trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as {event: string})
    assert.equal(json[0]!.event, 'session.start')
    assert.equal(json.at(-1)!.event, 'session.end')
  })
})

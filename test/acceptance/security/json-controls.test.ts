// A recorded program whose arguments hold terminal controls (C1 CSI/OSC, DEL, bidi overrides):
// every output that can reach a terminal — the event files and the host log, events --json,
// replay --format json|yaml, sessions --json, live lines — carries them escaped, and JSON and YAML
// still parse back to the recorded strings.
import assert from 'node:assert/strict'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {describe, it} from 'node:test'

import {parseAllDocuments} from 'yaml'

import {hasStackTrace, kernelTestsSkipReason, runCli} from '../../helpers/cli.js'
import {commandsOf, eventsOf, guardLeaks, onlySession, record} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

/** What must never appear raw in an output: C0 but LF, DEL, C1, bidi controls. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u

/** Each hostile argument: 8-bit CSI (a cursor report request), 8-bit OSC 52 (clipboard), DEL, RLO, LRI, RLM, ALM, ESC. */
const HOSTILE = ['\u009b6n', '\u009d52;c;aGk=\u0007', 'del\u007f', 'gpj.\u202eexe', '\u2066iso\u2069', '\u200fm\u061c', '\u001b[2J']

function assertNoRawControls(text: string, where: string): void {
  const m = RAW_CONTROL.exec(text)
  assert.equal(
    m,
    null,
    `${where}: raw U+${m?.[0].codePointAt(0)?.toString(16).padStart(4, '0')} at ${m?.index}: ${JSON.stringify(text.slice(Math.max(0, (m?.index ?? 0) - 20), (m?.index ?? 0) + 20))}`,
  )
}

describe('security: controls in recorded strings are escaped in JSON, YAML, event files and the host log', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-sec-json-'})

  it('a recorded program with C1, DEL and bidi controls in its argv', async () => {
    const d = dataDir()
    const r = await record(d, ['--', '/usr/bin/printf', 'x%s', ...HOSTILE])
    assert.equal(r.code, 0, r.stderr)
    const ref = onlySession(d)
    const sid = ref.sid

    // The recording holds the strings themselves (escapes are lossless).
    const events = await eventsOf(ref)
    const printf = commandsOf(events).find((c) => c.path === '/usr/bin/printf')
    assert.ok(printf, 'printf recorded')
    assert.deepEqual(printf.argv, ['x%s', ...HOSTILE])
    assert.deepEqual((events[0] as {initial_command?: string[]}).initial_command, ['/usr/bin/printf', 'x%s', ...HOSTILE])

    // Event files (the native line formatter writes command lines; the writer the rest) and the host log.
    for (const name of readdirSync(ref.paths.dir).filter((n) => n.startsWith(sid) && n.endsWith('events.gz'))) {
      assertNoRawControls(gunzipSync(readFileSync(join(ref.paths.dir, name))).toString('utf8'), name)
    }
    const serverDir = join(
      d,
      'log',
      readdirSync(join(d, 'log')).find((n) => /^[0-9a-f-]{36}$/.test(n))!,
    )
    const hostLogs = readdirSync(serverDir).filter((n) => n.endsWith('.log'))
    assert.ok(hostLogs.length > 0, 'a host log')
    let hostLog = ''
    for (const name of hostLogs) hostLog += readFileSync(join(serverDir, name), 'utf8')
    assert.ok(hostLog.includes('\\u009b6n') && hostLog.includes('\\u202eexe'), 'the host log holds the escapes')
    assertNoRawControls(hostLog, 'host log')
    const fromHostLog = hostLog
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.ok(fromHostLog.some((e) => e.sid === sid && e.path === '/usr/bin/printf' && JSON.stringify(e.argv) === JSON.stringify(['x%s', ...HOSTILE])))

    // events --json
    const ev = runCli(['events', sid, '--data-dir', d, '--json', '--command', 'printf'])
    assert.equal(ev.status, 0, ev.stderr)
    assertNoRawControls(ev.stdout, 'events --json')
    assert.deepEqual((JSON.parse(ev.stdout.trim().split('\n')[0]!) as {argv: string[]}).argv, ['x%s', ...HOSTILE])

    // replay --format json and yaml
    const json = runCli(['replay', sid, '--data-dir', d, '--format', 'json'])
    assert.equal(json.status, 0, json.stderr)
    assertNoRawControls(json.stdout, 'replay --format json')
    const jsonEvents = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(jsonEvents.find((e) => e.path === '/usr/bin/printf')?.argv, ['x%s', ...HOSTILE])
    const yaml = runCli(['replay', sid, '--data-dir', d, '--format', 'yaml'])
    assert.equal(yaml.status, 0, yaml.stderr)
    assertNoRawControls(yaml.stdout, 'replay --format yaml')
    const yamlEvents = parseAllDocuments(yaml.stdout, {version: '1.1'}).map((doc) => doc.toJS() as Record<string, unknown>)
    assert.deepEqual(yamlEvents, jsonEvents, 'YAML reads back as the JSON does')

    // sessions --json
    const sessions = runCli(['sessions', '--data-dir', d, '--json'])
    assert.equal(sessions.status, 0, sessions.stderr)
    assertNoRawControls(sessions.stdout, 'sessions --json')
    assert.deepEqual((JSON.parse(sessions.stdout) as Array<{initial_command: string[]}>)[0]!.initial_command, ['/usr/bin/printf', 'x%s', ...HOSTILE])

    // Live lines (stderr of record) and the human tables.
    assertNoRawControls(r.stderr, 'live lines')
    assert.ok(!hasStackTrace(r.stderr))
    const table = runCli(['events', sid, '--data-dir', d])
    assert.equal(table.status, 0, table.stderr)
    assertNoRawControls(table.stdout, 'events table')
    const list = runCli(['sessions', '--data-dir', d])
    assertNoRawControls(list.stdout, 'sessions table')
  })
})

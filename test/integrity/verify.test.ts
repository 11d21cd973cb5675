// Tamper evidence (docs/integrity.md), without root: recordings written by SessionWriter (the
// writer `record` uses), then really tampered with — bytes edited inside the gzip files and
// recompressed, lines dropped, swapped and appended, files cut, sessions deleted, checkpoints
// rewritten with the keys an attacker who became root later has, the host secret replaced — and
// `er-shell verify` (the real CLI) must name each exactly. Honest recordings, also cut by SIGKILL
// and written by concurrent processes, must verify.
import assert from 'node:assert/strict'
import {fork} from 'node:child_process'
import {createHash, randomBytes, randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, describe, it} from 'node:test'
import * as zlib from 'node:zlib'

import {checkpointMacText} from '../../src/integrity/format.js'
import {macOf, ratchet, readRatchet} from '../../src/integrity/keys.js'
import type {VerifyReport} from '../../src/commands/verify.js'
import {ensureServerId} from '../../src/storage/layout.js'
import {findSessions, type SessionRef} from '../../src/storage/reader.js'
import {SessionWriter} from '../../src/storage/session-writer.js'
import {execFileSync} from 'node:child_process'

import {rootSkipReason, runCli} from '../helpers/cli.js'
import {command, common} from '../helpers/recordings.js'
import {removeTempDirs, tempDir} from '../helpers/temp.js'

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'storage', 'fixtures', 'kill-writer.js')
const START = Date.parse('2026-11-22T16:42:18.000Z')

after(() => removeTempDirs())

/**
 * A session with four stretches, each ended by a flush (so a checkpoint): events 0–5, 6–11, 12–17,
 * 18–23, then session.end (24) and the seal. Each stretch: a command, output, a disk event.
 */
async function recordSession(
  dataDir: string,
  sid = randomUUID(),
  options: {keep?: (writer: SessionWriter, stretch: number) => void} = {},
): Promise<SessionRef> {
  const writer = await SessionWriter.create({dataDir, sid, common: {...common(), server_id: ensureServerId(dataDir)}, startedAt: START})
  writer.emit({event: 'session.start', size: '80:24', interactive: true}, START)
  for (let s = 0; s < 4; s++) {
    const at = START + 1000 * (s + 1)
    if (s > 0) writer.emit({event: 'resize', size: `${80 + s}:24`}, at)
    writer.print(Buffer.from(`$ cmd${s}\r\n`), at + 1)
    writer.emit(command(100 + s, `/bin/cmd${s}`, [`arg${s}`, 'secret-value']), at + 2)
    writer.print(Buffer.from(`output of ${s} `.repeat(20) + '\r\n'), at + 3)
    writer.emit({event: 'session.disk', pid: 100 + s, cgroup_id: 1, program: `cmd${s}`, path: `/etc/file${s}`, flags: 0, return_code: 3}, at + 4)
    writer.print(Buffer.from('$ '), at + 5)
    await writer.flush()
    options.keep?.(writer, s)
  }
  await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, START + 6000)
  return findSessions(dataDir).find((ref) => ref.sid === sid)!
}

function gunzip(file: string): Buffer {
  return zlib.gunzipSync(fs.readFileSync(file), {finishFlush: zlib.constants.Z_SYNC_FLUSH})
}

function gzip(file: string, data: Buffer): void {
  fs.writeFileSync(file, zlib.gzipSync(data))
}

/** Edits the uncompressed lines of a gzip file and recompresses it. */
function editLines(file: string, edit: (lines: string[]) => string[]): void {
  const lines = gunzip(file).toString('utf8').split('\n')
  const last = lines.pop()
  assert.equal(last, '')
  gzip(file, Buffer.from(edit(lines).join('\n') + '\n'))
}

/** A key file with the host's verification key, kept "elsewhere". */
function keepKey(dataDir: string): string {
  const shown = runCli(['verify', '--data-dir', dataDir, '--show-key'])
  assert.equal(shown.status, 0, shown.stderr)
  const file = path.join(tempDir('er-key-'), 'er-shell.key')
  fs.writeFileSync(file, shown.stdout)
  return file
}

interface Verified {
  status: number | null
  stdout: string
  stderr: string
  report: VerifyReport
}

function verify(dataDir: string, args: string[], keyFile?: string): Verified {
  const r = runCli(['verify', '--data-dir', dataDir, ...(keyFile ? ['--key', keyFile] : []), ...args])
  const j = runCli(['verify', '--data-dir', dataDir, ...(keyFile ? ['--key', keyFile] : []), '--json', ...args])
  assert.equal(j.status, r.status, `--json exits as the text form: ${j.stderr}`)
  return {...r, report: JSON.parse(j.stdout) as VerifyReport}
}

function onlyProblem(v: Verified) {
  assert.equal(v.report.sessions.length, 1)
  return v.report.sessions[0]!.problem
}

describe('er-shell verify', () => {
  it('an honest recording is intact: events, output bytes, the seal time; exit 0', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    const v = verify(dataDir, [ref.sid.slice(0, 8)], key)
    assert.equal(v.status, 0, v.stderr)
    assert.match(v.stdout, new RegExp(`^${ref.sid}: intact \\(25 events, 1008 bytes, sealed at 20\\d\\d-[0-9T:.-]+Z\\)\\n$`))
    const s = v.report.sessions[0]!
    assert.equal(s.status, 'intact')
    assert.equal(s.checkpoints, 5)
    assert.equal(s.seq, 0)
    assert.equal(v.report.key_source, 'file')
    // Without --key: the copy on the host, and a note that says so.
    const host = runCli(['verify', '--data-dir', dataDir, ref.sid])
    assert.equal(host.status, 0)
    assert.match(host.stderr, /checked with the verification key kept on this host/)
  })

  it('one byte edited inside the compressed events file (recompressed): modified, the event named by its intact copy', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    editLines(ref.paths.events, (lines) => lines.map((l) => (l.includes('"/bin/cmd2"') ? l.replace('secret-value', 'secret-valuE') : l)))
    const v = verify(dataDir, [ref.sid], key)
    assert.equal(v.status, 1)
    const p = onlyProblem(v)!
    assert.equal(p.reason, 'modified')
    assert.equal(p.file, ref.paths.events)
    // Stretch 3 holds events 12–17; the command is event 14, and its line in the command file is the original.
    assert.equal(p.event, 14)
    assert.match(
      v.stdout,
      /: damaged: modified in .*-0\.events\.gz at event 14, byte \d+: event 14 differs from what was recorded \(.*-0\.session\.command-events\.gz still has the original line\)\n$/,
    )
  })

  it('an edited output line (no copy elsewhere): modified, located to the stretch between two checkpoints', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    editLines(ref.paths.events, (lines) => lines.map((l) => (l.startsWith('{"ei":13,') ? l.replace('"bytes":8,', '"bytes":9,') : l)))
    const v = verify(dataDir, [ref.sid], key)
    const p = onlyProblem(v)!
    assert.equal(p.reason, 'modified')
    assert.equal(p.event, 12)
    assert.match(v.stdout, /: damaged: modified in .*-0\.events\.gz at event 12, byte \d+: events 12–17 \(bytes \d+–\d+\) differ from what was recorded\n$/)
  })

  it('one line dropped: missing, with its event index', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    editLines(ref.paths.events, (lines) => lines.filter((l) => !l.startsWith('{"ei":8,')))
    const p = onlyProblem(verify(dataDir, [ref.sid], key))!
    assert.equal(p.reason, 'missing')
    assert.equal(p.event, 8)
    assert.match(p.detail, /event 8 is missing/)
  })

  it('two lines swapped: reordered', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    editLines(ref.paths.events, (lines) => {
      const out = [...lines]
      ;[out[14], out[15]] = [out[15]!, out[14]!]
      return out
    })
    const v = verify(dataDir, [ref.sid], key)
    const p = onlyProblem(v)!
    assert.equal(p.reason, 'reordered')
    assert.equal(p.event, 14)
    assert.match(p.detail, /event 14 comes after event 15/)
  })

  it('megabytes of output over many checkpoints: intact; one byte changed is modified, located to its stretch', async () => {
    const dataDir = tempDir()
    const writer = await SessionWriter.create({dataDir, sid: randomUUID(), common: {...common(), server_id: ensureServerId(dataDir)}, startedAt: START})
    writer.emit({event: 'session.start', size: '80:24', interactive: true}, START)
    const piece = Buffer.from('0123456789abcdef'.repeat(4096)) // 64 KiB
    for (let i = 0; i < 96; i++) {
      if (!writer.print(Buffer.from(piece), START + i)) await writer.drained()
      if (i % 16 === 15) await writer.flush()
    }
    await writer.end({interactive: true, exit_code: 0}, START + 100)
    const ref = findSessions(dataDir)[0]!
    const key = keepKey(dataDir)
    const v = verify(dataDir, [ref.sid], key)
    assert.equal(v.status, 0, v.stdout)
    assert.equal(v.report.sessions[0]!.bytes, 96 * 65536)
    assert.ok(v.report.sessions[0]!.checkpoints >= 6)
    const data = gunzip(ref.paths.chunks)
    data[4 * 1024 * 1024 + 5] = 0x21
    gzip(ref.paths.chunks, data)
    const p = onlyProblem(verify(dataDir, [ref.sid], key))!
    assert.equal(p.reason, 'modified')
    assert.equal(p.file, ref.paths.chunks)
    assert.ok(p.offset! <= 4 * 1024 * 1024 + 5 && p.offset! >= 3 * 1024 * 1024, String(p.offset))
  })

  it('a forged line appended after the seal: appended', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    editLines(ref.paths.events, (lines) => [...lines, lines[3]!.replace('"ei":3,', '"ei":25,')])
    const v = verify(dataDir, [ref.sid], key)
    assert.equal(v.status, 1)
    const p = onlyProblem(v)!
    assert.equal(p.reason, 'appended')
    assert.equal(p.event, 25)
    assert.match(p.detail, /1 event line \(\d+ bytes\) after the seal/)
  })

  it('the chunks file cut short: truncated, at the byte where it ends', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    // Uncompressed, so that a cut at half the file is half the output.
    const data = gunzip(ref.paths.chunks)
    fs.writeFileSync(ref.paths.chunks, zlib.gzipSync(data, {level: 0}).subarray(0, 200))
    const v = verify(dataDir, [ref.sid], key)
    const p = onlyProblem(v)!
    assert.equal(p.reason, 'truncated')
    assert.equal(p.file, ref.paths.chunks)
    assert.ok(p.offset! > 0 && p.offset! < data.length, String(p.offset))
    assert.match(p.detail, /-0\.chunks\.gz ends at byte \d+; checkpoint \d covers \d+/)
  })

  it('a per-kind file that drops its event: missing, with the event index', async () => {
    const dataDir = tempDir()
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    editLines(ref.paths.enhanced['session.command'], (lines) => lines.filter((l) => !l.includes('/bin/cmd1')))
    const p = onlyProblem(verify(dataDir, [ref.sid], key))!
    assert.equal(p.reason, 'missing')
    assert.equal(p.file, ref.paths.enhanced['session.command'])
    assert.equal(p.event, 8)
  })

  it('a deleted session, and a deleted newest session, are missing from the host numbering (--all)', async () => {
    const dataDir = tempDir()
    const refs: SessionRef[] = []
    for (let i = 0; i < 4; i++) refs.push(await recordSession(dataDir))
    const key = keepKey(dataDir)
    assert.equal(verify(dataDir, ['--all'], key).status, 0)
    const remove = (ref: SessionRef) => {
      for (const name of fs.readdirSync(ref.paths.dir)) if (name.startsWith(ref.sid)) fs.rmSync(path.join(ref.paths.dir, name))
    }
    remove(refs[1]!)
    remove(refs[3]!)
    const v = verify(dataDir, ['--all'], key)
    assert.equal(v.status, 1)
    assert.deepEqual(
      v.report.missing_sessions.map((m) => m.seq),
      [1, 3],
    )
    assert.match(v.stdout, /^host: missing: session #1 of this host is missing \(deleted\)$/m)
    assert.match(v.stdout, /^host: missing: session #3 of this host is missing: the host numbered 4 sessions, the newest found is #2$/m)
    assert.equal(v.report.sessions.filter((s) => s.status === 'intact').length, 2)
  })

  it('the host audit log cut short, or missing a line: named in the host log, with the event index (--all)', async () => {
    const dataDir = tempDir()
    const first = await recordSession(dataDir)
    const second = await recordSession(dataDir)
    const key = keepKey(dataDir)
    const hostLog = path.join(dataDir, 'log', first.serverId, '2026-11-22.00:00:00.log')
    const original = fs.readFileSync(hostLog, 'utf8')
    assert.equal(verify(dataDir, ['--all'], key).status, 0)
    const lines = original.trimEnd().split('\n')
    // The tail cut: the second session's last three lines are gone.
    fs.writeFileSync(hostLog, lines.slice(0, -3).join('\n') + '\n')
    const cut = verify(dataDir, ['--all'], key)
    assert.equal(cut.status, 1)
    const s2 = cut.report.sessions.find((s) => s.sid === second.sid)!
    assert.equal(s2.problem!.reason, 'truncated')
    assert.equal(s2.problem!.file, hostLog)
    assert.equal(s2.problem!.event, JSON.parse(lines.at(-3)!).ei)
    assert.equal(cut.report.sessions.find((s) => s.sid === first.sid)!.status, 'intact')
    // One line of the first session dropped.
    const dropped = JSON.parse(lines[2]!) as {ei: number}
    fs.writeFileSync(hostLog, lines.filter((_l, i) => i !== 2).join('\n') + '\n')
    const gap = verify(dataDir, ['--all'], key)
    const s1 = gap.report.sessions.find((s) => s.sid === first.sid)!
    assert.equal(s1.problem!.reason, 'missing')
    assert.equal(s1.problem!.event, dropped.ei)
    assert.match(
      gap.stdout,
      new RegExp(
        `damaged: missing in 2026-11-22\\.00:00:00\\.log at event ${dropped.ei}, byte \\d+: event ${dropped.ei} of session ${first.sid} is missing from the host log`,
      ),
    )
    // Put back: intact again.
    fs.writeFileSync(hostLog, original)
    assert.equal(verify(dataDir, ['--all'], key).status, 0)
  })

  it('a session across midnight UTC: a late kernel event in the earlier day file is intact; a line moved across days is not', async () => {
    const dataDir = tempDir()
    const start = Date.parse('2026-11-22T23:59:59.000Z')
    const sid = randomUUID()
    const writer = await SessionWriter.create({dataDir, sid, common: {...common(), server_id: ensureServerId(dataDir)}, startedAt: start})
    writer.emit({event: 'session.start', size: '80:24', interactive: true}, start)
    writer.emit(command(101, '/bin/before', []), start + 500)
    writer.print(Buffer.from('$ '), start + 1100)
    writer.resize(100, 30, start + 1200) // 00:00:00.200, the next day
    // A kernel event stamped before midnight that comes after the resize: it goes to the first day's file.
    writer.emit(command(102, '/bin/late', []), start + 900)
    writer.emit(command(103, '/bin/after', []), start + 1500)
    await writer.end({interactive: true, exit_code: 0, lost_events: {command: 0, disk: 0, network: 0}}, start + 2000)
    const key = keepKey(dataDir)
    const dir = path.join(dataDir, 'log', ensureServerId(dataDir))
    const day1 = path.join(dir, '2026-11-22.00:00:00.log')
    const day2 = path.join(dir, '2026-11-23.00:00:00.log')
    const lines1 = fs.readFileSync(day1, 'utf8').trimEnd().split('\n')
    const lines2 = fs.readFileSync(day2, 'utf8').trimEnd().split('\n')
    assert.deepEqual(
      lines1.map((l) => (JSON.parse(l) as {event: string}).event),
      ['session.start', 'session.command', 'session.command'],
    )
    assert.ok(lines1[2]!.includes('/bin/late'))
    const v = verify(dataDir, ['--all'], key)
    assert.equal(v.status, 0, v.stdout)
    assert.equal(v.report.sessions[0]!.status, 'intact')
    // The late event moved to the second day's file (as if it were written in time order): damaged.
    fs.writeFileSync(day1, lines1.slice(0, 2).join('\n') + '\n')
    fs.writeFileSync(day2, [lines2[0], lines1[2], ...lines2.slice(1)].join('\n') + '\n')
    const moved = verify(dataDir, ['--all'], key)
    assert.equal(moved.status, 1)
    const late = (JSON.parse(lines1[2]!) as {ei: number}).ei
    assert.deepEqual(
      [moved.report.sessions[0]!.problem!.reason, moved.report.sessions[0]!.problem!.file, moved.report.sessions[0]!.problem!.event],
      ['reordered', day2, late],
    )
  })

  it("an unfinished session's host-log copy may lack its last lines, but what it has must match", async () => {
    const dataDir = tempDir()
    const writer = await SessionWriter.create({dataDir, sid: randomUUID(), common: {...common(), server_id: ensureServerId(dataDir)}, startedAt: START})
    try {
      writer.emit({event: 'session.start', size: '80:24', interactive: true}, START)
      for (let i = 0; i < 5; i++) writer.emit(command(100 + i, `/bin/c${i}`, []), START + 10 + i)
      await writer.flush()
      await new Promise((resolve) => setTimeout(resolve, 150)) // the host log's 50 ms coalescing
      const key = keepKey(dataDir)
      const hostLog = path.join(dataDir, 'log', ensureServerId(dataDir), '2026-11-22.00:00:00.log')
      const lines = fs.readFileSync(hostLog, 'utf8').trimEnd().split('\n')
      assert.equal(lines.length, 6)
      fs.writeFileSync(hostLog, lines.slice(0, 4).join('\n') + '\n')
      assert.equal(verify(dataDir, ['--all'], key).status, 3, 'lagging: still only unsealed')
      fs.writeFileSync(hostLog, [lines[0], lines[1]!.replace('/bin/c0', '/bin/XX'), lines[2], lines[3]].join('\n') + '\n')
      const v = verify(dataDir, ['--all'], key)
      assert.equal(v.status, 1)
      assert.equal(v.report.sessions[0]!.problem!.reason, 'modified')
      assert.equal(v.report.sessions[0]!.problem!.event, 1)
    } finally {
      writer.abort()
    }
  })

  it('becoming root at minute 30: an earlier part rewritten with the current keys does not verify', async () => {
    const dataDir = tempDir()
    // The attacker arrives after the second checkpoint and takes the recorder's current key (its memory) …
    let stolen: Buffer | undefined
    let stolenAt = 0
    const ref = await recordSession(dataDir, randomUUID(), {
      keep: (writer, stretch) => {
        if (stretch !== 1) return
        const chain = (writer as unknown as {files: {chain: {key: Buffer; next: number}}}).files.chain
        stolen = Buffer.from(chain.key)
        stolenAt = chain.next
      },
    })
    const key = keepKey(dataDir)
    assert.ok(stolen && stolenAt === 3)
    // … and the host's ratchet state (on disk), then rewrites stretch 1 (an earlier command) and
    // every checkpoint from 1 with those keys, hashes made to match the new bytes.
    editLines(ref.paths.events, (lines) => lines.map((l) => l.replace('/bin/cmd0', '/bin/ok_0')))
    editLines(ref.paths.enhanced['session.command'], (lines) => lines.map((l) => l.replace('/bin/cmd0', '/bin/ok_0')))
    const events = gunzip(ref.paths.events)
    const chunks = gunzip(ref.paths.chunks)
    for (const attackerKey of [stolen!, readRatchet(dataDir)!.key]) {
      const records = fs.readFileSync(ref.paths.integrity, 'utf8').trimEnd().split('\n')
      let k = attackerKey
      let prev = (JSON.parse(records[0]!) as {mac: string}).mac
      const rewritten = [records[0]!]
      for (const line of records.slice(1)) {
        const {mac: _old, ...cp} = JSON.parse(line) as {
          mac: string
          events: {bytes: number; sha256: string}
          chunks: {bytes: number; sha256: string}
          cp: number
        }
        cp.events.sha256 = sha256(events.subarray(0, cp.events.bytes))
        cp.chunks.sha256 = sha256(chunks.subarray(0, cp.chunks.bytes))
        const mac = macOf(k, checkpointMacText(cp as never, prev))
        k = ratchet(k)
        prev = mac
        rewritten.push(JSON.stringify({...cp, mac}))
      }
      fs.writeFileSync(ref.paths.integrity, rewritten.join('\n') + '\n')
      const v = verify(dataDir, [ref.sid], key)
      assert.equal(v.status, 1)
      const p = onlyProblem(v)!
      assert.equal(p.reason, 'modified')
      assert.equal(p.file, ref.paths.integrity)
      assert.equal(p.offset, 1, 'the first checkpoint (line 2) is the first broken place')
      assert.match(
        v.stdout,
        /damaged: modified in .*\.integrity at line 2: checkpoint 1 does not verify: it was altered, or written later without the key of its time/,
      )
    }
  })

  it("the header's session number changed: modified, also a huge one (refused without hashing for hours)", async () => {
    const dataDir = tempDir()
    await recordSession(dataDir)
    const ref = await recordSession(dataDir)
    const key = keepKey(dataDir)
    const records = fs.readFileSync(ref.paths.integrity, 'utf8').split('\n')
    for (const [seq, detail] of [
      [0, /the header does not verify with the key of its session number/],
      [1e12, /session number 1000000000000 was never given by this host \(it has numbered 2\)/],
    ] as const) {
      fs.writeFileSync(ref.paths.integrity, [records[0]!.replace('"seq":1,', `"seq":${seq},`), ...records.slice(1)].join('\n'))
      const p = onlyProblem(verify(dataDir, [ref.sid], key))!
      assert.equal(p.reason, 'modified')
      assert.match(p.detail, detail)
    }
  })

  it('the host secret replaced: sessions under the new one are an unknown key; the old ones still verify', async () => {
    const dataDir = tempDir()
    const old = await recordSession(dataDir)
    const key = keepKey(dataDir)
    fs.rmSync(path.join(dataDir, 'integrity'), {recursive: true})
    const forged = await recordSession(dataDir)
    const v = verify(dataDir, ['--all'], key)
    assert.equal(v.status, 1)
    const byId = new Map(v.report.sessions.map((s) => [s.sid, s]))
    assert.equal(byId.get(old.sid)!.status, 'intact')
    assert.equal(byId.get(forged.sid)!.status, 'unknown key')
    assert.equal(byId.get(forged.sid)!.problem!.reason, 'unknown key')
    assert.match(
      v.stdout,
      new RegExp(
        `^${forged.sid}: unknown key: unknown key in ${forged.sid}\\.integrity at line 1: recorded under key [0-9a-f]{16}, not the verification key [0-9a-f]{16}`,
        'm',
      ),
    )
    // The host's own (new) key does not know the old session either.
    const withHostKey = verify(dataDir, ['--all'])
    assert.equal(withHostKey.report.sessions.find((s) => s.sid === old.sid)!.status, 'unknown key')
  })

  it('a recorder killed with SIGKILL: intact up to its last checkpoint, unsealed, exit 3', async () => {
    const dataDir = tempDir()
    const sid = randomUUID()
    const child = fork(FIXTURE, ['session', dataDir, sid, ensureServerId(dataDir)], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    const exited = new Promise((resolve) => child.on('exit', resolve))
    await new Promise((resolve) => setTimeout(resolve, 2200))
    child.kill('SIGKILL')
    await exited
    const key = keepKey(dataDir)
    const v = verify(dataDir, [sid], key)
    assert.equal(v.status, 3, v.stdout + v.stderr)
    // The host log, written on its own schedule, may lack the last lines: still unsealed, not damaged.
    const all = verify(dataDir, ['--all'], key)
    assert.equal(all.status, 3, all.stdout)
    const s = v.report.sessions[0]!
    assert.equal(s.status, 'unsealed')
    assert.equal(s.problem!.reason, 'unsealed')
    assert.ok(s.checkpoints >= 2, `${s.checkpoints} checkpoints in 2 s`)
    assert.ok(s.events > 10 && s.bytes > 1000, JSON.stringify(s))
    assert.match(
      v.stdout,
      /: unsealed: unsealed in .*\.integrity at line \d+: the recording was not finished \(recorder killed, or still running\): intact up to checkpoint \d+ of .*; \d+ events? and \d+ bytes of output after it are not covered\n$/,
    )
  })

  it('a disk that fills up mid-session: what was checkpointed verifies, unsealed (exit 3)', {skip: rootSkipReason('mount -t tmpfs')}, async () => {
    const mountPoint = tempDir('er-tmpfs-')
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint])
    try {
      const errors: Error[] = []
      const writer = await SessionWriter.create({
        dataDir: mountPoint,
        sid: randomUUID(),
        common: {...common(), server_id: ensureServerId(mountPoint)},
        onError: (error) => errors.push(error),
      })
      writer.emit({event: 'session.start', size: '80:24', interactive: true})
      for (let i = 0; i < 64 && errors.length === 0; i++) {
        if (!writer.print(randomBytes(64 * 1024))) await writer.drained() // incompressible: fills 1 MB
        if (i % 2 === 0) await writer.flush()
      }
      const end = await writer.end({interactive: true, exit_code: 0})
      assert.equal(end.completed, false)
      assert.equal(errors.length, 1)
      const key = path.join(tempDir(), 'k')
      fs.writeFileSync(key, fs.readFileSync(path.join(mountPoint, 'integrity', 'verify.key')))
      const v = verify(mountPoint, [writer.sid], key)
      assert.equal(v.status, 3, v.stdout)
      const s = v.report.sessions[0]!
      assert.equal(s.status, 'unsealed')
      assert.ok(s.checkpoints >= 1 && s.bytes >= 64 * 1024, JSON.stringify(s))
    } finally {
      execFileSync('umount', ['-l', mountPoint])
    }
  })

  it('concurrent recorders (separate processes) number their sessions without a gap or a clash; all verify', async () => {
    const dataDir = tempDir()
    const serverId = ensureServerId(dataDir)
    const children = Array.from({length: 4}, () =>
      fork(FIXTURE, ['host-log', dataDir, randomUUID(), serverId], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']}),
    )
    await Promise.all(children.map((child) => new Promise((resolve) => child.on('exit', resolve))))
    const key = keepKey(dataDir)
    const v = verify(dataDir, ['--all'], key)
    assert.equal(v.status, 0, v.stdout)
    assert.deepEqual(v.report.sessions.map((s) => s.seq).sort(), [0, 1, 2, 3])
    assert.deepEqual(v.report.missing_sessions, [])
  })

  it('bad input: one clear line, non-zero exit', async () => {
    const dataDir = tempDir()
    await recordSession(dataDir)
    const noArgs = runCli(['verify', '--data-dir', dataDir])
    assert.equal(noArgs.status, 2)
    assert.equal(noArgs.stderr, 'er-shell: name the sessions to check (session ids or prefixes), or give --all\n')
    const badKey = path.join(tempDir(), 'k')
    fs.writeFileSync(badKey, 'not a key\n')
    const r = runCli(['verify', '--data-dir', dataDir, '--all', '--key', badKey])
    assert.equal(r.status, 1)
    assert.match(r.stderr, /^er-shell: .*\/k does not hold a verification key \(one line "er-shell-verify-key-v1 <id> <64 hex digits>"\)\n$/)
    const noDir = runCli(['verify', '--data-dir', path.join(dataDir, 'nope'), '--all'])
    assert.equal(noDir.status, 1)
    assert.match(noDir.stderr, /^er-shell: data directory \S+\/nope does not exist/)
    const noSession = runCli(['verify', '--data-dir', dataDir, 'deadbeef'])
    assert.equal(noSession.status, 1)
    assert.match(noSession.stderr, /^er-shell: no recorded session matches "deadbeef" in /)
    fs.rmSync(path.join(dataDir, 'integrity', 'verify.key'))
    const noKey = runCli(['verify', '--data-dir', dataDir, '--all'])
    assert.equal(noKey.status, 1)
    assert.match(noKey.stderr, /^er-shell: .*verify\.key does not exist: give the verification key with --key FILE/)
  })
})

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

describe('sessions --verify and replay', () => {
  it('sessions --verify: an INTEGRITY column (intact, damaged, unsealed), and integrity in --json', async () => {
    const dataDir = tempDir()
    const intact = await recordSession(dataDir)
    const damaged = await recordSession(dataDir)
    editLines(damaged.paths.events, (lines) => lines.filter((l) => !l.startsWith('{"ei":8,')))
    const running = await SessionWriter.create({dataDir, sid: randomUUID(), common: {...common(), server_id: ensureServerId(dataDir)}})
    running.emit({event: 'session.start', size: '80:24', interactive: true})
    await running.flush()
    try {
      const r = runCli(['sessions', '--data-dir', dataDir, '--verify'])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /│ STATUS +│ INTEGRITY +│ COMMAND/)
      assert.match(r.stdout, new RegExp(`${intact.sid.slice(0, 8)} .*│ ended +│ intact +│`))
      assert.match(r.stdout, new RegExp(`${damaged.sid.slice(0, 8)} .*│ ended +│ damaged +│`))
      assert.match(r.stdout, new RegExp(`${running.sid.slice(0, 8)} .*│ UNFINISHED +│ unsealed +│`))
      const json = JSON.parse(runCli(['sessions', '--data-dir', dataDir, '--verify', '--json']).stdout) as Array<{sid: string; integrity: string}>
      assert.deepEqual(new Map(json.map((s) => [s.sid, s.integrity])).get(damaged.sid), 'damaged')
      // Without --verify: no column, no field.
      const plain = runCli(['sessions', '--data-dir', dataDir])
      assert.doesNotMatch(plain.stdout, /INTEGRITY/)
      // No key on the host: not checked, and a warning why.
      fs.rmSync(path.join(dataDir, 'integrity', 'verify.key'))
      const noKey = runCli(['sessions', '--data-dir', dataDir, '--verify'])
      assert.match(noKey.stdout, new RegExp(`${intact.sid.slice(0, 8)} .*│ not checked │`))
      assert.match(noKey.stderr, /^er-shell: warning: no verification key on this host: give --key FILE/)
    } finally {
      running.abort()
    }
  })

  it('replay warns before playing a damaged recording, and plays an intact one without a word', async () => {
    const dataDir = tempDir()
    const intact = await recordSession(dataDir)
    const damaged = await recordSession(dataDir)
    editLines(damaged.paths.events, (lines) => lines.map((l) => l.replace('/bin/cmd1', '/bin/ok_1')))
    const ok = runCli(['replay', intact.sid, '--data-dir', dataDir, '--format', 'text'])
    assert.equal(ok.status, 0)
    assert.equal(ok.stderr, '')
    const r = runCli(['replay', damaged.sid, '--data-dir', dataDir, '--format', 'text'])
    assert.equal(r.status, 0)
    assert.match(r.stdout, /output of 1/)
    assert.equal(
      r.stderr,
      `er-shell: warning: session ${damaged.sid.slice(0, 8)} is not the recording that was made: modified in ${damaged.sid}-0.events.gz at event 8, byte ${r.stderr.match(/byte (\d+)/)![1]}: event 8 differs from what was recorded (${damaged.sid}-0.session.command-events.gz still has the original line) (er-shell verify ${damaged.sid.slice(0, 8)})\n`,
    )
  })
})

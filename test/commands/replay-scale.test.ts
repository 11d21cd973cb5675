// A 100,000-event, 100 MB session replays and exports in bounded memory (peak RSS of the CLI process measured).
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {after, before, describe, it} from 'node:test'

import {SessionWriter} from '../../src/storage/session-writer.js'
import {ROOT} from '../helpers/cli.js'
import {command, common} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const SID = '77770000-0000-4000-8000-000000000008'
const EVENTS = 100_000
const COMMAND_EVERY = 20 // 5,000 commands, 95,000 print events
const CHUNK = 1104 // 95,000 × 1,104 B ≈ 100 MiB of output
const RSS_LIMIT_MB = 200

/** A terminal-ish line of `size` bytes with colours, the odd query and a clipboard write to filter. */
function chunk(i: number, size: number): Buffer {
  const head = `\x1b[32m${String(i).padStart(6, '0')}\x1b[0m ${i % 97 === 0 ? '\x1b[6n\x1b]52;c;eA==\x07' : ''}`
  const body = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(Math.ceil(size / 37))
  return Buffer.from((head + body).slice(0, size - 2) + '\r\n')
}

interface Measured {
  status: number | null
  maxRssMb: number
  seconds: number
  stderr: string
}

const RSS_CHILD = path.join(ROOT, 'dist', 'test', 'helpers', 'rss-child.js')

/** Runs the CLI in a child that reports its own peak RSS (process.resourceUsage), stdout to `outFile`. */
function measure(args: string[], outFile: string): Measured {
  const fd = fs.openSync(outFile, 'w')
  const rssFile = `${outFile}.rss`
  const started = Date.now()
  try {
    const r = spawnSync(process.execPath, [RSS_CHILD, rssFile, ...args], {cwd: ROOT, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 180_000})
    const kib = Number(fs.readFileSync(rssFile, 'utf8'))
    fs.rmSync(rssFile)
    return {status: r.status, maxRssMb: kib / 1024, seconds: (Date.now() - started) / 1000, stderr: r.stderr}
  } finally {
    fs.closeSync(fd)
  }
}

function countLines(file: string): number {
  const fd = fs.openSync(file, 'r')
  const buffer = Buffer.alloc(1 << 20)
  let lines = 0
  try {
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null)
      if (n === 0) return lines
      for (let i = 0; i < n; i++) if (buffer[i] === 0x0a) lines++
    }
  } finally {
    fs.closeSync(fd)
  }
}

describe('100,000 events, 100 MB of output', () => {
  let dataDir: string
  let outDir: string
  let outputBytes = 0

  before(async () => {
    dataDir = tempDir()
    outDir = tempDir('er-scale-out-')
    const start = Date.parse('2026-11-22T10:00:00.000Z')
    const w = await SessionWriter.create({dataDir, sid: SID, common: common(), startedAt: start})
    w.emit({event: 'session.start', size: '120:40', interactive: true}, start)
    for (let i = 1; i < EVENTS - 1; i++) {
      const ok = i % COMMAND_EVERY === 0 ? w.emit(command(1000 + i, '/usr/bin/make', ['-j2', `target${i}`]), start + i) : w.print(chunk(i, CHUNK), start + i)
      if (i % COMMAND_EVERY !== 0) outputBytes += CHUNK
      if (!ok) await w.drained()
    }
    await w.end({interactive: true, exit_code: 0}, start + EVENTS)
  })
  after(() => {
    removeDir(dataDir)
    removeDir(outDir)
  })

  it(`was written as ${EVENTS} events and ~100 MiB of output`, async () => {
    assert.ok(outputBytes >= 100 * 1024 * 1024 * 0.99, `${outputBytes} bytes`)
  })

  const cases: Array<{name: string; args: string[]; check: (file: string) => void}> = [
    {name: 'json', args: ['--format', 'json'], check: (file) => assert.equal(countLines(file), EVENTS)},
    {name: 'yaml', args: ['--format', 'yaml'], check: (file) => assert.ok(fs.statSync(file).size > 30_000_000)},
    {name: 'asciicast', args: ['--format', 'asciicast'], check: (file) => assert.equal(countLines(file), 1 + EVENTS - 2)},
    {name: 'text', args: ['--format', 'text'], check: (file) => assert.equal(countLines(file), EVENTS - 2 - EVENTS / COMMAND_EVERY + 1)},
    {name: 'pty --idle-limit 0', args: ['--idle-limit', '0'], check: (file) => assert.ok(fs.statSync(file).size >= outputBytes * 0.99)},
  ]
  for (const c of cases) {
    it(`replay ${c.name}: complete output, peak RSS under ${RSS_LIMIT_MB} MB`, (t) => {
      const file = path.join(outDir, `out.${c.name.split(' ')[0]}`)
      const m = measure(['replay', SID, '--data-dir', dataDir, ...c.args], file)
      assert.equal(m.status, 0, m.stderr)
      c.check(file)
      t.diagnostic(`${c.name}: peak RSS ${m.maxRssMb.toFixed(0)} MB, ${m.seconds.toFixed(1)} s, ${(fs.statSync(file).size / 1048576).toFixed(0)} MiB out`)
      assert.ok(m.maxRssMb < RSS_LIMIT_MB, `peak RSS ${m.maxRssMb.toFixed(0)} MB`)
      fs.rmSync(file)
    })
  }

  it('events over the whole session and sessions stay bounded too', (t) => {
    const file = path.join(outDir, 'events.txt')
    const m = measure(['events', SID.slice(0, 8), '--data-dir', dataDir, '--command', 'target9'], file)
    assert.equal(m.status, 0, m.stderr)
    t.diagnostic(`events --command: peak RSS ${m.maxRssMb.toFixed(0)} MB, ${m.seconds.toFixed(1)} s`)
    assert.ok(m.maxRssMb < RSS_LIMIT_MB)
    const s = measure(['sessions', '--data-dir', dataDir, '--json'], file)
    assert.equal(s.status, 0, s.stderr)
    assert.equal((JSON.parse(fs.readFileSync(file, 'utf8')) as Array<{commands: number}>)[0]!.commands, EVENTS / COMMAND_EVERY - 1)
    assert.ok(s.maxRssMb < RSS_LIMIT_MB)
  })
})

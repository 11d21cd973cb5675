// Durability: a recorder killed with SIGKILL leaves a recording that replays up to ~1 s before the kill.
import assert from 'node:assert/strict'
import {fork} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'

import type {AuditEvent} from '../../src/events/types.js'
import {ensureServerId} from '../../src/storage/layout.js'
import {listSessions, readSessionChunks, readSessionEvents, resolveSession} from '../../src/storage/reader.js'
import {chunkFor} from './fixtures/kill-writer.js'
import {collect, collectBytes} from '../helpers/recordings.js'
import {removeDir, tempDir} from '../helpers/temp.js'

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kill-writer.js')

interface Progress {
  prints: number
  commands: number
  t: number
}

describe('durability', () => {
  let dataDir: string
  before(() => {
    dataDir = tempDir()
  })
  after(() => removeDir(dataDir))

  it('recovers everything flushed up to ~1 s before a SIGKILL and reports the truncation', async () => {
    const sid = randomUUID()
    const serverId = ensureServerId(dataDir)
    const child = fork(FIXTURE, ['session', dataDir, sid, serverId], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    const history: Progress[] = []
    const errors: string[] = []
    child.on('message', (message: Partial<Progress> & {error?: string}) => {
      if (message.error) errors.push(message.error)
      if (typeof message.prints === 'number') history.push(message as Progress)
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const killedAt = Date.now()
    child.kill('SIGKILL')
    assert.equal(await exited, 'SIGKILL')
    assert.deepEqual(errors, [])

    const floor = history.filter((p) => p.t <= killedAt - 1000).at(-1)
    assert.ok(floor, 'the child made progress before the last second')
    const last = history.at(-1)!

    const ref = resolveSession(dataDir, sid.slice(0, 8))
    assert.equal(ref.completed, false)
    const warnings: string[] = []
    const events = await collect(readSessionEvents(ref, {onWarning: (w) => warnings.push(w)}))
    const chunks = await collectBytes(readSessionChunks(ref, {onWarning: (w) => warnings.push(w)}))

    const prints = events.filter((e) => e.event === 'print')
    const commands = events.filter((e) => e.event === 'session.command')
    assert.ok(prints.length >= floor.prints, `recovered ${prints.length} prints, expected at least ${floor.prints}`)
    assert.ok(prints.length <= last.prints)
    assert.ok(commands.length >= floor.commands, `recovered ${commands.length} commands, expected at least ${floor.commands}`)
    assert.deepEqual(
      events.map((e) => e.ei),
      events.map((_e, i) => i),
    )

    // The chunk stream is an exact prefix of what was printed, covering every recovered print up to the floor.
    const expected = Buffer.concat(Array.from({length: last.prints}, (_v, i) => chunkFor(i)))
    assert.ok(chunks.length >= Buffer.concat(Array.from({length: floor.prints}, (_v, i) => chunkFor(i))).length)
    assert.ok(expected.subarray(0, chunks.length).equals(chunks), 'recovered chunks are a byte-exact prefix')

    assert.ok(
      warnings.some((w) => w.includes(`${sid}-0.events.gz: truncated after ${events.length} events`)),
      warnings.join('\n'),
    )
    assert.ok(
      warnings.some((w) => w.includes(`${sid}-0.chunks.gz: truncated after ${chunks.length} bytes`)),
      warnings.join('\n'),
    )

    const [summary] = await listSessions(dataDir)
    assert.equal(summary!.sid, sid)
    assert.equal(summary!.unfinished, true)
    assert.equal(summary!.session_stop, null)
    assert.equal(summary!.commands, commands.length)
    assert.ok(fs.existsSync(ref.paths.index))
  })

  it('keeps host-log lines whole when several processes append at once', async () => {
    const dir = tempDir()
    try {
      const serverId = ensureServerId(dir)
      const children = Array.from({length: 3}, () => fork(FIXTURE, ['host-log', dir, randomUUID(), serverId], {stdio: ['ignore', 'inherit', 'inherit', 'ipc']}))
      await Promise.all(children.map((child) => new Promise((resolve) => child.on('exit', resolve))))
      const lines = fs
        .readFileSync(path.join(dir, 'log', 'events.log'), 'utf8')
        .trimEnd()
        .split('\n')
      assert.equal(lines.length, 3 * 401)
      const parsed = lines.map((line) => JSON.parse(line) as AuditEvent)
      assert.equal(new Set(parsed.map((e) => e.sid)).size, 3)
    } finally {
      removeDir(dir)
    }
  })
})

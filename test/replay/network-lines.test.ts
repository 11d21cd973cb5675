// Replay's event lines for network events: a denied attempt is red where the others are dim cyan,
// and says "denied" in words (for a screen without colour).
import assert from 'node:assert/strict'
import {Writable} from 'node:stream'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../src/events/types.js'
import {PacedWriter} from '../../src/replay/paced-writer.js'
import {Player} from '../../src/replay/player.js'
import type {Frame} from '../../src/replay/timeline.js'
import {NET_EVENTS} from '../helpers/network-recording.js'
import {DEMO_START, common} from '../helpers/recordings.js'

function event(body: object, ei: number): AuditEvent {
  return {ei, code: 'T4002I', uid: 'u', time: new Date(DEMO_START).toISOString(), sid: 's', namespace: 'default', ...common(), ...body} as AuditEvent
}

async function play(color: boolean): Promise<string[]> {
  const chunks: string[] = []
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'))
      done()
    },
  })
  async function* frames(): AsyncGenerator<Frame> {
    for (const [i, body] of NET_EVENTS.entries()) yield {kind: 'event', ms: 0, event: event(body, i)}
  }
  const result = await new Player({output: new PacedWriter(output), color}).play(frames())
  assert.equal(result.frames, NET_EVENTS.length)
  return chunks.join('').split('\r\n').filter(Boolean)
}

describe('replay: network event lines', () => {
  it('denied attempts in red, the others dim cyan; "denied" in words either way', async () => {
    const RED = '\u001b[31m'
    const DIM = '\u001b[2m'
    const lines = await play(true)
    assert.equal(lines.length, 5)
    const denied = lines.filter((l) => l.includes('denied'))
    assert.equal(denied.length, 2)
    for (const line of denied) assert.ok(line.startsWith(RED) && !line.includes(DIM), JSON.stringify(line))
    for (const line of lines.filter((l) => !l.includes('denied'))) assert.ok(line.startsWith(DIM) && !line.includes(RED), JSON.stringify(line))

    assert.deepEqual(await play(false), [
      '[er-shell] network curl: connect 127.0.0.1 → 127.0.0.1:8080 (tcp)',
      '[er-shell] network dig: send 127.0.0.1 → 127.0.0.53:53 (udp) ×3 DNS A example.com',
      '[er-shell] network curl: denied connect → 10.0.0.1:443 (tcp)',
      '[er-shell] network nc: denied send → [2001:db8::1]:5353 (udp)',
      '[er-shell] network wget: connect 127.0.0.1 → 127.0.0.1:80',
    ])
  })
})

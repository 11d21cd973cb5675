// GzipFile: what goes in comes out of the file byte for byte, also when it switches to storing
// (level 0) while zlib is behind and back, with sync flushes in between.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import {after, describe, it} from 'node:test'

import {GzipFile} from '../../src/storage/gzip-file.js'
import {removeDir, tempDir} from '../helpers/temp.js'

/** Terminal-like text that compresses about 3:1, different in every call. */
function textChunk(bytes: number): Buffer {
  const words = ['drwxr-xr-x', 'root', 'alice', 'src', '\x1b[01;34m', '\x1b[0m', randomBytes(6).toString('hex')]
  let s = ''
  while (s.length < bytes) s += `${words[s.length % words.length]} ${(s.length * 7919) % 100000}\n`
  return Buffer.from(s.slice(0, bytes))
}

describe('GzipFile', () => {
  const dir = tempDir('er-gz-')
  after(() => removeDir(dir))

  function open(name: string): {file: string; fd: number} {
    const file = path.join(dir, name)
    return {file, fd: fs.openSync(file, 'w', 0o600)}
  }

  it('stores while behind and compresses again once caught up; the stream decompresses to exactly the input', async () => {
    const {file, fd} = open('switching.gz')
    const errors: Error[] = []
    const gz = new GzipFile({path: file, fd, level: 6, onError: (e) => errors.push(e), onProgress: () => {}, storeWhenBehind: 256 * 1024})
    const hash = createHash('sha256')
    let total = 0
    for (let round = 0; round < 6; round++) {
      // a burst: far more than zlib at level 6 takes in the time it is written
      for (let i = 0; i < 40; i++) {
        const chunk = textChunk(64 * 1024)
        hash.update(chunk)
        total += chunk.length
        gz.write(chunk)
      }
      await gz.flush()
      // then a trickle: caught up, compressed again
      for (let i = 0; i < 5; i++) {
        const chunk = textChunk(1000)
        hash.update(chunk)
        total += chunk.length
        gz.write(chunk)
        await new Promise((r) => setTimeout(r, 5))
      }
      // the writes' own pace (the 50 ms coalescing) switches the level, not flush()
      await new Promise((r) => setTimeout(r, 80))
      await gz.flush()
    }
    await gz.end()
    assert.deepEqual(errors, [])
    const out = zlib.gunzipSync(fs.readFileSync(file))
    assert.equal(out.length, total)
    assert.equal(createHash('sha256').update(out).digest('hex'), hash.digest('hex'))
    assert.ok(gz.storedBytes > 0, 'bursts were stored')
    assert.ok(gz.storedBytes < total, `not everything was stored (${gz.storedBytes} of ${total})`)
    assert.ok(fs.statSync(file).size < total, 'what was compressed is smaller')
  })

  it('end() and flush() right after a burst keep every byte (the level switch waits)', async () => {
    for (const last of ['end', 'flush'] as const) {
      const {file, fd} = open(`burst-then-${last}.gz`)
      const gz = new GzipFile({path: file, fd, level: 6, onError: () => {}, onProgress: () => {}, storeWhenBehind: 256 * 1024})
      const parts: Buffer[] = []
      for (let i = 0; i < 40; i++) parts.push(textChunk(64 * 1024))
      for (const p of parts) gz.write(p)
      // zlib catches up while storing; then one small write, and at once flush/end
      await new Promise((r) => setTimeout(r, 300))
      const tail = textChunk(100)
      parts.push(tail)
      gz.write(tail)
      if (last === 'flush') await gz.flush()
      await gz.end()
      assert.ok(gz.storedBytes > 0)
      assert.ok(zlib.gunzipSync(fs.readFileSync(file)).equals(Buffer.concat(parts)), `${last}: every byte`)
    }
  })

  it('without storeWhenBehind it never stores', async () => {
    const {file, fd} = open('plain.gz')
    const gz = new GzipFile({path: file, fd, level: 6, onError: () => {}, onProgress: () => {}})
    const input = Buffer.concat(Array.from({length: 40}, () => textChunk(64 * 1024)))
    for (let i = 0; i < input.length; i += 64 * 1024) gz.write(input.subarray(i, i + 64 * 1024))
    await gz.end()
    assert.equal(gz.storedBytes, 0)
    assert.ok(zlib.gunzipSync(fs.readFileSync(file)).equals(input))
  })
})

// Ring buffer sizes: pages to bytes with the system page size.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {describe, it} from 'node:test'
import {FALLBACK_PAGE_SIZE, pagesToBytes, ringBufferBytes, systemPageSize} from '../../src/config/index.js'
import {pageSizeFromAuxv} from '../../src/config/page-size.js'

function auxv(words: number[], wordSize: 4 | 8, littleEndian: boolean): Buffer {
  const buffer = Buffer.alloc(words.length * wordSize)
  words.forEach((word, i) => {
    if (wordSize === 4 && littleEndian) buffer.writeUInt32LE(word, i * 4)
    else if (wordSize === 4) buffer.writeUInt32BE(word, i * 4)
    else if (littleEndian) buffer.writeBigUInt64LE(BigInt(word), i * 8)
    else buffer.writeBigUInt64BE(BigInt(word), i * 8)
  })
  return buffer
}

describe('page size', () => {
  it('agrees with getconf PAGESIZE', () => {
    // getconf is in libc-bin (essential on Debian): a missing one is a failure, not a skip.
    const getconf = Number(execFileSync('getconf', ['PAGESIZE'], {encoding: 'utf8'}).trim())
    assert.equal(systemPageSize(), getconf)
  })

  it('is read from AT_PAGESZ in an auxv image of either word size and byte order', () => {
    const words = [33, 0x7ffd0000, 6, 65536, 17, 100, 0, 0]
    assert.equal(pageSizeFromAuxv(auxv(words, 8, true), 8, true), 65536)
    assert.equal(pageSizeFromAuxv(auxv(words, 8, false), 8, false), 65536)
    assert.equal(pageSizeFromAuxv(auxv(words, 4, true), 4, true), 65536)
  })

  it('is not believed when implausible or absent', () => {
    assert.equal(pageSizeFromAuxv(auxv([6, 1000, 0, 0], 8, true), 8, true), undefined)
    assert.equal(pageSizeFromAuxv(auxv([0, 0, 6, 4096], 8, true), 8, true), undefined)
    assert.equal(pageSizeFromAuxv(Buffer.alloc(3), 8, true), undefined)
    assert.equal(FALLBACK_PAGE_SIZE, 4096)
  })
})

describe('pagesToBytes', () => {
  it('multiplies pages by the page size', () => {
    assert.equal(pagesToBytes(8, 4096), 32768)
    assert.equal(pagesToBytes(128, 16384), 2 * 1024 * 1024)
    assert.equal(pagesToBytes(8), 8 * systemPageSize())
  })

  it('gives each kind its ring buffer size', () => {
    assert.deepEqual(ringBufferBytes({command_buffer_size: 8, disk_buffer_size: 128, network_buffer_size: 8}, 4096), {
      command: 32768,
      disk: 524288,
      network: 32768,
    })
  })
})

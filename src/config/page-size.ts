// Turns ring buffer sizes in pages into bytes, with the system page size (what `getconf PAGESIZE` says).
import {readFileSync} from 'node:fs'
import {endianness} from 'node:os'
import type {ErShellConfig, EventKind} from './schema.js'

/** Used when the page size cannot be read: the page size of x86-64 and of most arm64 kernels. */
export const FALLBACK_PAGE_SIZE = 4096

/** auxv entry type of the page size (AT_PAGESZ in <elf.h>); the kernel passes it to every process. */
const AT_PAGESZ = 6
const AT_NULL = 0
const ARCHES_32_BIT = new Set(['arm', 'ia32', 'mips', 'mipsel', 'ppc'])

let cached: number | undefined

/**
 * The kernel's page size, as `getconf PAGESIZE` reports it: read once from this process's auxiliary
 * vector (/proc/self/auxv, AT_PAGESZ), which is what libc's getpagesize() returns. Where that file
 * cannot be read or parsed (not Linux, no /proc), FALLBACK_PAGE_SIZE (4096).
 */
export function systemPageSize(): number {
  cached ??= readAuxvPageSize() ?? FALLBACK_PAGE_SIZE
  return cached
}

/** Bytes of a BPF ring buffer of `pages` pages: a power of two and a multiple of the page size, as the kernel requires. */
export function pagesToBytes(pages: number, pageSize: number = systemPageSize()): number {
  return pages * pageSize
}

/**
 * Bytes of the ring buffer for a `*_buffer_size` of `pages`. Teleport's sizes were per-CPU perf
 * buffers (8 pages on every CPU); er-shell has one ring per kind shared by all CPUs, so it holds
 * `pages` for each possible CPU, rounded up to a power of two. On this project's 2-CPU machines
 * the default command ring is 64 KiB: room for a burst of execs plus one with a 24 KiB argument
 * block (a login shell's `basename -a <200 paths>` did not fit a single 32 KiB ring under load).
 */
export function sharedRingBytes(pages: number, cpus: number, pageSize: number = systemPageSize()): number {
  const want = pagesToBytes(pages, pageSize) * Math.max(1, cpus)
  let bytes = pageSize
  while (bytes < want) bytes *= 2
  return bytes
}

/** Ring buffer bytes for each event kind, from a resolved configuration. */
export function ringBufferBytes(
  config: Pick<ErShellConfig, 'command_buffer_size' | 'disk_buffer_size' | 'network_buffer_size'>,
  pageSize: number = systemPageSize(),
): Record<EventKind, number> {
  return {
    command: pagesToBytes(config.command_buffer_size, pageSize),
    disk: pagesToBytes(config.disk_buffer_size, pageSize),
    network: pagesToBytes(config.network_buffer_size, pageSize),
  }
}

/** Parses an auxv image: pairs of native words (type, value) ending at AT_NULL. Exported for tests. */
export function pageSizeFromAuxv(auxv: Buffer, wordSize: 4 | 8, littleEndian: boolean): number | undefined {
  const read = (offset: number): number => {
    if (wordSize === 4) return littleEndian ? auxv.readUInt32LE(offset) : auxv.readUInt32BE(offset)
    return Number(littleEndian ? auxv.readBigUInt64LE(offset) : auxv.readBigUInt64BE(offset))
  }
  for (let offset = 0; offset + 2 * wordSize <= auxv.length; offset += 2 * wordSize) {
    const type = read(offset)
    if (type === AT_NULL) break
    if (type !== AT_PAGESZ) continue
    const size = read(offset + wordSize)
    // Only a plausible page size is believed (4 KiB … 1 MiB, a power of two).
    return size >= 4096 && size <= 1 << 20 && (size & (size - 1)) === 0 ? size : undefined
  }
  return undefined
}

function readAuxvPageSize(): number | undefined {
  let auxv: Buffer
  try {
    auxv = readFileSync('/proc/self/auxv')
  } catch {
    return undefined // no /proc: the documented fallback applies
  }
  return pageSizeFromAuxv(auxv, ARCHES_32_BIT.has(process.arch) ? 4 : 8, endianness() === 'LE')
}

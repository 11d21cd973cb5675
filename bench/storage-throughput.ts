// Micro-benchmark: SessionWriter.print() of 200 MB of terminal-like output vs writing the raw bytes to a file.
// Run: node dist/bench/storage-throughput.js [MB]   (prints MB/s for both and their ratio)
import {randomUUID} from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import {performance} from 'node:perf_hooks'

import {ensureServerId} from '../src/storage/layout.js'
import {SessionWriter} from '../src/storage/session-writer.js'

const totalMb = Number(process.argv[2] ?? 200)
const total = totalMb * 1024 * 1024

/** Pty-like chunks: colored `ls -l`-ish lines, compressible but not trivially. */
function makeChunks(): Buffer[] {
  const words = ['drwxr-xr-x', '-rw-r--r--', 'root', 'alice', 'node_modules', 'src', 'dist', 'package.json', '\x1b[01;34m', '\x1b[0m', 'Nov', '22', '16:42']
  const chunks: Buffer[] = []
  let seed = 42
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  for (let c = 0; c < 64; c++) {
    let text = ''
    const size = [4096, 16384, 65536][c % 3]!
    while (text.length < size) text += `${words[rand(words.length)]} ${rand(100000)} ${words[rand(words.length)]} ${words[rand(words.length)]}\r\n`
    chunks.push(Buffer.from(text.slice(0, size)))
  }
  return chunks
}

async function rawFile(dir: string, chunks: Buffer[]): Promise<number> {
  const file = path.join(dir, 'raw.bin')
  const stream = fs.createWriteStream(file)
  const start = performance.now()
  let written = 0
  let i = 0
  while (written < total) {
    const chunk = chunks[i++ % chunks.length]!
    written += chunk.length
    if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()))
  }
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())))
  return performance.now() - start
}

async function recorder(dir: string, chunks: Buffer[]): Promise<{ms: number; elu: number; size: number}> {
  const writer = await SessionWriter.create({
    dataDir: dir,
    sid: randomUUID(),
    common: {cluster_name: 'bench', server_id: ensureServerId(dir), server_hostname: 'bench', login: 'root', user: 'root'},
    onError: (error) => {
      throw error
    },
  })
  const elu0 = performance.eventLoopUtilization()
  const start = performance.now()
  let written = 0
  let i = 0
  while (written < total) {
    // A fresh copy per call, as a pty hands out fresh buffers (print() takes ownership).
    const chunk = Buffer.from(chunks[i++ % chunks.length]!)
    written += chunk.length
    if (!writer.print(chunk)) await writer.drained()
    // Let the event loop breathe like a pty reader would between reads.
    if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  const result = await writer.end({interactive: true, exit_code: 0})
  const ms = performance.now() - start
  if (!result.completed) throw result.error
  const elu = performance.eventLoopUtilization(elu0).utilization
  return {ms, elu, size: fs.statSync(writer.paths.chunks).size}
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'er-bench-'))
try {
  const chunks = makeChunks()
  const rawMs = await rawFile(dir, chunks)
  const rec = await recorder(dir, chunks)
  const rawRate = totalMb / (rawMs / 1000)
  const recRate = totalMb / (rec.ms / 1000)
  console.log(`raw file write      : ${rawRate.toFixed(1)} MB/s (${totalMb} MB in ${rawMs.toFixed(0)} ms)`)
  console.log(
    `SessionWriter.print : ${recRate.toFixed(1)} MB/s (${totalMb} MB in ${rec.ms.toFixed(0)} ms, chunks.gz ${(rec.size / 1048576).toFixed(1)} MB, main-thread busy ${(rec.elu * 100).toFixed(0)}%)`,
  )
  console.log(`ratio print/raw     : ${(recRate / rawRate).toFixed(2)}`)
} finally {
  fs.rmSync(dir, {recursive: true, force: true})
}

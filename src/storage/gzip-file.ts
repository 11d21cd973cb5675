// One gzip file written as the session goes: compression on the libuv threadpool, sync flushes on demand.
import * as fs from 'node:fs'
import * as zlib from 'node:zlib'

export interface GzipFileOptions {
  path: string
  fd: number
  level: number
  onError: (error: NodeJS.ErrnoException) => void
  /** Called whenever pending bytes go down (for the writer's drain logic). */
  onProgress: () => void
  /** Small writes wait up to this long to go to zlib together (default 50 ms). */
  coalesceMs?: number
  /** ... unless this many bytes are waiting (default 256 KiB). */
  coalesceBytes?: number
  /**
   * When this much input waits for zlib, store it (level 0: no compression, still gzip) until
   * less than a quarter of it waits, so that compressing never holds the writer back
   * (0, the default: never).
   */
  storeWhenBehind?: number
  /** zlib's output chunk size (default 64 KiB). */
  chunkSize?: number
  /** The uncompressed bytes as they go to zlib, in order (the integrity chain's view of the file). */
  onInput?: (data: Buffer) => void
}

/**
 * Writes a gzip stream to an already-open fd.
 *
 * Input is batched in JS while zlib is busy (one chunk in flight on the threadpool at a time), so
 * a burst of small writes costs one compression call, not one per write. Compressed output is
 * written with one writev() per batch. `flush()` pushes everything through a Z_SYNC_FLUSH and
 * resolves once the bytes are in the file: a reader can then decompress all of it even though
 * the gzip trailer is missing.
 *
 * Errors go to `onError` (once); afterwards the file drops writes and closes its fd.
 */
export class GzipFile {
  readonly path: string
  private fd: number | undefined
  private readonly gzip: zlib.Gzip
  private readonly onError: (error: NodeJS.ErrnoException) => void
  private readonly onProgress: () => void
  private readonly onInput: ((data: Buffer) => void) | undefined

  /** Accepted input not yet handed to zlib: binary chunks, or text (event lines) kept as strings
   * so that a batch becomes one Buffer instead of one per line. */
  private batch: Array<Buffer | string> = []
  private batchIsText = true
  private batchBytes = 0
  private inZlib = 0
  /** Uncompressed bytes handed to zlib and not yet consumed by it. */
  private inZlibBytes = 0
  private readonly level: number
  private currentLevel: number
  private readonly storeWhenBehind: number
  /** Sync flushes handed to zlib and not yet done. */
  private flushesInZlib = 0
  /** A level change under way (zlib's params() must not meet a write in progress). */
  private levelChange: Promise<void> | undefined
  /** Uncompressed bytes stored at level 0 because zlib was behind. */
  storedBytes = 0
  private readonly coalesceMs: number
  private readonly coalesceBytes: number
  private coalesceTimer: NodeJS.Timeout | undefined
  private out: Buffer[] = []
  private outBytes = 0
  private writing = false
  private idleWaiters: Array<() => void> = []
  private failed = false
  /** Failures are no longer reported (after salvage). */
  private quiet = false
  private signalFailed!: () => void
  /** Settles when the file fails or aborts, so no await on zlib can hang after a failure. */
  private readonly failedPromise = new Promise<void>((resolve) => (this.signalFailed = resolve))
  private ending = false
  /** Set by salvage(): the flush it started, after which the file is closed. */
  private salvaging: Promise<void> | undefined
  /** Bytes written since the last flush() began. */
  private dirty = false
  /** Uncompressed bytes accepted so far. */
  bytesIn = 0

  constructor(options: GzipFileOptions) {
    this.path = options.path
    this.fd = options.fd
    this.onError = options.onError
    this.onProgress = options.onProgress
    this.onInput = options.onInput
    this.coalesceMs = options.coalesceMs ?? 50
    this.coalesceBytes = options.coalesceBytes ?? 256 * 1024
    this.level = options.level
    this.currentLevel = options.level
    this.storeWhenBehind = options.storeWhenBehind ?? 0
    this.gzip = zlib.createGzip({level: options.level, memLevel: 8, chunkSize: options.chunkSize ?? 64 * 1024})
    this.gzip.on('data', (chunk: Buffer) => this.queueOut(chunk))
    this.gzip.on('error', (error) => this.fail(error))
  }

  /** Bytes accepted but not yet in the file (uncompressed in JS/zlib, compressed in the out queue). */
  get pendingBytes(): number {
    return this.batchBytes + this.inZlibBytes + this.outBytes
  }

  get isDirty(): boolean {
    return this.dirty
  }

  get hasFailed(): boolean {
    return this.failed
  }

  /** Takes ownership of `data`: do not modify it afterwards. */
  write(data: Buffer): void {
    if (this.failed || this.salvaging || data.length === 0) return
    this.accept(data, data.length)
    this.batchIsText = false
  }

  /** Appends text, UTF-8 encoded (`bytes`: its encoded length, when the caller knows it). */
  writeText(text: string, bytes?: number): void {
    if (this.failed || this.salvaging || text.length === 0) return
    this.accept(text, bytes ?? Buffer.byteLength(text, 'utf8'))
  }

  private accept(data: Buffer | string, bytes: number): void {
    if (this.ending) throw new Error(`write after end: ${this.path}`)
    this.batch.push(data)
    this.batchBytes += bytes
    this.bytesIn += bytes
    this.dirty = true
    if (this.inZlib === 0) this.schedulePush()
  }

  /** Z_SYNC_FLUSH everything accepted so far and wait until it is written to the file. */
  async flush(): Promise<void> {
    if (this.failed || this.ending) return
    if (this.levelChange) await this.levelChange
    if (this.failed || this.ending) return
    this.dirty = false
    this.pushBatch()
    this.flushesInZlib++
    await Promise.race([new Promise<void>((resolve) => this.gzip.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve())), this.failedPromise])
    this.flushesInZlib--
    await this.outIdle()
  }

  /**
   * Another file of the recording failed: write out what this file has accepted (a sync flush, no
   * trailer, so readers see an unfinished stream), then close. Accepts nothing more; a failure
   * here is not reported (the first one was). What gets written stays readable.
   */
  salvage(): Promise<void> {
    if (this.salvaging) return this.salvaging
    this.quiet = true
    const flushed = this.failed || this.ending ? Promise.resolve() : this.flush()
    this.ending = true
    this.salvaging = flushed.then(() => {
      if (this.fd !== undefined && !this.failed) {
        try {
          fs.fsyncSync(this.fd)
        } catch {
          // the first failure was reported; this one adds nothing
        }
      }
      this.abort()
    })
    return this.salvaging
  }

  /** Finish the gzip stream (trailer), write it out, fsync and close. */
  async end(): Promise<void> {
    if (this.salvaging) return this.salvaging
    if (this.ending) return
    this.ending = true
    if (this.levelChange) await this.levelChange
    if (!this.failed) {
      this.pushBatch()
      await Promise.race([
        new Promise<void>((resolve) => {
          this.gzip.once('end', resolve)
          this.gzip.once('close', resolve)
          this.gzip.end()
        }),
        this.failedPromise,
      ])
      await this.outIdle()
    }
    if (!this.failed && this.fd !== undefined) {
      try {
        fs.fsyncSync(this.fd)
      } catch (error) {
        this.fail(error as NodeJS.ErrnoException)
      }
    }
    this.closeFd()
  }

  /** Stop at once: drop what is pending, close the fd. What is already in the file stays. */
  abort(): void {
    this.clearCoalesceTimer()
    this.failed = true
    this.ending = true
    this.batch = []
    this.batchIsText = true
    this.batchBytes = 0
    this.out = []
    this.outBytes = 0
    this.gzip.destroy()
    if (!this.writing) this.closeFd()
    this.wakeIdle()
    this.signalFailed()
  }

  /**
   * Every zlib call is a threadpool round trip (~50 µs of main-thread time on a small VM), so
   * small writes are gathered for up to coalesceMs; a large batch goes at once.
   */
  private schedulePush(): void {
    if (this.batchBytes === 0 || this.failed) return
    if (this.batchBytes >= this.coalesceBytes) this.pushBatch(true)
    else if (this.coalesceTimer === undefined) {
      this.coalesceTimer = setTimeout(() => {
        this.coalesceTimer = undefined
        if (this.inZlib === 0 && !this.ending) this.pushBatch(true)
      }, this.coalesceMs)
    }
  }

  private clearCoalesceTimer(): void {
    if (this.coalesceTimer === undefined) return
    clearTimeout(this.coalesceTimer)
    this.coalesceTimer = undefined
  }

  /**
   * Hands the batch to zlib. Only the writes' own pace (`mayChangeLevel`) switches between storing
   * and compressing: flush() and end() must get the batch into zlib now, and while a level change
   * is under way nothing else may reach zlib (they wait for it first).
   */
  private pushBatch(mayChangeLevel = false): void {
    this.clearCoalesceTimer()
    if (this.batchBytes === 0 || this.failed || this.levelChange) return
    if (mayChangeLevel && this.storeWhenBehind > 0 && !this.ending && this.inZlib === 0 && this.flushesInZlib === 0) {
      const backlog = this.batchBytes
      const want = backlog >= this.storeWhenBehind ? 0 : backlog < this.storeWhenBehind / 4 ? this.level : this.currentLevel
      if (want !== this.currentLevel) {
        // params() sync-flushes, then changes the level: nothing else may reach zlib meanwhile.
        this.currentLevel = want
        const changed = new Promise<void>((resolve) =>
          (this.gzip as zlib.Gzip & zlib.ZlibParams).params(want, zlib.constants.Z_DEFAULT_STRATEGY, () => resolve()),
        )
        this.levelChange = Promise.race([changed, this.failedPromise]).then(() => {
          this.levelChange = undefined
          if (!this.ending) this.pushBatch()
        })
        return
      }
    }
    const data = this.batchData()
    this.batch = []
    this.batchIsText = true
    this.batchBytes = 0
    if (this.currentLevel === 0 && this.level !== 0) this.storedBytes += data.length
    this.onInput?.(data)
    this.inZlib++
    this.inZlibBytes += data.length
    this.gzip.write(data, () => {
      this.inZlib--
      this.inZlibBytes -= data.length
      if (this.inZlib === 0 && !this.ending) this.schedulePush()
      this.onProgress()
    })
  }

  private batchData(): Buffer {
    const batch = this.batch
    if (this.batchIsText) return Buffer.from(batch.length === 1 ? (batch[0] as string) : batch.join(''), 'utf8')
    if (batch.length === 1 && typeof batch[0] !== 'string') return batch[0]!
    const buffers = batch.map((item) => (typeof item === 'string' ? Buffer.from(item, 'utf8') : item))
    return Buffer.concat(buffers, this.batchBytes)
  }

  private queueOut(chunk: Buffer): void {
    if (this.failed) return
    this.out.push(chunk)
    this.outBytes += chunk.length
    this.kick()
  }

  private kick(): void {
    if (this.writing || this.out.length === 0 || this.failed || this.fd === undefined) return
    const buffers = this.out
    const total = this.outBytes
    this.out = []
    this.outBytes = 0
    this.writing = true
    fs.writev(this.fd, buffers, (error, written) => {
      this.writing = false
      if (this.failed) {
        // Aborted (or failed elsewhere) while this write was in flight.
        this.closeFd()
        this.wakeIdle()
        return
      }
      if (error) {
        this.fail(error)
        return
      }
      if (written < total) {
        // Short write (a full disk usually fails the retry with ENOSPC): requeue the rest first.
        const rest = Buffer.concat(buffers, total).subarray(written)
        this.out.unshift(rest)
        this.outBytes += rest.length
      }
      this.onProgress()
      if (this.out.length > 0) this.kick()
      else this.wakeIdle()
    })
  }

  private outIdle(): Promise<void> {
    if (this.failed || (!this.writing && this.out.length === 0)) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }

  private fail(error: NodeJS.ErrnoException): void {
    if (this.failed) return
    this.clearCoalesceTimer()
    this.failed = true
    this.batch = []
    this.batchIsText = true
    this.batchBytes = 0
    this.out = []
    this.outBytes = 0
    this.gzip.destroy()
    this.closeFd()
    this.wakeIdle()
    this.signalFailed()
    if (!this.quiet) this.onError(error)
  }

  private closeFd(): void {
    if (this.fd === undefined || this.writing) return
    const fd = this.fd
    this.fd = undefined
    try {
      fs.closeSync(fd)
    } catch {
      // EBADF/EIO on close after a failed write: the failure was already reported.
    }
  }
}

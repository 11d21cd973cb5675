// The writer side of a recording's integrity (docs/integrity.md): running SHA-256 hashes of the
// session's event lines and terminal bytes, and the checkpoints of `<sid>.integrity`, each
// authenticated with the next key of the session's ratchet. SessionFiles owns it: a checkpoint is
// written only once the bytes it covers are in the files (after a sync flush).
import {type Hash, createHash} from 'node:crypto'
import * as fs from 'node:fs'
import {performance} from 'node:perf_hooks'

import type {OutputDigest} from '../native/types.js'
import {TIMINGS, marks} from '../record/timings.js'

import {type RatchetState, macOf, ratchet, sessionKey} from './keys.js'
import {countLines} from './lines.js'
import {checkpointMacText, headerMacText, type CheckpointRecord, type HeaderRecord} from './format.js'

/** What a checkpoint covers, taken when a flush starts and written when it is done. */
export interface Snapshot {
  timeMs: number
  eventBytes: number
  eventLines: number
  eventHash: string
  chunkBytes: number
  chunkHash: string
}

export interface ChainStart {
  path: string
  fd: number
  sid: string
  serverId: string
  /** The host's session number and its key (claimSessionNumber): the key is erased here. */
  claim: RatchetState
  timeMs: number
  onError: (error: NodeJS.ErrnoException) => void
}

export class IntegrityChain {
  readonly path: string
  readonly seq: number
  private fd: number | undefined
  private readonly onError: (error: NodeJS.ErrnoException) => void
  private readonly events: Hash = createHash('sha256')
  private readonly chunks: Hash = createHash('sha256')
  private eventBytes = 0
  private eventLines = 0
  private chunkBytes = 0
  /** hashOutputElsewhere(): the terminal bytes are hashed where they are read (the native pump). */
  private outputDigest: (() => OutputDigest) | undefined
  /** The key of the next record: s_i. Erased (zeroed) as soon as it is used. */
  private key: Buffer
  private next = 0
  private prevMac = ''
  private committed = {eventBytes: 0, chunkBytes: 0}
  private done = false

  /** Writes the header (record 0, under s_0). Throws when it cannot be written. */
  constructor(start: ChainStart) {
    this.path = start.path
    this.fd = start.fd
    this.seq = start.claim.seq
    this.onError = start.onError
    this.key = sessionKey(start.claim.key, start.sid, start.claim.seq)
    start.claim.key.fill(0)
    const header: Omit<HeaderRecord, 'mac'> = {
      integrity: 1,
      sid: start.sid,
      server_id: start.serverId,
      seq: start.claim.seq,
      key_id: start.claim.keyId,
      time: new Date(start.timeMs).toISOString(),
    }
    const mac = this.sign(headerMacText(header))
    writeLine(start.fd, JSON.stringify({...header, mac}))
  }

  /**
   * The events file's uncompressed bytes, as they go to its compressor (whole lines, in order):
   * hashed once per batch of lines, on buffers the file made anyway.
   */
  addEvents(data: Buffer): void {
    const t0 = TIMINGS ? performance.now() : 0
    this.events.update(data)
    this.eventBytes += data.length
    this.eventLines += countLines(data)
    if (TIMINGS) spent(t0)
  }

  /**
   * From now on the terminal bytes are hashed by their producer, in the order they are given here,
   * and `digest` tells the hash of those given so far; addOutput() then takes no part. Before any output.
   */
  hashOutputElsewhere(digest: () => OutputDigest): void {
    if (this.chunkBytes > 0) throw new Error('hashOutputElsewhere() after output was hashed here')
    this.outputDigest = digest
  }

  /** Terminal output bytes. */
  addOutput(data: Buffer): void {
    if (this.outputDigest) return
    const t0 = TIMINGS ? performance.now() : 0
    this.chunks.update(data)
    this.chunkBytes += data.length
    if (TIMINGS) spent(t0)
  }

  /** The hashes of everything given so far, or undefined when nothing came since the last checkpoint. */
  snapshot(force = false): Snapshot | undefined {
    if (this.done) return undefined
    const t0 = TIMINGS ? performance.now() : 0
    const output = this.outputDigest?.()
    const chunkBytes = output ? output.bytes : this.chunkBytes
    if (!force && this.eventBytes === this.committed.eventBytes && chunkBytes === this.committed.chunkBytes) return undefined
    const snapshot = {
      timeMs: Date.now(),
      eventBytes: this.eventBytes,
      eventLines: this.eventLines,
      eventHash: this.events.copy().digest('hex'),
      chunkBytes,
      chunkHash: output ? output.sha256 : this.chunks.copy().digest('hex'),
    }
    if (TIMINGS) spent(t0)
    return snapshot
  }

  /** Appends the checkpoint for a snapshot whose bytes are now in the files (a stale one is dropped). */
  commit(snapshot: Snapshot | undefined): void {
    if (!snapshot || this.done || this.fd === undefined) return
    const t0 = TIMINGS ? performance.now() : 0
    if (snapshot.eventBytes <= this.committed.eventBytes && snapshot.chunkBytes <= this.committed.chunkBytes) return
    try {
      this.append(snapshot, false)
    } catch (error) {
      this.close()
      this.onError(error as NodeJS.ErrnoException)
    }
    if (TIMINGS) spent(t0)
  }

  /**
   * After the files were finished: the last checkpoint, marked sealed (the recording is whole),
   * fsynced; then closes. Throws when it cannot be written.
   */
  seal(): void {
    if (this.done || this.fd === undefined) return
    try {
      this.append(this.snapshot(true)!, true)
      fs.fsyncSync(this.fd)
    } finally {
      this.close()
    }
  }

  private append(snapshot: Snapshot, sealed: boolean): void {
    const record: Omit<CheckpointRecord, 'mac'> = {
      cp: this.next,
      time: new Date(snapshot.timeMs).toISOString(),
      events: {bytes: snapshot.eventBytes, lines: snapshot.eventLines, sha256: snapshot.eventHash},
      chunks: {bytes: snapshot.chunkBytes, sha256: snapshot.chunkHash},
      ...(sealed ? {sealed: true as const} : {}),
    }
    const mac = this.sign(checkpointMacText(record, this.prevMac))
    writeLine(this.fd!, JSON.stringify({...record, mac}))
    this.committed = {eventBytes: snapshot.eventBytes, chunkBytes: snapshot.chunkBytes}
  }

  /** No more checkpoints (abort, or another file failed): what was written stays, unsealed. */
  close(): void {
    this.done = true
    this.key.fill(0)
    if (this.fd === undefined) return
    const fd = this.fd
    this.fd = undefined
    try {
      fs.closeSync(fd)
    } catch {
      // nothing more to write
    }
  }

  /** MAC with the current key, then the key moves on and the used one is erased. */
  private sign(text: string): string {
    const mac = macOf(this.key, text)
    const nextKey = ratchet(this.key)
    this.key.fill(0)
    this.key = nextKey
    this.next++
    this.prevMac = mac
    return mac
  }
}

/** ER_SHELL_TIMINGS=1: the chain's main-thread time, for the benchmark (bench/run.ts). */
function spent(t0: number): void {
  marks.integrityMs = (marks.integrityMs ?? 0) + performance.now() - t0
}

function writeLine(fd: number, line: string): void {
  const data = Buffer.from(`${line}\n`, 'utf8')
  let done = 0
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done)
}

// Runs shipping passes over a data dir (every host log file, then the finished recordings), once
// or in a loop (`ship --follow`), and keeps a local mirror of where shipping stands for `sessions`:
// <data_dir>/ship/<server_id>.json (the cursors the store confirmed, and the last failure).
import * as fs from 'node:fs'
import * as path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {StoreError, StoreSchemaError} from '../errors/index.js'
import {DIR_MODE, FILE_MODE} from '../storage/layout.js'
import {VERIFICATION_KEYS_SCHEMA, runRetention, ensureSchema} from './schema.js'
import {BatchReader, listHostLogs, pendingRecordings, shipBatch, uploadRecording, type ShipLimits} from './ship.js'
import {StoreConnection} from './store.js'
import {shipVerificationKey} from './verification-keys.js'
import type {StoreAddress} from './uri.js'

export const SHIP_DIR = 'ship'

/** What the local mirror holds for one server id. */
export interface ShipState {
  store: string
  /** Byte position the store confirmed, per host log file name. */
  cursors: Record<string, number>
  /** ISO time of the last successful pass or batch. */
  shipped_at: string | null
  /** The last failure, until a pass succeeds. */
  failing: {reason: string; since: string} | null
}

export function shipStatePath(dataDir: string, serverId: string): string {
  return path.join(dataDir, SHIP_DIR, `${serverId}.json`)
}

export function readShipState(dataDir: string, serverId: string): ShipState | undefined {
  try {
    return JSON.parse(fs.readFileSync(shipStatePath(dataDir, serverId), 'utf8')) as ShipState
  } catch {
    return undefined
  }
}

function writeShipState(dataDir: string, serverId: string, state: ShipState): void {
  const dir = path.join(dataDir, SHIP_DIR)
  try {
    fs.mkdirSync(dir, {mode: DIR_MODE, recursive: true})
    const file = shipStatePath(dataDir, serverId)
    const temp = `${file}.${process.pid}.tmp`
    fs.writeFileSync(temp, JSON.stringify(state), {mode: FILE_MODE})
    fs.renameSync(temp, file)
  } catch {
    // The mirror is for display only; the store holds the real cursor.
  }
}

export interface PassResult {
  files: number
  lines: number
  inserted: number
  skipped: number
  recordings: number
  recordingBytes: number
}

export interface ShipperOptions extends ShipLimits {
  dataDir: string
  address: StoreAddress
  /** Lines about what happened (stderr); never holds a password. */
  onNote?: (message: string) => void
  /** Don't create the schema (a role with INSERT and SELECT only); just check it. */
  noCreate?: boolean
}

/** A shipper with its own connection; open() connects and checks the schema. */
export class Shipper {
  private store: StoreConnection | undefined
  private readonly states = new Map<string, ShipState>()
  private readonly shrunkNoted = new Set<string>()

  constructor(private readonly options: ShipperOptions) {}

  async open(): Promise<StoreConnection> {
    if (this.store) return this.store
    const store = await StoreConnection.open(this.options.address, {applicationName: 'er-shell ship'})
    try {
      const {partitioning, retentionMs} = this.options.address.options
      const schema = await ensureSchema(store, {create: !this.options.noCreate, partitioning, retentionMs})
      if (schema.version >= VERIFICATION_KEYS_SCHEMA) await shipVerificationKey(store, this.options.dataDir)
    } catch (error) {
      await store.close()
      throw error
    }
    this.store = store
    return store
  }

  async close(): Promise<void> {
    const store = this.store
    this.store = undefined
    await store?.close()
  }

  /** Ships everything there is now: every host log file to its end, then finished recordings. */
  async pass(signal?: AbortSignal): Promise<PassResult> {
    const store = await this.open()
    const result: PassResult = {files: 0, lines: 0, inserted: 0, skipped: 0, recordings: 0, recordingBytes: 0}
    const {dataDir} = this.options
    const files = listHostLogs(dataDir)
    for (const file of files) {
      const state = this.state(file.serverId)
      if ((state.cursors[file.name] ?? -1) === file.size) continue
      result.files++
      const reader = new BatchReader(this.options)
      for (;;) {
        if (signal?.aborted) return result
        const batch = await shipBatch(store, file, reader)
        if (batch.shrunk && !this.shrunkNoted.has(file.path)) {
          this.shrunkNoted.add(file.path)
          this.options.onNote?.(
            `${file.path} is shorter than the ${batch.position} bytes already shipped from it (truncated or replaced): lines written there since are not shipped`,
          )
        }
        result.lines += batch.lines
        result.inserted += batch.inserted
        result.skipped += batch.skipped
        state.cursors[file.name] = batch.position
        state.shipped_at = new Date().toISOString()
        state.failing = null
        this.save(file.serverId)
        if (batch.caughtUp) break
      }
    }
    for (const serverId of new Set(files.map((f) => f.serverId))) {
      for (const sid of await pendingRecordings(store, dataDir, serverId)) {
        if (signal?.aborted) return result
        const uploaded = await uploadRecording(store, dataDir, serverId, sid)
        result.recordings++
        result.recordingBytes += uploaded.bytes
      }
    }
    if (result.skipped > 0) this.options.onNote?.(`skipped ${result.skipped} unreadable host log line${result.skipped === 1 ? '' : 's'}`)
    return result
  }

  /** Records a failure in every server's local mirror (for `sessions`), and drops the connection. */
  async failed(error: StoreError): Promise<void> {
    for (const file of listHostLogs(this.options.dataDir)) {
      const state = this.state(file.serverId)
      state.failing ??= {reason: error.message.replace(/^fleet store \S+: /, ''), since: new Date().toISOString()}
      state.failing.reason = error.message.replace(/^fleet store \S+: /, '')
      this.save(file.serverId)
    }
    await this.close()
  }

  /**
   * Ships, then waits for more, until `signal` aborts. A failure is one line (once per distinct
   * reason) and a retry after a growing pause (1 s … 30 s); a schema from a newer er-shell stops it.
   * Runs the retention cleanup every cleanup_interval unless disable_cleanup, beside the shipping
   * (on its own connection): Teleport's DELETE reads every page its BRIN index has not summarised
   * yet (seconds, after a large catch-up), and batches must not wait for it.
   */
  async follow(signal: AbortSignal, pollMs = 1000): Promise<void> {
    let pause = 1000
    let lastReason: string | undefined
    let lastCleanup = 0
    let cleaning: Promise<void> | undefined
    /** What the cleanup threw that is not a StoreError (a bug): thrown from here, as before. */
    let cleanupBug: {error: unknown} | undefined
    const {options: storeOptions} = this.options.address
    while (!signal.aborted) {
      if (cleanupBug) throw cleanupBug.error
      try {
        const result = await this.pass(signal)
        if (lastReason !== undefined) this.options.onNote?.('fleet store reachable again: caught up')
        lastReason = undefined
        pause = 1000
        if (result.lines > 0 || result.recordings > 0) this.options.onNote?.(describePass(result))
        if (!storeOptions.disableCleanup && cleaning === undefined && Date.now() - lastCleanup >= storeOptions.cleanupIntervalMs) {
          lastCleanup = Date.now()
          cleaning = this.cleanup()
            .catch((error: unknown) => void (cleanupBug = {error}))
            .finally(() => (cleaning = undefined))
        }
        await sleep(pollMs, undefined, {signal}).catch(() => {})
      } catch (error) {
        if (error instanceof StoreSchemaError) throw error
        if (!(error instanceof StoreError)) throw error
        await this.failed(error)
        if (error.message !== lastReason) this.options.onNote?.(`${error.message}; retrying (nothing is lost: the host log keeps every event)`)
        lastReason = error.message
        await sleep(pause, undefined, {signal}).catch(() => {})
        pause = Math.min(pause * 2, 30_000)
      }
    }
    await cleaning
    if (cleanupBug) throw cleanupBug.error
  }

  /**
   * The retention cleanup. Its failure (a role without DELETE, say) is one line per interval and
   * never stops shipping.
   */
  private async cleanup(): Promise<void> {
    const {address} = this.options
    let store: StoreConnection | undefined
    try {
      store = await StoreConnection.open(address, {applicationName: 'er-shell ship (retention)'})
      const deleted = await runRetention(store, address.options.retentionMs)
      if (deleted > 0) this.options.onNote?.(`retention: deleted ${deleted} events older than ${Math.round(address.options.retentionMs / 3_600_000)}h`)
    } catch (error) {
      if (!(error instanceof StoreError)) throw error
      this.options.onNote?.(`${error.message} (in the retention cleanup; shipping goes on: set disable_cleanup=true when another job deletes old events)`)
    } finally {
      await store?.close()
    }
  }

  private state(serverId: string): ShipState {
    let state = this.states.get(serverId)
    if (!state) {
      const saved = readShipState(this.options.dataDir, serverId)
      state = {
        store: this.options.address.redacted,
        cursors: {},
        shipped_at: null,
        failing: null,
        ...(saved?.store === this.options.address.redacted ? saved : {}),
      }
      this.states.set(serverId, state)
    }
    return state
  }

  private save(serverId: string): void {
    const state = this.states.get(serverId)
    if (state) writeShipState(this.options.dataDir, serverId, state)
  }
}

export function describePass(result: PassResult): string {
  const parts = [
    `shipped ${result.lines} line${result.lines === 1 ? '' : 's'} (${result.inserted} new) from ${result.files} file${result.files === 1 ? '' : 's'}`,
  ]
  if (result.recordings > 0) parts.push(`${result.recordings} recording${result.recordings === 1 ? '' : 's'} (${result.recordingBytes} bytes)`)
  return parts.join(', ')
}

// What the reading commands (sessions, events, replay) share about the fleet store: their flags,
// whether they read the store or this host's files, and each local session's shipping state.
import * as fs from 'node:fs'

import {Flags} from '../cli/oclif.js'
import {StoreError} from '../errors/index.js'
import type {ErShellConfig} from '../config/schema.js'
import {ensureSchema} from './schema.js'
import {listHostLogs} from './ship.js'
import {readShipState} from './shipper.js'
import {StoreConnection, storeAddress} from './store.js'

export const readingFlags = {
  local: Flags.boolean({description: "Read only this host's files, even when a fleet store is configured.", default: false}),
  host: Flags.string({description: 'Only this host (its host name, server_hostname); needs a fleet store.', helpValue: '<name>'}),
  'server-id': Flags.string({description: 'Only this host (its server_id, <data_dir>/host_uuid); needs a fleet store.', helpValue: '<id>'}),
}

/**
 * The store to read from: undefined with --local or without audit_events_uri. Connects and checks
 * that er-shell's tables are there (StoreError: one line, e.g. unreachable; StoreSchemaError: newer).
 */
export async function openReadingStore(config: ErShellConfig, local: boolean): Promise<StoreConnection | undefined> {
  if (local) return undefined
  const address = storeAddress(config.audit_events_uri)
  if (address === undefined) return undefined
  let store: StoreConnection
  try {
    store = await StoreConnection.open(address, {applicationName: 'er-shell'})
  } catch (error) {
    if (!(error instanceof StoreError)) throw error
    throw new StoreError(address.redacted, `${error.message.slice(`fleet store ${address.redacted}: `.length)} (--local reads this host's files)`, error)
  }
  try {
    const state = await ensureSchema(store, {create: false})
    if (state.version === 0) throw new StoreError(address.redacted, "it has no er-shell tables yet: run 'er-shell ship' on a host first (or use --local)")
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}

/**
 * Each local session's shipping state: `shipped`, `behind by N` (its host log lines after the
 * confirmed cursor), `failing: REASON (behind by N)` (the shipper's last failure), or `not shipped`
 * (no shipper has run against the store from this host). From <data_dir>/ship/<server_id>.json and
 * the host log's unshipped tail only (read in bounded memory); no database round trip.
 */
export function shippingStates(dataDir: string): (sid: string, serverId: string) => string {
  const behind = new Map<string, number>()
  const failing = new Map<string, string>()
  const shipping = new Set<string>()
  for (const file of listHostLogs(dataDir)) {
    const state = readShipState(dataDir, file.serverId)
    if (state !== undefined) shipping.add(file.serverId)
    if (state?.failing) failing.set(file.serverId, state.failing.reason)
    const from = Math.min(state?.cursors[file.name] ?? 0, file.size)
    if (file.size === from) continue
    for (const [sid, n] of countSessionLines(file.path, from, file.size)) behind.set(sid, (behind.get(sid) ?? 0) + n)
  }
  return (sid, serverId) => {
    const n = behind.get(sid)
    const reason = failing.get(serverId)
    if (!shipping.has(serverId)) return 'not shipped'
    if (n === undefined) return 'shipped'
    return reason === undefined ? `behind by ${n}` : `failing: ${reason} (behind by ${n})`
  }
}

const SID_KEY = Buffer.from('"sid":"')
/** Longest sid counted (er-shell's sids are UUIDs; a longer value is not a session id). */
const MAX_SID = 256

/**
 * Lines per session in `file` between `from` and `to`: every `"sid":"…"` there, counted in
 * bounded memory (one buffer of `bufferBytes`, read again and again) however long the unshipped
 * tail has grown. A key cut by the buffer's end is carried to the next read (at most its key and
 * MAX_SID bytes).
 */
export function countSessionLines(file: string, from: number, to: number, bufferBytes = 64 * 1024): Map<string, number> {
  const counts = new Map<string, number>()
  const buffer = Buffer.alloc(Math.max(bufferBytes, 2 * (SID_KEY.length + MAX_SID + 1)))
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
  try {
    let carried = 0
    for (let at = from; at < to;) {
      const n = fs.readSync(fd, buffer, carried, Math.min(buffer.length - carried, to - at), at)
      if (n === 0) break
      at += n
      const view = buffer.subarray(0, carried + n)
      // Bytes from here on may hold a key (or its sid) that the next read completes.
      let keep = at < to ? Math.max(0, view.length - SID_KEY.length + 1) : view.length
      for (let i = view.indexOf(SID_KEY); i >= 0; i = view.indexOf(SID_KEY, i + 1)) {
        const start = i + SID_KEY.length
        const end = view.indexOf(0x22, start)
        if (end < 0) {
          if (at < to && view.length - start <= MAX_SID) keep = Math.min(keep, i)
          break
        }
        if (end > start && end - start <= MAX_SID) {
          const sid = view.toString('utf8', start, end)
          counts.set(sid, (counts.get(sid) ?? 0) + 1)
        }
      }
      carried = view.length - keep
      buffer.copy(buffer, 0, keep, view.length)
    }
  } finally {
    fs.closeSync(fd)
  }
  return counts
}

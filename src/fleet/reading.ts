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
 * the host log's unshipped tail only; no database round trip.
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
    const fd = fs.openSync(file.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    try {
      const buffer = Buffer.alloc(file.size - from)
      fs.readSync(fd, buffer, 0, buffer.length, from)
      for (const match of buffer.toString('utf8').matchAll(/"sid":"([^"]+)"/g)) behind.set(match[1]!, (behind.get(match[1]!) ?? 0) + 1)
    } finally {
      fs.closeSync(fd)
    }
  }
  return (sid, serverId) => {
    const n = behind.get(sid)
    const reason = failing.get(serverId)
    if (!shipping.has(serverId)) return 'not shipped'
    if (n === undefined) return 'shipped'
    return reason === undefined ? `behind by ${n}` : `failing: ${reason} (behind by ${n})`
  }
}

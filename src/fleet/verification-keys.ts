// The hosts' integrity verification keys in the fleet store (docs/integrity.md, "Keys"): each
// shipper puts its host's key there when it starts — at the start of every recorded session, since
// `record` starts one — so a copy is kept off the host; `verify` checks against it.
import {keyIdOf, readHostVerificationKey, type VerificationKey} from '../integrity/index.js'
import {readServerId} from '../storage/layout.js'
import type {StoreConnection} from './store.js'

/** Puts this data dir's verification key in the store, if it is still on the host. A key the store has is never replaced. */
export async function shipVerificationKey(store: StoreConnection, dataDir: string): Promise<VerificationKey | undefined> {
  const serverId = readServerId(dataDir)
  const key = readHostVerificationKey(dataDir)
  if (serverId === undefined || key === undefined) return undefined
  await store.query('INSERT INTO er_shell_verification_keys (server_id, key_id, key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    serverId,
    key.id,
    key.key.toString('hex'),
  ])
  return key
}

export interface StoredKey extends VerificationKey {
  received: Date
}

/** The keys the store holds for a host, the first received first (a row whose id does not name its key is left out). */
export async function storedVerificationKeys(store: StoreConnection, serverId: string): Promise<StoredKey[]> {
  const {rows} = await store.query<{key_id: string; key: string; received: Date}>(
    'SELECT key_id, key, received FROM er_shell_verification_keys WHERE server_id = $1 ORDER BY received, key_id',
    [serverId],
  )
  return rows.map((r) => ({id: r.key_id, key: Buffer.from(r.key, 'hex'), received: r.received})).filter((k) => k.key.length === 32 && keyIdOf(k.key) === k.id)
}

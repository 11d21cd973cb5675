// Recordings in the store: a finished session's files, fetched back into a private temporary data
// dir laid out as the host wrote them, so that `replay` plays them with the same code as local files.
import * as fs from 'node:fs'
import {tmpdir} from 'node:os'
import * as path from 'node:path'
import {gunzipSync} from 'node:zlib'

import {RecordingReadError} from '../errors/index.js'
import {DIR_MODE, FILE_MODE, LOG_DIR, NAMESPACE, SESSIONS_DIR} from '../storage/layout.js'
import type {StoredFile} from './ship.js'
import type {StoreConnection} from './store.js'

export interface FetchedRecording {
  /** A data dir holding just this session (remove it with `remove`). */
  dataDir: string
  serverId: string
  remove(): void
}

/**
 * Fetches the complete recording of `sid` (undefined when the store has none: never a partial one,
 * whose parts are not committed without the row that says complete).
 */
export async function fetchRecording(store: StoreConnection, sid: string): Promise<FetchedRecording | undefined> {
  const {rows} = await store.query<{server_id: string; files: StoredFile[]}>('SELECT server_id, files FROM er_shell_recordings WHERE sid = $1 AND complete', [
    sid,
  ])
  const row = rows[0]
  if (row === undefined) return undefined
  const dataDir = fs.mkdtempSync(path.join(tmpdir(), 'er-shell-replay-'))
  const remove = (): void => fs.rmSync(dataDir, {recursive: true, force: true})
  try {
    const dir = path.join(dataDir, LOG_DIR, row.server_id, SESSIONS_DIR, NAMESPACE)
    fs.mkdirSync(dir, {recursive: true, mode: DIR_MODE})
    for (const file of row.files) {
      if (path.basename(file.name) !== file.name || !file.name.startsWith(sid))
        throw new RecordingReadError(`${store.address.redacted} ${sid}`, `bad file name ${JSON.stringify(file.name)}`)
      const parts = await store.query<{data: Buffer}>('SELECT data FROM er_shell_recording_parts WHERE sid = $1 AND name = $2 ORDER BY part', [sid, file.name])
      const stored = Buffer.concat(parts.rows.map((p) => p.data))
      fs.writeFileSync(path.join(dir, file.name), file.gzip ? gunzipSync(stored) : stored, {mode: FILE_MODE})
    }
  } catch (error) {
    remove()
    throw error
  }
  return {dataDir, serverId: row.server_id, remove}
}

// The records of `<sid>.integrity` (docs/integrity.md): one JSON line each, the header first, then
// checkpoints; and the exact text each record's MAC is computed over.

export const INTEGRITY_FILE_VERSION = 1

/** Record 0: which session, which host number, which key. */
export interface HeaderRecord {
  integrity: 1
  sid: string
  server_id: string
  /** The host's session number (the host ratchet's step the session key came from). */
  seq: number
  /** The verification key's id. */
  key_id: string
  /** RFC 3339 */
  time: string
  mac: string
}

/** Records 1…: the prefix of each stream written so far, and its hash. */
export interface CheckpointRecord {
  cp: number
  time: string
  /** `<sid>-0.events.gz`, uncompressed: bytes, lines (events), SHA-256 of those bytes. */
  events: {bytes: number; lines: number; sha256: string}
  /** `<sid>-0.chunks.gz`, uncompressed. */
  chunks: {bytes: number; sha256: string}
  /** The last checkpoint of a recording that ended cleanly. */
  sealed?: true
  mac: string
}

export function headerMacText(h: Omit<HeaderRecord, 'mac'>): string {
  return `er-shell integrity v1|header|${h.sid}|${h.server_id}|${h.seq}|${h.key_id}|${h.time}`
}

/** Covers the previous record's MAC: records cannot be dropped, reordered or moved to another session. */
export function checkpointMacText(c: Omit<CheckpointRecord, 'mac'>, prevMac: string): string {
  return `er-shell integrity v1|cp|${c.cp}|${c.time}|${c.events.bytes}|${c.events.lines}|${c.events.sha256}|${c.chunks.bytes}|${c.chunks.sha256}|${c.sealed ? 1 : 0}|${prevMac}`
}

const HEX64 = /^[0-9a-f]{64}$/

export function isHeader(v: unknown): v is HeaderRecord {
  const h = v as HeaderRecord
  return (
    typeof v === 'object' &&
    v !== null &&
    h.integrity === 1 &&
    typeof h.sid === 'string' &&
    typeof h.server_id === 'string' &&
    Number.isSafeInteger(h.seq) &&
    typeof h.key_id === 'string' &&
    typeof h.time === 'string' &&
    typeof h.mac === 'string'
  )
}

export function isCheckpoint(v: unknown): v is CheckpointRecord {
  const c = v as CheckpointRecord
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(c.cp) &&
    typeof c.time === 'string' &&
    typeof c.events === 'object' &&
    c.events !== null &&
    Number.isSafeInteger(c.events.bytes) &&
    Number.isSafeInteger(c.events.lines) &&
    HEX64.test(String(c.events.sha256)) &&
    typeof c.chunks === 'object' &&
    c.chunks !== null &&
    Number.isSafeInteger(c.chunks.bytes) &&
    HEX64.test(String(c.chunks.sha256)) &&
    (c.sealed === undefined || c.sealed === true) &&
    typeof c.mac === 'string'
  )
}

// Before a recording is played: is it damaged? (`replay` warns; docs/integrity.md)
import type {SessionRef} from '../storage/reader.js'
import {describeFinding} from './describe.js'
import {readHostVerificationKey} from './keys.js'
import {HostKeys, verifySession} from './verify.js'

/**
 * The warning for a damaged recording (or one under an unknown key), checked with the verification
 * key kept on this host; undefined when it is intact or unsealed (an unfinished recording has its
 * own note), or when there is no key here to check with.
 */
export async function damageWarning(ref: SessionRef, dataDir: string): Promise<string | undefined> {
  let vk
  try {
    vk = readHostVerificationKey(dataDir)
  } catch {
    return undefined
  }
  if (!vk) return undefined
  const verdict = await verifySession(ref, new HostKeys(vk, dataDir))
  if (verdict.status !== 'damaged' && verdict.status !== 'unknown key') return undefined
  return `session ${ref.sid.slice(0, 8)} is not the recording that was made: ${describeFinding(verdict.problem!)} (er-shell verify ${ref.sid.slice(0, 8)})`
}

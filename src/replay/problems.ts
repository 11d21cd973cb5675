// Sorts reader warnings into real damage and the expected open end of a session that did not finish.
import * as path from 'node:path'

import type {SessionRef} from '../storage/index.js'

/** The reader's message for a gzip stream without its trailer (storage/reader.ts). */
const NO_TRAILER = /: truncated after .* \(no gzip trailer: the recorder did not finish it\)$/

/**
 * True when `message` only says that a file of an unfinished session (no `<sid>.completed`)
 * ends without a gzip trailer: that is how a session still being recorded, or whose recorder
 * died, looks. It is not damage.
 */
export function isOpenEnd(ref: SessionRef, message: string): boolean {
  return !ref.completed && message.startsWith(`${ref.paths.dir}${path.sep}${ref.sid}`) && NO_TRAILER.test(message)
}

/** Collects warnings while reading one session; open ends are kept apart from real problems. */
export class ProblemLog {
  readonly problems: string[] = []
  openEnd = false

  constructor(private readonly ref: SessionRef) {}

  readonly add = (message: string): void => {
    if (isOpenEnd(this.ref, message)) this.openEnd = true
    else this.problems.push(message)
  }

  /** The note printed after showing an unfinished session. */
  get note(): string | undefined {
    if (!this.openEnd) return undefined
    return `note: session ${this.ref.sid.slice(0, 8)} did not finish (it is still being recorded, or its recorder died): shown up to where its files end`
  }
}

// Raised after showing what could be recovered from a truncated or damaged recording.
import {ErShellError} from './base.js'

export class RecordingIncompleteError extends ErShellError {
  readonly problems: string[]

  constructor(problems: string[]) {
    const [first] = problems
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length === 2 ? '' : 's'})` : ''
    super('ERECORDING_INCOMPLETE', `${first ?? 'the recording is incomplete'}${more}; everything that could be recovered was shown`)
    this.problems = problems
  }
}

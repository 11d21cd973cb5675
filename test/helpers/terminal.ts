// Replay's terminal safety filter, fed as a recording would feed it: in pieces.
import {TerminalSafetyFilter} from '../../src/replay/terminal/safety-filter.js'

/** Filters `input` cut into pieces at the given offsets. */
export function filtered(input: Buffer, cuts: number[]): Buffer {
  const filter = new TerminalSafetyFilter()
  const parts: Buffer[] = []
  let from = 0
  for (const at of [...cuts, input.length]) {
    parts.push(Buffer.from(filter.write(input.subarray(from, at))))
    from = at
  }
  parts.push(filter.end())
  return Buffer.concat(parts)
}

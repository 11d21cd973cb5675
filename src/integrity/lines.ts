// Newline-delimited event lines as bytes, for the chain (counting the lines it hashes) and verify
// (splitting the streams it checks). A line keeps its newline.
export const NL = 0x0a

/** How many lines end in `data` (its newlines). */
export function countLines(data: Buffer): number {
  let n = 0
  for (let i = data.indexOf(NL); i >= 0; i = data.indexOf(NL, i + 1)) n++
  return n
}

/** The complete lines of `data` (views of it), and where the unterminated rest starts (= data.length if none). */
export function splitLines(data: Buffer): {lines: Buffer[]; rest: number} {
  const lines: Buffer[] = []
  let from = 0
  for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, from)) {
    lines.push(data.subarray(from, nl + 1))
    from = nl + 1
  }
  return {lines, rest: from}
}

/** Cuts a stream's chunks into lines; a line split across chunks is joined. */
export class Lines {
  private carry: Buffer[] = []

  push(chunk: Buffer, fn: (line: Buffer) => void): void {
    let from = 0
    for (;;) {
      const nl = chunk.indexOf(NL, from)
      if (nl < 0) break
      let line = chunk.subarray(from, nl + 1)
      if (this.carry.length > 0) {
        this.carry.push(line)
        line = Buffer.concat(this.carry)
        this.carry = []
      }
      fn(line)
      from = nl + 1
    }
    if (from < chunk.length) this.carry.push(chunk.subarray(from))
  }
}

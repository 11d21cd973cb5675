// An export's output file, complete or absent: written through a temporary file beside it, fsynced
// and renamed into place only when the writer finished; removed when it failed.
import * as fs from 'node:fs'

/** Runs `write` on a temporary file's descriptor, then puts the file at `file`; returns what `write` did. */
export async function writeFileAtomically<T>(file: string, write: (fd: number) => Promise<T>): Promise<T> {
  const temp = `${file}.tmp-${process.pid}`
  const fd = fs.openSync(temp, 'w', 0o644)
  let closed = false
  try {
    const result = await write(fd)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    closed = true
    fs.renameSync(temp, file)
    return result
  } catch (error) {
    if (!closed) fs.closeSync(fd)
    fs.rmSync(temp, {force: true})
    throw error
  }
}

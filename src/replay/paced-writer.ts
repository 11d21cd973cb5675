// A paced writer for streaming output: waits for the stream to drain and handles EPIPE quietly, so
// output to a slow or vanished reader stays bounded.
import type {Writable} from 'node:stream'

/**
 * Writes to a stream and waits for 'drain' whenever the stream's buffer is full, so a slow
 * reader (a pipe, a terminal) never makes output pile up in memory. A closed reader (EPIPE, e.g.
 * `| head`) ends the output quietly: `closed` becomes true and further writes are ignored.
 */
export class PacedWriter {
  closed = false
  bytes = 0
  private error: Error | undefined

  constructor(readonly stream: Writable) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      this.closed = true
      if (error.code !== 'EPIPE') this.error = error
    })
  }

  /** Resolves once the stream can take more (at once when it already can). */
  async write(data: string | Buffer): Promise<void> {
    if (this.closed || data.length === 0) return
    this.bytes += data.length
    if (this.stream.write(data)) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done)
        this.stream.off('error', done)
        this.stream.off('close', done)
        resolve()
      }
      this.stream.on('drain', done)
      this.stream.on('error', done)
      this.stream.on('close', done)
    })
  }

  /** Throws the stream's write error, if one other than EPIPE happened. */
  check(): void {
    if (this.error) throw this.error
  }
}

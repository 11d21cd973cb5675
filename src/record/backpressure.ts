// Backpressure of the record pipeline: a producer of event lines (the kernel capture, the pty
// pump) that the writer told "behind" (a false return) pauses until the writer's sinks drain, or
// until the recording stops at a storage error: nothing is then held back for it.

/** Something that makes event lines and can wait. */
export interface Producer {
  pause(): void
  resume(): void
}

export class Backpressure {
  private readonly paused = new Set<Producer>()

  /** The writer said it is behind after `producer`'s line: it waits (once). */
  pause(producer: Producer): void {
    if (this.paused.has(producer)) return
    this.paused.add(producer)
    producer.pause()
  }

  /** The sinks drained, or the recording stopped: every paused producer goes on. */
  release(): void {
    for (const producer of this.paused) producer.resume()
    this.paused.clear()
  }
}

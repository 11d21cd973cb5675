// Where a session's event lines go. The record pipeline formats and numbers every event line once
// (SessionWriter: `ei`, `uid`, time and common fields, or the native line of a kernel event) and
// hands the same line to each of its sinks: the session files, the host audit log, the live
// printer (and later a fleet shipper). A sink never formats an event; one that shows it (the live
// printer) parses the line, and only when it is on.

/** One numbered event line, as every sink receives it. */
export interface EventLine {
  /** The event type: 'session.start', 'print', 'session.command', …, 'session.end'. */
  readonly event: string
  /** The complete JSON line, ending in "\n". */
  readonly text: string
  /** text's length in UTF-8 bytes. */
  readonly bytes: number
  /** The event's time, ms since the epoch. */
  readonly timeMs: number
}

/**
 * Consecutive numbered lines in one buffer (kernel events of one poll-thread batch): line i is
 * data[i ? ends[i - 1] : 0, ends[i]), its event and time are lines[i]'s. Nothing modifies data.
 */
export interface EventLines {
  readonly data: Buffer
  readonly ends: Uint32Array
  readonly lines: ReadonlyArray<{readonly event: string; readonly timeMs: number}>
}

/**
 * Calls `take` once per run of consecutive lines of `batch` with the same key, with the run's bytes
 * (the batch's own buffer when one run is all of it) and the index of its first line.
 */
export function forEachRun<K>(batch: EventLines, keyOf: (line: EventLines['lines'][number]) => K, take: (bytes: Buffer, key: K, first: number) => void): void {
  const {data, ends, lines} = batch
  let start = 0
  for (let i = 0; i < lines.length;) {
    const key = keyOf(lines[i]!)
    let j = i + 1
    while (j < lines.length && keyOf(lines[j]!) === key) j++
    const end = ends[j - 1]!
    take(start === 0 && end === data.length ? data : data.subarray(start, end), key, i)
    start = end
    i = j
  }
}

export interface Sink {
  /** The next line, in `ei` order. Never throws: a sink reports its own failures. */
  write(line: EventLine): void
  /**
   * The next lines, as write() would take them one by one (a sink without writeLines gets that),
   * but as bytes: at 100,000 events/s a string per line cost more than the rest of the path.
   */
  writeLines?(lines: EventLines): void
  /** Terminal output, for the sinks that keep it; its print line follows. Takes ownership of `data`. */
  output?(data: Buffer): void
  /**
   * Bytes accepted and not yet written. While the pipeline's sinks hold more than its high-water
   * mark, it tells its producers to pause (the pty pump, kernel capture) until they drain.
   */
  readonly pendingBytes?: number
  /** Writes out everything accepted, then closes; never rejects. */
  end(): Promise<void>
  /** Stops at once: what was not written yet is dropped. */
  abort(): void
}

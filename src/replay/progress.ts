// A progress line on stderr for long exports: only on a terminal, only after the first second.

export interface ProgressCounters {
  events: number
  outputBytes: number
}

/**
 * Shows `er-shell: exporting… 41,302 events, 38.2 MiB of output, 3 s` on one rewritten stderr
 * line once an export has run for `delayMs` and stderr is a terminal; `stop()` erases it.
 */
export class Progress {
  readonly counters: ProgressCounters = {events: 0, outputBytes: 0}
  private timer: NodeJS.Timeout | undefined
  private shown = false
  private readonly started = Date.now()

  constructor(
    private readonly stream: NodeJS.WriteStream | {isTTY?: boolean; write: (s: string) => boolean},
    private readonly label = 'exporting',
    private readonly delayMs = 1000,
  ) {}

  start(): this {
    if (this.stream.isTTY !== true) return this
    this.timer = setTimeout(() => {
      this.render()
      this.timer = setInterval(() => this.render(), 250)
      this.timer.unref()
    }, this.delayMs)
    this.timer.unref()
    return this
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.shown) this.stream.write('\r\x1b[K')
    this.shown = false
  }

  private render(): void {
    this.shown = true
    const mib = (this.counters.outputBytes / (1024 * 1024)).toFixed(1)
    const seconds = Math.round((Date.now() - this.started) / 1000)
    this.stream.write(`\r\x1b[Ker-shell: ${this.label}… ${this.counters.events.toLocaleString('en-US')} events, ${mib} MiB of output, ${seconds} s`)
  }
}

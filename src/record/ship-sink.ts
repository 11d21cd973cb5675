// The fleet shipper of a recorded session (src/fleet/, docs/postgres-store.md): with a fleet store
// configured, `record` starts `er-shell ship --follow --while-pid <record's pid>` beside itself.
// It takes nothing from the pipeline — the host log is the spool it reads — so it can never block
// or slow the session's writer; it runs in its own process (its JSON and database work on its own
// CPU time, its failures in <data_dir>/ship/ for `sessions`, never on the session's terminal), and
// when the recorder exits, even killed, it ships what is left (the session.end, the finished
// recording) and exits.
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import type {EventLine, Sink} from './sink.js'

/** bin/run.js, from dist/src/record/ (the bundle lives at dist/src/commands/, same depth). */
const RUN_JS = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

export class ShipperSink implements Sink {
  private constructor(readonly pid: number | undefined) {}

  /** Starts the shipper; the URI goes through the environment, never the command line (ps shows argv). */
  static start(options: {dataDir: string; uri: string; onWarning: (message: string) => void}): ShipperSink {
    try {
      const child = spawn(process.execPath, [RUN_JS, 'ship', '--follow', '--quiet', '--while-pid', String(process.pid), '--data-dir', options.dataDir], {
        detached: true,
        stdio: 'ignore',
        env: {...process.env, ER_SHELL_AUDIT_EVENTS_URI: options.uri},
      })
      child.on('error', (error) => options.onWarning(`fleet shipper: ${error.message}; run er-shell ship later: nothing is lost`))
      child.unref()
      return new ShipperSink(child.pid)
    } catch (error) {
      options.onWarning(`fleet shipper: ${(error as Error).message}; run er-shell ship later: nothing is lost`)
      return new ShipperSink(undefined)
    }
  }

  /** Nothing to do: the host log (another sink) is what the shipper reads. */
  write(line: EventLine): void {
    void line
  }

  async end(): Promise<void> {}

  abort(): void {}
}

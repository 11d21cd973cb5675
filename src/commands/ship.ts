// `er-shell ship`: send this host's audit log and finished recordings to the fleet store, once or in a loop.
import {Flags} from '../cli/oclif.js'

import {BaseCommand, note} from '../cli/base-command.js'
import {configFlags, loadConfig, storeFlags} from '../config/index.js'
import {ConfigError, StoreError} from '../errors/index.js'
import {storeAddress} from '../fleet/store.js'
import {Shipper, describePass, type PassResult} from '../fleet/shipper.js'

export default class Ship extends BaseCommand {
  static override summary = "Send this host's audit log and finished recordings to the fleet store (PostgreSQL), exactly once."

  static override description = `Reads the host audit log (<data_dir>/log/<server_id>/<date>.00:00:00.log), which keeps every event, from where the store's cursor says shipping stopped, and inserts the lines in batches; each batch and its cursor commit together, so a shipper killed mid-batch, a database restarted or a connection cut loses nothing and duplicates nothing, and two shippers on one host take turns. Finished recordings (their Teleport-layout files, compressed) are uploaded after the events, each in one transaction: a partial upload is never seen as complete.

The store is audit_events_uri (--audit-events-uri, ER_SHELL_AUDIT_EVENTS_URI, the config file, or a teleport.yaml's teleport.storage.audit_events_uri): postgres://user:password@host:5432/db?sslmode=verify-full#retention_period=2160h. The password is never printed. Its tables are created on first use (Teleport's events table, which a Teleport auth server can read, and er-shell's own), unless --no-create.

Without --follow, ships what there is and exits: 0 when everything was shipped, 1 with one line when the store failed (nothing is lost: run it again). With --follow, keeps shipping as sessions record, retries a failing store (one line per new reason) and runs the retention cleanup hourly unless the URI says disable_cleanup=true; SIGTERM or Ctrl-C stops it after the batch in flight.`

  static override enableJsonFlag = true

  static override examples = [
    {
      description: 'Ship once (a systemd timer, a cron job)',
      command: '<%= config.bin %> <%= command.id %> --audit-events-uri postgres://er_shell@db.example/audit',
    },
    {description: 'Ship continuously (a systemd service)', command: '<%= config.bin %> <%= command.id %> --follow'},
  ]

  static override flags = {
    config: configFlags.config,
    'data-dir': configFlags['data-dir'],
    'audit-events-uri': storeFlags['audit-events-uri'],
    follow: Flags.boolean({char: 'f', description: 'Keep shipping new events until stopped (SIGTERM, Ctrl-C).', default: false}),
    'no-create': Flags.boolean({
      description: 'Do not create or migrate the tables (a role with INSERT and SELECT only); fail if they are missing.',
      default: false,
    }),
    'batch-size': Flags.integer({description: 'Most lines per batch (one transaction each).', default: 5000, min: 1, max: 100_000, helpValue: '<lines>'}),
    // record starts `ship --follow --while-pid <its pid>` (src/record/ship-sink.ts).
    'while-pid': Flags.integer({description: 'With --follow: stop when this process has exited, after a last pass.', hidden: true, min: 1}),
    quiet: Flags.boolean({char: 'q', description: 'Print only errors.', default: false}),
  }

  async run(): Promise<PassResult & {store: string}> {
    const {flags} = await this.parse(Ship)
    const {config} = loadConfig(flags)
    const address = storeAddress(config.audit_events_uri)
    if (address === undefined) {
      throw new ConfigError(
        {setting: 'audit_events_uri'},
        'no fleet store is configured: give --audit-events-uri postgres://…, ER_SHELL_AUDIT_EVENTS_URI, or audit_events_uri in the config file',
      )
    }
    const say = (message: string): void => {
      if (!flags.quiet) note(message)
    }
    const shipper = new Shipper({dataDir: config.data_dir, address, onNote: say, noCreate: flags['no-create'], maxLines: flags['batch-size']})
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    try {
      if (flags.follow) {
        say(`shipping ${config.data_dir} to ${address.redacted} (until stopped)`)
        const watched = flags['while-pid']
        const watcher =
          watched === undefined
            ? undefined
            : setInterval(() => {
                if (!processAlive(watched)) controller.abort()
              }, 500)
        try {
          await shipper.follow(controller.signal)
        } finally {
          if (watcher) clearInterval(watcher)
        }
        // The recorder is gone: what it wrote last (session.end, the finished recording) goes now.
        if (watched !== undefined)
          await shipper.pass().catch(async (error: unknown) => {
            if (error instanceof StoreError) await shipper.failed(error)
          })
        return {store: address.redacted, files: 0, lines: 0, inserted: 0, skipped: 0, recordings: 0, recordingBytes: 0}
      }
      let result: PassResult
      try {
        result = await shipper.pass(controller.signal)
      } catch (error) {
        if (error instanceof StoreError) await shipper.failed(error)
        throw error
      }
      if (!this.jsonEnabled()) say(`${describePass(result)} to ${address.redacted}`)
      return {store: address.redacted, ...result}
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      await shipper.close()
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

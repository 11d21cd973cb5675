// `er-shell sessions`: list recorded sessions, newest first (table, or --json).
import {Flags} from '../cli/oclif.js'

import {BaseCommand, warn} from '../cli/base-command.js'
import {configFlags, loadConfig, storeFlags} from '../config/index.js'
import {UsageError} from '../errors/index.js'
import {fleetSessions} from '../fleet/query.js'
import {openReadingStore, readingFlags, shippingStates} from '../fleet/reading.js'
import {colorWanted} from '../kernel/render.js'
import {compileSessionFilter, matchSession} from '../query/index.js'
import {renderSessions} from '../query/render.js'
import {isOpenEnd} from '../replay/problems.js'
import {HostKeys, readHostVerificationKey, readVerificationKeyFile, verifySession} from '../integrity/index.js'
import {findSessions, listSessions, type SessionSummary} from '../storage/index.js'

export default class Sessions extends BaseCommand {
  static override summary = 'List recorded sessions, newest first: when, who, exit status, counts of commands/connections/file opens, lost events.'

  static override description = `Reads every session under <data_dir>/log/*/sessions/default/. A session is UNFINISHED when it has no session.end or no <sid>.completed marker: it is still running, or its recorder died (it still replays up to where its files end); its duration is then up to its last event (≥).

LOST counts events the kernel or er-shell dropped (from session.end); "?" when the session did not end. Times are UTC. Damaged files are named on stderr and what could be read is still listed.

--json prints a JSON array, newest first, one object per session: sid, server_id, session_start, session_stop (null while running), interactive, exit_code, commands, network, disk, disk_filtered (opens the disk filter dropped), lost_events ({command, disk, network} or null), unfinished, login, user, initial_command, last_event_time, cgroup_escapes, output_bytes; with --verify also integrity.

--verify checks each listed session as "er-shell verify" does (see there) and adds an INTEGRITY column: intact, damaged (also: recorded under an unknown key), unsealed (the recorder did not finish; intact up to its last checkpoint) or not checked (no verification key).`

  static override enableJsonFlag = true

  static override examples = [
    {
      description: 'All sessions',
      command: `<%= config.bin %> <%= command.id %>
┌──────────┬─────────────────────┬──────────┬───────────────┬─────┬──────┬──────┬─────┬──────┬──────┬────────────┬─────────────────────┐
│ SESSION  │ START (UTC)         │ DURATION │ USER          │ TTY │ EXIT │ CMDS │ NET │ DISK │ LOST │ STATUS     │ COMMAND             │
├──────────┼─────────────────────┼──────────┼───────────────┼─────┼──────┼──────┼─────┼──────┼──────┼────────────┼─────────────────────┤
│ c0c00000 │ 2026-11-23 08:00:00 │ ≥1s      │ alice as root │ yes │ -    │ 3    │ 1   │ 1    │ ?    │ UNFINISHED │ (interactive shell) │
│ 86aca627 │ 2026-11-22 16:42:18 │ 1s       │ alice as root │ yes │ 0    │ 3    │ 1   │ 1    │ 0    │ ended      │ (interactive shell) │
│ b0b00000 │ 2026-11-20 09:00:00 │ 1s       │ bob as root   │ yes │ 0    │ 3    │ 1   │ 1    │ 0    │ ended      │ (interactive shell) │
└──────────┴─────────────────────┴──────────┴───────────────┴─────┴──────┴──────┴─────┴──────┴──────┴────────────┴─────────────────────┘`,
    },
    {description: 'Sessions of the last two hours started by alice', command: '<%= config.bin %> <%= command.id %> --since 2h --user alice'},
    {
      description: 'For programs (here abridged)',
      command: `<%= config.bin %> <%= command.id %> --json --user bob
[
  {
    "sid": "b0b00000-0000-4000-8000-000000000001",
    "server_id": "531dc1de-c2c9-49bd-a0e3-4f4f3a523f5f",
    "session_start": "2026-11-20T09:00:00.000Z",
    "session_stop": "2026-11-20T09:00:01.800Z",
    "interactive": true,
    "exit_code": 0,
    "commands": 3,
    "network": 1,
    "disk": 1,
    "lost_events": {"command": 0, "disk": 0, "network": 0},
    "unfinished": false,
    …
  }
]`,
    },
  ]

  static override flags = {
    config: configFlags.config,
    'data-dir': configFlags['data-dir'],
    since: Flags.string({
      description: 'Only sessions that started at or after this time: 2026-11-22, 2026-11-22T16:00 (UTC unless a zone is given), or an age like 30m, 2h, 7d.',
      helpValue: '<time>',
    }),
    until: Flags.string({description: 'Only sessions that started at or before this time (same forms as --since).', helpValue: '<time>'}),
    user: Flags.string({char: 'u', description: 'Only sessions started by this user or running as this login.', helpValue: '<name>'}),
    verify: Flags.boolean({
      description: 'Check each session listed (as "er-shell verify" does) and show an INTEGRITY column: intact, damaged, unsealed or not checked.',
    }),
    key: Flags.string({
      description: 'With --verify: the verification key file (default: the copy kept on this host).',
      helpValue: '<file>',
      dependsOn: ['verify'],
    }),
    'audit-events-uri': storeFlags['audit-events-uri'],
    ...readingFlags,
  }

  async run(): Promise<SessionSummary[]> {
    const {flags} = await this.parse(Sessions)
    const filter = compileSessionFilter(flags)
    const {config} = loadConfig(flags)
    const store = await openReadingStore(config, flags.local)
    if (store !== undefined) {
      // Every host's sessions, from the fleet store.
      try {
        const sessions = (await fleetSessions(store, filter, {host: flags.host, serverId: flags['server-id']})).filter((s) => matchSession(s, filter))
        if (!this.jsonEnabled()) {
          if (sessions.length === 0) process.stderr.write(`er-shell: no sessions match in ${store.address.redacted}\n`)
          else this.log(renderSessions(sessions, {color: colorWanted(process.stdout)}))
        }
        return sessions
      } finally {
        await store.close()
      }
    }
    if (flags.host !== undefined || flags['server-id'] !== undefined) {
      throw new UsageError(
        `--${flags.host === undefined ? 'server-id' : 'host'} reads the fleet store: configure audit_events_uri (--audit-events-uri), without --local`,
      )
    }
    // An unfinished session's files end without a gzip trailer: STATUS says so, no warning needed.
    const refs = findSessions(config.data_dir)
    const onWarning = (message: string): void => {
      if (!refs.some((ref) => isOpenEnd(ref, message))) warn(message)
    }
    const sessions = (await listSessions(config.data_dir, {onWarning})).filter((s) => matchSession(s, filter))
    if (flags.verify) {
      // Without a key nothing can be checked: the column says so, and a warning why.
      const vk = flags.key ? readVerificationKeyFile(flags.key) : readHostVerificationKey(config.data_dir)
      if (!vk) warn('no verification key on this host: give --key FILE (INTEGRITY shows "not checked")')
      const keys = vk && new HostKeys(vk, config.data_dir)
      for (const s of sessions) {
        const ref = refs.find((r) => r.sid === s.sid && r.serverId === s.server_id)
        if (!keys || !ref) {
          s.integrity = 'not checked'
          continue
        }
        const status = (await verifySession(ref, keys)).status
        s.integrity = status === 'unknown key' ? 'damaged' : status
      }
    }
    if (config.audit_events_uri.length > 0) {
      const stateOf = shippingStates(config.data_dir)
      for (const s of sessions) s.shipping = stateOf(s.sid, s.server_id)
    }
    if (!this.jsonEnabled()) {
      if (sessions.length === 0)
        process.stderr.write(`er-shell: no recorded sessions${flags.since || flags.until || flags.user ? ' match' : ''} in ${config.data_dir}\n`)
      else this.log(renderSessions(sessions, {color: colorWanted(process.stdout), integrity: flags.verify}))
    }
    return sessions
  }
}

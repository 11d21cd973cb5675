// `er-shell sessions`: list recorded sessions, newest first (table, or --json).
import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {configFlags, loadConfig} from '../config/index.js'
import {colorWanted} from '../kernel/render.js'
import {compileSessionFilter, matchSession} from '../query/index.js'
import {renderSessions} from '../query/render.js'
import {listSessions, type SessionSummary} from '../storage/index.js'

export default class Sessions extends BaseCommand {
  static override summary = 'List recorded sessions, newest first: when, who, exit status, counts of commands/connections/file opens, lost events.'

  static override description = `Reads every session under <data_dir>/log/*/sessions/default/. A session is UNFINISHED when it has no session.end or no <sid>.completed marker: it is still running, or its recorder died (it still replays up to where its files end); its duration is then up to its last event (≥).

LOST counts events the kernel or er-shell dropped (from session.end); "?" when the session did not end. Times are UTC. Damaged files are named on stderr and what could be read is still listed.

--json prints a JSON array, newest first, one object per session: sid, server_id, session_start, session_stop (null while running), interactive, exit_code, commands, network, disk, lost_events ({command, disk, network} or null), unfinished, login, user, initial_command, last_event_time, cgroup_escapes, output_bytes.`

  static override enableJsonFlag = true

  static override examples = [
    {
      description: 'All sessions',
      command: `<%= config.bin %> <%= command.id %>
┌──────────┬─────────────────────┬──────────┬───────────────┬─────┬──────┬──────┬─────┬──────┬──────┬────────────┬──────────────────────────┐
│ SESSION  │ START (UTC)         │ DURATION │ USER          │ TTY │ EXIT │ CMDS │ NET │ DISK │ LOST │ STATUS     │ COMMAND                  │
├──────────┼─────────────────────┼──────────┼───────────────┼─────┼──────┼──────┼─────┼──────┼──────┼────────────┼──────────────────────────┤
│ 86aca627 │ 2026-11-22 16:42:18 │ ≥12s     │ alice as root │ yes │ -    │ 14   │ 2   │ 0    │ ?    │ UNFINISHED │ (interactive shell)      │
│ 3b9d2c1e │ 2026-11-22 16:40:02 │ 0s       │ root          │ no  │ 0    │ 2    │ 0    │ 0    │ 0    │ ended      │ sh -c 'echo aGVsbG8K | … │
└──────────┴─────────────────────┴──────────┴───────────────┴─────┴──────┴──────┴─────┴──────┴──────┴────────────┴──────────────────────────┘`,
    },
    {description: 'Sessions of the last two hours started by alice', command: '<%= config.bin %> <%= command.id %> --since 2h --user alice'},
    {
      description: 'For programs',
      command: `<%= config.bin %> <%= command.id %> --json --since 2026-11-22
[
  {
    "sid": "86aca627-971d-4883-854d-d309ba04c658",
    "server_id": "531dc1de-c2c9-49bd-a0e3-4f4f3a523f5f",
    "session_start": "2026-11-22T16:42:18.101Z",
    "session_stop": null,
    "interactive": true,
    "exit_code": null,
    "commands": 14,
    "network": 2,
    "disk": 0,
    "lost_events": null,
    "unfinished": true,
    …
  }
]`,
    },
  ]

  static override flags = {
    config: configFlags.config,
    'data-dir': configFlags['data-dir'],
    since: Flags.string({description: 'Only sessions that started at or after this time: 2026-11-22, 2026-11-22T16:00 (UTC unless a zone is given), or an age like 30m, 2h, 7d.', helpValue: '<time>'}),
    until: Flags.string({description: 'Only sessions that started at or before this time (same forms as --since).', helpValue: '<time>'}),
    user: Flags.string({char: 'u', description: 'Only sessions started by this user or running as this login.', helpValue: '<name>'}),
  }

  async run(): Promise<SessionSummary[]> {
    const {flags} = await this.parse(Sessions)
    const filter = compileSessionFilter(flags)
    const {config} = loadConfig(flags)
    const sessions = (
      await listSessions(config.data_dir, {onWarning: (message) => process.stderr.write(`er-shell: warning: ${message}\n`)})
    ).filter((s) => matchSession(s, filter))
    if (!this.jsonEnabled()) {
      if (sessions.length === 0) process.stderr.write(`er-shell: no recorded sessions${flags.since || flags.until || flags.user ? ' match' : ''} in ${config.data_dir}\n`)
      else this.log(renderSessions(sessions, {color: colorWanted(process.stdout)}))
    }
    return sessions
  }
}

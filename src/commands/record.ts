// er-shell record: an ad hoc recorded shell with kernel-level (eBPF) enhanced session recording.
import {Flags} from '../cli/oclif.js'

import {BaseCommand} from '../cli/base-command.js'
import {assertDiskFilterUsable, assertNetworkPolicyUsable, assertRecordingEnabled, configFlags, loadConfig} from '../config/index.js'
import {UsageError} from '../errors/index.js'
import {checkEnvName} from '../config/schema.js'
import {recordSession, type SessionCommand} from '../record/session.js'

export default class Record extends BaseCommand {
  static override summary = 'Start a recorded shell: terminal output plus every exec, connect (and file open) from the kernel.'

  static override description = `Creates a cgroup v2 child <cgroup_path><root_path>/<sid>, starts the shell in a pseudo-terminal already inside it, and attaches BPF programs scoped to it (and to every process descending from it, even one that leaves the cgroup). While the session runs, each command, connection (and, with --events disk, file open) prints one live line on stderr. The recording follows Teleport's audit-log layout under <data_dir>/log/. The exit status is the session's.

Without -c or "--", runs an interactive login shell. Processes still in the session when the shell exits get SIGHUP, then SIGKILL after --grace seconds (--leftovers keep leaves them running, unmonitored, as Teleport does); they are listed in session.end.`

  static override examples = [
    {description: 'An interactive recorded shell', command: 'sudo <%= config.bin %> <%= command.id %>'},
    {
      description: 'A non-interactive command (no TTY needed: scripts, CI)',
      command: `sudo <%= config.bin %> <%= command.id %> -c 'curl -s http://127.0.0.1:8080/ | sh'`,
    },
    {
      description: 'A program with arguments, also recording file opens',
      command: 'sudo <%= config.bin %> <%= command.id %> --events command,disk,network -- /usr/bin/make -j2',
    },
    {
      description:
        'An egress policy: HTTPS to 10.0.0.0/8 only, and nothing in 10.1.0.0/16; any other connect or UDP send fails with EPERM and is recorded as denied',
      command: 'sudo <%= config.bin %> <%= command.id %> --allow-net 10.0.0.0/8:443 --deny-net 10.1.0.0/16 -- curl -s https://10.2.0.5/',
    },
    `What it prints: the decoded command is recorded as it ran (live lines and notices on stderr)
<%= config.bin %> <%= command.id %> -c 'echo aGVsbG8K | base64 -d'
  er-shell: recording session d628eb39-d53b-4837-9427-d4c161c5d17a (events: command,network); exit the shell to end it
  er-shell ▸ command  pid 31778  /bin/bash -c 'echo aGVsbG8K | base64 -d'  → 0
  er-shell ▸ command  pid 31781  /usr/bin/base64 -d  → 0
  hello
  er-shell: session d628eb39-d53b-4837-9427-d4c161c5d17a ended (exit 0): 2 commands, 0 connections, nothing lost; replay: er-shell replay d628eb39`,
    `A connection (recorded when the SYN is sent), output abridged:
<%= config.bin %> <%= command.id %> -c 'curl -s http://127.0.0.1:9/'
  er-shell ▸ network  pid 31992  curl  127.0.0.1 → 127.0.0.1:9  (tcp/ipv4)`,
    `In a script: no TTY needed, no notices, and the exit status is the session's
<%= config.bin %> <%= command.id %> -q -c 'exit 3' < /dev/null; echo $?
  3`,
  ]

  static override strict = false

  static override flags = {
    ...configFlags,
    command: Flags.string({
      char: 'c',
      description: "Run COMMAND with the user's shell ($SHELL -c, else /bin/sh) instead of an interactive shell.",
      helpValue: '<command>',
    }),
    login: Flags.string({
      description: 'Run the session as this account (root stays the recorder, so the session cannot unload the probes).',
      helpValue: '<user>',
    }),
    'allow-net': Flags.string({
      description:
        'Allow connects and UDP sends to RULE, CIDR[:PORT[-PORT]] or [IPv6-CIDR]:PORT (repeatable; adds to config network_policy). With any allow rule, the rest is denied (EPERM, recorded).',
      helpValue: '<rule>',
      multiple: true,
      multipleNonGreedy: true,
    }),
    'deny-net': Flags.string({
      description:
        'Deny connects and UDP sends to RULE, as --allow-net writes it; deny wins over allow (repeatable; adds to config network_policy). The program gets EPERM; the attempt is recorded.',
      helpValue: '<rule>',
      multiple: true,
      multipleNonGreedy: true,
    }),
    'disk-exclude': Flags.string({
      description:
        'Do not record opens of paths PATTERN matches: a path, a directory prefix ending in "/", or a glob ("*" matches anything); counted instead. Repeatable; adds to config disk_filter.',
      helpValue: '<pat>',
      multiple: true,
      multipleNonGreedy: true,
    }),
    'disk-include': Flags.string({
      description: 'Record only opens of paths an include PATTERN matches; an exclude pattern wins. Repeatable; adds to config disk_filter.',
      helpValue: '<pat>',
      multiple: true,
      multipleNonGreedy: true,
    }),
    'disk-preset': Flags.string({
      description: 'quiet: also exclude what every program start opens: loader, libraries, locale, /proc/self, /sys, /dev/null (config disk_filter.preset).',
      helpValue: '<quiet>',
    }),
    'allow-io-uring': Flags.boolean({
      description:
        'Let the session use io_uring (config allow_io_uring). Its file opens, connects and execs are not recorded; by default io_uring is denied in sessions (EPERM).',
      default: false,
    }),
    env: Flags.string({
      description:
        "With --login: pass this variable of the recorder's environment on to the session (repeatable; config env). Otherwise the session gets only a login environment: TERM, LANG, LC_*, a default PATH, HOME, USER, LOGNAME, SHELL.",
      helpValue: '<name>',
      multiple: true,
    }),
    live: Flags.string({
      description: "Where live event lines go: 'stderr' (default), 'off', or a file to append to (env ER_SHELL_LIVE).",
      helpValue: '<target>',
    }),
    quiet: Flags.boolean({char: 'q', description: 'No live lines and no start/end notices; errors only.', default: false}),
    leftovers: Flags.string({
      description: 'Processes still in the session when the shell exits: kill (SIGHUP, then SIGKILL after --grace) or keep (leave them running, unmonitored).',
      options: ['kill', 'keep'],
      default: 'kill',
    }),
    grace: Flags.string({description: 'Seconds between SIGHUP and SIGKILL for leftover processes.', default: '2', helpValue: '<seconds>'}),
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(Record)
    const rest = (argv as string[]).filter((a) => a !== '--')
    if (flags.command !== undefined && rest.length > 0) {
      throw new UsageError('give either -c COMMAND or -- PROGRAM ARGS, not both')
    }
    const grace = Number(flags.grace)
    if (!Number.isFinite(grace) || grace < 0 || grace > 3600) {
      throw new UsageError(`--grace must be a number of seconds from 0 to 3600, got ${JSON.stringify(flags.grace)}`)
    }
    for (const name of flags.env ?? []) {
      const checked = checkEnvName(name)
      if (!checked.ok) throw new UsageError(`--env ${checked.problem}`)
    }
    const resolved = loadConfig(flags)
    assertRecordingEnabled(resolved)
    assertNetworkPolicyUsable(resolved)
    const diskFilter = assertDiskFilterUsable(resolved)
    const command: SessionCommand =
      flags.command !== undefined ? {kind: 'shell-c', command: flags.command} : rest.length > 0 ? {kind: 'argv', argv: rest} : {kind: 'interactive'}
    const result = await recordSession({
      config: resolved.config,
      command,
      login: flags.login,
      allowIoUring: flags['allow-io-uring'],
      keepEnv: flags.env,
      quiet: flags.quiet,
      leftovers: flags.leftovers as 'kill' | 'keep',
      graceMs: grace * 1000,
      ...(diskFilter ? {diskFilter} : {}),
    })
    process.exitCode = result.exitCode
  }
}

// `er-shell check-kernel`: can this host record? Runs the checks in src/kernel and renders them.
import {resolve} from 'node:path'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {KernelCheckError} from '../errors/kernel-check-error.js'
import {colorWanted, DEFAULT_CGROUP_PATH, DEFAULT_ROOT_PATH, type KernelReport, renderReport, runChecks} from '../kernel/index.js'

export default class CheckKernel extends BaseCommand {
  static override summary = 'Say whether this host can record sessions, check by check, with the fix for each failure.'

  static override description = `Loads and attaches real BPF programs (a syscall tracepoint, a cgroup program, a ring buffer), \
checks BTF, privileges, tracefs, cgroup2 and lockdown mode, and verifies in a fresh test cgroup that \
the cgroup id a BPF program sees equals the one user space computes. kprobe, fentry and BPF LSM \
support is reported for information only: er-shell does not use them.

Anything the check mounts (cgroup2, tracefs, securityfs) or creates (the test cgroup) is removed \
before it exits. Exit status 0 means recording is possible; 1 means at least one check failed.`

  static override enableJsonFlag = true

  static override examples = [
    {description: 'Check this host (as root)', command: 'sudo <%= config.bin %> <%= command.id %>'},
    {description: 'Machine-readable result; exit status 0 only when recording is possible', command: 'sudo <%= config.bin %> <%= command.id %> --json'},
    {description: 'Check a cgroup v2 hierarchy mounted somewhere else', command: 'sudo <%= config.bin %> <%= command.id %> --cgroup-path /sys/fs/cgroup/unified'},
  ]

  static override flags = {
    'cgroup-path': Flags.string({
      description: 'Where the cgroup v2 hierarchy is mounted, or will be mounted for recording (cgroup_path).',
      default: DEFAULT_CGROUP_PATH,
      helpValue: 'DIR',
    }),
    'root-path': Flags.string({
      description: 'Parent of the session cgroups below --cgroup-path (root_path); the test cgroup is created there.',
      default: DEFAULT_ROOT_PATH,
      helpValue: 'PATH',
    }),
  }

  async run(): Promise<KernelReport> {
    const {flags} = await this.parse(CheckKernel)
    const report = runChecks({cgroupPath: resolve(flags['cgroup-path']), rootPath: resolve('/', flags['root-path'])})
    if (!this.jsonEnabled()) {
      this.log(renderReport(report, {color: colorWanted(process.stdout), width: process.stdout.columns}))
    }
    if (!report.ok) {
      // The report still goes to stdout; the one-line reason goes to stderr (BaseCommand).
      if (this.jsonEnabled()) this.logJson(report)
      const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.id)
      throw new KernelCheckError(failed, this.jsonEnabled() ? 'see "checks" in the output' : 'the fixes are listed above')
    }
    return report
  }
}

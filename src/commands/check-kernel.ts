// `er-shell check-kernel`: can this host record? Runs the checks in src/kernel and renders them.
import {resolve} from 'node:path'

import {BaseCommand} from '../cli/base-command.js'
import {configFlags, loadConfig} from '../config/index.js'
import {loadParams} from '../engine/capture.js'
import {KernelCheckError} from '../errors/index.js'
import {colorWanted, type KernelReport, renderReport, runChecks} from '../kernel/index.js'

export default class CheckKernel extends BaseCommand {
  static override summary = 'Say whether this host can record sessions, check by check, with the fix for each failure.'

  static override description = `Loads and attaches er-shell's own BPF programs as \`record\` would (same \
configuration, same choice between the bpf_loop and bounded-loop variants), then releases them; also \
loads a cgroup program and a ring buffer, checks BTF, privileges, tracefs, cgroup2 and lockdown mode, \
and verifies in a fresh test cgroup that the cgroup id a BPF program sees equals the one user space \
computes. Which variant was loaded, and kprobe, fentry and BPF LSM support, are reported for \
information only: er-shell does not need them. The network policy's cgroup socket programs \
(cgroup/connect4/6, sendmsg4/6) are loaded and attached to a test cgroup too: they are needed \
only for record --allow-net/--deny-net, so when they fail the check is a warning, not a failure.

Anything the check mounts (cgroup2, tracefs, securityfs) or creates (the test cgroup) is removed \
before it exits. Exit status 0 means recording is possible; 1 means at least one check failed.`

  static override enableJsonFlag = true

  static override examples = [
    `Check this host (as root); output abridged:
<%= config.bin %> <%= command.id %>
  │ Kernel 5.8 or newer     │ pass │ Linux 6.18.44-fc-v769                  │
  │ Privileges              │ pass │ uid 0 with CAP_BPF, CAP_PERFMON and... │
  │ cgroup id: BPF = user.. │ pass │ BPF saw 253, inode 253, handle 253     │
  │ kprobe (informational)  │ warn │ unavailable: attach BPF program ...    │
  warn kprobe: none needed: er-shell uses only tracepoints and cgroup programs
  This host can record sessions (11 passed, 3 warnings, 0 failed).`,
    `Machine-readable result; the exit status is 0 only when recording is possible:
<%= config.bin %> <%= command.id %> --json
  {"ok": true, "checks": [{"id": "kernel-version", "title": "Kernel 5.8 or newer",
    "status": "pass", "detail": "Linux 6.18.44-fc-v769", "remedy": ""}, ...]}`,
    `Without privileges it says what is missing and exits 1:
<%= config.bin %> <%= command.id %> --json > report.json
  er-shell: this host cannot record sessions: 8 checks failed (privileges, bpf-syscall, ...)`,
    `Check a cgroup v2 hierarchy mounted elsewhere (hybrid hosts):
<%= config.bin %> <%= command.id %> --cgroup-path /sys/fs/cgroup/unified`,
  ]

  static override flags = {
    config: configFlags.config,
    'cgroup-path': configFlags['cgroup-path'],
    'root-path': configFlags['root-path'],
  }

  async run(): Promise<KernelReport> {
    const {flags} = await this.parse(CheckKernel)
    const {config} = loadConfig(flags)
    // The programs are loaded as `record` loads them with this configuration's buffer sizes, for
    // every event kind (whichever --events a record is given, its programs were proven).
    const capture = {
      ...loadParams(['command', 'disk', 'network'], {command: config.command_buffer_size, disk: config.disk_buffer_size, network: config.network_buffer_size}),
      cgroupCheck: true,
    }
    const report = runChecks({cgroupPath: resolve(config.cgroup_path), rootPath: resolve('/', config.root_path), capture})
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

// Test cgroups under the host's cgroup2 hierarchy, removed (with anything left in them) afterwards.
import {spawn} from 'node:child_process'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {cgroupPids, removeCgroupTree} from '../../src/cgroup/cgroup.js'
import {listMounts} from '../../src/cgroup/mounts.js'

/** Where cgroup2 is mounted on this host (hybrid hosts: /sys/fs/cgroup/unified). */
export function cgroup2Root(): string {
  const m = listMounts().find((x) => x.fsType === 'cgroup2')
  if (!m) throw new Error('no cgroup2 mount on this host')
  return m.mountPoint
}

const created: string[] = []

/** Creates <cgroup2 root>/er-shell-test/<name>-<pid>-<n>. */
export function makeTestCgroup(name: string): string {
  const dir = join(cgroup2Root(), 'er-shell-test', `${name}-${process.pid}-${created.length}`)
  mkdirSync(dir, {recursive: true})
  created.push(dir)
  return dir
}

/** Kills what is left in the test cgroups (processes the tests started) and removes them. */
export async function cleanupTestCgroups(): Promise<void> {
  for (const dir of created.splice(0).reverse()) {
    try {
      for (const pid of cgroupPids(dir)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone already
        }
      }
      for (let i = 0; i < 50 && cgroupPids(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20))
      removeCgroupTree(dir)
    } catch {
      // already removed
    }
  }
  try {
    removeCgroupTree(join(cgroup2Root(), 'er-shell-test'))
  } catch {
    // in use by a concurrent test file, or already gone
  }
}

export interface ShellResult {
  code: number | null
  stdout: string
  stderr: string
  pid: number
}

/**
 * Runs `script` with /bin/sh after moving the shell into `cgroupDir` (as er-shell-join does:
 * join first, then run), and waits for it.
 */
export function runInCgroup(cgroupDir: string, script: string, env: NodeJS.ProcessEnv = process.env): Promise<ShellResult> {
  return runSh(`echo $$ > '${cgroupDir}/cgroup.procs' || exit 99\n${script}`, env)
}

export function runSh(script: string, env: NodeJS.ProcessEnv = process.env): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr, pid: child.pid ?? -1}))
  })
}

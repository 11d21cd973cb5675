// Which session cgroups belong to running recorders. Each recorder registers its session in
// /run/er-shell/sessions/<sid>.json (its pid and process start time); a registered session whose
// recorder is gone (killed with SIGKILL, crashed) is stale, and the next `er-shell` run cleans it.
// Cgroups that were never registered (e.g. Teleport's own under /teleport) are never touched.
import {mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

export const REGISTRY_DIR = '/run/er-shell/sessions'

export interface Registration {
  sid: string
  pid: number
  /** Field 22 of /proc/<pid>/stat: tells a reused pid from the recorder. */
  starttime: string
  cgroupDir: string
  dataDir: string
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm may contain spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

export function register(reg: Omit<Registration, 'pid' | 'starttime'>, dir = REGISTRY_DIR): string {
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const file = join(dir, `${reg.sid}.json`)
  const full: Registration = {...reg, pid: process.pid, starttime: processStartTime(process.pid) ?? ''}
  writeFileSync(file, JSON.stringify(full) + '\n', {mode: 0o600, flag: 'wx'})
  return file
}

export function unregister(sid: string, dir = REGISTRY_DIR): void {
  rmSync(join(dir, `${sid}.json`), {force: true})
}

export function isAlive(reg: Registration): boolean {
  return processStartTime(reg.pid) === reg.starttime
}

/** Registered sessions whose recorder no longer runs. */
export function staleSessions(dir = REGISTRY_DIR): Registration[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: Registration[] = []
  for (const name of names) {
    if (!name.endsWith('.json')) continue
    try {
      const reg = JSON.parse(readFileSync(join(dir, name), 'utf8')) as Registration
      if (!isAlive(reg)) out.push(reg)
    } catch {
      // unreadable entry: not ours to judge
    }
  }
  return out
}

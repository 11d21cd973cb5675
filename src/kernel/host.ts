// Read-only facts about the host: kernel release, effective capabilities, mounts, lockdown mode.
import {readFileSync} from 'node:fs'
import {release} from 'node:os'

export const CAP_SYS_ADMIN = 21
export const CAP_PERFMON = 38
export const CAP_BPF = 39

export const CAPABILITY_NAMES: Record<number, string> = {
  [CAP_SYS_ADMIN]: 'CAP_SYS_ADMIN',
  [CAP_PERFMON]: 'CAP_PERFMON',
  [CAP_BPF]: 'CAP_BPF',
}

/** The capabilities recording needs (root has all of them). */
export const REQUIRED_CAPABILITIES = [CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN]

export interface KernelVersion {
  release: string
  major: number
  minor: number
}

/** Parses "6.18.0-1-amd64" into {major: 6, minor: 18}; undefined when it is not a version. */
export function parseKernelRelease(text: string = release()): KernelVersion | undefined {
  const m = /^(\d+)\.(\d+)/.exec(text)
  if (!m) return undefined
  return {release: text, major: Number(m[1]), minor: Number(m[2])}
}

export function atLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor)
}

/** The effective capability set from a /proc/<pid>/status text (CapEff, hex). */
export function parseCapEff(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status)
  if (!m) throw new Error('no CapEff line in /proc/self/status')
  return BigInt(`0x${m[1]}`)
}

export function hasCapability(capEff: bigint, cap: number): boolean {
  return ((capEff >> BigInt(cap)) & 1n) === 1n
}

export function currentCapEff(): bigint {
  return parseCapEff(readFileSync('/proc/self/status', 'utf8'))
}

export interface MountEntry {
  id: number
  mountPoint: string
  fsType: string
}

/** Decodes mountinfo's octal escapes (\040 for space, ...). */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
}

/** Parses /proc/self/mountinfo text; later entries are mounted on top of earlier ones. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = []
  for (const line of text.split('\n')) {
    if (!line) continue
    const fields = line.split(' ')
    const dash = fields.indexOf('-')
    if (dash < 0 || fields.length < dash + 2) continue
    entries.push({id: Number(fields[0]), mountPoint: unescapeMountinfo(fields[4] ?? ''), fsType: fields[dash + 1] ?? ''})
  }
  return entries
}

export function readMounts(): MountEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
}

/** The topmost mount at exactly `path`, if any. */
export function topMountAt(path: string, mounts: MountEntry[] = readMounts()): MountEntry | undefined {
  let top: MountEntry | undefined
  for (const m of mounts) if (m.mountPoint === path) top = m
  return top
}

/** The active mode of /sys/kernel/security/lockdown ("none [integrity] confidentiality" → integrity). */
export function parseLockdown(text: string): string | undefined {
  return /\[([a-z]+)\]/.exec(text)?.[1]
}

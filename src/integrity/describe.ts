// One line per verdict, as `verify` prints it (and `replay` warns with it).
import * as path from 'node:path'

import type {Finding, SessionVerdict} from './verify.js'

/** `intact (N events, M bytes, sealed at T)`, or the status and the first broken place. */
export function describeVerdict(v: SessionVerdict): string {
  if (v.status === 'intact') return `intact (${v.events} event${v.events === 1 ? '' : 's'}, ${v.bytes} bytes, sealed at ${v.sealed_at})`
  return `${v.status}: ${describeFinding(v.problem!)}`
}

/** `<reason> in <file> at event E, byte B: <detail>` (the integrity file: at line L). */
export function describeFinding(f: Finding): string {
  const name = path.basename(f.file)
  const where: string[] = []
  if (f.event !== null && !name.endsWith('.integrity')) where.push(`event ${f.event}`)
  if (f.offset !== null) where.push(name.endsWith('.integrity') ? `line ${f.offset + 1}` : `byte ${f.offset}`)
  return `${f.reason} in ${name}${where.length > 0 ? ` at ${where.join(', ')}` : ''}: ${f.detail}`
}

// The CLI's own commands (as oclif loads them) and their `--help` text, parsed into sections and flags.
import {Config} from '@oclif/core'

import {ROOT, runCli} from './cli.js'

export interface CommandInfo {
  id: string
  /** The command as typed: topic separator is a space. */
  words: string[]
  flags: Record<string, {char?: string; description?: string; summary?: string; hidden?: boolean}>
  args: Record<string, {description?: string; hidden?: boolean}>
  usage?: unknown
  examples: unknown[]
  hidden: boolean
}

let loaded: Promise<CommandInfo[]> | undefined

/** er-shell's own commands (not those of the help and autocomplete plugins), sorted by id. */
export function ownCommands(): Promise<CommandInfo[]> {
  loaded ??= (async () => {
    const config = await Config.load({root: ROOT, userPlugins: false})
    return config.commands
      .filter((c) => c.pluginName === config.name && !c.hidden)
      .map((c) => ({
        id: c.id,
        words: c.id.split(':'),
        flags: c.flags as CommandInfo['flags'],
        args: c.args as CommandInfo['args'],
        usage: c.usage,
        examples: c.examples ?? [],
        hidden: Boolean(c.hidden),
      }))
      .sort((a, b) => a.id.localeCompare(b.id))
  })()
  return loaded
}

/** `er-shell <words> --help` with a fixed width, so the layout does not depend on the caller's terminal. */
export function helpText(words: string[]): string {
  const r = runCli([...words, '--help'], {env: {COLUMNS: '100'}})
  if (r.status !== 0) throw new Error(`er-shell ${words.join(' ')} --help exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

/** The help's sections by heading (an all-caps line at the left margin): `FLAGS`, `EXAMPLES`, … */
export function helpSections(help: string): Map<string, string[]> {
  const sections = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of help.split('\n')) {
    if (/^[A-Z][A-Z ]+$/.test(line)) {
      current = []
      sections.set(line.trim(), current)
    } else if (current) {
      current.push(line)
    }
  }
  return sections
}

export interface HelpFlag {
  long: string
  short?: string
  /** The description text on the flag's first line (empty when there is none). */
  text: string
}

/** Flags listed in every `… FLAGS` section: `  -c, --command=<command>  Run …` or `      --json  Format …`. */
export function helpFlags(help: string): HelpFlag[] {
  const flags: HelpFlag[] = []
  for (const [name, lines] of helpSections(help)) {
    if (!/(^| )FLAGS$/.test(name)) continue
    for (const line of lines) {
      const m = /^ {2}(?:-([A-Za-z0-9]), )? *--(?:\[no-\])?([a-z0-9][a-z0-9-]*)(?:=\S+)?(?: {2,}(.*))?$/.exec(line)
      if (m) flags.push({long: m[2]!, short: m[1], text: (m[3] ?? '').trim()})
    }
  }
  return flags
}

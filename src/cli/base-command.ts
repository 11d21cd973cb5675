// Base class of every er-shell command: one-line errors (`er-shell: <message>`), the right exit status.
import {ErShellError} from '../errors/index.js'
import {safeJson, visible} from '../events/escape.js'
import {Command, Errors} from './oclif.js'

/** True when DEBUG or ER_SHELL_DEBUG asks for stack traces. */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return [env.ER_SHELL_DEBUG, env.DEBUG].some((v) => v !== undefined && v !== '' && v !== '0')
}

/** The first non-empty line of an error's message (oclif appends "See more help with --help"). */
export function oneLineMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  const line = text.split('\n').find((l) => l.trim() !== '')
  return (line ?? (error instanceof Error ? error.name : 'unknown error')).trim()
}

/** Exit status for an error: ErShellError's exitCode, oclif's own (2 for usage errors), else 1. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof ErShellError) return error.exitCode
  const oclif = (error as {oclif?: {exit?: unknown}} | undefined)?.oclif
  return typeof oclif?.exit === 'number' && oclif.exit > 0 ? oclif.exit : 1
}

/** `er-shell: warning: …` on stderr; a warning quotes file names and recorded text, escaped. */
export function warn(message: string): void {
  process.stderr.write(`er-shell: warning: ${visible(message)}\n`)
}

/** `er-shell: …` on stderr (notes), escaped as warn(). */
export function note(message: string): void {
  process.stderr.write(`er-shell: ${visible(message)}\n`)
}

export abstract class BaseCommand extends Command {
  /** --json output (as oclif writes it: indented by 2) with controls escaped, see events/escape.ts. */
  protected override logJson(json: unknown): void {
    process.stdout.write(`${safeJson(json, 2)}\n`)
  }

  /**
   * Any error ends the command with exactly one line on stderr and its exit status; the stack
   * only with DEBUG / ER_SHELL_DEBUG. `this.exit(n)` passes through untouched.
   */
  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error
    process.exitCode = exitCodeOf(error)
    // Messages quote file names, session ids and recorded text: controls are escaped.
    process.stderr.write(`er-shell: ${visible(oneLineMessage(error))}\n`)
    if (debugEnabled() && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`)
    return undefined
  }
}

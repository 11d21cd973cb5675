// Terminals for tests: programs run in tmux panes on a tmux server of this test process, typed into
// and read back as a person would.
import {spawnSync} from 'node:child_process'
import {setTimeout as sleep} from 'node:timers/promises'

import {testEnv} from './cli.js'

let tmuxCount = 0
const tmuxSessions = new Set<string>()

/** Shell to run after a pane's program: its exit status, then the terminal's modes (TmuxPane.exitReport). */
export const REPORT_EXIT = 'echo ER_EXIT=$?; stty -a; echo ER_MODES_END'
export const TMUX_SOCKET = `er-test-${process.pid}`

export function tmux(args: string[]): string {
  const r = spawnSync('tmux', ['-L', TMUX_SOCKET, ...args], {encoding: 'utf8', env: testEnv({TMUX: ''})})
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

export class TmuxPane {
  readonly name: string

  constructor(command: string, options: {cols?: number; rows?: number; env?: Record<string, string>} = {}) {
    this.name = `er-test-${process.pid}-${tmuxCount++}`
    const envPrefix = Object.entries({NO_COLOR: '1', SHELL: '/bin/bash', ...options.env})
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ')
    tmux(['new-session', '-d', '-s', this.name, '-x', String(options.cols ?? 100), '-y', String(options.rows ?? 30), `env ${envPrefix} ${command}`])
    tmuxSessions.add(this.name)
    // Keep the pane (and its text) after the command exits.
    tmux(['set-option', '-t', this.name, 'remain-on-exit', 'on'])
  }

  /** Literal text (no key names). */
  type(text: string): void {
    tmux(['send-keys', '-t', this.name, '-l', text])
  }

  /** Key names: Enter, C-c, … */
  keys(...keys: string[]): void {
    tmux(['send-keys', '-t', this.name, ...keys])
  }

  line(text: string): void {
    this.type(text)
    this.keys('Enter')
  }

  /** The pane's text, with its scrollback. */
  text(): string {
    return tmux(['capture-pane', '-p', '-J', '-S', '-2000', '-t', this.name])
  }

  async waitFor(re: RegExp | string, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms
    for (;;) {
      const t = this.text()
      if (typeof re === 'string' ? t.includes(re) : re.test(t)) return t
      if (Date.now() > deadline) throw new Error(`tmux ${this.name}: timed out waiting for ${String(re)}; pane:\n${t}`)
      await sleep(100)
    }
  }

  /**
   * Waits until the pane's command has printed all of what REPORT_EXIT prints (the modes come
   * after the status, so the status alone is not enough); returns the pane's text.
   */
  exitReport(ms = 20_000): Promise<string> {
    return this.waitFor(/^ER_EXIT=\d+$[\s\S]*^ER_MODES_END$/m, ms)
  }

  resize(cols: number, rows: number): void {
    tmux(['resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows)])
  }

  /** The pid of the pane's first process. */
  panePid(): number {
    return Number(tmux(['display-message', '-p', '-t', this.name, '#{pane_pid}']).trim())
  }

  kill(): void {
    if (!tmuxSessions.has(this.name)) return
    tmuxSessions.delete(this.name)
    try {
      tmux(['kill-session', '-t', this.name])
    } catch {
      // already gone
    }
  }
}

/** Ends every pane this process started (after a test). */
export function killTmuxSessions(): void {
  for (const name of [...tmuxSessions]) {
    tmuxSessions.delete(name)
    try {
      tmux(['kill-session', '-t', name])
    } catch {
      // gone
    }
  }
}

// Plays frames to a terminal with the recorded timing: speed, idle cap, keys, events in step, safe output.
import {performance} from 'node:perf_hooks'

import {Chalk} from 'chalk'

import {CommandMemory, eventLine, isDeniedNetwork} from './describe.js'
import type {PacedWriter} from './paced-writer.js'
import {TerminalSafetyFilter, type FilterStats} from './terminal/safety-filter.js'
import {isShownStep, type Frame} from './timeline.js'

/** What the keyboard can do; also used by tests to drive a player without a terminal. */
export type PlayerKey = 'pause' | 'step' | 'faster' | 'slower' | 'next' | 'quit'

/** Key bindings (CONTROLS in the man page). */
export const KEY_BINDINGS: Readonly<Record<string, PlayerKey>> = {
  ' ': 'pause',
  '.': 'step',
  '+': 'faster',
  '=': 'faster',
  '>': 'faster',
  '-': 'slower',
  _: 'slower',
  '<': 'slower',
  n: 'next',
  q: 'quit',
  Q: 'quit',
  '\x03': 'quit', // Ctrl-C (raw mode: no SIGINT)
  '\x04': 'quit', // Ctrl-D
}

export const MIN_SPEED = 1 / 64
export const MAX_SPEED = 64

/** A readable terminal (process.stdin when it is a TTY). */
export interface KeySource {
  isTTY?: boolean
  setRawMode?: (mode: boolean) => unknown
  on(event: 'data', listener: (data: Buffer | string) => void): unknown
  off(event: 'data', listener: (data: Buffer | string) => void): unknown
  resume(): unknown
  pause(): unknown
}

export interface PlayerOptions {
  output: PacedWriter
  /** Playback speed factor (2 = twice as fast). */
  speed?: number
  /** Cap every pause in the recording at this many seconds. */
  idleLimit?: number
  /** Show enhanced events (command, network, disk, cgroup escape) as lines in step with the output. */
  events?: boolean
  /** Drop sequences that make the terminal answer or act (default true). */
  filter?: boolean
  /** Colour the event lines. */
  color?: boolean
  /** Keys: when given and a TTY, it is put in raw mode for the playback and restored after. */
  keys?: KeySource
  /** Start at this event (`ei`): every frame before it is written at once (the screen catches up). */
  startEi?: number
  /** The output is a terminal: put it back (normal screen, cursor, attributes) when playback stops. */
  restoreTerminal?: boolean
}

export interface PlayResult {
  /** Stopped by `q` (or Ctrl-C) before the end. */
  quit: boolean
  frames: number
  filter: FilterStats
}

/** Longest queue of event lines held back while a full-screen program owns the screen. */
const MAX_QUEUED_LINES = 200

/**
 * Timed playback. Time is virtual: each frame's gap since the previous one (capped by
 * idleLimit) advances a recording clock, and the frame is written when the wall clock, scaled by
 * the speed, reaches it. Pausing, stepping and speed changes re-anchor the clocks, so timing
 * never drifts and never "catches up" after a pause.
 */
export class Player {
  private speed: number
  private paused = false
  private stepRequested = false
  private skipping = false
  private quitRequested = false
  private wallBase = 0
  private virtualBase = 0
  private pausedAt = 0
  private wake: (() => void) | undefined
  private readonly filter: TerminalSafetyFilter
  private readonly queued: string[] = []
  private readonly commands = new CommandMemory()
  private queuedDropped = 0
  private readonly chalk: InstanceType<typeof Chalk>
  private readonly onData = (data: Buffer | string): void => this.onKeys(typeof data === 'string' ? data : data.toString('latin1'))
  private rawMode = false

  constructor(private readonly options: PlayerOptions) {
    this.speed = clampSpeed(options.speed ?? 1)
    this.filter = new TerminalSafetyFilter(options.filter !== false)
    this.chalk = new Chalk({level: options.color ? 1 : 0})
  }

  /** Current speed factor (changes with `+`/`-`). */
  get currentSpeed(): number {
    return this.speed
  }

  get isPaused(): boolean {
    return this.paused
  }

  /** Applies one key action (the keyboard handler calls this; tests may too). */
  press(key: PlayerKey): void {
    const now = performance.now()
    switch (key) {
      case 'pause':
        if (this.paused) {
          this.paused = false
          this.virtualBase = this.pausedAt
          this.wallBase = now
        } else {
          this.pausedAt = this.virtualNow(now)
          this.paused = true
        }
        break
      case 'step':
        if (this.paused) this.stepRequested = true
        break
      case 'faster':
      case 'slower': {
        const position = this.paused ? this.pausedAt : this.virtualNow(now)
        this.speed = clampSpeed(key === 'faster' ? this.speed * 2 : this.speed / 2)
        this.virtualBase = position
        this.wallBase = now
        if (this.paused) this.pausedAt = position
        break
      }
      case 'next':
        this.skipping = true
        break
      case 'quit':
        this.quitRequested = true
        break
    }
    this.wake?.()
  }

  /** Plays the frames; always puts the keyboard and the terminal back before it returns or throws. */
  async play(frames: AsyncIterable<Frame>): Promise<PlayResult> {
    const {output} = this.options
    const idleMs = this.options.idleLimit === undefined ? Infinity : this.options.idleLimit * 1000
    let catchingUp = this.options.startEi !== undefined
    let previousMs: number | undefined
    let virtualMs = 0
    let count = 0
    this.attachKeys()
    this.wallBase = performance.now()
    try {
      for await (const frame of frames) {
        if (this.quitRequested || output.closed) break
        count++
        const isCommand = frame.kind === 'event' && frame.event.event === 'session.command'
        if (catchingUp) {
          if (frame.event.ei === this.options.startEi) {
            catchingUp = false
            previousMs = frame.ms
            this.wallBase = performance.now()
            this.virtualBase = virtualMs
          } else {
            await this.writeFrame(frame)
            previousMs = frame.ms
            continue
          }
        }
        if (previousMs !== undefined) virtualMs += Math.min(Math.max(0, frame.ms - previousMs), idleMs)
        previousMs = frame.ms
        if (!this.skipping) await this.waitFor(virtualMs)
        if (this.quitRequested) break
        if (this.skipping && isCommand) {
          this.skipping = false
          this.virtualBase = virtualMs
          this.wallBase = performance.now()
          if (this.paused) this.pausedAt = virtualMs
        }
        await this.writeFrame(frame)
      }
      await output.write(this.filter.end())
    } finally {
      this.detachKeys()
      if (this.options.restoreTerminal) {
        const tail = this.filter.restoreSequence() + (this.filter.atLineStart ? '' : '\r\n')
        this.filter.altScreen = false
        this.filter.atLineStart = true
        await output.write(tail)
      }
      // Event lines held back while a full-screen program ran go after it (or at the end).
      await this.flushQueued(true)
    }
    return {quit: this.quitRequested, frames: count, filter: this.filter.stats}
  }

  private virtualNow(now: number): number {
    return this.virtualBase + (now - this.wallBase) * this.speed
  }

  /** Waits until the frame at `virtualMs` is due, honouring pause/step/next/quit. */
  private async waitFor(virtualMs: number): Promise<void> {
    for (;;) {
      if (this.quitRequested || this.skipping) return
      if (this.paused) {
        if (this.stepRequested) {
          this.stepRequested = false
          this.pausedAt = virtualMs
          return
        }
        await new Promise<void>((resolve) => (this.wake = resolve))
        continue
      }
      const due = this.wallBase + (virtualMs - this.virtualBase) / this.speed
      const delay = due - performance.now()
      if (delay <= 0) return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay)
        function done(): void {
          clearTimeout(timer)
          resolve()
        }
        this.wake = done
      })
    }
  }

  private async writeFrame(frame: Frame): Promise<void> {
    const {output} = this.options
    if (frame.kind === 'output') {
      const wasAlt = this.filter.altScreen
      await output.write(this.filter.write(frame.data))
      if (wasAlt && !this.filter.altScreen) await this.flushQueued(false)
      return
    }
    this.commands.remember(frame.event)
    if (this.options.events === false || !isShownStep(frame.event)) return
    // A network attempt the session's policy refused stands out from the dim event lines.
    const text = isDeniedNetwork(frame.event)
      ? this.chalk.red(`[er-shell] ${eventLine(frame.event, this.commands)}`)
      : this.chalk.dim.cyan(`[er-shell] ${eventLine(frame.event, this.commands)}`)
    if (this.filter.altScreen) {
      // A full-screen program owns the screen: hold the line back until it leaves.
      if (this.queued.length < MAX_QUEUED_LINES) this.queued.push(text)
      else this.queuedDropped++
      return
    }
    await output.write(`${this.filter.atLineStart ? '' : '\r\n'}${text}\r\n`)
    this.filter.atLineStart = true
  }

  private async flushQueued(atEnd: boolean): Promise<void> {
    if (this.queued.length === 0 && this.queuedDropped === 0) return
    if (this.filter.altScreen && !atEnd) return
    let text = this.queued.map((line) => `${line}\r\n`).join('')
    if (this.queuedDropped > 0) text += this.chalk.dim.cyan(`[er-shell] … ${this.queuedDropped} more events while the full-screen program ran`) + '\r\n'
    this.queued.length = 0
    this.queuedDropped = 0
    await this.options.output.write(`${this.filter.atLineStart ? '' : '\r\n'}${text}`)
    this.filter.atLineStart = true
  }

  private onKeys(text: string): void {
    if (text.startsWith('\x1b')) return // arrow keys and other sequences: not bound
    for (const ch of text) {
      const key = KEY_BINDINGS[ch]
      if (key) this.press(key)
    }
  }

  private attachKeys(): void {
    const keys = this.options.keys
    if (!keys || keys.isTTY !== true) return
    keys.setRawMode?.(true)
    this.rawMode = true
    keys.on('data', this.onData)
    keys.resume()
  }

  private detachKeys(): void {
    const keys = this.options.keys
    if (!keys || !this.rawMode) return
    keys.off('data', this.onData)
    keys.setRawMode?.(false)
    keys.pause()
    this.rawMode = false
  }
}

function clampSpeed(speed: number): number {
  return Math.min(MAX_SPEED, Math.max(MIN_SPEED, speed))
}

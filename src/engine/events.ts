// What the capture engine delivers: kernel events as the audit event lines the poll thread wrote
// for them (native/src/lines.h), the one place kernel records become events.
export type {EventKind} from '../config/schema.js'
export {EVENT_KINDS} from '../config/schema.js'

/** The event types made from kernel records. */
export type KernelLineEvent = 'session.command' | 'session.disk' | 'session.network' | 'session.cgroup_escape' | 'session.process_exit'

/** One kernel event's audit line; the session writer numbers it. */
export interface KernelLine {
  event: KernelLineEvent
  /** A network attempt the session's policy denied (`"action":1`). */
  denied: boolean
  /** The line after `{"ei":N,` (the writer numbers it), ending in "}\n"; decoded from `bytes` when read. */
  readonly tail: string
  /** tail's length in UTF-8 bytes. */
  tailBytes: number
  /**
   * tail's UTF-8 bytes are bytes[tailStart, tailStart + tailBytes): the batch the poll thread
   * delivered, shared by its lines and never modified. The writer copies lines from it: at
   * 100,000 events/s a string per line cost more than the rest of the path.
   */
  bytes: Buffer
  tailStart: number
  /** Wall-clock time in ms since the epoch, from the kernel's CLOCK_MONOTONIC stamp. */
  timeMs: number
}

/**
 * The parts of an audit event line the native addon cannot know (EventLineFormatter.lineFormat()):
 * with them, it writes the line of every exec, open, connect and migrate on its poll thread.
 */
export interface LineFormat {
  /** `"event":"session.command","code":"T4000I",` */
  commandHead: string
  /** `"event":"session.disk","code":"T4001I",` */
  diskHead: string
  /** `"event":"session.network","code":"T4002I",` */
  networkHead: string
  /** `"event":"session.cgroup_escape","code":"ERS0001W",` */
  escapeHead: string
  /** `"event":"session.process_exit","code":"ERS0002I",` */
  exitHead: string
  /** The session's common fields as JSON members: `"cluster_name":…,"user":…`. */
  common: string
}

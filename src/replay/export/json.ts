// `replay --format json|yaml`: the session's events, streamed one by one (JSON lines or YAML documents).
import {stringify} from 'yaml'

import type {AuditEvent} from '../../events/types.js'
import {readSessionEvents, type ReadOptions, type SessionRef} from '../../storage/index.js'
import type {Progress} from '../progress.js'
import type {OutputSink} from '../sink.js'

export type EventFormat = 'json' | 'yaml'

/**
 * One event in the given format, newline-terminated (YAML: a `---` document). YAML is written so
 * YAML 1.1 readers (PyYAML) read the same values as 1.2 ones: `80:24` and times are quoted.
 */
export function formatEvent(event: AuditEvent, format: EventFormat): string {
  if (format === 'json') return JSON.stringify(event) + '\n'
  return '---\n' + stringify(event, {lineWidth: 0, version: '1.1'})
}

export interface EventExportOptions extends ReadOptions {
  progress?: Progress
}

/** Writes every event of the session (print and resize included) in file order. */
export async function exportEvents(ref: SessionRef, format: EventFormat, sink: OutputSink, options: EventExportOptions = {}): Promise<number> {
  let count = 0
  for await (const event of readSessionEvents(ref, options)) {
    if (sink.closed) break
    count++
    if (options.progress) {
      options.progress.counters.events = count
      if (event.event === 'print' && typeof event.bytes === 'number') options.progress.counters.outputBytes += event.bytes
    }
    await sink.write(formatEvent(event, format))
  }
  return count
}

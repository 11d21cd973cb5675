// `replay --format json|yaml`: the session's events, streamed one by one (JSON lines or YAML documents).
import {Document, visit} from 'yaml'

import {escapeControls, hasControls, safeJson} from '../../events/escape.js'
import type {AuditEvent} from '../../events/types.js'
import {readSessionEvents, type ReadOptions, type SessionRef} from '../../storage/index.js'
import type {Progress} from '../progress.js'
import type {PacedWriter} from '../paced-writer.js'

export type EventFormat = 'json' | 'yaml'

/**
 * One event in the given format, newline-terminated (YAML: a `---` document). YAML is written so
 * YAML 1.1 readers (PyYAML) read the same values as 1.2 ones: `80:24` and times are quoted.
 * Controls are escaped (events/escape.ts): in YAML a string or key holding one is double-quoted,
 * where the yaml package escapes C0 and `\\u` escapes DEL, C1 and bidi controls.
 */
export function formatEvent(event: AuditEvent, format: EventFormat): string {
  if (format === 'json') return safeJson(event) + '\n'
  const doc = new Document(event, {version: '1.1'})
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && hasControls(node.value)) node.type = 'QUOTE_DOUBLE'
    },
  })
  return '---\n' + escapeControls(doc.toString({lineWidth: 0}), 'json')
}

export interface EventExportOptions extends ReadOptions {
  progress?: Progress
}

/** Writes every event of the session (print and resize included) in file order. */
export async function exportEvents(ref: SessionRef, format: EventFormat, output: PacedWriter, options: EventExportOptions = {}): Promise<number> {
  let count = 0
  for await (const event of readSessionEvents(ref, options)) {
    if (output.closed) break
    count++
    if (options.progress) {
      options.progress.counters.events = count
      if (event.event === 'print' && typeof event.bytes === 'number') options.progress.counters.outputBytes += event.bytes
    }
    await output.write(formatEvent(event, format))
  }
  return count
}

// `replay --format text`: the terminal output as plain text (controls stripped, CR/BS applied).
import type {ReadOptions, SessionRef} from '../../storage/index.js'
import type {Progress} from '../progress.js'
import type {PacedWriter} from '../paced-writer.js'
import {PlainTextRenderer} from '../terminal/plain-text.js'
import {readOutput, type Frame} from '../timeline.js'

export interface TextExportOptions extends ReadOptions {
  progress?: Progress
}

/** The whole output, from the chunks file alone (works even when the events file is damaged). */
export async function exportText(ref: SessionRef, output: PacedWriter, options: TextExportOptions = {}): Promise<void> {
  const renderer = new PlainTextRenderer()
  for await (const chunk of readOutput(ref, options)) {
    if (output.closed) return
    if (options.progress) options.progress.counters.outputBytes += chunk.length
    await output.write(renderer.write(chunk))
  }
  await output.write(renderer.end())
}

/** The output of the given frames (e.g. from a command on), as plain text. */
export async function exportTextFrames(frames: AsyncIterable<Frame>, output: PacedWriter, options: TextExportOptions = {}): Promise<void> {
  const renderer = new PlainTextRenderer()
  for await (const frame of frames) {
    if (output.closed) return
    if (options.progress) options.progress.counters.events++
    if (frame.kind !== 'output') continue
    if (options.progress) options.progress.counters.outputBytes += frame.data.length
    await output.write(renderer.write(frame.data))
  }
  await output.write(renderer.end())
}

// Phase 4 of record: the session program exited. Leftover processes are ended (or kept), the
// kernel capture drains and stops, the live printer shows the last losses and closes, the
// recording ends with session.data and session.end (or stays unfinished after a storage error),
// and the cleanup stack removes the session cgroup and registration. Then the summary.
import {performance} from 'node:perf_hooks'

import type {LostEvents} from '../../events/index.js'
import type {Cleanup} from '../../kernel/cleanup.js'
import {handleLeftovers} from '../leftovers.js'
import type {RecordResult} from '../session.js'
import {TIMINGS, mark, marks} from '../timings.js'
import type {PreparedHost} from './prepare-host.js'
import type {StartedCapture} from './start-capture.js'
import type {TerminalResult} from './run-terminal.js'

export async function finish(host: PreparedHost, capture: StartedCapture, ran: TerminalResult, cleanup: Cleanup): Promise<RecordResult> {
  const {opts, cfg, out, live, sid} = host
  const {engine, writer, counts} = capture
  const {exitCode} = ran

  const leftovers = await handleLeftovers(host.cgroupDir, opts.leftovers, opts.graceMs, host.rootDir)
  mark('leftoversHandled')
  const stopped = await engine.stop()
  mark('engineStopped')
  capture.stopLossLines()
  const lost = stopped.lost
  if (total(lost) > total(capture.lossShown)) live.loss(lost)
  await live.end()

  let completed = false
  if (!capture.storageFailed) {
    writer.emit({event: 'session.data', tx: ran.tx, rx: ran.rx})
    const end = await writer.end({
      interactive: capture.interactive,
      exit_code: exitCode,
      lost_events: lost,
      leftover_processes: leftovers,
      event_counts: {
        command: counts.commands,
        disk: counts.disk,
        network: counts.network,
        network_denied: counts.denied,
        exit: counts.exits,
        disk_filtered: stopped.kernel.diskFiltered,
      },
      ...(host.initial ? {initial_command: host.initial} : {}),
    })
    completed = end.completed
  } else {
    writer.abort()
  }
  mark('filesFinished')
  for (const failure of await cleanup.unwind()) out.notice(`cleanup: ${failure}`)
  mark('cleanedUp')
  if (TIMINGS) {
    const timings = {origin: performance.timeOrigin, ...marks, engine: engine.timings, drainMs: stopped.drainMs, detachMs: stopped.detachMs}
    process.stderr.write(`${JSON.stringify({er_shell_timings: timings})}\n`)
  }

  const lostTotal = total(lost)
  out.say(
    `session ${sid} ended (exit ${exitCode}): ${counts.commands} commands, ${counts.network} connections` +
      (counts.denied > 0 ? `, ${counts.denied} denied` : '') +
      (cfg.events.includes('disk') ? `, ${counts.disk} file opens` : '') +
      (lostTotal > 0 ? `, ${lostTotal} EVENTS LOST` : ', nothing lost') +
      (capture.storageFailed ? ', RECORDING INCOMPLETE (it stopped at the storage error above)' : '') +
      (leftovers.length > 0 ? `, ${leftovers.length} leftover process(es) ${opts.leftovers === 'keep' ? 'kept' : 'ended'}` : '') +
      `; replay: er-shell replay ${sid.slice(0, 8)}`,
  )
  return {sid, exitCode, lost, counts, leftovers, completed}
}

function total(lost: LostEvents): number {
  return lost.command + lost.disk + lost.network
}

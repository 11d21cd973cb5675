// How `er-shell record` starts: its BPF programs are loaded while oclif and the command load (and
// adopted when the configuration matches the guess made from the arguments), and a profiler's
// signals during that load do not make it fail.
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {commandsOf, eventsOf, guardLeaks, onlySession, record} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

interface EngineTimings {
  preloaded: boolean
  waitMs: number
  loadMs: number
  checkMs: number
}

/** The engine part of the ER_SHELL_TIMINGS line on stderr. */
function engineTimings(stderr: string): EngineTimings {
  const line = stderr.split('\n').find((l) => l.startsWith('{"er_shell_timings"'))
  assert.ok(line, `a timings line on stderr: ${stderr}`)
  return (JSON.parse(line) as {er_shell_timings: {engine: EngineTimings}}).er_shell_timings.engine
}

describe('record: start-up', {skip}, () => {
  const {dataDir} = guardLeaks()

  it('records under `node --cpu-prof` (SIGPROF every millisecond while the BPF programs load)', async () => {
    const d = dataDir()
    const profiles = join(d, 'profiles')
    const r = await record(join(d, 'data'), ['-q', '-c', '/bin/echo profiled'], {
      wrap: ['sh', '-c', `exec "$0" --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir='${profiles}' "$@"`],
    })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.equal(readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile')).length, 1, 'the profiler ran')
    const cmds = commandsOf(await eventsOf(onlySession(join(d, 'data'))))
    assert.ok(
      cmds.some((c) => c.path === '/bin/echo' && c.argv[0] === 'profiled'),
      JSON.stringify(cmds),
    )
  })

  const cases: Array<{title: string; args: string[]; env?: NodeJS.ProcessEnv; program: string}> = [
    {title: 'the default configuration', args: [], program: '/bin/true'},
    {title: '--events and a buffer size as flags', args: ['--events', 'command,disk', '--disk-buffer-size=64'], program: '/bin/true'},
    {title: 'ER_SHELL_EVENTS', args: [], env: {ER_SHELL_EVENTS: 'command'}, program: '/bin/true'},
    {title: 'a -c command that looks like flags', args: ['--events=command'], program: '/bin/true --events disk'},
  ]
  for (const c of cases) {
    it(`adopts the programs it started loading before oclif: ${c.title}`, async () => {
      const d = dataDir()
      const r = await record(d, ['-q', ...c.args, '-c', c.program], {env: {ER_SHELL_TIMINGS: '1', ...c.env}})
      assert.equal(r.code, 0, r.stderr)
      const engine = engineTimings(r.stderr)
      assert.equal(engine.preloaded, true, JSON.stringify(engine))
      assert.ok(engine.checkMs > 0, 'the cgroup id was checked')
      const cmds = commandsOf(await eventsOf(onlySession(d)))
      assert.ok(
        cmds.some((cmd) => cmd.path === '/bin/true'),
        JSON.stringify(cmds),
      )
    })
  }
})

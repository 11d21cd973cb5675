// A reader that goes away (`record … 2>&1 | head -1`) must not end the recording: the session runs
// to its end, its files are finished (session.end written) and its cgroup is removed. Otherwise a
// session can make itself unrecorded, and leave a stale cgroup, by closing what reads er-shell.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {CLI, kernelTestsSkipReason, testEnv} from '../../helpers/cli.js'
import {CGROUP_ROOT, commandsOf, endOf, eventsOf, guardLeaks, onlySession} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

/** Runs `bash -c SCRIPT` (the recorder is "$@"), returns what it printed and its status. */
function pipeline(script: string, args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script, 'bash', process.execPath, CLI, ...args], {env: testEnv(), cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr})
    })
  })
}

describe('security: a closed stdout or stderr', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-sec-pipe-'})
  const session = 'for i in 1 2 3; do echo x; sleep 0.2; done; echo done-$((40+2))'

  const cases: Array<[string, string]> = [
    ['stdout and stderr to `head -1`', '"$@" 2>&1 | head -1; echo "status ${PIPESTATUS[0]}" >&2'],
    ['stderr alone to `head -1` (live lines and notices)', '"$@" 2>&1 >/dev/null | head -1; echo "status ${PIPESTATUS[0]}" >&2'],
    ['stdout alone to `head -1`', '"$@" 2>/dev/null | head -1; echo "status ${PIPESTATUS[0]}" >&2'],
  ]
  for (const [what, script] of cases) {
    it(`${what}: the session completes, session.end is written, the cgroup is removed`, async () => {
      const d = dataDir()
      const r = await pipeline(script, ['record', '--data-dir', d, '-c', session])
      assert.equal(r.stdout.split('\n').length, 2, `head printed one line: ${r.stdout}`)
      assert.match(r.stderr, /^status 0$/m, `the recorder exits with the session's status: ${r.stderr}`)
      const ref = onlySession(d)
      const events = await eventsOf(ref)
      const end = endOf(events)
      assert.equal(end.exit_code, 0)
      // every `sleep` ran and was recorded: the session was not cut short
      assert.equal(commandsOf(events).filter((c) => c.program === 'sleep').length, 3)
      assert.equal(existsSync(join(CGROUP_ROOT, ref.sid)), false, 'the session cgroup is removed')
    })
  }
})

// The session gets the terminal as 0, 1 and 2 and no other descriptor of the recorder: a file root
// opened on a descriptor >= 3 (a redirection of the caller's shell, a leaked fd of er-shell itself)
// must not reach an unprivileged --login session, nor a root one.
import assert from 'node:assert/strict'
import {chmodSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {guardLeaks, startCli} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

describe('security: inherited descriptors', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-sec-fd-'})

  /** A root-only file, opened by the caller's shell on descriptor 200 of the recorder. */
  function secretOn200(dir: string): {file: string; secret: string; wrap: string[]} {
    const file = join(dir, 'secret')
    const secret = `root-only-${process.pid}-${Date.now()}`
    writeFileSync(file, `${secret}\n`, {mode: 0o600})
    chmodSync(dir, 0o755)
    // bash: dash reads `200<file` as the word 200 and a redirection of stdin.
    return {file, secret, wrap: ['bash', '-c', `exec "$0" "$@" 200<${file}`]}
  }

  for (const login of [['--login', 'nobody'], []]) {
    const who = login.length > 0 ? 'a --login nobody session' : 'a root session'
    it(`${who} cannot read a root-only file through the recorder's descriptor 200; it has only 0, 1 and 2`, async () => {
      const dir = dataDir()
      const {secret, wrap} = secretOn200(dir)
      const run = startCli(['record', '-q', '--data-dir', join(dir, 'data'), ...login, '--', '/bin/bash', '-c', 'ls /proc/$$/fd; cat <&200'], {wrap})
      const r = await run.done
      const out = r.stdout.toString()
      assert.equal(out.includes(secret), false, `the secret leaked into the session: ${out}`)
      // ls lists the shell's table (bash -c opens nothing of its own): the terminal on 0-2, no more.
      assert.match(out, /^0 +1 +2\r?$/m, `the session's descriptors: ${out}`)
      assert.match(out, /200: Bad file descriptor/)
      assert.equal(r.code, 1, r.stderr)
    })
  }
})

// Security (issue 17, row 6): `record` as root with a config file another user owns refuses it in
// one line before anything starts, and never records where the file says (the checks themselves,
// case by case: test/config/file-ownership.test.ts).
import assert from 'node:assert/strict'
import {chownSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {hasStackTrace, kernelTestsSkipReason} from '../../helpers/cli.js'
import {configDir} from '../../helpers/config.js'
import {startCli} from '../../helpers/record.js'

const NOBODY = 65534

describe('security: record with a config file as root', {skip: kernelTestsSkipReason()}, () => {
  it('record with ER_SHELL_CONFIG naming a file nobody owns: one line, exit 2, its data_dir never created', async (t) => {
    const dir = configDir(t)
    const victim = join(dir.dir, 'victim')
    const file = dir.write('er-shell.yaml', `data_dir: ${victim}\n`)
    chownSync(file, NOBODY, NOBODY)
    // No --data-dir: the file's data_dir is what an obeyed file would record into.
    const r = await startCli(['record', '-c', 'true'], {env: {ER_SHELL_CONFIG: file}, timeoutMs: 30_000}).done
    assert.equal(r.code, 2, r.stderr)
    assert.equal(hasStackTrace(r.stderr), false, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(
      r.stderr.trim(),
      /^er-shell: refusing to read config file .*er-shell\.yaml \(named by ER_SHELL_CONFIG\): it is owned by uid 65534, not by root$/,
    )
    assert.equal(existsSync(victim), false)
  })
})

// `--login USER` starts the session with a login environment, as su - and login(1) do: the
// terminal type, the locale, a default PATH, and the account's HOME, USER, LOGNAME and SHELL —
// none of root's secrets (AWS keys, the ssh agent), root's PATH or an LD_PRELOAD, unless
// `--env NAME` or the config's `env:` list passes a variable on by name. Without --login the
// session keeps the caller's environment, as before.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {guardLeaks, record} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

const ROOTS = {
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-root-only',
  SSH_AUTH_SOCK: '/tmp/ssh-root-agent/agent.1',
  PATH: '/root/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  // A library that does not exist: the loader says so and goes on, and nothing is preloaded.
  LD_PRELOAD: '/nonexistent/er-shell-test-preload.so',
  LANG: 'C.UTF-8',
  LC_TIME: 'C',
  TERM: 'xterm-er-test',
}

/** The session's environment as `env -0` printed it (through the terminal). */
function envOf(stdout: Buffer): Map<string, string> {
  const out = new Map<string, string>()
  for (const entry of stdout.toString().replace(/\r\n/g, '\n').split('\0')) {
    const i = entry.indexOf('=')
    if (i > 0) out.set(entry.slice(0, i).replace(/^[\s\S]*\n/, ''), entry.slice(i + 1))
  }
  return out
}

describe('security: the --login environment', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-sec-env-'})

  it("--login nobody: TERM, locale, a default PATH and nobody's own HOME/USER/LOGNAME/SHELL; none of root's", async () => {
    const d = dataDir()
    const r = await record(d, ['-q', '--login', 'nobody', '--', '/usr/bin/env', '-0'], {env: ROOTS})
    assert.equal(r.code, 0, r.stderr)
    const env = envOf(r.stdout)
    assert.deepEqual([...env.keys()].sort(), ['HOME', 'LANG', 'LC_TIME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'], [...env].join('\n'))
    assert.equal(env.get('PATH'), '/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games')
    assert.equal(env.get('USER'), 'nobody')
    assert.equal(env.get('LOGNAME'), 'nobody')
    assert.equal(env.get('SHELL'), '/usr/sbin/nologin')
    assert.equal(env.get('HOME'), '/')
    assert.equal(env.get('TERM'), 'xterm-er-test')
    assert.equal(env.get('LANG'), 'C.UTF-8')
  })

  it("--env NAME (repeatable) and the config file's env: list pass root's variables on by name", async () => {
    const d = dataDir()
    const config = join(d, 'er-shell.yaml')
    writeFileSync(config, 'env: [SSH_AUTH_SOCK]\n')
    const r = await record(d, ['-q', '--config', config, '--login', 'nobody', '--env', 'AWS_SECRET_ACCESS_KEY', '--env', 'PATH', '--', '/usr/bin/env', '-0'], {
      env: ROOTS,
    })
    assert.equal(r.code, 0, r.stderr)
    const env = envOf(r.stdout)
    assert.equal(env.get('AWS_SECRET_ACCESS_KEY'), ROOTS.AWS_SECRET_ACCESS_KEY)
    assert.equal(env.get('SSH_AUTH_SOCK'), ROOTS.SSH_AUTH_SOCK)
    assert.equal(env.get('PATH'), ROOTS.PATH)
    assert.equal(env.has('LD_PRELOAD'), false)
    assert.equal(env.get('USER'), 'nobody')
  })

  it('--env with a name that is not one is refused in one line, before anything starts', async () => {
    const d = dataDir()
    const r = await record(d, ['-q', '--login', 'nobody', '--env', 'A=B', '--', '/bin/true'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^er-shell: --env must name an environment variable \(letters, digits, _\), got "A=B"\n$/)
  })

  it('an interactive --login session for an account whose shell is nologin is refused in one line; nothing is recorded', async () => {
    const d = dataDir()
    const r = await record(d, ['--login', 'nobody'])
    assert.equal(r.code, 1)
    assert.equal(r.stderr, "er-shell: --login nobody: the account's login shell is /usr/sbin/nologin, so it cannot log in; give a command with -c or --\n")
    assert.equal(r.stdout.length, 0)
  })

  it("without --login the session keeps the caller's environment", async () => {
    const d = dataDir()
    const r = await record(d, ['-q', '--', '/usr/bin/env', '-0'], {env: {...ROOTS, LD_PRELOAD: ''}})
    assert.equal(r.code, 0, r.stderr)
    const env = envOf(r.stdout)
    assert.equal(env.get('AWS_SECRET_ACCESS_KEY'), ROOTS.AWS_SECRET_ACCESS_KEY)
    assert.equal(env.get('PATH'), ROOTS.PATH)
  })
})

// io_uring does opens, connects and execs from kernel workers, past the tracepoints that record
// them: a session with a ring could open files unseen while the summary says "nothing lost". So
// sessions are denied io_uring (EPERM from a seccomp filter the join helper installs), unless
// --allow-io-uring or `allow_io_uring: true` says otherwise.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {guardLeaks, record} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

// The raw syscalls (425-427 on x86_64 and aarch64 alike): setup with a real parameter block, enter
// and register on fd -1, which without a filter fail with EBADF (register: EINVAL on some kernels)
// and with one with EPERM.
const PROBE = `
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
def call(nr, *args):
    r = libc.syscall(nr, *args)
    return 'ok' if r >= 0 else errno.errorcode[ctypes.get_errno()]
print('setup=%s enter=%s register=%s' % (call(425, 4, params), call(426, -1, 0, 0, 0, None, 0), call(427, -1, 0, None, 0)))
`

describe('security: io_uring in a session', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-sec-uring-'})

  it('is denied by default: io_uring_setup, _enter and _register fail with EPERM (also for a --login session)', async () => {
    for (const login of [[], ['--login', 'nobody']]) {
      const d = dataDir()
      const r = await record(d, ['-q', ...login, '--', 'python3', '-c', PROBE])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout.toString(), /^setup=EPERM enter=EPERM register=EPERM\r?$/m, `${login.join(' ')}: ${r.stdout}`)
    }
  })

  it('--allow-io-uring lets the session use it (and so leaves its I/O unrecorded)', async () => {
    const d = dataDir()
    const r = await record(d, ['-q', '--allow-io-uring', '--', 'python3', '-c', PROBE])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /^setup=ok enter=EBADF register=(?!EPERM)[A-Z]+\r?$/m, r.stdout.toString())
  })

  it('so does allow_io_uring: true in the config file', async () => {
    const d = dataDir()
    const config = join(d, 'er-shell.yaml')
    writeFileSync(config, 'allow_io_uring: true\n')
    const r = await record(d, ['-q', '--config', config, '--', 'python3', '-c', PROBE])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /^setup=ok enter=EBADF register=(?!EPERM)[A-Z]+\r?$/m, r.stdout.toString())
  })
})

// src/errors: one class per code, the right exit status, no free-string codes, no raw constructions.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

import * as errors from '../../src/errors/index.js'
import {CLASS_CODES, ERRNO_CODES, ErShellError, isErrorCode, type ErrorCode} from '../../src/errors/index.js'

/** The repository root (dist/test/errors → ../../..). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), {code: 'ENOENT'})
const eexist = Object.assign(new Error("EEXIST: file already exists, mkdir '/sys/fs/cgroup/er'"), {code: 'EEXIST'})

/** One instance of every class, with the code and exit status it must carry. */
const SAMPLES: {error: ErShellError; code: string; exit: number}[] = [
  {error: new errors.AmbiguousSessionError('ab', ['abc', 'abd']), code: 'ESESSION_AMBIGUOUS', exit: 1},
  {error: new errors.CaptureStartError(new Error('load BPF')), code: 'EBPF', exit: 1},
  {error: errors.CgroupError.notInHierarchy('/tmp'), code: 'ECGROUP', exit: 1},
  {error: new errors.CgroupIdMismatchError(5n, 6n), code: 'ECGROUPID', exit: 1},
  {error: new errors.CommandNotFoundError('0123456789', '3', 2), code: 'ECOMMAND_NOT_FOUND', exit: 1},
  {error: new errors.ConfigError({setting: 'events'}, 'events: bad'), code: 'ECONFIG', exit: 2},
  {error: new errors.ConfigReadError('/etc/er.yaml', 'default', enoent), code: 'ECONFIG_READ', exit: 2},
  {error: new errors.ConfigSyntaxError('/etc/er.yaml', 1, 2, 'bad'), code: 'ECONFIG_SYNTAX', exit: 2},
  {error: new errors.DataDirNotFoundError('/var/lib/er'), code: 'EDATA_DIR', exit: 1},
  {error: new errors.HelperError('er-shell-join exited with status 127'), code: 'EHELPER', exit: 1},
  {error: new errors.InsufficientPrivilegesError(['CAP_BPF']), code: 'EPERM', exit: 77},
  {error: new errors.IntegrityKeyError('/var/lib/er/integrity/ratchet', 'is damaged'), code: 'EINTEGRITY_KEY', exit: 1},
  {error: new errors.InvalidFilterError('--since', 'bad'), code: 'EINVALID_FILTER', exit: 2},
  {error: new errors.InvalidSessionIdError('../x'), code: 'ESID_INVALID', exit: 1},
  {error: new errors.KernelCheckError(['btf'], 'see above'), code: 'EKERNELCHECK', exit: 1},
  {error: new errors.LiveWriteError('/tmp/live', 'no such file'), code: 'ELIVE', exit: 1},
  {error: new errors.LoginRefusedError('daemon', '/usr/sbin/nologin'), code: 'ENOLOGIN', exit: 1},
  {error: errors.MountError.otherType('/sys/fs/cgroup', 'tmpfs', 'cgroup2'), code: 'EMOUNT', exit: 1},
  {error: new errors.NativeLoadError(['a.node'], enoent), code: 'ENATIVE', exit: 2},
  {error: new errors.NoLiveSessionError('/var/lib/er'), code: 'ENO_LIVE_SESSION', exit: 1},
  {error: new errors.NoSuchAccountError('nobody2'), code: 'ENOUSER', exit: 1},
  {error: new errors.RecordingDisabledError('/etc/er.yaml:1:1', 'enabled'), code: 'ERECORDING_DISABLED', exit: 2},
  {error: new errors.RecordingIncompleteError(['truncated']), code: 'ERECORDING_INCOMPLETE', exit: 1},
  {error: new errors.RecordingReadError('/x.gz', 'not gzip'), code: 'ERECORDING_READ', exit: 1},
  {error: new errors.ServerIdError('/var/lib/er/host_uuid', 'is empty'), code: 'ESERVER_ID', exit: 1},
  {error: new errors.SessionExistsError('abc', '/x'), code: 'ESESSION_EXISTS', exit: 1},
  {error: new errors.SessionNotFoundError('abc', '/var/lib/er'), code: 'ESESSION_NOT_FOUND', exit: 1},
  {error: new errors.StorageWriteError('/x', Object.assign(new Error('no space'), {code: 'ENOSPC'})), code: 'ESTORAGE_WRITE', exit: 1},
  {error: new errors.StoreError('postgres://er:****@db/audit', 'connection refused'), code: 'ESTORE', exit: 1},
  {error: new errors.StoreSchemaError('postgres://er:****@db/audit', 3, 1), code: 'ESTORE_SCHEMA', exit: 1},
  {error: new errors.UnsafeConfigFileError('/etc/er.yaml', 'default', 'group-writable'), code: 'EUNSAFE_CONFIG', exit: 2},
  {error: new errors.UnsafeLiveTargetError('/tmp/live', 'it is a FIFO that nobody reads'), code: 'EUNSAFE_LIVE', exit: 1},
  {error: new errors.UnsafeLogTreeError('/var/lib/er/log', 'symlink'), code: 'EUNSAFE_LOG_TREE', exit: 1},
  {error: new errors.UnsafeMountPointError('cgroup2', '/etc', 'not empty'), code: 'EUNSAFE_MOUNT_POINT', exit: 1},
  {error: new errors.UsageError('--grace must be a number'), code: 'EUSAGE', exit: 2},
]

/** Every .ts file under dir, as paths relative to the repository root. */
function sources(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir), {recursive: true, encoding: 'utf8'})
    .filter((f) => ext.test(f))
    .map((f) => relative(ROOT, join(ROOT, dir, f)))
}

describe('error classes', () => {
  it('index.ts exports every class, and each has a sample here', () => {
    const exported = Object.entries(errors)
      .filter(([, v]) => typeof v === 'function' && v.prototype instanceof ErShellError)
      .map(([name]) => name)
      .sort()
    const sampled = SAMPLES.map((s) => s.error.constructor.name).sort()
    assert.deepEqual(sampled, exported)
    const files = readdirSync(join(ROOT, 'src/errors')).filter((f) => f.endsWith('-error.ts'))
    assert.equal(files.length, exported.length, 'one file per class, each exported from index.ts')
  })

  it('each class has its own code, the one CLASS_CODES names it by', () => {
    const codes = SAMPLES.map((s) => s.error.code)
    assert.equal(new Set(codes).size, codes.length, `codes shared between classes: ${codes.join(', ')}`)
    assert.deepEqual([...codes].sort(), Object.keys(CLASS_CODES).sort())
    for (const {error, code} of SAMPLES) {
      assert.equal(error.code, code, error.name)
      assert.equal(CLASS_CODES[error.code as keyof typeof CLASS_CODES], error.name)
      assert.equal(error.name, error.constructor.name)
      assert.ok(error instanceof Error)
    }
  })

  it('each class ends the CLI with its exit status', () => {
    for (const {error, exit} of SAMPLES) assert.equal(error.exitCode, exit, error.name)
  })

  it('messages the raw constructions used to write, word for word', () => {
    assert.equal(
      new errors.InsufficientPrivilegesError(['CAP_BPF', 'CAP_PERFMON']).message,
      'recording needs root (or CAP_BPF, CAP_PERFMON): run it as `sudo er-shell record`',
    )
    assert.equal(errors.CgroupError.create('/sys/fs/cgroup/er', eexist).message, 'cgroup /sys/fs/cgroup/er exists already')
    assert.equal(errors.CgroupError.create('/c', enoent).message, `cannot create cgroup /c: ${enoent.message}`)
    assert.equal(errors.CgroupError.notInHierarchy('/tmp').message, '/tmp is not inside a cgroup2 hierarchy')
    assert.equal(errors.MountError.otherType('/m', 'tmpfs', 'cgroup2').message, '/m is a tmpfs mount, not cgroup2: choose another cgroup_path')
    assert.equal(errors.MountError.failed('tracefs', '/t', enoent).message, `cannot mount tracefs at /t: ${enoent.message}`)
    assert.equal(errors.MountError.failed('tracefs', '/t', enoent).cause, enoent)
    assert.equal(
      new errors.CgroupIdMismatchError(5n, 6n).message,
      'the cgroup id BPF sees (5) differs from the one user space computed (6): nothing would be recorded',
    )
    assert.equal(new errors.NoSuchAccountError('bob').message, '--login bob: no such account')
    assert.equal(
      new errors.LoginRefusedError('daemon', '/usr/sbin/nologin').message,
      "--login daemon: the account's login shell is /usr/sbin/nologin, so it cannot log in; give a command with -c or --",
    )
    assert.equal(new errors.LiveWriteError('/l', 'it is a symbolic link').message, 'cannot write live lines to /l: it is a symbolic link')
    assert.equal(new errors.UnsafeLiveTargetError('/l', 'x').message, 'refusing to write live lines to /l: x')
    assert.equal(new errors.NoLiveSessionError('/d').message, 'no session is being recorded in /d; give a session id to follow')
  })

  it('a failed capture start keeps the native errno name as its code, else EBPF', () => {
    const native = Object.assign(new Error('load BPF programs: Operation not permitted (EPERM)\nlibbpf: prog x: -1'), {code: 'EPERM'})
    const error = new errors.CaptureStartError(native)
    assert.equal(error.code, 'EPERM')
    assert.equal(error.exitCode, 1)
    assert.equal(error.cause, native)
    assert.equal(error.message, 'cannot start kernel capture: load BPF programs: Operation not permitted (EPERM) (run `er-shell check-kernel` for details)')
    assert.equal(new errors.CaptureStartError(new Error('verifier says no\nlog')).code, 'EBPF')
  })

  it('refuses a code outside the union: at compile time and at run time', () => {
    // @ts-expect-error a free string is not an ErrorCode
    const free: ErrorCode = 'ENOT_A_CODE'
    assert.equal(isErrorCode(free), false)
    assert.throws(() => new ErShellError(free, 'x'), {name: 'TypeError', message: /unknown er-shell error code "ENOT_A_CODE"/})
    // @ts-expect-error the constructor takes only known codes
    assert.throws(() => new ErShellError('EX', 'x', {exitCode: 3}), TypeError)
    assert.equal(new ErShellError('EUSAGE', 'x', {exitCode: 3}).exitCode, 3)
  })

  it('every code the native addon reports is in the union, and ERRNO_CODES lists only those', () => {
    const found = new Set<string>()
    for (const file of sources('native/src', /\.(cc|h)$/)) {
      const text = readFileSync(join(ROOT, file), 'utf8')
      for (const m of text.matchAll(/return "(E[A-Z0-9_]+)";/g)) found.add(m[1]!)
      for (const m of text.matchAll(/"code",\s*Napi::String::New\(env,\s*"(E[A-Z0-9_]+)"\)/g)) found.add(m[1]!)
    }
    for (const code of ERRNO_CODES) assert.ok(found.has(code), `${code} is in ERRNO_CODES but native/src never reports it`)
    for (const code of found) assert.ok(isErrorCode(code), `native/src reports ${code}, which src/errors/codes.ts does not know`)
  })

  it('src/ builds errors only through the classes and imports them from errors/index.ts', () => {
    const offenders: string[] = []
    for (const file of sources('src', /\.ts$/)) {
      if (file.startsWith('src/errors/')) continue
      const text = readFileSync(join(ROOT, file), 'utf8')
      if (/new ErShellError\(/.test(text)) offenders.push(`${file}: new ErShellError(…)`)
      for (const m of text.matchAll(/from '[./]*errors\/([\w-]+)\.js'/g)) {
        if (m[1] !== 'index') offenders.push(`${file}: imports errors/${m[1]}.js`)
      }
    }
    assert.deepEqual(offenders, [])
  })
})

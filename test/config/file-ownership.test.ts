// Security (issue 17, row 6): as root, a config file decides where root writes (data_dir, live),
// what it records and whether it records at all. So a file another user owns, one others may
// write, or one in a directory (or behind a symlink) another user controls is refused in one line
// naming the file and the problem — named by --config, ER_SHELL_CONFIG or the default path alike.
// test/acceptance/security/config-file.test.ts runs record with such a file.
import assert from 'node:assert/strict'
import {chmodSync, chownSync, lchownSync, mkdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'

import {resolveConfig} from '../../src/config/index.js'
import {UnsafeConfigFileError} from '../../src/errors/unsafe-config-file-error.js'
import {rootSkipReason} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

// The checks apply when er-shell runs as root (and the test chowns files to nobody).
const skip = rootSkipReason('chown')
const NOBODY = 65534

const base = tempDir('er-sec-config-')
after(() => rmSync(base, {recursive: true, force: true}))
let count = 0

/** A fresh root-owned 0700 directory under `base`, holding `name` with `text` (root, 0644). */
function configFile(text = 'data_dir: /var/lib/er-shell-victim\n', name = 'er-shell.yaml'): {dir: string; file: string} {
  const dir = join(base, `c${count++}`)
  mkdirSync(dir, {mode: 0o700})
  const file = join(dir, name)
  writeFileSync(file, text)
  chmodSync(file, 0o644)
  return {dir, file}
}

function resolveWith(input: {configFile?: string; env?: NodeJS.ProcessEnv; defaultConfigFile?: string}) {
  return resolveConfig({env: {}, defaultConfigFile: join(base, 'none.yaml'), hostname: 'h', cwd: '/', ...input})
}

function refused(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof UnsafeConfigFileError, String(error))
    assert.equal(error.exitCode, 2)
    assert.match(error.message, pattern)
    return true
  }
}

describe('security: config file ownership as root', {skip}, () => {
  it('a --config file owned by another user (nobody) is refused, not obeyed', () => {
    const {file} = configFile('enabled: false\ndata_dir: /tmp/somewhere\n')
    chownSync(file, NOBODY, NOBODY)
    assert.throws(
      () => resolveWith({configFile: file}),
      refused(new RegExp(`^refusing to read config file ${file} \\(named by --config\\): it is owned by uid 65534, not by root$`)),
    )
  })

  it('a root-owned file others may write (0666, 0664) is refused', () => {
    const {file} = configFile()
    chmodSync(file, 0o666)
    assert.throws(() => resolveWith({configFile: file}), refused(/: it is writable by every user \(mode 0666\): chmod go-w it$/))
    chmodSync(file, 0o664)
    assert.throws(() => resolveWith({configFile: file}), refused(/: it is writable by group 0 \(mode 0664\)/))
  })

  it('ER_SHELL_CONFIG naming a file in a directory another user owns is refused, naming that directory', () => {
    const {dir, file} = configFile()
    chownSync(dir, NOBODY, NOBODY)
    chmodSync(dir, 0o755)
    assert.throws(
      () => resolveWith({env: {ER_SHELL_CONFIG: file}}),
      refused(
        new RegExp(
          `^refusing to read config file ${file} \\(named by ER_SHELL_CONFIG\\): ${dir} is owned by uid 65534 \\(another user could replace the file\\)$`,
        ),
      ),
    )
  })

  it('the default file (/etc/er-shell.yaml) in a group-writable directory is refused', () => {
    const {dir, file} = configFile()
    chmodSync(dir, 0o775)
    assert.throws(
      () => resolveWith({defaultConfigFile: file}),
      refused(new RegExp(`^refusing to read config file ${file}: ${dir} is writable by group 0 \\(mode 0775\\)`)),
    )
  })

  it('a symlink another user owns, even to a good file, is refused', () => {
    const {dir, file} = configFile()
    const link = join(dir, 'link.yaml')
    symlinkSync(file, link)
    lchownSync(link, NOBODY, NOBODY)
    assert.throws(() => resolveWith({configFile: link}), refused(/link\.yaml is a symbolic link owned by uid 65534/))
  })

  it("root's own file (0644, 0600) in root's directories is read, through root's symlink too", () => {
    const {dir, file} = configFile('events: command,disk\n')
    assert.deepEqual(resolveWith({configFile: file}).config.events, ['command', 'disk'])
    chmodSync(file, 0o600)
    const link = join(dir, 'link.yaml')
    symlinkSync(file, link)
    assert.deepEqual(resolveWith({configFile: link}).config.events, ['command', 'disk'])
    assert.equal(resolveWith({defaultConfigFile: join(dir, 'missing.yaml')}).file, undefined, 'a missing default file is still fine')
  })
})

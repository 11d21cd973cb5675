// scripts/setup.sh: installs only what is missing, runs npm ci only for a new lock file, builds only when sources changed.
// The script runs for real in a miniature checkout, with stubs for what it would change on the
// host (apt-get, npm) and for what it asks the host (dpkg-query, id): nothing here depends on the
// packages or the user of the machine the tests run on.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {ROOT} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

describe('scripts/setup.sh', () => {
  // A miniature checkout: the real scripts; stub apt-get and npm that log their calls, and stub
  // dpkg-query and id that answer from files (missing.txt: packages not installed; uid.txt).
  let repo: string
  let bin: string
  let calls: string
  before(() => {
    repo = tempDir('er-setup-')
    bin = join(repo, 'stub-bin')
    calls = join(repo, 'calls.log')
    mkdirSync(join(repo, 'scripts'))
    for (const f of ['setup.sh', 'lib.sh']) copyFileSync(join(ROOT, 'scripts', f), join(repo, 'scripts', f))
    for (const f of ['package.json', 'package-lock.json', 'binding.gyp', 'tsconfig.json']) copyFileSync(join(ROOT, f), join(repo, f))
    mkdirSync(join(repo, 'bpf'))
    writeFileSync(join(repo, 'bpf', 'Makefile'), 'all:\n\t@echo "make bpf" >> "${CALLS}"\n'.replace('${CALLS}', calls))
    mkdirSync(join(repo, 'src'))
    writeFileSync(join(repo, 'src', 'a.ts'), 'export const a = 1\n')
    mkdirSync(bin)
    // npm stub: `npm ci` creates node_modules; `npm run build` creates the outputs setup checks for.
    const npm = `#!/bin/sh
echo "npm $*" >> "${calls}"
case "$*" in
  ci*) mkdir -p node_modules ;;
  *build*) mkdir -p build/Release bpf/.output dist/src/commands && touch build/Release/er_shell.node bpf/.output/x.skel.h dist/src/commands/check-kernel.js && install -m 755 /dev/null build/Release/er-shell-join ;;
esac
`
    writeFileSync(join(bin, 'npm'), npm)
    writeFileSync(join(bin, 'apt-get'), `#!/bin/sh\necho "apt-get $*" >> "${calls}"\n`)
    // dpkg-query -W -f=... PKG: "installed" unless PKG is listed in missing.txt.
    writeFileSync(
      join(bin, 'dpkg-query'),
      `#!/bin/sh\nfor a; do last=$a; done\ngrep -qx "$last" "${join(repo, 'missing.txt')}" 2>/dev/null && exit 1\nprintf installed\n`,
    )
    writeFileSync(join(bin, 'id'), `#!/bin/sh\n[ "$1" = -u ] && cat "${join(repo, 'uid.txt')}"\n`)
    for (const f of ['npm', 'apt-get', 'dpkg-query', 'id']) chmodSync(join(bin, f), 0o755)
  })
  after(() => rmSync(repo, {recursive: true, force: true}))

  /** Runs setup.sh as uid `uid` on a host where the `missing` packages are not installed. */
  function setup(options: {missing?: string[]; uid?: number} = {}): {status: number | null; out: string; calls: string[]} {
    rmSync(calls, {force: true})
    writeFileSync(join(repo, 'missing.txt'), (options.missing ?? []).map((p) => `${p}\n`).join(''))
    writeFileSync(join(repo, 'uid.txt'), `${options.uid ?? 0}\n`)
    const r = spawnSync('bash', [join(repo, 'scripts', 'setup.sh')], {
      encoding: 'utf8',
      env: {...process.env, PATH: `${bin}:${process.env.PATH}`, ER_SHELL_BUILD_LOCK: join(repo, 'lock')},
    })
    const log = existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean) : []
    return {status: r.status, out: r.stdout + r.stderr, calls: log}
  }

  test('first run: npm ci and the build; second run: nothing to do', () => {
    const first = setup()
    assert.equal(first.status, 0, first.out)
    assert.deepEqual(first.calls, ['make bpf', 'npm ci --no-audit --no-fund', 'npm run --silent build'])
    assert.match(first.out, /setup: Debian packages present/)

    const second = setup()
    assert.equal(second.status, 0, second.out)
    assert.deepEqual(second.calls, [])
    assert.match(second.out, /node_modules up to date/)
    assert.match(second.out, /build: up to date/)
  })

  test('a changed source rebuilds; a changed lock file reinstalls', () => {
    writeFileSync(join(repo, 'src', 'a.ts'), 'export const a = 2\n')
    assert.deepEqual(setup().calls, ['npm run --silent build'])
    const lock = join(repo, 'package-lock.json')
    writeFileSync(lock, readFileSync(lock, 'utf8').replace(/\n$/, '\n\n'))
    assert.deepEqual(setup().calls, ['make bpf', 'npm ci --no-audit --no-fund', 'npm run --silent build'])
  })

  test('missing packages as root: apt-get update once, then installs only what is missing', () => {
    const r = setup({missing: ['tmux', 'cpio']})
    assert.equal(r.status, 0, r.out)
    assert.deepEqual(r.calls, ['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends tmux cpio'])
  })

  test('missing packages as another user: one line naming them and how to run it, exit 1, nothing installed', () => {
    const r = setup({missing: ['mandoc'], uid: 1000})
    assert.equal(r.status, 1, r.out)
    assert.match(r.out, /^setup: these Debian packages are missing and installing them needs root: mandoc$/m)
    assert.match(r.out, /^setup: run: sudo bash scripts\/setup\.sh$/m)
    assert.deepEqual(r.calls, [])
  })
})

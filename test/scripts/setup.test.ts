// scripts/setup.sh: installs only what is missing, runs npm ci only for a new lock file, builds only when sources changed.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {ROOT} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

/** Every Debian package setup.sh installs, read from the script itself. */
function declaredPackages(): string[] {
  const text = readFileSync(join(ROOT, 'scripts', 'setup.sh'), 'utf8')
  const m = /^PACKAGES=\(([^)]*)\)/m.exec(text)
  assert.ok(m, 'PACKAGES=(...) in setup.sh')
  return m[1]!.split(/\s+/).filter(Boolean)
}

describe('scripts/setup.sh', () => {
  // A miniature checkout: the real scripts, stub apt-get/npm (and dpkg-query when a test wants one).
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
    chmodSync(join(bin, 'npm'), 0o755)
    chmodSync(join(bin, 'apt-get'), 0o755)
  })
  after(() => rmSync(repo, {recursive: true, force: true}))

  function setup(extraPath?: string): {status: number | null; out: string; calls: string[]; ms: number} {
    rmSync(calls, {force: true})
    const started = Date.now()
    const r = spawnSync('bash', [join(repo, 'scripts', 'setup.sh')], {
      encoding: 'utf8',
      env: {...process.env, PATH: `${extraPath ? `${extraPath}:` : ''}${bin}:${process.env.PATH}`, ER_SHELL_BUILD_LOCK: join(repo, 'lock')},
    })
    const log = existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean) : []
    return {status: r.status, out: r.stdout + r.stderr, calls: log, ms: Date.now() - started}
  }

  test('every declared Debian package is installed on this machine (setup ran here)', () => {
    const missing = declaredPackages().filter((p) => {
      const r = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}', p], {encoding: 'utf8'})
      return r.stdout !== 'installed'
    })
    assert.deepEqual(missing, [])
  })

  test('first run: npm ci and the build; second run: nothing to do, and fast', () => {
    const first = setup()
    assert.equal(first.status, 0, first.out)
    assert.deepEqual(first.calls, ['make bpf', 'npm ci --no-audit --no-fund', 'npm run --silent build'])
    assert.match(first.out, /setup: Debian packages present/)

    const second = setup()
    assert.equal(second.status, 0, second.out)
    assert.deepEqual(second.calls, [])
    assert.match(second.out, /node_modules up to date/)
    assert.match(second.out, /build: up to date/)
    assert.ok(second.ms < 5000, `took ${second.ms} ms`)
  })

  test('a changed source rebuilds; a changed lock file reinstalls', () => {
    writeFileSync(join(repo, 'src', 'a.ts'), 'export const a = 2\n')
    assert.deepEqual(setup().calls, ['npm run --silent build'])
    const lock = join(repo, 'package-lock.json')
    writeFileSync(lock, readFileSync(lock, 'utf8').replace(/\n$/, '\n\n'))
    assert.deepEqual(setup().calls, ['make bpf', 'npm ci --no-audit --no-fund', 'npm run --silent build'])
  })

  test('a missing package: apt-get update once, then installs only what is missing', {skip: process.geteuid?.() !== 0 && 'needs root'}, () => {
    const fake = join(repo, 'fake-dpkg')
    mkdirSync(fake, {recursive: true})
    writeFileSync(join(fake, 'dpkg-query'), '#!/bin/sh\nfor a; do last=$a; done\n[ "$last" = tmux ] && exit 1\nprintf installed\n')
    chmodSync(join(fake, 'dpkg-query'), 0o755)
    const r = setup(fake)
    assert.equal(r.status, 0, r.out)
    assert.deepEqual(r.calls, ['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends tmux'])
  })
})

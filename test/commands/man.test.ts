// The man pages: mandoc-lint clean, one per command, every flag of `--help` documented, the overview
// complete, and all of them installed through package.json's "man" field.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {before, describe, test} from 'node:test'

import {CONFIG_ENV, CONFIG_FILE_ENV} from '../../src/config/env.js'
import {CONFIG_KEYS} from '../../src/config/schema.js'
import {ROOT} from '../helpers/cli.js'
import {type CommandInfo, helpFlags, helpText, ownCommands} from '../helpers/commands.js'
import {tempDir} from '../helpers/temp.js'

const MAN_DIR = join(ROOT, 'man')
const pages = () =>
  readdirSync(MAN_DIR)
    .filter((f) => /\.\d$/.test(f))
    .sort()
const read = (page: string) => readFileSync(join(MAN_DIR, page), 'utf8')

/** Pages of commands that other pages name but that may not have landed yet. */
const pageOf = (c: CommandInfo) => `er-shell-${c.words.join('-')}.1`

/** `.Sh NAME` → the section names of an mdoc page. */
function sections(text: string): string[] {
  return [...text.matchAll(/^\.Sh (.+)$/gm)].map((m) => m[1]!.replace(/^"|"$/g, ''))
}

/** The `.It` entries of the OPTIONS section: the long and short flags each one names. */
function optionItems(text: string): Array<{longs: string[]; shorts: string[]}> {
  const start = text.indexOf('\n.Sh OPTIONS\n')
  assert.ok(start >= 0, 'the page has OPTIONS')
  const end = text.indexOf('\n.Sh ', start + 1)
  const body = text.slice(start, end < 0 ? undefined : end)
  return [...body.matchAll(/^\.It (Fl .*)$/gm)].map((m) => ({
    longs: [...m[1]!.matchAll(/\bFl Fl ([a-z0-9][a-z0-9-]*)/g)].map((x) => x[1]!),
    shorts: [...m[1]!.matchAll(/(?<!Fl )\bFl ([A-Za-z0-9])(?= |$)/g)].map((x) => x[1]!),
  }))
}

/** The page rendered as text (no overstrike), for looking at what a reader sees. */
function render(page: string): string {
  const r = spawnSync('mandoc', ['-Tutf8', join(MAN_DIR, page)], {encoding: 'utf8'})
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.replace(/.\x08/g, '')
}

describe('man pages', () => {
  let commands: CommandInfo[]
  before(async () => {
    commands = await ownCommands()
  })

  test('mandoc -Tlint -Wwarning: every page exits 0 with no output', () => {
    assert.ok(pages().length >= 3, `man/ has the pages (${pages().join(', ')})`)
    for (const page of pages()) {
      const r = spawnSync('mandoc', ['-Tlint', '-Wwarning', join(MAN_DIR, page)], {encoding: 'utf8'})
      assert.equal(r.error, undefined, 'mandoc is installed (scripts/setup.sh)')
      assert.equal(`${r.stdout}${r.stderr}`, '', `${page}: no lint output`)
      assert.equal(r.status, 0, `${page}: mandoc -Tlint exit status`)
    }
  })

  test('every page has the sections of sudoreplay(8)', () => {
    for (const page of pages()) {
      const have = sections(read(page))
      for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'EXIT STATUS', 'EXAMPLES', 'SEE ALSO']) {
        assert.ok(have.includes(s), `${page} has ${s} (has ${have.join(', ')})`)
      }
      if (page !== 'er-shell.1') assert.ok(have.includes('OPTIONS'), `${page} has OPTIONS`)
    }
  })

  test('every command has its page, and er-shell(1) lists and cross-references it', () => {
    const overview = read('er-shell.1')
    for (const c of commands) {
      assert.ok(existsSync(join(MAN_DIR, pageOf(c))), `man/${pageOf(c)} exists`)
      assert.match(overview, new RegExp(`^\\.It Cm ${c.words.join(' ')}$`, 'm'), `er-shell.1 lists ${c.id}`)
      assert.match(overview, new RegExp(`^\\.Xr er-shell-${c.words.join('-')} 1`, 'm'), `er-shell.1 refers to ${pageOf(c)}`)
    }
  })

  test("each command's page documents every flag its --help lists", () => {
    for (const c of commands) {
      const page = pageOf(c)
      if (!existsSync(join(MAN_DIR, page))) continue // reported by the test above
      const text = read(page)
      const items = optionItems(text)
      const longs = new Set(items.flatMap((i) => i.longs))
      const shorts = new Set(items.flatMap((i) => i.shorts))
      const flags = helpFlags(helpText(c.words))
      assert.ok(flags.length > 0, `${c.id} --help lists flags`)
      for (const f of flags) {
        assert.ok(longs.has(f.long), `${page}: OPTIONS has an entry for --${f.long}`)
        if (f.short) assert.ok(shorts.has(f.short), `${page}: OPTIONS has an entry for -${f.short}`)
      }
      // OPTIONS is alphabetical (by long name), as sudoreplay(8)'s.
      const order = items.map((i) => i.longs[0]).filter((n): n is string => n !== undefined)
      assert.deepEqual(order, [...order].sort(), `${page}: OPTIONS in alphabetical order`)
    }
  })

  test('er-shell(1) documents every configuration key and environment variable', () => {
    const text = read('er-shell.1')
    for (const key of CONFIG_KEYS) assert.match(text, new RegExp(`^\\.It Cm ${key}$`, 'm'), `CONFIGURATION has ${key}`)
    const environment = text.slice(text.indexOf('.Sh ENVIRONMENT'), text.indexOf('.Sh FILES'))
    for (const name of [CONFIG_FILE_ENV, ...CONFIG_ENV.map((e) => e.name), 'ER_SHELL_DEBUG', 'NO_COLOR']) {
      assert.match(environment, new RegExp(`^\\.It Ev ${name}\\b`, 'm'), `ENVIRONMENT has ${name}`)
    }
    const rendered = render('er-shell.1')
    assert.match(rendered, /flag[\s\S]{0,80}environment[\s\S]{0,80}configuration file[\s\S]{0,80}default/i, 'precedence is stated')
  })

  test('er-shell(1): storage layout, exit statuses and what is not captured', () => {
    const text = render('er-shell.1')
    for (const path of [
      '/var/lib/er-shell',
      '/run/er-shell/sessions/',
      '/cgroup2/teleport/',
      'events.log',
      '.index',
      '-0.events.gz',
      '-0.chunks.gz',
      '-0.session.command-events.gz',
      '-0.session.disk-events.gz',
      '-0.session.network-events.gz',
      '.completed',
    ]) {
      assert.ok(text.includes(path), `FILES mentions ${path}`)
    }
    const exit = text.slice(text.indexOf('\nEXIT STATUS\n'), text.indexOf('\nSHELL COMPLETION\n'))
    for (const status of ['0', '1', '2', '77']) assert.match(exit, new RegExp(`^ {5}${status} `, 'm'), `EXIT STATUS has ${status}`)
    const bugs = text.slice(text.indexOf('\nBUGS'))
    for (const what of ['unload the probes', 'cron', 'LD_PRELOAD', 'Keystrokes', 'UDP', 'SYN', '--events disk', '24 KiB', '4096', 'filtered']) {
      assert.ok(bugs.includes(what), `BUGS mentions ${what}`)
    }
  })

  test('man ./man/er-shell.1 works from a checkout', () => {
    const man = spawnSync('man', ['--version'], {encoding: 'utf8'})
    assert.ifError(man.error) // man-db is installed by scripts/setup.sh
    const r = spawnSync('man', ['./man/er-shell.1'], {cwd: ROOT, encoding: 'utf8', env: {...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80'}})
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /er-shell record/)
  })

  test('npm install -g puts the pages where man finds them', (t) => {
    const scratch = tempDir('er-npm-prefix-', t)
    const prefix = join(scratch, 'prefix')
    // Install what `npm pack` ships, unpacked into a folder of our own: a folder install links it
    // (no download, no build with --ignore-scripts) and makes its bin executable, which needs the
    // files to be ours — the checkout may belong to another user (root) when the tests run unprivileged.
    const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch, ROOT], {cwd: scratch, encoding: 'utf8'})
    assert.equal(packed.status, 0, packed.stderr)
    const tarball = join(scratch, packed.stdout.trim().split('\n').pop()!)
    const untar = spawnSync('tar', ['-xzf', tarball, '-C', scratch], {encoding: 'utf8'})
    assert.equal(untar.status, 0, untar.stderr)
    const npmArgs = ['install', '-g', '--prefix', prefix, '--ignore-scripts', '--offline', '--no-audit', '--no-fund', join(scratch, 'package')]
    const r = spawnSync('npm', npmArgs, {encoding: 'utf8'})
    assert.equal(r.status, 0, r.stderr)
    for (const page of pages()) assert.ok(existsSync(join(prefix, 'share', 'man', 'man1', page)), `${page} installed in share/man/man1`)
    const man = spawnSync('man', ['-w', 'er-shell'], {encoding: 'utf8', env: {...process.env, MANPATH: join(prefix, 'share', 'man')}})
    assert.ifError(man.error)
    assert.equal(man.status, 0, man.stderr)
    assert.match(man.stdout, /er-shell\.1/)
  })

  test('package.json "man" installs every page, and npm pack ships them', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {man?: string[]; files?: string[]}
    const listed = (pkg.man ?? []).map((p) => p.replace(/^\.\//, '')).sort()
    assert.deepEqual(
      listed,
      pages().map((p) => `man/${p}`),
      'package.json "man" lists exactly the pages in man/',
    )
    for (const p of listed) assert.ok(existsSync(join(ROOT, p)), `${p} exists`)
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {cwd: ROOT, encoding: 'utf8'})
    assert.equal(r.status, 0, r.stderr)
    const packed = new Set((JSON.parse(r.stdout) as [{files: {path: string}[]}])[0].files.map((f) => f.path))
    for (const p of listed) assert.ok(packed.has(p), `npm pack includes ${p}`)
  })
})

// Shell completion (oclif's autocomplete plugin): the setup instructions, and generated bash and zsh
// scripts that complete every command and its flags, offline, from a fresh cache directory.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, test} from 'node:test'

import {runCli} from '../helpers/cli.js'
import {type CommandInfo, ownCommands} from '../helpers/commands.js'
import {tempDir} from '../helpers/temp.js'

describe('shell completion', () => {
  let home: string
  let env: NodeJS.ProcessEnv
  let commands: CommandInfo[]
  let setupLine: string

  before(async () => {
    commands = await ownCommands()
    home = tempDir('er-complete-')
    // A fresh cache, nowhere near the caller's; no network is involved in building it.
    env = {HOME: home, XDG_CACHE_HOME: join(home, 'cache'), ER_SHELL_CACHE_DIR: ''}
  })
  after(() => rmSync(home, {recursive: true, force: true}))

  test('autocomplete bash prints setup instructions and builds the cache', () => {
    const r = runCli(['autocomplete', 'bash'], {env})
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /Setup Instructions/)
    assert.match(r.stdout, /er-shell autocomplete script bash/)
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colours when not on a terminal')
    assert.ok(existsSync(join(home, 'cache', 'er-shell', 'autocomplete', 'bash_setup')), 'cache built under XDG_CACHE_HOME')
  })

  test('autocomplete script bash prints a line that sources the cached script', () => {
    const r = runCli(['autocomplete', 'script', 'bash'], {env})
    assert.equal(r.status, 0, r.stderr)
    setupLine = r.stdout.trim()
    assert.match(setupLine, /source /)
    assert.ok(setupLine.includes(join(home, 'cache')), setupLine)
  })

  /** Runs bash with the setup line sourced, completes `words` (the last is being typed), returns COMPREPLY. */
  function complete(words: string[]): string[] {
    const script = `${setupLine}
complete -p er-shell || exit 3
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
COMP_LINE='${words.join(' ')}'
COMP_POINT=\${#COMP_LINE}
fn=$(complete -p er-shell | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')
"$fn" er-shell "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"`
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {encoding: 'utf8', env: {PATH: process.env.PATH, HOME: home}})
    assert.equal(r.status, 0, `bash: ${r.stderr}`)
    return r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .slice(1) // line 1 is `complete -p`'s
  }

  test('bash: complete -p er-shell is set, and <TAB> offers every command', () => {
    const offered = complete(['er-shell', ''])
    for (const c of commands) assert.ok(offered.includes(c.words[0]!), `offers ${c.id} (got ${offered.join(' ')})`)
    assert.ok(offered.includes('autocomplete'))
  })

  test('bash: a prefix narrows the commands, and -- offers the flags', () => {
    assert.deepEqual(complete(['er-shell', 'che']), ['check-kernel'])
    const flags = complete(['er-shell', 'record', '--'])
    for (const f of ['--events', '--command', '--quiet', '--data-dir', '--leftovers']) assert.ok(flags.includes(f), `record offers ${f}`)
    for (const c of commands) {
      const offered = complete(['er-shell', ...c.words, '--'])
      // A hidden flag (ship --while-pid, for record's own use) is not offered.
      for (const [name, flag] of Object.entries(c.flags)) if (!flag.hidden) assert.ok(offered.includes(`--${name}`), `${c.id} offers --${name}`)
    }
  })

  test('a cache made stale by an upgrade is rebuilt by the next command', () => {
    const dir = join(home, 'cache', 'er-shell', 'autocomplete')
    const bash = join(dir, 'functions', 'bash', 'er-shell.bash')
    writeFileSync(join(dir, 'er-shell.stamp'), '0.0.0 check-kernel\n')
    writeFileSync(bash, readFileSync(bash, 'utf8').replace(/^record .*$/m, ''))
    assert.ok(!complete(['er-shell', '']).includes('record'), 'the stale cache lacks record')
    const r = runCli(['help'], {env})
    assert.equal(r.status, 0, r.stderr)
    assert.ok(complete(['er-shell', '']).includes('record'), 'rebuilt: record is offered again')
    assert.match(readFileSync(join(dir, 'er-shell.stamp'), 'utf8'), /\brecord\b/)
  })

  test('no completion cache is created for a user who never set completion up', () => {
    const other = tempDir('er-nocomplete-')
    try {
      const r = runCli(['help'], {env: {HOME: other, XDG_CACHE_HOME: join(other, 'cache'), ER_SHELL_CACHE_DIR: ''}})
      assert.equal(r.status, 0, r.stderr)
      assert.ok(!existsSync(join(other, 'cache', 'er-shell', 'autocomplete')))
    } finally {
      rmSync(other, {recursive: true, force: true})
    }
  })

  test('zsh: the generated completion function names every command and flag', () => {
    const r = runCli(['autocomplete', 'script', 'zsh'], {env})
    assert.equal(r.status, 0, r.stderr)
    const setup = /ER_SHELL_AC_ZSH_SETUP_PATH=(\S+) /.exec(r.stdout)?.[1]
    assert.ok(setup, r.stdout)
    assert.match(readFileSync(setup, 'utf8'), /fpath=\(\n.*autocomplete\/functions\/zsh\n/, 'the setup adds the functions to fpath')
    const file = join(home, 'cache', 'er-shell', 'autocomplete', 'functions', 'zsh', '_er-shell')
    const text = readFileSync(file, 'utf8')
    assert.match(text, /^#compdef er-shell/)
    for (const c of commands) {
      assert.ok(text.includes(`"${c.words[0]}`) || text.includes(`${c.words[0]}:`), `zsh completion names ${c.id}`)
      for (const [name, flag] of Object.entries(c.flags)) if (!flag.hidden) assert.ok(text.includes(`--${name}`), `zsh completion has ${c.id} --${name}`)
    }
    const zsh = spawnSync('zsh', ['--version'])
    if (zsh.error) return // no zsh on this host: the syntax check needs it
    const check = spawnSync('zsh', ['-n', file], {encoding: 'utf8'})
    assert.equal(check.status, 0, check.stderr)
  })
})

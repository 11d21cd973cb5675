// The disk filter in the configuration: er-shell's `disk_filter`, the same block under a
// teleport.yaml's ssh_service.enhanced_recording (an er-shell extension), record's
// --disk-include/--disk-exclude/--disk-preset, and the CLI refusing a bad pattern with one line
// before it starts anything.
import assert from 'node:assert/strict'
import {chmodSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {assertDiskFilterUsable, formatConfigSources, loadConfig, resolveConfig, type ConfigInput, type ResolvedConfig} from '../../src/config/index.js'
import {DISK_PRESET_PATTERNS, MAX_DISK_STATES} from '../../src/disk/filter.js'
import {ConfigError} from '../../src/errors/config-error.js'
import {runCli} from '../helpers/cli.js'
import {TELEPORT_YAML, configDir, type ConfigDir} from '../helpers/config.js'

const QUIET = DISK_PRESET_PATTERNS.quiet

function isolated(tmp: ConfigDir, input: ConfigInput = {}): ConfigInput {
  return {env: {}, hostname: 'host-a', cwd: tmp.dir, defaultConfigFile: tmp.missing('er-shell.yaml'), ...input}
}

function load(tmp: ConfigDir, text: string, input: ConfigInput = {}): ResolvedConfig {
  return resolveConfig(isolated(tmp, {configFile: tmp.write('config.yaml', text), ...input}))
}

function refuses(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    assert.equal(error.message, message)
    assert.equal(error.exitCode, 2)
    return true
  })
}

/** TELEPORT_YAML with `block` (lines indented for enhanced_recording) after root_path. */
function teleportWith(block: string): string {
  return TELEPORT_YAML.replace('    root_path: /teleport\n', `    root_path: /teleport\n${block}`)
}

describe("er-shell's file: disk_filter", () => {
  it('reads include and exclude (block and flow) and expands the preset into excludes, with the block as the source', (t) => {
    const tmp = configDir(t)
    const resolved = load(
      tmp,
      'events: [command, disk]\ndisk_filter:\n  include:\n    - /home/\n    - "*.conf"\n  exclude: [/home/*/.cache/, "*.so"]\n  preset: quiet\n',
    )
    assert.deepEqual(resolved.config.disk_filter, {include: ['/home/', '*.conf'], exclude: ['/home/*/.cache/', '*.so', ...QUIET.filter((p) => p !== '*.so')]})
    const file = resolved.file?.path
    assert.deepEqual(resolved.sources.disk_filter, {kind: 'file', file, line: 3, col: 3, key: 'disk_filter'})
    assert.deepEqual(resolved.diskFilterSources, [resolved.sources.disk_filter])
  })

  it('an empty block, empty lists or a missing part mean no patterns', (t) => {
    const tmp = configDir(t)
    assert.deepEqual(load(tmp, 'disk_filter:\n').config.disk_filter, {include: [], exclude: []})
    assert.deepEqual(load(tmp, 'disk_filter: {include: [], exclude: , preset: }\n').config.disk_filter, {include: [], exclude: []})
    assert.deepEqual(load(tmp, 'disk_filter: {exclude: [/sys/]}\n').config.disk_filter, {include: [], exclude: ['/sys/']})
    assert.deepEqual(load(tmp, 'data_dir: /x\n').sources.disk_filter, {kind: 'default'})
    assert.deepEqual(load(tmp, 'data_dir: /x\n').config.disk_filter, {include: [], exclude: []})
  })

  it('the same pattern twice in a list counts once', (t) => {
    const tmp = configDir(t)
    const resolved = load(tmp, 'disk_filter:\n  exclude: [/dev/null, /dev/null]\n  preset: quiet\n')
    assert.deepEqual(resolved.config.disk_filter.exclude, ['/dev/null', ...QUIET.filter((p) => p !== '/dev/null')])
  })
})

describe('a teleport.yaml: ssh_service.enhanced_recording.disk_filter', () => {
  it("is read beside Teleport's keys", (t) => {
    const tmp = configDir(t)
    const resolved = load(tmp, teleportWith('    disk_filter:\n      preset: quiet\n      exclude: ["/tmp/"]\n'))
    assert.equal(resolved.file?.shape, 'teleport')
    assert.equal(resolved.config.disk_buffer_size, 256)
    assert.deepEqual(resolved.config.disk_filter, {include: [], exclude: [...QUIET, '/tmp/']})
    assert.equal(resolved.sources.disk_filter.kind === 'file' && resolved.sources.disk_filter.key, 'ssh_service.enhanced_recording.disk_filter')
  })

  it('at the top level it would be ignored as Teleport ignores what it does not know: refused', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('teleport.yaml', 'version: v3\nteleport: {}\ndisk_filter:\n  preset: quiet\n')
    refuses(
      () => resolveConfig(isolated(tmp, {configFile: file})),
      `${file}:3:1: disk_filter goes under ssh_service.enhanced_recording in a teleport.yaml (ssh_service.enhanced_recording.disk_filter)`,
    )
  })
})

describe('a bad filter in a file: one message with file:line:col', () => {
  const many = (n: number) => Array.from({length: n}, (_, i) => `    - /p${i}`).join('\n')
  const cases: Array<{name: string; text: string; message: string}> = [
    {
      name: 'a relative pattern in a block list',
      text: 'disk_filter:\n  exclude:\n    - /proc/\n    - proc/\n',
      message: '4:7: disk_filter.exclude[1] "proc/": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /proc/ or *proc/',
    },
    {
      name: 'a plain *.so, which YAML reads as an alias',
      text: 'disk_filter:\n  exclude:\n    - *.so\n',
      message: '3:7: disk_filter.exclude[0] *.so is a YAML alias, not a pattern: quote it, "*.so"',
    },
    {
      name: 'a number where a pattern belongs',
      text: 'disk_filter: {include: [/home/, 42]}\n',
      message: '1:33: disk_filter.include[1] must be a pattern (a path, a directory prefix ending in "/", or a glob with "*"), got 42',
    },
    {
      name: 'an empty pattern',
      text: 'disk_filter:\n  include: [""]\n',
      message: '2:13: disk_filter.include[0] "": a pattern is a path, a directory prefix ending in "/", or a glob with "*", like /etc/shadow, /proc/ or *.so',
    },
    {
      name: 'a list that is not a list',
      text: 'disk_filter:\n  exclude: /proc/\n',
      message: '2:12: disk_filter.exclude must be a list of patterns, got "/proc/"',
    },
    {
      name: 'disk_filter not a mapping',
      text: 'disk_filter: [/proc/]\n',
      message: '1:14: disk_filter must be a mapping with include and exclude lists of patterns and a preset, got a list',
    },
    {name: 'a misspelt list', text: 'disk_filter:\n  exlude: [/proc/]\n', message: '2:3: unknown key "exlude" in disk_filter: did you mean "exclude"?'},
    {name: 'an unknown preset', text: 'disk_filter:\n  preset: silent\n', message: '2:11: disk_filter.preset must be quiet (the only preset), got "silent"'},
    {name: 'a list of presets', text: 'disk_filter:\n  preset: [quiet]\n', message: '2:11: disk_filter.preset must be quiet (the only preset), got a list'},
    {
      name: 'the 65th pattern',
      text: `disk_filter:\n  include:\n${many(60)}\n  exclude:\n${many(5)}\n`,
      message: '68:7: disk_filter.exclude[4] is one pattern too many: at most 64 disk filter patterns in all (include, exclude and presets together)',
    },
    {
      name: 'the preset beyond 64 patterns',
      text: `disk_filter:\n  include:\n${many(60)}\n  preset: quiet\n`,
      message: `63:11: disk_filter.preset's pattern "${QUIET[4]}" is one pattern too many: at most 64 disk filter patterns in all (include, exclude and presets together)`,
    },
    {
      name: 'a bad pattern in a teleport.yaml',
      text: 'version: v3\nssh_service:\n  enhanced_recording:\n    disk_filter:\n      exclude: ["/ok", "sys"]\n',
      message:
        '5:24: ssh_service.enhanced_recording.disk_filter.exclude[1] "sys": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /sys or *sys',
    },
  ]
  for (const {name, text, message} of cases) {
    it(name, (t) => {
      const tmp = configDir(t)
      const file = tmp.write('config.yaml', text)
      refuses(() => resolveConfig(isolated(tmp, {configFile: file})), `${file}:${message}`)
    })
  }
})

describe('record --disk-include / --disk-exclude / --disk-preset', () => {
  it("add to the file's patterns, in order, and are named as sources", (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'events: [command, disk]\ndisk_filter:\n  exclude: [/sys/]\n')
    const resolved = loadConfig({config: file, 'disk-include': ['/home/', '/etc/'], 'disk-exclude': ['*.so', '/sys/'], 'disk-preset': 'quiet'}, isolated(tmp))
    assert.deepEqual(resolved.config.disk_filter, {
      include: ['/home/', '/etc/'],
      exclude: ['/sys/', '*.so', ...QUIET.filter((p) => p !== '/sys/' && p !== '*.so')],
    })
    assert.deepEqual(resolved.diskFilterSources, [
      {kind: 'file', file, line: 3, col: 3, key: 'disk_filter'},
      {kind: 'flag', name: '--disk-include'},
      {kind: 'flag', name: '--disk-exclude'},
      {kind: 'flag', name: '--disk-preset'},
    ])
    assert.deepEqual(resolved.sources.disk_filter, resolved.diskFilterSources[0])
  })

  it('without a file, the flags are the filter; without either, there is none', (t) => {
    const tmp = configDir(t)
    const resolved = loadConfig({'disk-exclude': ['/proc/']}, isolated(tmp))
    assert.deepEqual(resolved.config.disk_filter, {include: [], exclude: ['/proc/']})
    assert.deepEqual(resolved.sources.disk_filter, {kind: 'flag', name: '--disk-exclude'})
    const none = loadConfig({'disk-include': [], 'disk-exclude': undefined}, isolated(tmp))
    assert.deepEqual(none.config.disk_filter, {include: [], exclude: []})
    assert.deepEqual(none.diskFilterSources, [])
  })

  it('a bad pattern or preset: one line naming the flag and the problem', (t) => {
    const tmp = configDir(t)
    refuses(
      () => loadConfig({'disk-exclude': ['/proc/', 'tmp/*']}, isolated(tmp)),
      '--disk-exclude "tmp/*": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /tmp/* or *tmp/*',
    )
    refuses(
      () => loadConfig({'disk-include': [`/${'x'.repeat(300)}`]}, isolated(tmp)),
      `--disk-include "/${'x'.repeat(56)}...": a pattern is at most 255 bytes, this one is 301`,
    )
    refuses(() => loadConfig({'disk-preset': 'Quiet'}, isolated(tmp)), '--disk-preset must be quiet (the only preset), got "Quiet"')
  })

  it("more than 64 patterns with the file's: the one beyond is named", (t) => {
    const tmp = configDir(t)
    const list = (n: number, p: string) => Array.from({length: n}, (_, i) => `/${p}${i}`)
    const file = tmp.write('config.yaml', `disk_filter:\n  exclude: [${list(60, 'a').join(', ')}]\n`)
    assert.equal(loadConfig({config: file, 'disk-include': list(4, 'b')}, isolated(tmp)).config.disk_filter.include.length, 4)
    refuses(
      () => loadConfig({config: file, 'disk-include': list(5, 'b')}, isolated(tmp)),
      '--disk-include "/b4" is one pattern too many: at most 64 disk filter patterns in all (include, exclude and presets together)',
    )
    refuses(
      () => loadConfig({config: file, 'disk-preset': 'quiet'}, isolated(tmp)),
      `--disk-preset quiet's pattern "${QUIET[4]}" is one pattern too many: at most 64 disk filter patterns in all (include, exclude and presets together)`,
    )
  })

  it('a filter needs the disk event kind: refused with one line that says where both came from', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'events: [command, network]\ndisk_filter:\n  preset: quiet\n')
    refuses(
      () => assertDiskFilterUsable(loadConfig({config: file, 'disk-exclude': ['/tmp/']}, isolated(tmp))),
      `the disk filter (${file}:3:3 (disk_filter), flag --disk-exclude) needs the disk event kind, but events is command,network (${file}:1:9 (events)): add disk to events, or drop the patterns`,
    )
    refuses(
      () => assertDiskFilterUsable(loadConfig({'disk-preset': 'quiet'}, isolated(tmp))),
      'the disk filter (flag --disk-preset) needs the disk event kind, but events is command,network (default): add disk to events, or drop the patterns',
    )
    assert.equal(assertDiskFilterUsable(loadConfig({events: 'command'}, isolated(tmp))), undefined)
  })

  it('a usable filter: the automaton the kernel gets; one with no room: refused', (t) => {
    const tmp = configDir(t)
    const compiled = assertDiskFilterUsable(loadConfig({events: 'disk', 'disk-preset': 'quiet'}, isolated(tmp)))
    assert.ok(compiled && compiled.states > 2 && compiled.states <= MAX_DISK_STATES)
    const long = (c: string) => `/${c.repeat(100)}`
    refuses(
      () => assertDiskFilterUsable(loadConfig({events: 'disk', 'disk-exclude': [long('a'), long('b'), long('c')]}, isolated(tmp))),
      `the disk filter's 3 patterns need 301 states in the kernel's automaton, which has room for 256: use fewer patterns, or fewer "*" in them`,
    )
  })

  it('--verbose lines show the filter and every source', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'disk_filter:\n  include: [/home/]\n')
    const lines = formatConfigSources(loadConfig({config: file, 'disk-exclude': ['*.so']}, isolated(tmp)))
    assert.ok(
      lines.includes(`disk_filter = include /home/; exclude *.so; everything else dropped (${file}:2:3 (disk_filter), flag --disk-exclude)`),
      lines.join('\n'),
    )
    assert.ok(formatConfigSources(loadConfig({}, isolated(tmp))).includes('disk_filter = none (every open recorded) (default)'))
  })
})

describe('the CLI refuses a bad filter before it starts anything', () => {
  function untouched(tmp: ConfigDir) {
    const paths = [join(tmp.dir, 'data'), join(tmp.dir, 'cgroup')]
    return {
      args: ['--data-dir', paths[0]!, '--cgroup-path', paths[1]!, '--root-path', '/disk-filter-test', '--live', 'off'],
      check: () => {
        for (const path of paths) assert.equal(existsSync(path), false, `${path} was not created`)
      },
    }
  }

  function oneLine(result: {status: number | null; stdout: string; stderr: string}, message: string): void {
    assert.equal(result.stderr, `er-shell: ${message}\n`)
    assert.equal(result.stdout, '')
    assert.equal(result.status, 2)
  }

  it('a bad pattern in the file: one line FILE:LINE:COL, exit status 2, nothing created', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('filter.yaml', 'events: [command, disk]\ndisk_filter:\n  exclude:\n    - /proc/\n    - *.so\n')
    const {args, check} = untouched(tmp)
    oneLine(
      runCli(['record', '--config', file, ...args, '--', 'true']),
      `${file}:5:7: disk_filter.exclude[1] *.so is a YAML alias, not a pattern: quote it, "*.so"`,
    )
    check()
  })

  it('a bad flag value, a bad preset, and a filter with disk events off: one line each', (t) => {
    const tmp = configDir(t)
    const {args, check} = untouched(tmp)
    oneLine(
      runCli(['record', ...args, '--events', 'command,disk', '--disk-exclude', '/proc/', '--disk-exclude', 'sys/', '--', 'true']),
      '--disk-exclude "sys/": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /sys/ or *sys/',
    )
    oneLine(runCli(['record', ...args, '--events', 'disk', '--disk-preset', 'loud', '--', 'true']), '--disk-preset must be quiet (the only preset), got "loud"')
    oneLine(
      runCli(['record', ...args, '--disk-include', '/home/', '--', 'true']),
      'the disk filter (flag --disk-include) needs the disk event kind, but events is command,network (default): add disk to events, or drop the patterns',
    )
    check()
  })

  it(
    'without privileges too: the filter is checked before them (as nobody)',
    {skip: process.geteuid?.() !== 0 && 'runs as nobody through setpriv, as root'},
    (t) => {
      const tmp = configDir(t)
      chmodSync(tmp.dir, 0o755)
      const file = tmp.write('filter.yaml', 'events: [disk]\ndisk_filter:\n  include: [home/]\n')
      chmodSync(file, 0o644)
      const {args, check} = untouched(tmp)
      oneLine(
        runCli(['record', '--config', file, ...args, '--', 'true'], {asNobody: true}),
        `${file}:3:13: disk_filter.include[0] "home/": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /home/ or *home/`,
      )
      oneLine(
        runCli(['record', ...args, '--disk-exclude', '/tmp/', '--', 'true'], {asNobody: true}),
        'the disk filter (flag --disk-exclude) needs the disk event kind, but events is command,network (default): add disk to events, or drop the patterns',
      )
      check()
    },
  )
})

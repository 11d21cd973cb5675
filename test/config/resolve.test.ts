// Precedence (flags > environment > file > defaults), choosing the config file, and bad flag/env values.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {CONFIG_KEYS, defaultConfig, formatConfigSources, loadConfig, resolveConfig, type ConfigInput, type ConfigKey} from '../../src/config/index.js'
import {ConfigError} from '../../src/errors/config-error.js'
import {ConfigReadError} from '../../src/errors/config-read-error.js'
import {configDir, type ConfigDir} from '../helpers/config.js'

/** Input that reads nothing from this machine: no env, no default file, fixed host name. */
function isolated(tmp: ConfigDir, input: ConfigInput = {}): ConfigInput {
  return {env: {}, hostname: 'host-a', cwd: tmp.dir, defaultConfigFile: tmp.missing('er-shell.yaml'), ...input}
}

function throwsMessage(fn: () => unknown, type: new (...args: never[]) => Error, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`)
    assert.equal(error.message, message)
    assert.equal((error as {exitCode?: number}).exitCode, 2)
    return true
  })
}

describe('defaults', () => {
  it('apply when nothing is configured, and the absent default file is fine', (t) => {
    const tmp = configDir(t)
    const resolved = resolveConfig(isolated(tmp))
    assert.deepEqual(resolved.config, {
      data_dir: '/var/lib/er-shell',
      cgroup_path: '/cgroup2',
      root_path: '/teleport',
      command_buffer_size: 8,
      disk_buffer_size: 128,
      network_buffer_size: 8,
      events: ['command', 'network'],
      cluster_name: 'host-a',
      nodename: 'host-a',
      live: 'stderr',
      enabled: true,
      allow_io_uring: false,
      env: [],
      network_policy: {rules: []},
      disk_filter: {include: [], exclude: []},
      audit_events_uri: [],
    })
    assert.equal(resolved.file, undefined)
    for (const key of CONFIG_KEYS) assert.equal(resolved.sources[key].kind, 'default', key)
  })

  it('match defaultConfig()', () => {
    assert.deepEqual(defaultConfig('h'), {...resolveConfig({env: {}, hostname: 'h', defaultConfigFile: '/nonexistent/er-shell.yaml'}).config})
  })
})

describe('precedence: flag > environment > file > default', () => {
  const cases: Array<{key: ConfigKey; fileLine: string; env: [string, string]; flag: string; values: [unknown, unknown, unknown, unknown]}> = [
    {
      key: 'data_dir',
      fileLine: 'data_dir: /from/file',
      env: ['ER_SHELL_DATA_DIR', '/from/env'],
      flag: '/from/flag',
      values: ['/var/lib/er-shell', '/from/file', '/from/env', '/from/flag'],
    },
    {
      key: 'command_buffer_size',
      fileLine: 'command_buffer_size: 16',
      env: ['ER_SHELL_COMMAND_BUFFER_SIZE', '32'],
      flag: '64',
      values: [8, 16, 32, 64],
    },
    {
      key: 'disk_buffer_size',
      fileLine: 'disk_buffer_size: 256',
      env: ['ER_SHELL_DISK_BUFFER_SIZE', '512'],
      flag: '1024',
      values: [128, 256, 512, 1024],
    },
    {
      key: 'events',
      fileLine: 'events: [disk]',
      env: ['ER_SHELL_EVENTS', 'network,disk'],
      flag: 'command,disk,network',
      values: [['command', 'network'], ['disk'], ['disk', 'network'], ['command', 'disk', 'network']],
    },
    {
      key: 'cluster_name',
      fileLine: 'cluster_name: file-cluster',
      env: ['ER_SHELL_CLUSTER_NAME', 'env-cluster'],
      flag: 'flag-cluster',
      values: ['host-a', 'file-cluster', 'env-cluster', 'flag-cluster'],
    },
    {
      key: 'root_path',
      fileLine: 'root_path: /file',
      env: ['ER_SHELL_ROOT_PATH', '/env'],
      flag: '/flag',
      values: ['/teleport', '/file', '/env', '/flag'],
    },
    {
      key: 'live',
      fileLine: 'live: /var/log/live-file',
      env: ['ER_SHELL_LIVE', 'off'],
      flag: 'stderr',
      values: ['stderr', '/var/log/live-file', 'off', 'stderr'],
    },
  ]

  for (const {key, fileLine, env, flag, values} of cases) {
    it(key, (t) => {
      const tmp = configDir(t)
      const file = tmp.write('config.yaml', `version: v1\n${fileLine}\n`)
      const [name, envText] = env
      const withDefault = resolveConfig(isolated(tmp))
      const withFile = resolveConfig(isolated(tmp, {configFile: file}))
      const withEnv = resolveConfig(isolated(tmp, {configFile: file, env: {[name]: envText}}))
      const withFlag = resolveConfig(isolated(tmp, {configFile: file, env: {[name]: envText}, flags: {[key]: flag}}))
      assert.deepEqual(
        [withDefault, withFile, withEnv, withFlag].map((r) => r.config[key]),
        values,
      )
      assert.deepEqual(withDefault.sources[key].kind, 'default')
      assert.deepEqual(withFile.sources[key], {kind: 'file', file, line: 2, col: fileLine.indexOf(': ') + 3, key})
      assert.deepEqual(withEnv.sources[key], {kind: 'env', name})
      assert.deepEqual(withFlag.sources[key], {kind: 'flag', name: `--${key.replaceAll('_', '-')}`})
    })
  }

  it('mixes sources key by key', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'data_dir: /file\ncgroup_path: /file-cgroup\nnetwork_buffer_size: 4\n')
    const resolved = resolveConfig(isolated(tmp, {configFile: file, env: {ER_SHELL_CGROUP_PATH: '/env-cgroup'}, flags: {network_buffer_size: '2'}}))
    assert.equal(resolved.config.data_dir, '/file')
    assert.equal(resolved.config.cgroup_path, '/env-cgroup')
    assert.equal(resolved.config.network_buffer_size, 2)
    assert.equal(resolved.config.command_buffer_size, 8)
  })

  it('lets cluster_name follow nodename, and an explicit cluster_name beat it', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'nodename: from-file\n')
    assert.equal(resolveConfig(isolated(tmp, {configFile: file})).config.cluster_name, 'from-file')
    const env = {ER_SHELL_NODENAME: 'env-node', ER_SHELL_CLUSTER_NAME: 'env-cluster'}
    const resolved = resolveConfig(isolated(tmp, {configFile: file, env}))
    assert.deepEqual([resolved.config.nodename, resolved.config.cluster_name], ['env-node', 'env-cluster'])
  })

  it('takes relative flag and environment paths from the current directory', (t) => {
    const tmp = configDir(t)
    const resolved = resolveConfig(isolated(tmp, {cwd: '/home/op', env: {ER_SHELL_CGROUP_PATH: 'cg'}, flags: {data_dir: './rec/', live: 'live.log'}}))
    assert.equal(resolved.config.data_dir, '/home/op/rec')
    assert.equal(resolved.config.cgroup_path, '/home/op/cg')
    assert.equal(resolved.config.live, '/home/op/live.log')
  })

  it('treats empty environment variables as unset', (t) => {
    const tmp = configDir(t)
    const resolved = resolveConfig(isolated(tmp, {env: {ER_SHELL_DATA_DIR: '', ER_SHELL_EVENTS: '', ER_SHELL_CONFIG: ''}}))
    assert.equal(resolved.config.data_dir, '/var/lib/er-shell')
    assert.equal(resolved.file, undefined)
  })
})

describe('choosing the config file', () => {
  it('--config beats ER_SHELL_CONFIG, which beats the default file', (t) => {
    const tmp = configDir(t)
    const flagFile = tmp.write('flag.yaml', 'cluster_name: flag-file\n')
    const envFile = tmp.write('env.yaml', 'cluster_name: env-file\n')
    const defaultFile = tmp.write('default.yaml', 'cluster_name: default-file\n')
    const base = isolated(tmp, {defaultConfigFile: defaultFile})
    const env = {ER_SHELL_CONFIG: envFile}

    const byFlag = resolveConfig({...base, env, configFile: flagFile})
    assert.equal(byFlag.config.cluster_name, 'flag-file')
    assert.deepEqual(byFlag.file, {path: flagFile, shape: 'er-shell', namedBy: {kind: 'flag', name: '--config'}})

    const byEnv = resolveConfig({...base, env})
    assert.equal(byEnv.config.cluster_name, 'env-file')
    assert.deepEqual(byEnv.file?.namedBy, {kind: 'env', name: 'ER_SHELL_CONFIG'})

    const byDefault = resolveConfig(base)
    assert.equal(byDefault.config.cluster_name, 'default-file')
    assert.deepEqual(byDefault.file?.namedBy, {kind: 'default'})
  })

  it('resolves a relative --config against the current directory', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('rel.yaml', 'disk_buffer_size: 64\n')
    const resolved = resolveConfig(isolated(tmp, {configFile: 'rel.yaml'}))
    assert.equal(resolved.file?.path, file)
    assert.equal(resolved.config.disk_buffer_size, 64)
  })

  it('fails when --config names a missing file', (t) => {
    const tmp = configDir(t)
    const missing = tmp.missing('nope.yaml')
    throwsMessage(
      () => resolveConfig(isolated(tmp, {configFile: missing})),
      ConfigReadError,
      `cannot read config file ${missing} (named by --config): no such file (ENOENT)`,
    )
  })

  it('fails when ER_SHELL_CONFIG names a missing file', (t) => {
    const tmp = configDir(t)
    const missing = tmp.missing('nope.yaml')
    assert.throws(
      () => resolveConfig(isolated(tmp, {env: {ER_SHELL_CONFIG: missing}})),
      (error: unknown) => {
        assert.ok(error instanceof ConfigReadError)
        assert.equal(error.message, `cannot read config file ${missing} (named by ER_SHELL_CONFIG): no such file (ENOENT)`)
        assert.equal(error.code, 'ECONFIG_READ')
        assert.equal(error.errno, 'ENOENT')
        return true
      },
    )
  })

  it('fails when the config file is a directory', (t) => {
    const tmp = configDir(t)
    throwsMessage(
      () => resolveConfig(isolated(tmp, {configFile: tmp.dir})),
      ConfigReadError,
      `cannot read config file ${tmp.dir} (named by --config): it is a directory (EISDIR)`,
    )
  })

  it('fails on an empty --config', (t) => {
    throwsMessage(() => resolveConfig(isolated(configDir(t), {configFile: ''})), ConfigError, '--config must name a file, got ""')
  })
})

describe('bad environment values', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ER_SHELL_COMMAND_BUFFER_SIZE: '12'}, 'ER_SHELL_COMMAND_BUFFER_SIZE must be a positive power of two (pages), got 12'],
    [{ER_SHELL_DISK_BUFFER_SIZE: 'lots'}, 'ER_SHELL_DISK_BUFFER_SIZE must be a positive power of two (pages), got "lots"'],
    [{ER_SHELL_NETWORK_BUFFER_SIZE: '0'}, 'ER_SHELL_NETWORK_BUFFER_SIZE must be a positive power of two (pages), got 0'],
    [{ER_SHELL_NETWORK_BUFFER_SIZE: '1048576'}, 'ER_SHELL_NETWORK_BUFFER_SIZE must be at most 262144 pages, got 1048576'],
    [{ER_SHELL_EVENTS: 'command,exec'}, 'ER_SHELL_EVENTS must list only command, disk, network, got "exec"'],
    [{ER_SHELL_EVENTS: ' , '}, 'ER_SHELL_EVENTS must list at least one of command, disk, network, got an empty list'],
    [{ER_SHELL_ROOT_PATH: 'teleport'}, `ER_SHELL_ROOT_PATH must be an absolute path without '..' (like /teleport), got "teleport"`],
    [{ER_SHELL_CLUSTER_NAME: '   '}, 'ER_SHELL_CLUSTER_NAME must be a non-empty name without control characters, got "   "'],
    [{ER_SHELL_NODENAME: 'a\tb'}, 'ER_SHELL_NODENAME must be a non-empty name without control characters, got "a\\tb"'],
  ]
  for (const [env, message] of cases) {
    it(Object.keys(env)[0] ?? '', (t) => {
      throwsMessage(() => resolveConfig(isolated(configDir(t), {env})), ConfigError, message)
    })
  }

  it('are reported even when a flag overrides them (a bad setting is never silently ignored)', (t) => {
    const tmp = configDir(t)
    throwsMessage(
      () => resolveConfig(isolated(tmp, {env: {ER_SHELL_DISK_BUFFER_SIZE: '3'}, flags: {disk_buffer_size: '4'}})),
      ConfigError,
      'ER_SHELL_DISK_BUFFER_SIZE must be a positive power of two (pages), got 3',
    )
  })
})

describe('bad flag values', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{'command-buffer-size': '12'}, '--command-buffer-size must be a positive power of two (pages), got 12'],
    [{'disk-buffer-size': '-4'}, '--disk-buffer-size must be a positive power of two (pages), got -4'],
    [{'network-buffer-size': '8k'}, '--network-buffer-size must be a positive power of two (pages), got "8k"'],
    [{events: 'command,files'}, '--events must list only command, disk, network, got "files"'],
    [{'data-dir': ''}, '--data-dir must be an absolute path, got ""'],
    [{'root-path': '/teleport/../../etc'}, `--root-path must be an absolute path without '..' (like /teleport), got "/teleport/../../etc"`],
    [{'cluster-name': ''}, '--cluster-name must be a non-empty name without control characters, got ""'],
    [{live: ''}, '--live must be "stderr", "off" or an absolute file path, got ""'],
  ]
  for (const [flags, message] of cases) {
    it(Object.keys(flags)[0] ?? '', (t) => {
      const tmp = configDir(t)
      throwsMessage(() => loadConfig(flags, isolated(tmp)), ConfigError, message)
    })
  }
})

describe('formatConfigSources', () => {
  it('prints one line per key with where it came from', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'disk_buffer_size: 64\n')
    const lines = formatConfigSources(resolveConfig(isolated(tmp, {configFile: file, env: {ER_SHELL_EVENTS: 'disk'}, flags: {data_dir: '/d'}})))
    assert.equal(lines.length, CONFIG_KEYS.length + 1)
    assert.equal(lines[0], `config file: ${file} (er-shell, flag --config)`)
    assert.ok(lines.includes('data_dir = "/d" (flag --data-dir)'))
    assert.ok(lines.includes(`disk_buffer_size = 64 (${file}:1:19 (disk_buffer_size))`))
    assert.ok(lines.includes('events = ["disk"] (environment ER_SHELL_EVENTS)'))
    assert.ok(lines.includes('cluster_name = "host-a" (default: nodename)'))
  })
})

// Config files: both shapes, and each validation message exactly (file:line:col + text).
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {assertRecordingEnabled, resolveConfig, type ResolvedConfig} from '../../src/config/index.js'
import {ConfigError} from '../../src/errors/config-error.js'
import {ConfigSyntaxError} from '../../src/errors/config-syntax-error.js'
import {RecordingDisabledError} from '../../src/errors/recording-disabled-error.js'
import {TELEPORT_YAML, configDir} from '../helpers/config.js'

const quiet = {env: {}, hostname: 'host-a', cwd: '/'}

function load(file: string): ResolvedConfig {
  return resolveConfig({...quiet, configFile: file})
}

/** Asserts `fn` throws an error of `type` with exactly `message`, code and exit status 2. */
function throwsExactly(fn: () => unknown, type: new (...args: never[]) => Error, message: string, code: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`)
    assert.equal(error.message, message)
    assert.equal((error as {code?: string}).code, code)
    assert.equal((error as {exitCode?: number}).exitCode, 2)
    return true
  })
}

describe("er-shell's own file", () => {
  it('reads every key, with its position as the source', (t) => {
    const tmp = configDir(t)
    const file = tmp.write(
      'er-shell.yaml',
      [
        'version: v1',
        'data_dir: /srv/er-shell/',
        'cgroup_path: /sys/fs/cgroup',
        'root_path: /er-shell',
        'command_buffer_size: 16',
        'disk_buffer_size: 256',
        'network_buffer_size: 32',
        'events: [network, command, disk, command]',
        'cluster_name: lab',
        'nodename: bench-3',
        'live: /var/log/er-shell-live.log',
        'enabled: yes',
        'allow_io_uring: no',
        'env: [SSH_AUTH_SOCK, AWS_PROFILE, SSH_AUTH_SOCK]',
        '',
      ].join('\n'),
    )
    const resolved = load(file)
    assert.deepEqual(resolved.config, {
      data_dir: '/srv/er-shell',
      cgroup_path: '/sys/fs/cgroup',
      root_path: '/er-shell',
      command_buffer_size: 16,
      disk_buffer_size: 256,
      network_buffer_size: 32,
      events: ['command', 'disk', 'network'],
      cluster_name: 'lab',
      nodename: 'bench-3',
      live: '/var/log/er-shell-live.log',
      enabled: true,
      allow_io_uring: false,
      env: ['SSH_AUTH_SOCK', 'AWS_PROFILE'],
      network_policy: {rules: []},
      disk_filter: {include: [], exclude: []},
      audit_events_uri: [],
    })
    assert.deepEqual(resolved.file, {path: file, shape: 'er-shell', namedBy: {kind: 'flag', name: '--config'}})
    assert.deepEqual(resolved.sources.disk_buffer_size, {kind: 'file', file, line: 6, col: 19, key: 'disk_buffer_size'})
    assert.deepEqual(resolved.sources.events, {kind: 'file', file, line: 8, col: 9, key: 'events'})
  })

  it('accepts a comma list for events, a block list, no version, and `live: off` unquoted', (t) => {
    const tmp = configDir(t)
    assert.deepEqual(load(tmp.write('a.yaml', 'events: disk, command\nlive: off\n')).config.events, ['command', 'disk'])
    assert.equal(load(tmp.write('b.yaml', 'live: off\n')).config.live, 'off')
    assert.deepEqual(load(tmp.write('c.yaml', 'events:\n  - disk\n')).config.events, ['disk'])
  })

  it('treats an empty file and keys without a value as unset', (t) => {
    const tmp = configDir(t)
    assert.equal(load(tmp.write('empty.yaml', '# nothing yet\n')).config.data_dir, '/var/lib/er-shell')
    const resolved = load(tmp.write('nulls.yaml', 'data_dir:\ncommand_buffer_size: ~\n'))
    assert.equal(resolved.config.data_dir, '/var/lib/er-shell')
    assert.equal(resolved.config.command_buffer_size, 8)
    assert.deepEqual(resolved.sources.data_dir, {kind: 'default'})
  })

  it('follows YAML anchors and aliases', (t) => {
    const tmp = configDir(t)
    const resolved = load(tmp.write('alias.yaml', 'command_buffer_size: &pages 32\nnetwork_buffer_size: *pages\n'))
    assert.equal(resolved.config.network_buffer_size, 32)
  })
})

describe('a Teleport teleport.yaml', () => {
  it('reads enhanced_recording, teleport.data_dir, nodename and cluster name; ignores the rest', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('teleport.yaml', TELEPORT_YAML)
    const resolved = load(file)
    assert.equal(resolved.file?.shape, 'teleport')
    assert.deepEqual(resolved.config, {
      data_dir: '/var/lib/teleport',
      cgroup_path: '/sys/fs/cgroup/unified',
      root_path: '/teleport',
      command_buffer_size: 16,
      disk_buffer_size: 256,
      network_buffer_size: 8,
      events: ['command', 'network'],
      cluster_name: 'example-prod',
      nodename: 'db-7',
      live: 'stderr',
      enabled: true,
      allow_io_uring: false,
      env: [],
      network_policy: {rules: []},
      disk_filter: {include: [], exclude: []},
      audit_events_uri: [],
    })
    assert.deepEqual(resolved.sources.command_buffer_size, {
      kind: 'file',
      file,
      line: 52,
      col: 26,
      key: 'ssh_service.enhanced_recording.command_buffer_size',
    })
    assert.deepEqual(resolved.sources.data_dir, {kind: 'file', file, line: 7, col: 13, key: 'teleport.data_dir'})
    assert.doesNotThrow(() => assertRecordingEnabled(resolved))
  })

  it('names the cluster after teleport.nodename on a node without auth_service', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('node.yaml', 'version: v3\nteleport:\n  nodename: web-1\nssh_service:\n  enabled: yes\n')
    const resolved = load(file)
    assert.equal(resolved.config.nodename, 'web-1')
    assert.equal(resolved.config.cluster_name, 'web-1')
    assert.deepEqual(resolved.sources.cluster_name, {kind: 'default', note: 'nodename'})
    assert.equal(resolved.config.command_buffer_size, 8)
  })

  it('is recognised by version v3 alone', (t) => {
    const tmp = configDir(t)
    assert.equal(load(tmp.write('v3.yaml', 'version: v3\n')).file?.shape, 'teleport')
  })

  it('refuses to record when enhanced_recording.enabled is false, naming the line', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('off.yaml', TELEPORT_YAML.replace('    enabled: true\n    command_buffer_size', '    enabled: no\n    command_buffer_size'))
    const resolved = load(file)
    assert.equal(resolved.config.enabled, false)
    throwsExactly(
      () => assertRecordingEnabled(resolved),
      RecordingDisabledError,
      `${file}:51:14: ssh_service.enhanced_recording.enabled is false: enhanced recording is disabled by this configuration; set it to true (or remove it) to record`,
      'ERECORDING_DISABLED',
    )
  })
})

describe('validation messages', () => {
  const cases: Array<{name: string; text: string; message: string}> = [
    {
      name: 'non-power-of-two buffer',
      text: 'version: v1\ndata_dir: /srv/rec\nevents: [command]\ncommand_buffer_size: 12\n',
      message: '4:22: command_buffer_size must be a positive power of two (pages), got 12',
    },
    {name: 'zero buffer', text: 'disk_buffer_size: 0\n', message: '1:19: disk_buffer_size must be a positive power of two (pages), got 0'},
    {name: 'negative buffer', text: 'network_buffer_size: -8\n', message: '1:22: network_buffer_size must be a positive power of two (pages), got -8'},
    {name: 'fractional buffer', text: 'disk_buffer_size: 2.5\n', message: '1:19: disk_buffer_size must be a positive power of two (pages), got 2.5'},
    {name: 'buffer as a string', text: 'command_buffer_size: "8"\n', message: '1:22: command_buffer_size must be a positive power of two (pages), got "8"'},
    {name: 'huge buffer', text: 'disk_buffer_size: 524288\n', message: '1:19: disk_buffer_size must be at most 262144 pages, got 524288'},
    {
      name: 'unknown key with a near miss',
      text: 'version: v1\ncgroup_pth: /cgroup2\n',
      message: '2:1: unknown key "cgroup_pth" in er-shell config: did you mean "cgroup_path"?',
    },
    {
      name: 'unknown key',
      text: 'color: auto\n',
      message:
        '1:1: unknown key "color" in er-shell config: expected one of version, data_dir, cgroup_path, root_path, command_buffer_size, disk_buffer_size, network_buffer_size, events, cluster_name, nodename, live, enabled, allow_io_uring, env, network_policy, disk_filter, audit_events_uri',
    },
    {name: 'path of the wrong type', text: 'data_dir: 42\n', message: '1:11: data_dir must be an absolute path, got 42'},
    {name: 'relative data_dir', text: 'data_dir: var/lib/er-shell\n', message: '1:11: data_dir must be an absolute path, got "var/lib/er-shell"'},
    {name: 'relative cgroup_path', text: 'cgroup_path: cgroup2\n', message: '1:14: cgroup_path must be an absolute path, got "cgroup2"'},
    {
      name: 'relative root_path',
      text: 'root_path: teleport\n',
      message: `1:12: root_path must be an absolute path without '..' (like /teleport), got "teleport"`,
    },
    {
      name: 'root_path climbing out',
      text: 'root_path: /teleport/../..\n',
      message: `1:12: root_path must be an absolute path without '..' (like /teleport), got "/teleport/../.."`,
    },
    {name: 'relative live file', text: 'live: live.log\n', message: '1:7: live must be "stderr", "off" or an absolute file path, got "live.log"'},
    {name: 'enabled not a boolean', text: 'enabled: maybe\n', message: '1:10: enabled must be true or false, got "maybe"'},
    {name: 'env not a list', text: 'env: PATH\n', message: '1:6: env must be a list of environment variable names, got "PATH"'},
    {name: 'env item not a name', text: 'env: [PATH, A=B]\n', message: '1:13: env[1] must name an environment variable (letters, digits, _), got "A=B"'},
    {name: 'unknown event kind in a list', text: 'events: [command, exec]\n', message: '1:19: events[1] must be one of command, disk, network, got "exec"'},
    {name: 'unknown event kind in a block list', text: 'events:\n  - command\n  - 7\n', message: '3:5: events[1] must be one of command, disk, network, got 7'},
    {name: 'unknown event kind in a comma list', text: 'events: command,files\n', message: '1:9: events must list only command, disk, network, got "files"'},
    {name: 'empty event list', text: 'events: []\n', message: '1:9: events must list at least one of command, disk, network, got an empty list'},
    {
      name: 'events as a mapping',
      text: 'events: {command: true}\n',
      message: '1:9: events must be a list of event kinds (command, disk, network), got a mapping',
    },
    {name: 'empty cluster name', text: 'cluster_name: ""\n', message: '1:15: cluster_name must be a non-empty name without control characters, got ""'},
    {name: 'unknown version', text: 'version: v4\n', message: '1:10: version must be v1 (or v3 in a teleport.yaml), got "v4"'},
    {name: 'not a mapping', text: '- data_dir: /x\n', message: '1:1: the file must be a mapping of settings, got a list'},
    {
      name: 'two documents of settings',
      text: 'data_dir: /x\n---\ndata_dir: /y\n',
      message: '3:1: a second document of settings: a file holds one, and besides it only kind: network_restrictions documents',
    },
    {name: 'a key that is not a name', text: '[data_dir]: /x\n', message: '1:1: keys must be plain names, got a list'},
    {
      name: 'unknown key in enhanced_recording',
      text: 'version: v3\nssh_service:\n  enhanced_recording:\n    enable: true\n',
      message: '4:5: unknown key "enable" in ssh_service.enhanced_recording: did you mean "enabled"?',
    },
    {
      name: "er-shell's key inside enhanced_recording",
      text: 'version: v3\nssh_service:\n  enhanced_recording:\n    events: [disk]\n',
      message:
        '4:5: unknown key "events" in ssh_service.enhanced_recording: expected one of enabled, command_buffer_size, disk_buffer_size, network_buffer_size, cgroup_path, root_path, disk_filter',
    },
    {
      name: 'teleport buffer not a power of two',
      text: 'version: v3\nssh_service:\n  enhanced_recording:\n    enabled: true\n    disk_buffer_size: 100\n',
      message: '5:23: ssh_service.enhanced_recording.disk_buffer_size must be a positive power of two (pages), got 100',
    },
    {
      name: 'teleport enabled not a boolean',
      text: 'version: v3\nssh_service:\n  enhanced_recording:\n    enabled: sometimes\n',
      message: '4:14: ssh_service.enhanced_recording.enabled must be true or false, got "sometimes"',
    },
    {
      name: 'relative teleport.data_dir',
      text: 'version: v3\nteleport:\n  data_dir: teleport-data\n',
      message: '3:13: teleport.data_dir must be an absolute path, got "teleport-data"',
    },
    {name: 'teleport section not a mapping', text: 'version: v3\nteleport: yes\n', message: '2:11: teleport must be a mapping, got true'},
    {
      name: 'enhanced_recording not a mapping',
      text: 'ssh_service:\n  enhanced_recording: [command]\n',
      message: '2:23: ssh_service.enhanced_recording must be a mapping, got a list',
    },
    {name: 'unknown teleport version', text: 'version: v9\nteleport: {}\n', message: '1:10: version must be v1, v2 or v3 in a teleport.yaml, got "v9"'},
  ]

  for (const {name, text, message} of cases) {
    it(name, (t) => {
      const file = configDir(t).write('config.yaml', text)
      throwsExactly(() => load(file), ConfigError, `${file}:${message}`, 'ECONFIG')
    })
  }

  it('records the setting and position on the error', (t) => {
    const file = configDir(t).write('config.yaml', 'live: stderr\ncommand_buffer_size: 3\n')
    assert.throws(
      () => load(file),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.deepEqual(
          {setting: error.setting, file: error.file, line: error.line, col: error.col},
          {
            setting: 'command_buffer_size',
            file,
            line: 2,
            col: 22,
          },
        )
        return true
      },
    )
  })

  it("refuses to record on `enabled: false` in er-shell's file", (t) => {
    const file = configDir(t).write('config.yaml', 'data_dir: /srv/rec\nenabled: false\n')
    const resolved = load(file)
    throwsExactly(
      () => assertRecordingEnabled(resolved),
      RecordingDisabledError,
      `${file}:2:10: enabled is false: enhanced recording is disabled by this configuration; set it to true (or remove it) to record`,
      'ERECORDING_DISABLED',
    )
  })
})

describe('YAML syntax errors', () => {
  const cases: Array<{name: string; text: string; message: string}> = [
    {
      name: 'unclosed flow list',
      text: 'data_dir: /x\nevents: [command\nlive: off\n',
      message: '3:1: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    },
    {name: 'duplicate key', text: 'data_dir: /x\ndata_dir: /y\n', message: '2:1: not valid YAML: Map keys must be unique'},
    {name: 'bad indentation', text: 'data_dir: /x\n  cgroup_path: /y\n', message: '1:11: not valid YAML: Nested mappings are not allowed in compact mappings'},
  ]
  for (const {name, text, message} of cases) {
    it(name, (t) => {
      const file = configDir(t).write('config.yaml', text)
      throwsExactly(() => load(file), ConfigSyntaxError, `${file}:${message}`, 'ECONFIG_SYNTAX')
    })
  }
})

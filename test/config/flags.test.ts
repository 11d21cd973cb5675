// The oclif configuration flags and their mapping to resolveConfig's input.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {configFlags, configInputFromFlags} from '../../src/config/index.js'

describe('configFlags', () => {
  it('has the documented flags, each with a description and a value name', () => {
    assert.deepEqual(Object.keys(configFlags).sort(), [
      'cgroup-path',
      'cluster-name',
      'command-buffer-size',
      'config',
      'data-dir',
      'disk-buffer-size',
      'events',
      'network-buffer-size',
      'root-path',
    ])
    for (const [name, flag] of Object.entries(configFlags)) {
      assert.ok((flag.description ?? '').length > 20, `--${name} needs a description`)
      assert.match(String(flag.helpValue), /^<\w+>$/, `--${name} needs a value name`)
      assert.equal(flag.type, 'option')
    }
  })
})

describe('configInputFromFlags', () => {
  it('maps flag names to config keys and --config to the file', () => {
    const input = configInputFromFlags(
      {
        config: '/etc/teleport.yaml',
        'data-dir': '/d',
        events: 'disk',
        'cgroup-path': '/c',
        'root-path': '/r',
        'command-buffer-size': '1',
        'disk-buffer-size': '2',
        'network-buffer-size': '4',
        'cluster-name': 'n',
        live: 'off',
      },
      {cwd: '/x'},
    )
    assert.deepEqual(input, {
      cwd: '/x',
      configFile: '/etc/teleport.yaml',
      flags: {
        data_dir: '/d',
        events: 'disk',
        cgroup_path: '/c',
        root_path: '/r',
        command_buffer_size: '1',
        disk_buffer_size: '2',
        network_buffer_size: '4',
        cluster_name: 'n',
        live: 'off',
      },
      netRules: {allow: undefined, deny: undefined},
      diskFilter: {include: undefined, exclude: undefined, preset: undefined},
    })
  })

  it("leaves flags that were not given undefined, and ignores a command's other flags", () => {
    const parsed = {json: true, quiet: false, 'data-dir': '/d'}
    const input = configInputFromFlags(parsed)
    assert.equal(input.configFile, undefined)
    assert.equal(input.flags?.data_dir, '/d')
    assert.equal(input.flags?.events, undefined)
  })
})

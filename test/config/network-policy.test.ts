// The network policy in the configuration: er-shell's `network_policy`, Teleport's network_restrictions
// resource in a teleport.yaml (another YAML document, or under a `network_restrictions:` key), the
// rule flags of `record`, and the CLI refusing a bad rule with one line before it starts anything.
import assert from 'node:assert/strict'
import {chmodSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {assertNetworkPolicyUsable, formatConfigSources, loadConfig, resolveConfig, type ConfigInput, type ResolvedConfig} from '../../src/config/index.js'
import {ConfigError} from '../../src/errors/config-error.js'
import {describeRule} from '../../src/network/policy.js'
import {runCli} from '../helpers/cli.js'
import {TELEPORT_YAML, configDir, type ConfigDir} from '../helpers/config.js'

function isolated(tmp: ConfigDir, input: ConfigInput = {}): ConfigInput {
  return {env: {}, hostname: 'host-a', cwd: tmp.dir, defaultConfigFile: tmp.missing('er-shell.yaml'), ...input}
}

function load(tmp: ConfigDir, text: string, input: ConfigInput = {}): ResolvedConfig {
  return resolveConfig(isolated(tmp, {configFile: tmp.write('config.yaml', text), ...input}))
}

function rules(resolved: ResolvedConfig): string[] {
  return resolved.config.network_policy.rules.map(describeRule)
}

/** Asserts `fn` throws a ConfigError (exit status 2) with exactly `message`. */
function refuses(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    assert.equal(error.message, message)
    assert.equal(error.exitCode, 2)
    return true
  })
}

const RESOURCE = `kind: network_restrictions
version: v1
metadata:
  name: network-restrictions
spec:
  allow:
  - cidr: "10.0.0.0/8"
  - cidr: 127.0.0.1:8000-8999
  deny:
  - cidr: "0.0.0.0/0"
`

describe("er-shell's file: network_policy", () => {
  it('reads allow and deny lists (block and flow), with the block as the source', (t) => {
    const tmp = configDir(t)
    const resolved = load(
      tmp,
      'data_dir: /srv/rec\nnetwork_policy:\n  allow:\n    - 10.0.0.0/8:443\n    - "[2001:db8::/32]:443"\n  deny: [10.1.0.0/16, "::1"]\n',
    )
    assert.deepEqual(rules(resolved), ['allow 10.0.0.0/8:443', 'allow [2001:db8::/32]:443', 'deny 10.1.0.0/16', 'deny ::1'])
    assert.deepEqual(
      resolved.config.network_policy.rules.map((r) => r.text),
      ['10.0.0.0/8:443', '[2001:db8::/32]:443', '10.1.0.0/16', '::1'],
    )
    assert.equal(resolved.config.data_dir, '/srv/rec')
    const file = resolved.file?.path
    assert.deepEqual(resolved.sources.network_policy, {kind: 'file', file, line: 3, col: 3, key: 'network_policy'})
    assert.deepEqual(resolved.netPolicySources, [resolved.sources.network_policy])
  })

  it('takes a plain IPv6 address as written, though YAML 1.1 would read it as a base-60 number', (t) => {
    const tmp = configDir(t)
    assert.deepEqual(rules(load(tmp, 'network_policy:\n  deny:\n    - 1:2:3:4:5:6:7:8\n    - 2001:db8::1\n')), ['deny 1:2:3:4:5:6:7:8', 'deny 2001:db8::1'])
  })

  it('an empty block, empty lists or a missing list mean no rules', (t) => {
    const tmp = configDir(t)
    assert.deepEqual(load(tmp, 'network_policy:\n').config.network_policy, {rules: []})
    assert.deepEqual(load(tmp, 'network_policy: {allow: [], deny: }\n').config.network_policy, {rules: []})
    assert.deepEqual(rules(load(tmp, 'network_policy: {deny: [10.0.0.0/8]}\n')), ['deny 10.0.0.0/8'])
    assert.deepEqual(load(tmp, 'data_dir: /x\n').sources.network_policy, {kind: 'default'})
  })

  it('the same rule twice counts once; allow and deny of one network are two rules', (t) => {
    const tmp = configDir(t)
    const resolved = load(tmp, 'network_policy:\n  allow: [10.0.0.0/8, "10.0.0.0/8:0", "::ffff:10.0.0.0/104"]\n  deny: [10.0.0.0/8]\n')
    assert.deepEqual(rules(resolved), ['allow 10.0.0.0/8', 'deny 10.0.0.0/8'])
  })
})

describe("a teleport.yaml: Teleport's network_restrictions resource", () => {
  it('as a second YAML document: the settings and the rules are both read', (t) => {
    const tmp = configDir(t)
    const resolved = load(tmp, `${TELEPORT_YAML}---\n${RESOURCE}`)
    assert.equal(resolved.file?.shape, 'teleport')
    assert.equal(resolved.config.command_buffer_size, 16)
    assert.equal(resolved.config.nodename, 'db-7')
    assert.deepEqual(rules(resolved), ['allow 10.0.0.0/8', 'allow 127.0.0.1:8000-8999', 'deny 0.0.0.0/0'])
    const line = TELEPORT_YAML.split('\n').length + 6 // `allow:`, the spec's first line, after "---" and five lines
    assert.deepEqual(resolved.sources.network_policy, {kind: 'file', file: resolved.file?.path, line, col: 3, key: 'network_restrictions'})
  })

  it('as the first document, before the settings', (t) => {
    const tmp = configDir(t)
    const resolved = load(tmp, `---\n${RESOURCE}---\n${TELEPORT_YAML}`)
    assert.equal(resolved.config.command_buffer_size, 16)
    assert.deepEqual(rules(resolved), ['allow 10.0.0.0/8', 'allow 127.0.0.1:8000-8999', 'deny 0.0.0.0/0'])
  })

  it("alone (the file `tctl create` takes), or beside er-shell's own settings", (t) => {
    const tmp = configDir(t)
    const alone = load(tmp, RESOURCE)
    assert.equal(alone.file?.shape, 'teleport')
    assert.equal(rules(alone).length, 3)
    const mixed = load(tmp, `data_dir: /srv/rec\n---\n${RESOURCE}`)
    assert.equal(mixed.file?.shape, 'er-shell')
    assert.equal(mixed.config.data_dir, '/srv/rec')
    assert.equal(rules(mixed).length, 3)
  })

  it('under a top-level network_restrictions key, with or without kind, version and metadata', (t) => {
    const tmp = configDir(t)
    const indented = RESOURCE.replace(/^/gm, '  ').trimEnd()
    const keyed = load(tmp, `${TELEPORT_YAML}network_restrictions:\n${indented}\n`)
    assert.deepEqual(rules(keyed), ['allow 10.0.0.0/8', 'allow 127.0.0.1:8000-8999', 'deny 0.0.0.0/0'])
    assert.equal(keyed.sources.network_policy.kind, 'file')
    const bare = load(tmp, 'version: v3\nnetwork_restrictions:\n  spec:\n    deny:\n      - cidr: 169.254.169.254\n')
    assert.deepEqual(rules(bare), ['deny 169.254.169.254'])
    assert.deepEqual(load(tmp, 'version: v3\nnetwork_restrictions:\n').config.network_policy, {rules: []})
  })

  it('rules of several blocks add up, duplicates once', (t) => {
    const tmp = configDir(t)
    const text = `version: v3\nnetwork_restrictions:\n  spec:\n    deny: [{cidr: 10.1.0.0/16}]\n---\n${RESOURCE}---\n${RESOURCE}`
    assert.deepEqual(rules(load(tmp, text)), ['deny 10.1.0.0/16', 'allow 10.0.0.0/8', 'allow 127.0.0.1:8000-8999', 'deny 0.0.0.0/0'])
  })
})

describe('a bad policy in a file: one message with file:line:col', () => {
  const many = (n: number) => Array.from({length: n}, (_, i) => `    - 10.0.${i >> 8}.${i & 0xff}`).join('\n')
  const cases: Array<{name: string; text: string; message: string}> = [
    {
      name: 'host bits in a block list',
      text: 'network_policy:\n  allow:\n    - 10.0.0.0/8:443\n    - 10.0.0.1/8\n',
      message: '4:7: network_policy.allow[1] "10.0.0.1/8": host bits are set beyond /8 (the network is 10.0.0.0/8)',
    },
    {
      name: 'bad port in a flow list',
      text: 'network_policy: {deny: [10.0.0.0/8, "[::1]:0-53"]}\n',
      message: '1:37: network_policy.deny[1] "[::1]:0-53": port 0 of the range 0-53 is not from 1 to 65535',
    },
    {
      name: 'a number where a rule belongs',
      text: 'network_policy:\n  deny:\n    - 443\n',
      message: '3:7: network_policy.deny[0] "443": not an IPv4 address: four numbers from 0 to 255 separated by dots, like 10.0.0.1',
    },
    {
      name: 'a mapping where a rule belongs',
      text: 'network_policy:\n  deny:\n    - {cidr: 10.0.0.0/8}\n',
      message: '3:7: network_policy.deny[0] must be a rule (CIDR, CIDR:PORT or CIDR:PORT-PORT, IPv6 in brackets before a port), got a mapping',
    },
    {
      name: 'an empty item',
      text: 'network_policy:\n  deny:\n    -\n    - 10.0.0.0/8\n',
      message: '3:6: network_policy.deny[0] must be a rule (CIDR, CIDR:PORT or CIDR:PORT-PORT, IPv6 in brackets before a port), got nothing',
    },
    {
      name: 'network_policy not a mapping',
      text: 'network_policy: [10.0.0.0/8]\n',
      message: '1:17: network_policy must be a mapping with allow and deny lists of rules, got a list',
    },
    {
      name: 'a list that is not a list',
      text: 'network_policy:\n  allow: 10.0.0.0/8\n',
      message: '2:10: network_policy.allow must be a list of rules, got "10.0.0.0/8"',
    },
    {name: 'a misspelt list', text: 'network_policy:\n  alow: [10.0.0.0/8]\n', message: '2:3: unknown key "alow" in network_policy: did you mean "allow"?'},
    {
      name: 'the 129th rule',
      text: `network_policy:\n  allow:\n${many(100)}\n  deny:\n${many(29)}\n`,
      message: '132:7: network_policy.deny[28] is one rule too many: at most 128 network rules in all (allow and deny together)',
    },
    {
      name: "Teleport's key in er-shell's file",
      text: 'data_dir: /x\nnetwork_restrictions:\n  spec: {}\n',
      message: `2:1: network_restrictions is for a teleport.yaml (Teleport's resource shape); er-shell's own file has network_policy: {allow: [...], deny: [...]}`,
    },
    {
      name: "er-shell's key in a teleport.yaml (it would be ignored, leaving no policy)",
      text: 'version: v3\nteleport: {}\nnetwork_policy:\n  deny: [10.0.0.0/8]\n',
      message: "3:1: network_policy is er-shell's own key; a teleport.yaml takes the network_restrictions resource shape",
    },
    {
      name: 'bad CIDR in a resource document',
      text: `${TELEPORT_YAML}---\nkind: network_restrictions\nversion: v1\nspec:\n  deny:\n  - cidr: 0.0.0.0/33\n`,
      message: `${TELEPORT_YAML.split('\n').length + 5}:11: network_restrictions.spec.deny[0].cidr "0.0.0.0/33": /33 is longer than an IPv4 address: the prefix length is at most 32`,
    },
    {
      name: 'bad CIDR under the network_restrictions key',
      text: 'version: v3\nnetwork_restrictions:\n  spec:\n    allow:\n      - cidr: 10.0.0.0/8\n      - cidr: "2001:db8::1/32"\n',
      message: '6:15: network_restrictions.spec.allow[1].cidr "2001:db8::1/32": host bits are set beyond /32 (the network is 2001:db8::/32)',
    },
    {
      name: 'another resource kind',
      text: 'kind: role\nversion: v7\nspec: {}\n',
      message: '1:7: kind must be network_restrictions (the one Teleport resource er-shell reads), got "role"',
    },
    {
      name: 'a wrong kind under the key',
      text: 'version: v3\nnetwork_restrictions:\n  kind: role\n',
      message: '3:9: network_restrictions.kind must be network_restrictions, got "role"',
    },
    {
      name: 'resource version',
      text: 'kind: network_restrictions\nversion: v2\nspec: {}\n',
      message: '2:10: network_restrictions.version must be v1, got "v2"',
    },
    {
      name: 'unknown resource key',
      text: 'kind: network_restrictions\nspecs: {}\n',
      message: '2:1: unknown key "specs" in network_restrictions resource: did you mean "spec"?',
    },
    {
      name: 'metadata not a mapping',
      text: 'kind: network_restrictions\nmetadata: network-restrictions\n',
      message: '2:11: network_restrictions.metadata must be a mapping, got "network-restrictions"',
    },
    {
      name: 'spec not a mapping',
      text: 'kind: network_restrictions\nspec: [10.0.0.0/8]\n',
      message: '2:7: network_restrictions.spec must be a mapping, got a list',
    },
    {
      name: "a bare rule where Teleport's {cidr: …} belongs",
      text: 'kind: network_restrictions\nspec:\n  allow:\n    - 10.0.0.0/8\n',
      message: '4:7: network_restrictions.spec.allow[0] must be a mapping with a cidr, like {cidr: 10.0.0.0/8}, got "10.0.0.0/8"',
    },
    {
      name: 'a condition without cidr',
      text: 'kind: network_restrictions\nspec:\n  allow:\n    - {}\n',
      message: '4:7: network_restrictions.spec.allow[0] has no cidr',
    },
    {
      name: 'an unknown field beside cidr',
      text: 'kind: network_restrictions\nspec:\n  deny:\n    - {cidr: 10.0.0.0/8, port: 22}\n',
      message: '4:26: unknown key "port" in network_restrictions.spec.deny[0]: expected one of cidr',
    },
    {
      name: 'an unknown list in spec',
      text: 'kind: network_restrictions\nspec:\n  block: []\n',
      message: '3:3: unknown key "block" in network_restrictions.spec: expected one of allow, deny',
    },
    {
      name: 'a second settings document after a resource',
      text: `${RESOURCE}---\ndata_dir: /a\n---\ndata_dir: /b\n`,
      message: '14:1: a second document of settings: a file holds one, and besides it only kind: network_restrictions documents',
    },
  ]
  for (const {name, text, message} of cases) {
    it(name, (t) => {
      const tmp = configDir(t)
      const file = tmp.write('config.yaml', text)
      refuses(() => resolveConfig(isolated(tmp, {configFile: file})), `${file}:${message}`)
    })
  }

  it('the error carries the setting and position', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'network_policy:\n  deny: [example.com]\n')
    assert.throws(
      () => resolveConfig(isolated(tmp, {configFile: file})),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.deepEqual([error.setting, error.file, error.line, error.col], ['network_policy.deny[0]', file, 2, 10])
        return true
      },
    )
  })
})

describe('record --allow-net / --deny-net', () => {
  it("add to the file's rules, in order, and are named as sources", (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'network_policy:\n  deny: [10.1.0.0/16]\n')
    const resolved = loadConfig(
      {config: file, 'allow-net': ['10.0.0.0/8:443', '[::1]:8000-8999'], 'deny-net': ['10.1.0.0/16', '169.254.169.254']},
      isolated(tmp),
    )
    assert.deepEqual(rules(resolved), ['deny 10.1.0.0/16', 'allow 10.0.0.0/8:443', 'allow [::1]:8000-8999', 'deny 169.254.169.254'])
    assert.deepEqual(resolved.netPolicySources, [
      {kind: 'file', file, line: 2, col: 3, key: 'network_policy'},
      {kind: 'flag', name: '--allow-net'},
      {kind: 'flag', name: '--deny-net'},
    ])
    assert.deepEqual(resolved.sources.network_policy, resolved.netPolicySources[0])
  })

  it('without a file, the flags are the policy; without either, there is none', (t) => {
    const tmp = configDir(t)
    const resolved = loadConfig({'deny-net': ['::/0']}, isolated(tmp))
    assert.deepEqual(rules(resolved), ['deny ::/0'])
    assert.deepEqual(resolved.sources.network_policy, {kind: 'flag', name: '--deny-net'})
    const none = loadConfig({'allow-net': [], 'deny-net': undefined}, isolated(tmp))
    assert.deepEqual(none.config.network_policy, {rules: []})
    assert.deepEqual(none.netPolicySources, [])
  })

  it('a bad rule: one line naming the flag and the problem', (t) => {
    const tmp = configDir(t)
    refuses(
      () => loadConfig({'allow-net': ['10.0.0.0/8', '10.0.0.0/8:99999']}, isolated(tmp)),
      '--allow-net "10.0.0.0/8:99999": port 99999 is not from 1 to 65535',
    )
    refuses(
      () => loadConfig({'deny-net': ['2001:db8::/32:443']}, isolated(tmp)),
      '--deny-net "2001:db8::/32:443": an IPv6 address takes a port only in brackets: [2001:db8::/32]:443',
    )
    refuses(
      () => loadConfig({'deny-net': ['192.168.1.1/24']}, isolated(tmp)),
      '--deny-net "192.168.1.1/24": host bits are set beyond /24 (the network is 192.168.1.0/24)',
    )
  })

  it("more than 128 rules with the file's: the flag rule beyond is named", (t) => {
    const tmp = configDir(t)
    const list = (n: number, b: number) => Array.from({length: n}, (_, i) => `10.${b}.0.${i}`)
    const file = tmp.write('config.yaml', `network_policy:\n  allow: [${list(120, 0).join(', ')}]\n`)
    assert.equal(rules(loadConfig({config: file, 'deny-net': list(8, 1)}, isolated(tmp))).length, 128)
    refuses(
      () => loadConfig({config: file, 'allow-net': list(5, 2), 'deny-net': list(4, 1)}, isolated(tmp)),
      '--deny-net "10.1.0.3" is one rule too many: at most 128 network rules in all (allow and deny together)',
    )
  })

  it('a policy needs the network event kind: refused with one line that says where both came from', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'events: [command, disk]\nnetwork_policy:\n  deny: [10.0.0.0/8]\n')
    refuses(
      () => assertNetworkPolicyUsable(loadConfig({config: file, 'allow-net': ['10.0.0.0/8:443']}, isolated(tmp))),
      `the network policy (${file}:3:3 (network_policy), flag --allow-net) needs the network event kind, but events is command,disk (${file}:1:9 (events)): add network to events, or drop the rules`,
    )
    refuses(
      () => assertNetworkPolicyUsable(loadConfig({events: 'command', 'deny-net': ['::1']}, isolated(tmp))),
      'the network policy (flag --deny-net) needs the network event kind, but events is command (flag --events): add network to events, or drop the rules',
    )
    assertNetworkPolicyUsable(loadConfig({config: file, events: 'command,network'}, isolated(tmp)))
    assertNetworkPolicyUsable(loadConfig({events: 'command'}, isolated(tmp)))
  })

  it('--verbose lines show the policy and every source', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('config.yaml', 'network_policy:\n  allow: [10.0.0.0/8:443]\n')
    const lines = formatConfigSources(loadConfig({config: file, 'deny-net': ['10.1.0.0/16']}, isolated(tmp)))
    assert.ok(
      lines.includes(`network_policy = allow 10.0.0.0/8:443, deny 10.1.0.0/16; everything else denied (${file}:2:3 (network_policy), flag --deny-net)`),
      lines.join('\n'),
    )
    assert.ok(formatConfigSources(loadConfig({}, isolated(tmp))).includes('network_policy = none (everything allowed) (default)'))
  })
})

describe('the CLI refuses a bad policy before it starts anything', () => {
  /** Paths record would create; none may exist after a refused run. */
  function untouched(tmp: ConfigDir) {
    const paths = [join(tmp.dir, 'data'), join(tmp.dir, 'cgroup')]
    return {
      args: ['--data-dir', paths[0]!, '--cgroup-path', paths[1]!, '--root-path', '/policy-test', '--live', 'off'],
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

  it('a bad CIDR in the file: one line FILE:LINE:COL, exit status 2, nothing created', (t) => {
    const tmp = configDir(t)
    const file = tmp.write('policy.yaml', 'network_policy:\n  allow:\n    - 10.0.0.0/8:443\n    - 10.0.0.1/8\n')
    const {args, check} = untouched(tmp)
    const result = runCli(['record', '--config', file, ...args, '--', 'true'])
    oneLine(result, `${file}:4:7: network_policy.allow[1] "10.0.0.1/8": host bits are set beyond /8 (the network is 10.0.0.0/8)`)
    check()
  })

  it("a bad CIDR in a teleport.yaml's network_restrictions document: the same", (t) => {
    const tmp = configDir(t)
    const file = tmp.write('teleport.yaml', `${TELEPORT_YAML}---\nkind: network_restrictions\nversion: v1\nspec:\n  allow:\n  - cidr: 10.0.0.0/40\n`)
    const {args, check} = untouched(tmp)
    const result = runCli(['record', '--config', file, ...args, '-c', 'true'])
    const line = TELEPORT_YAML.split('\n').length + 5
    oneLine(
      result,
      `${file}:${line}:11: network_restrictions.spec.allow[0].cidr "10.0.0.0/40": /40 is longer than an IPv4 address: the prefix length is at most 32`,
    )
    check()
  })

  it('a bad flag value, and a policy with network events off: one line each', (t) => {
    const tmp = configDir(t)
    const {args, check} = untouched(tmp)
    oneLine(
      runCli(['record', ...args, '--allow-net', '10.0.0.0/8', '--allow-net', '10.0.0.0/8:0-80', '--', 'true']),
      '--allow-net "10.0.0.0/8:0-80": port 0 of the range 0-80 is not from 1 to 65535',
    )
    oneLine(
      runCli(['record', ...args, '--events', 'command', '--deny-net', '[::1]:53', '--', 'true']),
      'the network policy (flag --deny-net) needs the network event kind, but events is command (flag --events): add network to events, or drop the rules',
    )
    check()
  })

  it(
    'without privileges too: the policy is checked before them (as nobody)',
    {skip: process.geteuid?.() !== 0 && 'runs as nobody through setpriv, as root'},
    (t) => {
      const tmp = configDir(t)
      chmodSync(tmp.dir, 0o755)
      const file = tmp.write('policy.yaml', 'network_policy:\n  deny: ["[2001:db8::/32"]\n')
      chmodSync(file, 0o644)
      const {args, check} = untouched(tmp)
      oneLine(
        runCli(['record', '--config', file, ...args, '--', 'true'], {asNobody: true}),
        `${file}:2:10: network_policy.deny[0] "[2001:db8::/32": no "]" after the bracketed IPv6 address`,
      )
      oneLine(
        runCli(['record', ...args, '--deny-net', 'example.com', '--', 'true'], {asNobody: true}),
        '--deny-net "example.com": not an IP address: rules match addresses, not host names',
      )
      check()
    },
  )
})

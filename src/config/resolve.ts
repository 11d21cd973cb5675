// Resolves the configuration: flags > environment > config file > defaults, remembering each value's source.
import {hostname as osHostname} from 'node:os'
import {resolve as resolvePath} from 'node:path'
import {
  DISK_PRESET_PATTERNS,
  DiskPatternSet,
  TOO_MANY_DISK_PATTERNS,
  checkDiskPattern,
  checkDiskPreset,
  compileDiskFilter,
  describeDiskFilter,
  isDiskFilterActive,
  type CompiledDiskFilter,
  type DiskAction,
} from '../disk/filter.js'
import {ConfigError, RecordingDisabledError} from '../errors/index.js'
import {redactUri} from '../fleet/uri.js'
import {NetRuleSet, TOO_MANY_NET_RULES, checkNetRule, describePolicy, type NetAction} from '../network/policy.js'
import {CONFIG_FILE_ENV, envLayer, envValue, type Environment} from './env.js'
import {readConfigFile, type FileShape} from './file.js'
import {CONFIG_KEYS, DEFAULT_CONFIG_FILE, KEY_SPECS, defaultConfig, show, type ConfigKey, type ErShellConfig} from './schema.js'
import {describeSource, emptyLayer, setInLayer, type ConfigLayer, type ConfigSource} from './source.js'

/**
 * Keys a flag sets (`enabled` only comes from a file; rule flags add to `network_policy`, see
 * ConfigInput.netRules, and pattern flags to `disk_filter`, see ConfigInput.diskFilter).
 */
export type FlagSettableKey = Exclude<ConfigKey, 'enabled' | 'network_policy' | 'disk_filter'>

export interface ConfigInput {
  /** Flag values as typed, by config key, e.g. `{data_dir: './rec', events: 'command,disk'}`. Undefined = not given. */
  flags?: Partial<Record<FlagSettableKey, string | undefined>>
  /** `record --allow-net RULE` / `--deny-net RULE` as typed, in order: added to the file's network rules. */
  netRules?: {allow?: readonly string[]; deny?: readonly string[]}
  /** `record --disk-include/--disk-exclude PATTERN` and `--disk-preset NAME` as typed: added to the file's disk filter. */
  diskFilter?: {include?: readonly string[]; exclude?: readonly string[]; preset?: string}
  /** `--config FILE`; beats ER_SHELL_CONFIG, which beats DEFAULT_CONFIG_FILE. */
  configFile?: string
  /** Defaults to process.env. */
  env?: Environment
  /** Relative flag/environment paths are taken from here. Defaults to process.cwd(). */
  cwd?: string
  /** The file read when none is named, if it exists. Defaults to /etc/er-shell.yaml. */
  defaultConfigFile?: string
  /** The host name `nodename` (and so `cluster_name`) default to. Defaults to os.hostname(). */
  hostname?: string
}

export interface ResolvedConfig {
  config: ErShellConfig
  /** Where each value came from; for `network_policy`, the first of `netPolicySources`. */
  sources: Record<ConfigKey, ConfigSource>
  /** Every source that gave network rules: the file's first policy block, `--allow-net`, `--deny-net`. */
  netPolicySources: ConfigSource[]
  /** Every source that gave disk filter patterns: the file's block, `--disk-include`, `--disk-exclude`, `--disk-preset`. */
  diskFilterSources: ConfigSource[]
  /** The config file that was read, if any, its shape, and what named it. */
  file?: {path: string; shape: FileShape; namedBy: ConfigSource}
}

/**
 * Builds the configuration. Throws (all exit status 2): ConfigError for a bad value in a file (with
 * file:line:col), a flag or a variable; ConfigSyntaxError for a file that is not YAML; ConfigReadError for
 * a named file that cannot be read (a missing default file is fine). `enabled: false` is not an error
 * here — commands that record call assertRecordingEnabled.
 */
export function resolveConfig(input: ConfigInput = {}): ResolvedConfig {
  const env = input.env ?? process.env
  const cwd = input.cwd ?? process.cwd()
  const defaults = defaultConfig(input.hostname ?? osHostname())

  const flags = flagLayer(input.flags ?? {}, cwd)
  const environment = envLayer(env, cwd)
  const file = readChosenFile(input, env, cwd)

  const config = {...defaults, ...file?.layer.values, ...environment.values, ...flags.values}
  const sources = Object.fromEntries(CONFIG_KEYS.map((key) => [key, {kind: 'default'}])) as Record<ConfigKey, ConfigSource>
  Object.assign(sources, file?.layer.sources, environment.sources, flags.sources)
  if (sources.cluster_name.kind === 'default') {
    config.cluster_name = config.nodename
    sources.cluster_name = {kind: 'default', note: 'nodename'}
  }

  const netPolicySources: ConfigSource[] = sources.network_policy.kind === 'default' ? [] : [sources.network_policy]
  const netRules = new NetRuleSet()
  for (const rule of config.network_policy.rules) netRules.add(rule)
  for (const action of ['allow', 'deny'] as const) {
    const texts = input.netRules?.[action] ?? []
    if (texts.length === 0) continue
    const name = netRuleFlag(action)
    for (const text of texts) addFlagRule(netRules, text, action)
    netPolicySources.push({kind: 'flag', name})
  }
  config.network_policy = {rules: netRules.rules}
  sources.network_policy = netPolicySources[0] ?? {kind: 'default'}

  const diskFilterSources: ConfigSource[] = sources.disk_filter.kind === 'default' ? [] : [sources.disk_filter]
  const diskPatterns = new DiskPatternSet()
  for (const action of ['include', 'exclude'] as const) for (const pattern of config.disk_filter[action]) diskPatterns.add(action, pattern)
  for (const action of ['include', 'exclude'] as const) {
    const texts = input.diskFilter?.[action] ?? []
    if (texts.length === 0) continue
    const name = diskPatternFlag(action)
    for (const text of texts) addFlagPattern(diskPatterns, name, action, text)
    diskFilterSources.push({kind: 'flag', name})
  }
  const preset = input.diskFilter?.preset
  if (preset !== undefined) {
    const name = '--disk-preset'
    const checked = checkDiskPreset(preset)
    if (!checked.ok) throw new ConfigError({setting: name}, `${name} ${checked.problem}`)
    for (const pattern of DISK_PRESET_PATTERNS[checked.value]) {
      if (diskPatterns.add('exclude', pattern) === 'full') {
        throw new ConfigError({setting: name}, `${name} ${checked.value}'s pattern ${show(pattern)} ${TOO_MANY_DISK_PATTERNS}`)
      }
    }
    diskFilterSources.push({kind: 'flag', name})
  }
  config.disk_filter = diskPatterns.filter()
  sources.disk_filter = diskFilterSources[0] ?? {kind: 'default'}

  const resolved: ResolvedConfig = {config, sources, netPolicySources, diskFilterSources}
  if (file) resolved.file = {path: file.layer.file, shape: file.layer.shape, namedBy: file.namedBy}
  return resolved
}

/** For commands that record: throws RecordingDisabledError naming the line that says `enabled: false`. */
export function assertRecordingEnabled(resolved: ResolvedConfig): void {
  if (resolved.config.enabled) return
  const source = resolved.sources.enabled
  if (source.kind === 'file') throw new RecordingDisabledError(`${source.file}:${source.line}:${source.col}`, source.key)
  throw new RecordingDisabledError(describeSource(source), 'enabled')
}

/**
 * For `record`: a network policy is enforced by the same programs that record network events, and
 * its denied attempts are network events; refuses (ConfigError, one line) a policy with `network`
 * left out of `events`.
 */
export function assertNetworkPolicyUsable(resolved: ResolvedConfig): void {
  const {config} = resolved
  if (config.network_policy.rules.length === 0 || config.events.includes('network')) return
  const from = resolved.netPolicySources.map(describeSource).join(', ')
  throw new ConfigError(
    {setting: 'network_policy'},
    `the network policy (${from}) needs the network event kind, but events is ${config.events.join(',')} (${describeSource(resolved.sources.events)}): add network to events, or drop the rules`,
  )
}

/**
 * For `record`: disk patterns are matched by the programs that record disk events; refuses
 * (ConfigError, one line) a filter with `disk` left out of `events`, and a filter the kernel's
 * automaton has no room for. Returns the compiled automaton (undefined without patterns).
 */
export function assertDiskFilterUsable(resolved: ResolvedConfig): CompiledDiskFilter | undefined {
  const {config} = resolved
  if (!isDiskFilterActive(config.disk_filter)) return undefined
  if (!config.events.includes('disk')) {
    const from = resolved.diskFilterSources.map(describeSource).join(', ')
    throw new ConfigError(
      {setting: 'disk_filter'},
      `the disk filter (${from}) needs the disk event kind, but events is ${config.events.join(',')} (${describeSource(resolved.sources.events)}): add disk to events, or drop the patterns`,
    )
  }
  return compileDiskFilter(config.disk_filter)
}

/** The flag that adds patterns of `action`. */
export function diskPatternFlag(action: DiskAction): string {
  return action === 'include' ? '--disk-include' : '--disk-exclude'
}

function addFlagPattern(patterns: DiskPatternSet, name: string, action: DiskAction, text: string): void {
  const checked = checkDiskPattern(text)
  if (!checked.ok) throw new ConfigError({setting: name}, `${name} ${checked.problem}`)
  if (patterns.add(action, checked.value) === 'full') throw new ConfigError({setting: name}, `${name} ${show(text)} ${TOO_MANY_DISK_PATTERNS}`)
}

/** The flag that adds rules of `action`. */
export function netRuleFlag(action: NetAction): string {
  return action === 'allow' ? '--allow-net' : '--deny-net'
}

function addFlagRule(rules: NetRuleSet, text: string, action: NetAction): void {
  const name = netRuleFlag(action)
  const checked = checkNetRule(text, action)
  if (!checked.ok) throw new ConfigError({setting: name}, `${name} ${checked.problem}`)
  if (rules.add(checked.value) === 'full') throw new ConfigError({setting: name}, `${name} ${show(checked.value.text)} ${TOO_MANY_NET_RULES}`)
}

/** One line per key for `--verbose`: `command_buffer_size = 16 (/etc/teleport.yaml:9:26 (ssh_service…))`. */
export function formatConfigSources(resolved: ResolvedConfig): string[] {
  const lines = CONFIG_KEYS.map((key) => {
    if (key === 'network_policy') {
      const from = resolved.netPolicySources.length === 0 ? 'default' : resolved.netPolicySources.map(describeSource).join(', ')
      return `${key} = ${describePolicy(resolved.config.network_policy)} (${from})`
    }
    if (key === 'disk_filter') {
      const from = resolved.diskFilterSources.length === 0 ? 'default' : resolved.diskFilterSources.map(describeSource).join(', ')
      return `${key} = ${describeDiskFilter(resolved.config.disk_filter)} (${from})`
    }
    const value = key === 'audit_events_uri' ? resolved.config.audit_events_uri.map(redactUri) : resolved.config[key]
    return `${key} = ${JSON.stringify(value)} (${describeSource(resolved.sources[key])})`
  })
  const file = resolved.file
  lines.unshift(
    file === undefined
      ? 'config file: none'
      : `config file: ${file.path} (${file.shape === 'teleport' ? 'teleport.yaml' : 'er-shell'}, ${describeSource(file.namedBy)})`,
  )
  return lines
}

/** The `--name` of the flag that sets `key`. */
export function flagName(key: ConfigKey | 'config'): string {
  return `--${key.replaceAll('_', '-')}`
}

function flagLayer(flags: NonNullable<ConfigInput['flags']>, cwd: string): ConfigLayer {
  const layer = emptyLayer()
  for (const key of CONFIG_KEYS) {
    if (key === 'enabled' || key === 'network_policy' || key === 'disk_filter') continue
    const text = flags[key]
    const parse = KEY_SPECS[key].fromText
    if (text === undefined || parse === undefined) continue
    const name = flagName(key)
    const checked = parse(text, cwd)
    if (!checked.ok) throw new ConfigError({setting: name}, `${name} ${checked.problem}`)
    setInLayer(layer, key, checked.value as never, {kind: 'flag', name})
  }
  return layer
}

function readChosenFile(input: ConfigInput, env: Environment, cwd: string) {
  let named: {path: string; namedBy: ConfigSource} | undefined
  if (input.configFile !== undefined) {
    if (input.configFile === '') throw new ConfigError({setting: '--config'}, '--config must name a file, got ""')
    named = {path: resolvePath(cwd, input.configFile), namedBy: {kind: 'flag', name: '--config'}}
  } else {
    const fromEnv = envValue(env, CONFIG_FILE_ENV)
    if (fromEnv !== undefined) named = {path: resolvePath(cwd, fromEnv), namedBy: {kind: 'env', name: CONFIG_FILE_ENV}}
  }
  if (named) {
    const by = named.namedBy.kind === 'flag' || named.namedBy.kind === 'env' ? named.namedBy.name : 'default'
    const layer = readConfigFile(named.path, by)
    return layer && {layer, namedBy: named.namedBy}
  }
  const path = input.defaultConfigFile ?? DEFAULT_CONFIG_FILE
  const layer = readConfigFile(path, 'default', {optional: true})
  return layer && {layer, namedBy: {kind: 'default'} as ConfigSource}
}

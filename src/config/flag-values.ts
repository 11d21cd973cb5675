// Parsed configuration flag values to resolveConfig's input. Apart from flags.ts (the oclif flag
// definitions) so that code running before oclif is loaded (record's preload) can use it.
import {resolveConfig, type ConfigInput, type ResolvedConfig} from './resolve.js'

/**
 * The parsed values of configFlags (a command's parsed flags fit: extra keys are ignored). `live` is
 * read too, for commands that define their own `--live` flag.
 */
export interface ConfigFlagValues {
  config?: string
  'data-dir'?: string
  events?: string
  'cgroup-path'?: string
  'root-path'?: string
  'command-buffer-size'?: string
  'disk-buffer-size'?: string
  'network-buffer-size'?: string
  'cluster-name'?: string
  live?: string
  'audit-events-uri'?: string
  /** record's repeatable rule flags. */
  'allow-net'?: string[]
  'deny-net'?: string[]
  /** record's repeatable pattern flags, and its preset. */
  'disk-include'?: string[]
  'disk-exclude'?: string[]
  'disk-preset'?: string
}

/** Maps parsed flags to resolveConfig's input; `rest` supplies env/cwd/defaults (tests, mostly). */
export function configInputFromFlags(flags: ConfigFlagValues, rest: Omit<ConfigInput, 'flags' | 'configFile'> = {}): ConfigInput {
  return {
    ...rest,
    configFile: flags.config,
    flags: {
      data_dir: flags['data-dir'],
      events: flags.events,
      cgroup_path: flags['cgroup-path'],
      root_path: flags['root-path'],
      command_buffer_size: flags['command-buffer-size'],
      disk_buffer_size: flags['disk-buffer-size'],
      network_buffer_size: flags['network-buffer-size'],
      cluster_name: flags['cluster-name'],
      live: flags.live,
      // Only from the commands that have the flag (src/config/flags.ts storeFlags).
      ...(flags['audit-events-uri'] === undefined ? {} : {audit_events_uri: flags['audit-events-uri']}),
    },
    netRules: {allow: flags['allow-net'], deny: flags['deny-net']},
    diskFilter: {include: flags['disk-include'], exclude: flags['disk-exclude'], preset: flags['disk-preset']},
  }
}

/** `resolveConfig(configInputFromFlags(flags))`: what a command's run() calls. */
export function loadConfig(flags: ConfigFlagValues, rest: Omit<ConfigInput, 'flags' | 'configFile'> = {}): ResolvedConfig {
  return resolveConfig(configInputFromFlags(flags, rest))
}

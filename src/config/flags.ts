// The oclif flags every command takes for configuration, and their mapping to resolveConfig's input.
import {Flags} from '@oclif/core'
import {DEFAULT_CONFIG_FILE, MAX_BUFFER_PAGES} from './schema.js'
import {resolveConfig, type ConfigInput, type ResolvedConfig} from './resolve.js'

const group = 'CONFIGURATION'

/**
 * Spread into a command's `static flags`. Values stay strings here: resolveConfig checks them so a bad
 * value gets the same one-line message (naming the flag) as a bad file or environment value.
 */
export const configFlags = {
  config: Flags.string({
    description: `Configuration file: er-shell's own YAML or a Teleport teleport.yaml (default ${DEFAULT_CONFIG_FILE} if it exists; env ER_SHELL_CONFIG).`,
    helpValue: '<file>',
    helpGroup: group,
  }),
  'data-dir': Flags.string({
    description: 'Directory holding recordings and the audit log (env ER_SHELL_DATA_DIR; default /var/lib/er-shell).',
    helpValue: '<dir>',
    helpGroup: group,
  }),
  events: Flags.string({
    description: 'Event kinds to record, comma-separated from command, disk, network (env ER_SHELL_EVENTS; default command,network).',
    helpValue: '<kinds>',
    helpGroup: group,
  }),
  'cgroup-path': Flags.string({
    description: 'Where the cgroup v2 hierarchy is mounted, or gets mounted (env ER_SHELL_CGROUP_PATH; default /cgroup2).',
    helpValue: '<dir>',
    helpGroup: group,
  }),
  'root-path': Flags.string({
    description: 'Cgroup below --cgroup-path that holds session cgroups (env ER_SHELL_ROOT_PATH; default /teleport).',
    helpValue: '<path>',
    helpGroup: group,
  }),
  'command-buffer-size': Flags.string({
    description: `Command event ring buffer in pages, a power of two up to ${MAX_BUFFER_PAGES} (env ER_SHELL_COMMAND_BUFFER_SIZE; default 8).`,
    helpValue: '<pages>',
    helpGroup: group,
  }),
  'disk-buffer-size': Flags.string({
    description: `Disk event ring buffer in pages, a power of two up to ${MAX_BUFFER_PAGES} (env ER_SHELL_DISK_BUFFER_SIZE; default 128).`,
    helpValue: '<pages>',
    helpGroup: group,
  }),
  'network-buffer-size': Flags.string({
    description: `Network event ring buffer in pages, a power of two up to ${MAX_BUFFER_PAGES} (env ER_SHELL_NETWORK_BUFFER_SIZE; default 8).`,
    helpValue: '<pages>',
    helpGroup: group,
  }),
  'cluster-name': Flags.string({
    description: 'Cluster name written into every event (env ER_SHELL_CLUSTER_NAME; default the host name).',
    helpValue: '<name>',
    helpGroup: group,
  }),
}

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
    },
  }
}

/** `resolveConfig(configInputFromFlags(flags))`: what a command's run() calls. */
export function loadConfig(flags: ConfigFlagValues, rest: Omit<ConfigInput, 'flags' | 'configFile'> = {}): ResolvedConfig {
  return resolveConfig(configInputFromFlags(flags, rest))
}

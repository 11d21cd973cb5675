// The oclif flags every command takes for configuration, and their mapping to resolveConfig's input.
import {Flags} from '../cli/oclif.js'
import {DEFAULT_CONFIG_FILE, MAX_BUFFER_PAGES} from './schema.js'

export {configInputFromFlags, loadConfig, type ConfigFlagValues} from './flag-values.js'

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
 * The fleet store's flag, for the commands that use a store (ship, sessions, events, replay); not
 * in configFlags, which `record` spreads whole.
 */
export const storeFlags = {
  'audit-events-uri': Flags.string({
    description:
      'The fleet store: a postgres:// URI (libpq options after ?, er-shell options after #) (env ER_SHELL_AUDIT_EVENTS_URI; config audit_events_uri; default none: this host only).',
    helpValue: '<uri>',
    helpGroup: group,
  }),
}

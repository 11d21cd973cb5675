// The ER_SHELL_* environment variables and the layer they make.
import {ConfigError} from '../errors/index.js'
import {KEY_SPECS, type ConfigKey} from './schema.js'
import {emptyLayer, setInLayer, type ConfigLayer} from './source.js'

/**
 * Environment variables, between flags and the config file in precedence. An empty value counts as unset.
 * Relative paths are taken relative to the current directory.
 *
 * | variable                       | sets                  | example                    |
 * |--------------------------------|-----------------------|----------------------------|
 * | `ER_SHELL_CONFIG`              | the config file       | `/etc/teleport.yaml`       |
 * | `ER_SHELL_DATA_DIR`            | `data_dir`            | `/srv/er-shell`            |
 * | `ER_SHELL_CGROUP_PATH`         | `cgroup_path`         | `/sys/fs/cgroup`           |
 * | `ER_SHELL_ROOT_PATH`           | `root_path`           | `/er-shell`                |
 * | `ER_SHELL_COMMAND_BUFFER_SIZE` | `command_buffer_size` | `16` (pages)               |
 * | `ER_SHELL_DISK_BUFFER_SIZE`    | `disk_buffer_size`    | `256` (pages)              |
 * | `ER_SHELL_NETWORK_BUFFER_SIZE` | `network_buffer_size` | `16` (pages)               |
 * | `ER_SHELL_EVENTS`              | `events`              | `command,disk,network`     |
 * | `ER_SHELL_CLUSTER_NAME`        | `cluster_name`        | `prod-east`                |
 * | `ER_SHELL_NODENAME`            | `nodename`            | `db-7`                     |
 * | `ER_SHELL_LIVE`                | `live`                | `off`, `stderr`, `/tmp/l`  |
 * | `ER_SHELL_AUDIT_EVENTS_URI`    | `audit_events_uri`    | `postgres://er@db/audit`   |
 *
 * `enabled` has no variable: only the file an administrator wrote can turn recording off, and no
 * variable can turn it back on behind that file.
 */
export const CONFIG_FILE_ENV = 'ER_SHELL_CONFIG'

export const CONFIG_ENV: ReadonlyArray<{name: string; key: Exclude<ConfigKey, 'enabled'>}> = [
  {name: 'ER_SHELL_DATA_DIR', key: 'data_dir'},
  {name: 'ER_SHELL_CGROUP_PATH', key: 'cgroup_path'},
  {name: 'ER_SHELL_ROOT_PATH', key: 'root_path'},
  {name: 'ER_SHELL_COMMAND_BUFFER_SIZE', key: 'command_buffer_size'},
  {name: 'ER_SHELL_DISK_BUFFER_SIZE', key: 'disk_buffer_size'},
  {name: 'ER_SHELL_NETWORK_BUFFER_SIZE', key: 'network_buffer_size'},
  {name: 'ER_SHELL_EVENTS', key: 'events'},
  {name: 'ER_SHELL_CLUSTER_NAME', key: 'cluster_name'},
  {name: 'ER_SHELL_NODENAME', key: 'nodename'},
  {name: 'ER_SHELL_LIVE', key: 'live'},
  {name: 'ER_SHELL_AUDIT_EVENTS_URI', key: 'audit_events_uri'},
]

export type Environment = Readonly<Record<string, string | undefined>>

/** The value of `name`, or undefined when it is unset or empty. */
export function envValue(env: Environment, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}

/** Checks every ER_SHELL_* variable that is set; the first bad one throws a ConfigError naming it. */
export function envLayer(env: Environment, cwd: string): ConfigLayer {
  const layer = emptyLayer()
  for (const {name, key} of CONFIG_ENV) {
    const text = envValue(env, name)
    if (text === undefined) continue
    const parse = KEY_SPECS[key].fromText
    if (parse === undefined) continue
    const checked = parse(text, cwd)
    if (!checked.ok) throw new ConfigError({setting: name}, `${name} ${checked.problem}`)
    setInLayer(layer, key, checked.value as never, {kind: 'env', name})
  }
  return layer
}

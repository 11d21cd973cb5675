// Where a configuration value came from, and one partial layer of values (file, environment or flags).
import type {ConfigKey, ErShellConfig} from './schema.js'

export type ConfigSource =
  | {kind: 'default'; /** Why, when the default is derived (e.g. "nodename"). */ note?: string}
  /** `key` is the setting as written in the file, e.g. `ssh_service.enhanced_recording.root_path`. */
  | {kind: 'file'; file: string; line: number; col: number; key: string}
  | {kind: 'env'; name: string}
  | {kind: 'flag'; name: string}

/** Values one source sets, and where each came from. Keys it does not set are absent. */
export interface ConfigLayer {
  values: Partial<ErShellConfig>
  sources: Partial<Record<ConfigKey, ConfigSource>>
}

export function emptyLayer(): ConfigLayer {
  return {values: {}, sources: {}}
}

export function setInLayer<K extends ConfigKey>(layer: ConfigLayer, key: K, value: ErShellConfig[K], source: ConfigSource): void {
  layer.values[key] = value
  layer.sources[key] = source
}

/** One short phrase for `--verbose`: `default`, `/etc/er-shell.yaml:3:1 (data_dir)`, `ER_SHELL_EVENTS`, `--events`. */
export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'default':
      return source.note === undefined ? 'default' : `default: ${source.note}`
    case 'file':
      return `${source.file}:${source.line}:${source.col} (${source.key})`
    case 'env':
      return `environment ${source.name}`
    case 'flag':
      return `flag ${source.name}`
  }
}

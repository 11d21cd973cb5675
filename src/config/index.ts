// Configuration: resolve flags, ER_SHELL_* variables, er-shell.yaml / teleport.yaml and defaults into one typed object.
export {configFlags, storeFlags, configInputFromFlags, loadConfig, type ConfigFlagValues} from './flags.js'
export {CONFIG_ENV, CONFIG_FILE_ENV, type Environment} from './env.js'
export {parseConfigText, readConfigFile, type FileLayer, type FileShape} from './file.js'
export {FALLBACK_PAGE_SIZE, pagesToBytes, ringBufferBytes, sharedRingBytes, systemPageSize} from './page-size.js'
export {
  assertDiskFilterUsable,
  assertNetworkPolicyUsable,
  diskPatternFlag,
  assertRecordingEnabled,
  flagName,
  netRuleFlag,
  formatConfigSources,
  resolveConfig,
  type ConfigInput,
  type FlagSettableKey,
  type ResolvedConfig,
} from './resolve.js'
export {
  CONFIG_KEYS,
  DEFAULT_CONFIG_FILE,
  EVENT_KINDS,
  MAX_BUFFER_PAGES,
  defaultConfig,
  type ConfigKey,
  type ErShellConfig,
  type EventKind,
  type LiveTarget,
} from './schema.js'
export {describeSource, type ConfigSource} from './source.js'

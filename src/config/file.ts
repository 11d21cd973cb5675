// Reads a YAML config file — er-shell's own or a Teleport teleport.yaml — into a checked layer with positions.
import {closeSync, constants as fsc, fstatSync, openSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import type {Document, Node, YAMLMap} from 'yaml'
import {DiskPatternSet, TOO_MANY_DISK_PATTERNS, checkDiskPattern, checkDiskPreset, DISK_PRESET_PATTERNS, type DiskAction} from '../disk/filter.js'
import {ConfigError, ConfigReadError, ConfigSyntaxError, UnsafeConfigFileError} from '../errors/index.js'
import {NetRuleSet, TOO_MANY_NET_RULES, checkNetRule, type NetAction} from '../network/policy.js'
import {untrustedAncestor} from '../storage/trusted-path.js'
import {isPostgresUri} from '../fleet/uri.js'
import {CONFIG_KEYS, EXPECTED, KEY_SPECS, checkEnvName, checkStoreUri, checkEventKinds, isEventKind, show, type ConfigKey, type EventKind} from './schema.js'
import {emptyLayer, setInLayer, type ConfigLayer, type ConfigSource} from './source.js'

/**
 * The YAML library, loaded on first use: it takes ~20 ms to load, and most runs (every `record`
 * without a config file) never parse YAML.
 */
let yamlLibrary: typeof import('yaml') | undefined
function yaml(): typeof import('yaml') {
  yamlLibrary ??= createRequire(import.meta.url)('yaml') as typeof import('yaml')
  return yamlLibrary
}

/**
 * `er-shell`: flat keys (CONFIG_KEYS) and an optional `version: v1`.
 * `teleport`: a teleport.yaml; only the parts er-shell reads are checked, everything else is ignored.
 * Either may be followed (or preceded) by YAML documents of Teleport's `kind: network_restrictions`
 * resource; a file of such documents alone is of the `teleport` shape.
 */
export type FileShape = 'er-shell' | 'teleport'

export interface FileLayer extends ConfigLayer {
  file: string
  shape: FileShape
}

/** Top-level sections that only a teleport.yaml has; any of them (or `version: v2|v3`) means that shape. */
const TELEPORT_SECTIONS = new Set([
  'teleport',
  'ssh_service',
  'auth_service',
  'proxy_service',
  'app_service',
  'db_service',
  'kubernetes_service',
  'windows_desktop_service',
  'discovery_service',
  'jamf_service',
  'okta_service',
])

/** The keys of teleport.yaml's `ssh_service.enhanced_recording` block (Teleport's BPF config). */
const ENHANCED_RECORDING_KEYS = [
  'enabled',
  'command_buffer_size',
  'disk_buffer_size',
  'network_buffer_size',
  'cgroup_path',
  'root_path',
] as const satisfies readonly ConfigKey[]

const ER_SHELL_KEYS = ['version', ...CONFIG_KEYS]

/** The keys of Teleport's network_restrictions resource, and of its `spec`. */
const RESTRICTIONS_KEYS = ['kind', 'version', 'metadata', 'spec']
const ACTIONS: readonly NetAction[] = ['allow', 'deny']

/** The keys of a `disk_filter` block. */
const DISK_FILTER_KEYS = ['include', 'exclude', 'preset']
/** Where a teleport.yaml takes the disk filter (an er-shell extension of Teleport's block). */
const TELEPORT_DISK_FILTER = 'ssh_service.enhanced_recording.disk_filter'

/**
 * Reads and checks `file` (an absolute path). `namedBy` is for the read error: `--config`, a variable, or
 * `default`. With `optional`, a file that does not exist gives undefined instead of an error. As root,
 * the file and the directories above it must be root's (UnsafeConfigFileError otherwise).
 */
export function readConfigFile(file: string, namedBy: string, options: {optional?: boolean} = {}): FileLayer | undefined {
  const asRoot = process.geteuid?.() === 0
  if (asRoot) {
    const unsafe = untrustedAncestor(file)
    if (unsafe) throw new UnsafeConfigFileError(file, namedBy, `${unsafe.path} ${unsafe.problem} (another user could replace the file)`)
  }
  let text: string
  try {
    // Non-blocking: a FIFO named as the config file is refused below, not waited on.
    const fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY)
    try {
      if (asRoot) checkOwnership(fd, file, namedBy)
      text = readFileSync(fd, 'utf8')
    } finally {
      closeSync(fd)
    }
  } catch (error) {
    if (error instanceof UnsafeConfigFileError) throw error
    if (options.optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigReadError(file, namedBy, error)
  }
  return parseConfigText(text, file)
}

/**
 * As root, the config file must be a regular file that root owns and no one else may write, like
 * sshd_config under StrictModes: it decides where root writes (data_dir, live) and whether it
 * records at all (`enabled: false`).
 */
function checkOwnership(fd: number, file: string, namedBy: string): void {
  const st = fstatSync(fd)
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0')
  if (st.isDirectory()) return // read fails with EISDIR: ConfigReadError says so
  if (!st.isFile()) throw new UnsafeConfigFileError(file, namedBy, 'it is not a regular file')
  if (st.uid !== 0) throw new UnsafeConfigFileError(file, namedBy, `it is owned by uid ${st.uid}, not by root`)
  if ((st.mode & 0o022) !== 0) {
    const who = (st.mode & 0o002) !== 0 ? 'every user' : `group ${st.gid}`
    throw new UnsafeConfigFileError(file, namedBy, `it is writable by ${who} (mode ${mode}): chmod go-w it`)
  }
}

/**
 * Parses config text; `file` is only used in messages and sources. YAML 1.1 scalars are used, as Teleport's
 * Go parser does, so `enabled: yes` means true in both shapes. A key with no value (null) leaves the default.
 */
export function parseConfigText(text: string, file: string): FileLayer {
  return new FileReader(text, file).read()
}

class FileReader {
  private readonly lines = new (yaml().LineCounter)()
  private readonly docs: Document.Parsed[]
  /** The document being read: aliases resolve within it. */
  private doc: Document.Parsed | undefined
  private readonly layer: FileLayer
  /** Network rules of every policy block in the file, and where the first block is. */
  private readonly netRules = new NetRuleSet()
  private netSource: ConfigSource | undefined
  /** The disk filter's patterns (presets expanded), and where its block is. */
  private readonly diskPatterns = new DiskPatternSet()
  private diskSource: ConfigSource | undefined

  constructor(
    text: string,
    private readonly file: string,
  ) {
    this.docs = yaml().parseAllDocuments(text, {lineCounter: this.lines, version: '1.1', prettyErrors: false, uniqueKeys: true}) as Document.Parsed[]
    this.layer = {...emptyLayer(), file, shape: 'er-shell'}
  }

  read(): FileLayer {
    for (const doc of this.docs) {
      const [syntax] = doc.errors
      if (syntax === undefined) continue
      const {line, col} = this.lines.linePos(syntax.pos[0])
      throw new ConfigSyntaxError(this.file, line, col, syntax.message.replace(/\s*\n\s*/g, ' '), syntax)
    }
    let settings = false
    let resources = false
    for (const doc of this.docs) {
      this.doc = doc
      const root = this.deref(doc.contents)
      if (root === null || (yaml().isScalar(root) && root.value === null)) continue
      if (!yaml().isMap(root)) throw this.error(root, 'config', `the file must be a mapping of settings, got ${this.kind(root)}`)
      const top = this.entries(root)
      if (top.has('kind')) {
        this.readRestrictions(top, 'network_restrictions', true)
        resources = true
        continue
      }
      if (settings) {
        throw this.error(root, 'config', 'a second document of settings: a file holds one, and besides it only kind: network_restrictions documents')
      }
      settings = true
      this.readSettings(top)
    }
    if (resources && !settings) this.layer.shape = 'teleport'
    if (this.netSource) setInLayer(this.layer, 'network_policy', {rules: this.netRules.rules}, this.netSource)
    if (this.diskSource) setInLayer(this.layer, 'disk_filter', this.diskPatterns.filter(), this.diskSource)
    return this.layer
  }

  /** One document of settings: er-shell's own, or a teleport.yaml. */
  private readSettings(top: Map<string, Entry>): void {
    const version = top.get('version')?.value
    const versionText = version && yaml().isScalar(version) ? version.value : undefined
    const teleport = [...top.keys()].some((key) => TELEPORT_SECTIONS.has(key)) || versionText === 'v2' || versionText === 'v3'
    if (teleport) this.readTeleport(top)
    else this.readErShell(top)
  }

  private readErShell(top: Map<string, Entry>): void {
    this.layer.shape = 'er-shell'
    for (const [name, {key, value}] of top) {
      if (name === 'network_restrictions') {
        throw this.error(
          key,
          name,
          "network_restrictions is for a teleport.yaml (Teleport's resource shape); er-shell's own file has network_policy: {allow: [...], deny: [...]}",
        )
      }
      if (!ER_SHELL_KEYS.includes(name)) throw this.unknownKey(key, name, ER_SHELL_KEYS, 'er-shell config')
      if (name === 'network_policy') {
        this.readNetworkPolicy(value)
        continue
      }
      if (name === 'disk_filter') {
        this.readDiskFilter(value, name)
        continue
      }
      if (name === 'version') {
        if (value !== null && !(yaml().isScalar(value) && (value.value === 'v1' || value.value === null))) {
          throw this.error(value, 'version', `version must be v1 (or v3 in a teleport.yaml), got ${this.got(value)}`)
        }
        continue
      }
      this.set(name as ConfigKey, name, value)
    }
  }

  private readTeleport(top: Map<string, Entry>): void {
    this.layer.shape = 'teleport'
    const version = top.get('version')?.value
    if (version && !(yaml().isScalar(version) && ['v1', 'v2', 'v3', null].includes(version.value as string | null))) {
      throw this.error(version, 'version', `version must be v1, v2 or v3 in a teleport.yaml, got ${this.got(version)}`)
    }

    const teleport = this.section(top, 'teleport', 'teleport')
    if (teleport) {
      const dataDir = teleport.get('data_dir')
      if (dataDir) this.set('data_dir', 'teleport.data_dir', dataDir.value)
      const nodename = teleport.get('nodename')
      if (nodename) this.set('nodename', 'teleport.nodename', nodename.value)
      const storage = this.section(teleport, 'storage', 'teleport.storage')
      const uris = storage?.get('audit_events_uri')
      // A single URI of another kind (file://, dynamodb://…) is Teleport's own sink: not er-shell's.
      const single = uris?.value && yaml().isScalar(uris.value) ? uris.value.value : undefined
      if (uris && !(typeof single === 'string' && !isPostgresUri(single))) this.set('audit_events_uri', 'teleport.storage.audit_events_uri', uris.value)
    }

    const policy = top.get('network_policy')
    if (policy) {
      // Ignored like any key Teleport does not know, it would leave the session without the policy it asks for.
      throw this.error(policy.key, 'network_policy', "network_policy is er-shell's own key; a teleport.yaml takes the network_restrictions resource shape")
    }
    const diskFilter = top.get('disk_filter')
    if (diskFilter) {
      throw this.error(diskFilter.key, 'disk_filter', `disk_filter goes under ssh_service.enhanced_recording in a teleport.yaml (${TELEPORT_DISK_FILTER})`)
    }
    const restrictions = this.section(top, 'network_restrictions', 'network_restrictions')
    if (restrictions) this.readRestrictions(restrictions, 'network_restrictions', false)

    const auth = this.section(top, 'auth_service', 'auth_service')
    const clusterName = auth?.get('cluster_name')
    if (clusterName) this.set('cluster_name', 'auth_service.cluster_name', clusterName.value)

    const ssh = this.section(top, 'ssh_service', 'ssh_service')
    const recording = ssh && this.section(ssh, 'enhanced_recording', 'ssh_service.enhanced_recording')
    if (!recording) return
    const allowed: readonly string[] = ENHANCED_RECORDING_KEYS
    for (const [name, {key, value}] of recording) {
      if (name === 'disk_filter') {
        this.readDiskFilter(value, TELEPORT_DISK_FILTER)
        continue
      }
      if (!allowed.includes(name)) throw this.unknownKey(key, name, [...allowed, 'disk_filter'], 'ssh_service.enhanced_recording')
      this.set(name as ConfigKey, `ssh_service.enhanced_recording.${name}`, value)
    }
  }

  /**
   * `disk_filter: {include: [PATTERN...], exclude: [PATTERN...], preset: quiet}`; any part may be
   * missing or empty. The preset's patterns are added to the excludes where `preset` is.
   */
  private readDiskFilter(value: Node | null, setting: string): void {
    if (value === null || (yaml().isScalar(value) && value.value === null)) return
    if (!yaml().isMap(value)) throw this.error(value, setting, `${setting} ${EXPECTED.diskFilter}, got ${this.got(value)}`)
    if (!this.diskSource) {
      const {line, col} = this.pos(value)
      this.diskSource = {kind: 'file', file: this.file, line, col, key: setting}
    }
    for (const [name, {key, value: item}] of this.entries(value)) {
      if (name === 'preset') {
        if (item === null || (yaml().isScalar(item) && item.value === null)) continue
        const checked = checkDiskPreset(yaml().isScalar(item) ? item.value : this.plain(item))
        if (!checked.ok) throw this.error(item, `${setting}.preset`, `${setting}.preset ${checked.problem}`)
        for (const pattern of DISK_PRESET_PATTERNS[checked.value]) this.addDiskPattern(item, `${setting}.preset`, 'exclude', pattern)
        continue
      }
      if (name !== 'include' && name !== 'exclude') throw this.unknownKey(key, name, DISK_FILTER_KEYS, setting)
      const at = `${setting}.${name}`
      if (item === null || (yaml().isScalar(item) && item.value === null)) continue
      if (!yaml().isSeq(item)) throw this.error(item, at, `${at} must be a list of patterns, got ${this.got(item)}`)
      item.items.forEach((raw, index) => {
        const node = this.deref(raw as Node | null)
        if (node && yaml().isAlias(node)) {
          // A plain *.so is a YAML alias (to an anchor named ".so"), which no anchor answers.
          throw this.error(node, `${at}[${index}]`, `${at}[${index}] *${node.source} is a YAML alias, not a pattern: quote it, "*${node.source}"`)
        }
        const checked = checkDiskPattern(node && yaml().isScalar(node) ? node.value : this.plain(node))
        if (!checked.ok) throw this.error(node ?? item, `${at}[${index}]`, `${at}[${index}] ${checked.problem}`)
        this.addDiskPattern(node ?? item, `${at}[${index}]`, name, checked.value)
      })
    }
  }

  private addDiskPattern(node: Node, setting: string, action: DiskAction, pattern: string): void {
    if (this.diskPatterns.add(action, pattern) === 'full') {
      const what = setting.endsWith('.preset') ? `${setting}'s pattern ${show(pattern)}` : setting
      throw this.error(node, setting, `${what} ${TOO_MANY_DISK_PATTERNS}`)
    }
  }

  /** er-shell's `network_policy: {allow: [RULE...], deny: [RULE...]}`; either list may be missing or empty. */
  private readNetworkPolicy(value: Node | null): void {
    const setting = 'network_policy'
    if (value === null || (yaml().isScalar(value) && value.value === null)) return
    if (!yaml().isMap(value)) throw this.error(value, setting, `${setting} ${EXPECTED.netPolicy}, got ${this.got(value)}`)
    this.noteNetPolicy(value, setting)
    for (const [name, {key, value: list}] of this.entries(value)) {
      if (!isAction(name)) throw this.unknownKey(key, name, ACTIONS, setting)
      for (const [index, item] of this.ruleList(list, `${setting}.${name}`)) this.addRule(item, `${setting}.${name}[${index}]`, name)
    }
  }

  /**
   * Teleport's network_restrictions resource: `kind: network_restrictions`, `version: v1`, `metadata`,
   * `spec: {allow: [{cidr: RULE}], deny: [...]}`. As a document of its own (`document`), `kind` is
   * required; under a teleport.yaml's `network_restrictions:` key, `kind` and `version` may be left out.
   */
  private readRestrictions(top: Map<string, Entry>, setting: string, document: boolean): void {
    for (const [name, {key}] of top) if (!RESTRICTIONS_KEYS.includes(name)) throw this.unknownKey(key, name, RESTRICTIONS_KEYS, `${setting} resource`)
    const kind = top.get('kind')
    if (kind || document) {
      const value = kind?.value ?? null
      if (!(value && yaml().isScalar(value) && value.value === 'network_restrictions')) {
        const where = value ?? kind?.key
        const detail = document
          ? `kind must be network_restrictions (the one Teleport resource er-shell reads), got ${value ? this.got(value) : 'nothing'}`
          : `${setting}.kind must be network_restrictions, got ${value ? this.got(value) : 'nothing'}`
        throw this.error(where ?? this.docRoot(), 'kind', detail)
      }
    }
    const version = top.get('version')?.value
    if (version && !(yaml().isScalar(version) && (version.value === 'v1' || version.value === null))) {
      throw this.error(version, `${setting}.version`, `${setting}.version must be v1, got ${this.got(version)}`)
    }
    const metadata = top.get('metadata')?.value
    if (metadata && !yaml().isMap(metadata) && !(yaml().isScalar(metadata) && metadata.value === null)) {
      throw this.error(metadata, `${setting}.metadata`, `${setting}.metadata must be a mapping, got ${this.got(metadata)}`)
    }
    const specEntry = top.get('spec')
    const spec = this.section(top, 'spec', `${setting}.spec`)
    this.noteNetPolicy(specEntry?.value ?? specEntry?.key ?? kind?.value ?? this.docRoot(), setting)
    if (!spec) return
    for (const [name, {key, value}] of spec) {
      if (!isAction(name)) throw this.unknownKey(key, name, ACTIONS, `${setting}.spec`)
      for (const [index, item] of this.ruleList(value, `${setting}.spec.${name}`)) {
        const at = `${setting}.spec.${name}[${index}]`
        if (item === null || !yaml().isMap(item)) {
          throw this.error(item ?? value ?? key, at, `${at} must be a mapping with a cidr, like {cidr: 10.0.0.0/8}, got ${item ? this.got(item) : 'nothing'}`)
        }
        const fields = this.entries(item)
        for (const [field, {key: fieldKey}] of fields) if (field !== 'cidr') throw this.unknownKey(fieldKey, field, ['cidr'], at)
        const cidr = fields.get('cidr')
        if (!cidr) throw this.error(item, at, `${at} has no cidr`)
        this.addRule(cidr.value, `${at}.cidr`, name)
      }
    }
  }

  /** The items of a list of rules, with their index; nothing for a missing or empty (null) list. */
  private ruleList(list: Node | null, setting: string): Array<[number, Node | null]> {
    if (list === null || (yaml().isScalar(list) && list.value === null)) return []
    if (!yaml().isSeq(list)) throw this.error(list, setting, `${setting} must be a list of rules, got ${this.got(list)}`)
    return list.items.map((item, index) => [index, this.deref(item as Node | null)])
  }

  /** Checks one rule and adds it; errors point at the rule. */
  private addRule(node: Node | null, setting: string, action: NetAction): void {
    const checked = checkNetRule(this.ruleText(node), action)
    if (!checked.ok) throw this.error(node ?? this.docRoot(), setting, `${setting} ${checked.problem}`)
    if (this.netRules.add(checked.value) === 'full') throw this.error(node ?? this.docRoot(), setting, `${setting} ${TOO_MANY_NET_RULES}`)
  }

  /**
   * A rule's text. A plain scalar is taken as written: YAML 1.1 reads some IPv6 addresses
   * (1:2:3:4:5:6:7:8) as base-60 numbers.
   */
  private ruleText(node: Node | null): unknown {
    if (node === null || !yaml().isScalar(node)) return this.plain(node)
    if (typeof node.value !== 'string' && node.value !== null && node.type === 'PLAIN' && typeof node.source === 'string') return node.source
    return node.value
  }

  /** The first policy block of the file is the source `--verbose` shows for network_policy. */
  private noteNetPolicy(node: Node, key: string): void {
    if (this.netSource) return
    const {line, col} = this.pos(node)
    this.netSource = {kind: 'file', file: this.file, line, col, key}
  }

  private docRoot(): Node {
    return (this.doc?.contents as Node | null) ?? new (yaml().Scalar)(null)
  }

  /** The mapping under `name` in `parent`, or undefined when absent or empty (null). */
  private section(parent: Map<string, Entry>, name: string, path: string): Map<string, Entry> | undefined {
    const entry = parent.get(name)
    if (!entry || entry.value === null || (yaml().isScalar(entry.value) && entry.value.value === null)) return undefined
    if (!yaml().isMap(entry.value)) throw this.error(entry.value, path, `${path} must be a mapping, got ${this.got(entry.value)}`)
    return this.entries(entry.value)
  }

  /** Checks one value and records it with its position; `setting` is the key path as written in the file. */
  private set(key: ConfigKey, setting: string, value: Node | null): void {
    if (value === null || (yaml().isScalar(value) && value.value === null)) return
    const {line, col} = this.pos(value)
    const source = {kind: 'file', file: this.file, line, col, key: setting} as const
    if (key === 'events' && yaml().isSeq(value)) {
      setInLayer(this.layer, key, this.eventList(setting, value), source)
      return
    }
    if (key === 'audit_events_uri' && yaml().isSeq(value)) {
      setInLayer(this.layer, key, this.uriList(setting, value), source)
      return
    }
    if (key === 'env' && yaml().isSeq(value)) {
      setInLayer(this.layer, key, this.envNames(setting, value), source)
      return
    }
    const checked = KEY_SPECS[key].fromYaml(yaml().isScalar(value) ? value.value : this.plain(value))
    if (!checked.ok) throw this.error(value, setting, `${setting} ${checked.problem}`)
    setInLayer(this.layer, key, checked.value as never, source)
  }

  /**
   * A list of store URIs. In a teleport.yaml the list also names Teleport's other sinks (file://,
   * stdout://, dynamodb://…): only postgres:// ones are er-shell's, the rest are skipped.
   */
  private uriList(setting: string, list: Node & {items: unknown[]}): string[] {
    const uris: string[] = []
    list.items.forEach((raw, index) => {
      const item = this.deref(raw as Node)
      const value = item && yaml().isScalar(item) ? item.value : this.plain(item)
      if (this.layer.shape === 'teleport' && typeof value === 'string' && !isPostgresUri(value)) return
      const checked = checkStoreUri(value)
      if (!checked.ok) throw this.error(item ?? list, setting, `${setting}[${index}] ${checked.problem}`)
      uris.push(...checked.value)
    })
    return uris
  }

  private envNames(setting: string, list: Node & {items: unknown[]}): string[] {
    const names: string[] = []
    list.items.forEach((raw, index) => {
      const item = this.deref(raw as Node)
      const checked = checkEnvName(item && yaml().isScalar(item) ? item.value : this.plain(item))
      if (!checked.ok) throw this.error(item ?? list, setting, `${setting}[${index}] ${checked.problem}`)
      if (!names.includes(checked.value)) names.push(checked.value)
    })
    return names
  }

  private eventList(setting: string, list: Node & {items: unknown[]}): EventKind[] {
    const kinds: EventKind[] = []
    list.items.forEach((raw, index) => {
      const item = this.deref(raw as Node)
      const value = item && yaml().isScalar(item) ? item.value : this.plain(item)
      if (!isEventKind(value)) throw this.error(item ?? list, setting, `${setting}[${index}] ${EXPECTED.kind}, got ${show(value)}`)
      kinds.push(value)
    })
    const checked = checkEventKinds(kinds)
    if (!checked.ok) throw this.error(list, setting, `${setting} ${checked.problem}`)
    return checked.value
  }

  /** A mapping's entries by key name; keys must be plain scalars. */
  private entries(map: YAMLMap): Map<string, Entry> {
    const out = new Map<string, Entry>()
    for (const pair of map.items) {
      const key = this.deref(pair.key as Node | null)
      if (!key || !yaml().isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number')) {
        throw this.error(key ?? map, 'key', `keys must be plain names, got ${key ? this.kind(key) : 'nothing'}`)
      }
      out.set(String(key.value), {key, value: this.deref(pair.value as Node | null)})
    }
    return out
  }

  private unknownKey(node: Node, name: string, allowed: readonly string[], where: string): ConfigError {
    const guess = closest(name, allowed)
    const hint = guess === undefined ? `expected one of ${allowed.join(', ')}` : `did you mean "${guess}"?`
    return this.error(node, name, `unknown key "${name}" in ${where}: ${hint}`)
  }

  private error(node: Node, setting: string, detail: string): ConfigError {
    return new ConfigError({setting, file: this.file, ...this.pos(node)}, detail)
  }

  private pos(node: Node): {line: number; col: number} {
    return this.lines.linePos(node.range?.[0] ?? 0)
  }

  private deref(node: Node | null | undefined): Node | null {
    if (node === null || node === undefined) return null
    return yaml().isAlias(node) && this.doc ? ((node.resolve(this.doc) as Node | undefined) ?? node) : node
  }

  /** What `show` should say for a non-scalar node. */
  private plain(node: Node | null): unknown {
    if (node === null) return null
    if (yaml().isSeq(node)) return []
    if (yaml().isMap(node)) return {}
    return yaml().isScalar(node) ? node.value : {}
  }

  private got(node: Node): string {
    return show(yaml().isScalar(node) ? node.value : this.plain(node))
  }

  private kind(node: Node): string {
    if (yaml().isSeq(node)) return 'a list'
    if (yaml().isMap(node)) return 'a mapping'
    return `the value ${this.got(node)}`
  }
}

interface Entry {
  key: Node
  value: Node | null
}

function isAction(name: string): name is NetAction {
  return (ACTIONS as readonly string[]).includes(name)
}

/** The allowed name within edit distance 2 of `name`, if there is exactly one best. */
function closest(name: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of allowed) {
    const distance = editDistance(name, candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

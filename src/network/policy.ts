// A session's egress policy: the rule syntax of `record --allow-net/--deny-net`, `network_policy` and
// Teleport's `network_restrictions`, its checks, and the semantics the kernel enforces, written once.
//
// Rule syntax: CIDR, CIDR:PORT or CIDR:PORT-PORT for IPv4 (10.0.0.0/8:443, 127.0.0.1:8000-8999; a bare
// address is /32); IPv6 in brackets when a port follows ([2001:db8::/32]:443, [::1]:53), bare without
// one (2001:db8::/32, ::1). Port 0 or no port is every port. Host bits set beyond the prefix are an
// error. An IPv4-mapped IPv6 rule (::ffff:10.0.0.0/104) is the IPv4 rule it maps (10.0.0.0/8).
//
// Semantics (decideNet): no rules = everything allowed; any allow rule = everything not allowed is
// denied; deny wins over allow; IPv4 rules also match IPv4-mapped IPv6 destinations.
import type {Checked} from '../config/schema.js'
import {show} from '../config/schema.js'
import {ConfigError} from '../errors/index.js'

export type NetAction = 'allow' | 'deny'

export interface NetRule {
  action: NetAction
  family: 4 | 6
  /** The network address, 4 or 16 bytes (as `family` says), network byte order; host bits are zero. */
  addr: Uint8Array
  /** 0–32 (IPv4) or 0–128 (IPv6). */
  prefixLen: number
  /** Destination ports, inclusive; every port is 0–65535. */
  portLo: number
  portHi: number
  /** The rule as written (trimmed). */
  text: string
}

/** Empty `rules` = no policy: everything allowed, nothing to load in the kernel. */
export interface NetPolicy {
  rules: NetRule[]
}

/** At most this many distinct rules, allow and deny together (the kernel's rule array). */
export const MAX_NET_RULES = 128

/** The syntax, as messages and help show it. */
export const NET_RULE_SYNTAX = 'CIDR, CIDR:PORT or CIDR:PORT-PORT, IPv6 in brackets before a port'

/** What an error says for the first distinct rule beyond MAX_NET_RULES; reads after the setting's name. */
export const TOO_MANY_NET_RULES = `is one rule too many: at most ${MAX_NET_RULES} network rules in all (allow and deny together)`

export function emptyNetPolicy(): NetPolicy {
  return {rules: []}
}

/**
 * Checks one rule. The problem reads after the setting's name (`--allow-net "10.0.0.1/8": host bits
 * are set beyond /8 (the network is 10.0.0.0/8)`). A non-string (a YAML number or list) is refused.
 */
export function checkNetRule(value: unknown, action: NetAction): Checked<NetRule> {
  if (typeof value !== 'string') return {ok: false, problem: `must be a rule (${NET_RULE_SYNTAX}), got ${show(value)}`}
  const text = value.trim()
  const parsed = parseRuleText(text)
  if (typeof parsed === 'string') return {ok: false, problem: `${show(text)}: ${parsed}`}
  return {ok: true, value: {action, ...parsed, text}}
}

/** One rule, or a ConfigError (exit status 2) that names it: `allow rule "10.0.0.1/8": host bits …`. */
export function parseNetRule(text: string, action: NetAction = 'allow'): NetRule {
  const checked = checkNetRule(text, action)
  if (!checked.ok) throw new ConfigError({setting: `${action} rule`}, `${action} rule ${checked.problem}`)
  return checked.value
}

/**
 * Collects distinct rules up to MAX_NET_RULES: the same rule twice (same action, network, prefix and
 * ports, however written) counts once.
 */
export class NetRuleSet {
  readonly rules: NetRule[] = []
  private readonly keys = new Set<string>()

  /** 'full' when `rule` is new and MAX_NET_RULES are there already (the caller says where). */
  add(rule: NetRule): 'added' | 'duplicate' | 'full' {
    const key = `${rule.action} ${formatRule(rule)}`
    if (this.keys.has(key)) return 'duplicate'
    if (this.rules.length >= MAX_NET_RULES) return 'full'
    this.keys.add(key)
    this.rules.push(rule)
    return 'added'
  }

  get size(): number {
    return this.rules.length
  }
}

/**
 * A policy from allow and deny lists as typed (for callers without positions to report): throws a
 * ConfigError naming the first bad rule, or the first beyond MAX_NET_RULES.
 */
export function netPolicyFromLists(lists: {allow?: readonly string[]; deny?: readonly string[]}): NetPolicy {
  const set = new NetRuleSet()
  for (const action of ['allow', 'deny'] as const) {
    for (const text of lists[action] ?? []) {
      const rule = parseNetRule(text, action)
      if (set.add(rule) === 'full') throw new ConfigError({setting: `${action} rule`}, `${action} rule ${show(rule.text)} ${TOO_MANY_NET_RULES}`)
    }
  }
  return {rules: set.rules}
}

/** The policy made of every rule of `policies`, in order, duplicates once; undefined when they exceed MAX_NET_RULES. */
export function mergeNetPolicies(...policies: readonly NetPolicy[]): NetPolicy | undefined {
  const set = new NetRuleSet()
  for (const policy of policies) for (const rule of policy.rules) if (set.add(rule) === 'full') return undefined
  return {rules: set.rules}
}

// ---------------------------------------------------------------------------------------------
// Semantics: what the kernel programs enforce, as a reference for tests and messages.

export interface NetDestination {
  family: 4 | 6
  /** 4 or 16 bytes. */
  addr: Uint8Array
  port: number
}

/** Does `rule` cover `dst`? An IPv4 rule also covers an IPv4-mapped IPv6 destination (::ffff:a.b.c.d). */
export function ruleMatches(rule: NetRule, dst: NetDestination): boolean {
  if (dst.port < rule.portLo || dst.port > rule.portHi) return false
  let addr = dst.addr
  if (rule.family === 4 && dst.family === 6) {
    if (!isMapped(dst.addr)) return false
    addr = dst.addr.subarray(12)
  } else if (rule.family !== dst.family) {
    return false
  }
  return prefixEquals(addr, rule.addr, rule.prefixLen)
}

/** The policy's verdict: no rules allow everything; a matching deny wins; with any allow rule, only what one matches is allowed. */
export function decideNet(policy: NetPolicy, dst: NetDestination): NetAction {
  let anyAllow = false
  let allowed = false
  for (const rule of policy.rules) {
    if (rule.action === 'deny') {
      if (ruleMatches(rule, dst)) return 'deny'
    } else {
      anyAllow = true
      allowed ||= ruleMatches(rule, dst)
    }
  }
  return !anyAllow || allowed ? 'allow' : 'deny'
}

// ---------------------------------------------------------------------------------------------
// Printing.

/** A rule in its canonical syntax (parseNetRule reads it back): `10.0.0.0/8:443`, `[2001:db8::/32]:8000-8999`, `::1`. */
export function formatRule(rule: NetRule): string {
  const max = rule.family === 4 ? 32 : 128
  const cidr = `${formatIp(rule.family, rule.addr)}${rule.prefixLen === max ? '' : `/${rule.prefixLen}`}`
  const allPorts = rule.portLo === 0 && rule.portHi === 65535
  if (allPorts) return cidr
  const ports = rule.portLo === rule.portHi ? `${rule.portLo}` : `${rule.portLo}-${rule.portHi}`
  return rule.family === 6 ? `[${cidr}]:${ports}` : `${cidr}:${ports}`
}

/** `allow 10.0.0.0/8:443`, `deny [::1]:53`. */
export function describeRule(rule: NetRule): string {
  return `${rule.action} ${formatRule(rule)}`
}

/** One line: `allow 10.0.0.0/8:443, deny 10.1.0.0/16; everything else denied`, or `none (everything allowed)`. */
export function describePolicy(policy: NetPolicy): string {
  if (policy.rules.length === 0) return 'none (everything allowed)'
  const anyAllow = policy.rules.some((rule) => rule.action === 'allow')
  return `${policy.rules.map(describeRule).join(', ')}; everything else ${anyAllow ? 'denied' : 'allowed'}`
}

/** An address as text: dotted IPv4, or IPv6 as RFC 5952 writes it (::ffff:a.b.c.d for a mapped one). */
export function formatIp(family: 4 | 6, addr: Uint8Array): string {
  if (family === 4) return Array.from(addr.subarray(0, 4)).join('.')
  if (isMapped(addr)) return `::ffff:${Array.from(addr.subarray(12)).join('.')}`
  const groups = Array.from({length: 8}, (_, i) => ((addr[2 * i] ?? 0) << 8) | (addr[2 * i + 1] ?? 0))
  // The longest run of two or more zero groups (the first of equals) becomes "::".
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(':')
  if (bestStart < 0) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}

/** An IPv4 or IPv6 address (no prefix, no port); undefined when `text` is neither. */
export function parseIp(text: string): {family: 4 | 6; addr: Uint8Array} | undefined {
  const ip = parseAddress(text)
  return typeof ip === 'string' ? undefined : ip
}

// ---------------------------------------------------------------------------------------------
// Parsing.

interface ParsedRule {
  family: 4 | 6
  addr: Uint8Array
  prefixLen: number
  portLo: number
  portHi: number
}

const EXAMPLES = 'like 10.0.0.0/8, 10.0.0.0/8:443, 127.0.0.1:8000-8999 or [2001:db8::/32]:443'

/** The rule, or why it is not one (a phrase that follows the quoted rule). */
function parseRuleText(text: string): ParsedRule | string {
  if (text === '') return `a rule is an address or CIDR with an optional port or port range, ${EXAMPLES}`
  if (/\s/.test(text)) return `a rule has no blanks inside (${EXAMPLES})`

  let cidr: string
  let ports: string | undefined
  let bracketed = false
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close < 0) return 'no "]" after the bracketed IPv6 address'
    cidr = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (rest !== '') {
      if (!rest.startsWith(':')) return `${show(rest)} after "]": a port follows as [CIDR]:PORT`
      ports = rest.slice(1)
    }
    bracketed = true
  } else {
    const colons = text.split(':').length - 1
    if (colons === 1) {
      const colon = text.indexOf(':')
      cidr = text.slice(0, colon)
      ports = text.slice(colon + 1)
    } else {
      cidr = text // no colon (IPv4), or an IPv6 address, which takes no port without brackets
    }
  }

  const slash = cidr.indexOf('/')
  const addrText = slash < 0 ? cidr : cidr.slice(0, slash)
  const prefixText = slash < 0 ? undefined : cidr.slice(slash + 1)
  if (!bracketed && prefixText?.includes(':')) {
    const colon = prefixText.indexOf(':')
    return `an IPv6 address takes a port only in brackets: [${addrText}/${prefixText.slice(0, colon)}]:${prefixText.slice(colon + 1)}`
  }
  const ip = parseAddress(addrText)
  if (typeof ip === 'string') return ip
  if (bracketed && ip.family === 4)
    return `brackets are for IPv6 addresses; an IPv4 rule takes its port as ${addrText}${slash < 0 ? '' : `/${prefixText}`}:PORT`

  const max = ip.family === 4 ? 32 : 128
  let prefixLen = max
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return `the prefix length after "/" must be a number from 0 to ${max}, got ${show(prefixText)}`
    prefixLen = Number(prefixText)
    if (prefixLen > max) return `/${prefixLen} is longer than an IPv${ip.family} address: the prefix length is at most ${max}`
  }
  const network = masked(ip.addr, prefixLen)
  if (!network.every((byte, i) => byte === ip.addr[i])) {
    return `host bits are set beyond /${prefixLen} (the network is ${formatIp(ip.family, network)}/${prefixLen})`
  }

  let family = ip.family
  let addr = network
  if (family === 6 && prefixLen >= 96 && isMapped(addr)) {
    // An IPv4-mapped IPv6 network is that IPv4 network, which also covers IPv4-mapped destinations.
    family = 4
    addr = addr.slice(12)
    prefixLen -= 96
  }

  const range = parsePorts(ports)
  if (typeof range === 'string') return range
  return {family, addr, prefixLen, ...range}
}

function parsePorts(text: string | undefined): {portLo: number; portHi: number} | string {
  if (text === undefined) return {portLo: 0, portHi: 65535}
  if (text === '') return 'nothing after ":": give a port (1-65535) or a range PORT-PORT'
  const single = /^\d+$/.test(text) ? Number(text) : undefined
  if (single === 0) return {portLo: 0, portHi: 65535} // port 0: every port
  if (single !== undefined) return single <= 65535 ? {portLo: single, portHi: single} : `port ${text} is not from 1 to 65535`
  const range = /^(\d+)-(\d+)$/.exec(text)
  if (!range) return `the port must be a number from 1 to 65535 or a range PORT-PORT, got ${show(text)}`
  const [lo, hi] = [Number(range[1]), Number(range[2])]
  for (const [port, written] of [
    [lo, range[1]],
    [hi, range[2]],
  ] as const) {
    if (port < 1 || port > 65535) return `port ${written} of the range ${text} is not from 1 to 65535`
  }
  if (lo > hi) return `the port range ${text} goes down: the first port must not be above the last`
  return {portLo: lo, portHi: hi}
}

/** An address, or why `text` is not one. */
function parseAddress(text: string): {family: 4 | 6; addr: Uint8Array} | string {
  if (text.includes(':')) {
    const addr = parseIPv6(text)
    return typeof addr === 'string' ? addr : {family: 6, addr}
  }
  if (/^[\d.]+$/.test(text)) {
    const addr = parseIPv4(text)
    return typeof addr === 'string' ? addr : {family: 4, addr}
  }
  if (/^[A-Za-z0-9.-]+$/.test(text) && /[A-Za-z]/.test(text)) return 'not an IP address: rules match addresses, not host names'
  return `not an IPv4 or IPv6 address (${EXAMPLES})`
}

function parseIPv4(text: string): Uint8Array | string {
  const parts = text.split('.')
  const bad = `not an IPv4 address: four numbers from 0 to 255 separated by dots, like 10.0.0.1`
  if (parts.length !== 4) return bad
  const bytes = new Uint8Array(4)
  for (const [i, part] of parts.entries()) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return bad
    if (part.length > 1 && part.startsWith('0')) return `${show(part)} in ${text} has a leading zero, which some programs read as octal: write ${Number(part)}`
    bytes[i] = Number(part)
  }
  return bytes
}

function parseIPv6(text: string): Uint8Array | string {
  if (text.includes('%')) return 'a zone (%…) is not allowed in a rule'
  const bad = 'not an IPv6 address'
  const halves = text.split('::')
  if (halves.length > 2) return `${bad} ("::" may appear only once)`
  const head = groupsOf(halves[0] ?? '', halves.length === 1)
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '', true) : []
  if (head === undefined || tail === undefined) return bad
  const groups =
    halves.length === 2 ? (head.length + tail.length <= 7 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : undefined) : head
  if (groups?.length !== 8) return `${bad} (eight groups of up to four hex digits, "::" for a run of zero groups)`
  const bytes = new Uint8Array(16)
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8
    bytes[2 * i + 1] = group & 0xff
  })
  return bytes
}

/** The 16-bit groups of one side of "::"; a dotted IPv4 address may end the last side. */
function groupsOf(part: string, last: boolean): number[] | undefined {
  if (part === '') return []
  const groups: number[] = []
  const words = part.split(':')
  for (const [i, word] of words.entries()) {
    if (/^[0-9A-Fa-f]{1,4}$/.test(word)) {
      groups.push(parseInt(word, 16))
    } else if (last && i === words.length - 1 && word.includes('.')) {
      const v4 = parseIPv4(word)
      if (typeof v4 === 'string') return undefined
      groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0))
    } else {
      return undefined
    }
  }
  return groups
}

/** ::ffff:0:0/96 */
function isMapped(addr: Uint8Array): boolean {
  return addr.length === 16 && addr.subarray(0, 10).every((byte) => byte === 0) && addr[10] === 0xff && addr[11] === 0xff
}

function masked(addr: Uint8Array, prefixLen: number): Uint8Array {
  return addr.map((byte, i) => {
    const bits = Math.max(0, Math.min(8, prefixLen - 8 * i))
    return byte & ((0xff << (8 - bits)) & 0xff)
  })
}

function prefixEquals(a: Uint8Array, b: Uint8Array, prefixLen: number): boolean {
  const x = masked(a, prefixLen)
  const y = masked(b, prefixLen)
  return x.length === y.length && x.every((byte, i) => byte === y[i])
}

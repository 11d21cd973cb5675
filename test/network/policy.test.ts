// The egress rule syntax and the policy semantics (src/network/policy.ts), without a kernel: every
// accepted form, every refusal with its exact message, the 128-rule limit and decideNet's verdicts.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {ConfigError} from '../../src/errors/config-error.js'
import {
  MAX_NET_RULES,
  NetRuleSet,
  checkNetRule,
  decideNet,
  describePolicy,
  describeRule,
  formatIp,
  formatRule,
  mergeNetPolicies,
  netPolicyFromLists,
  parseIp,
  parseNetRule,
  type NetAction,
  type NetPolicy,
  type NetRule,
} from '../../src/network/policy.js'

/** The fields a rule is made of, with the address as text, for compact comparisons. */
function fields(rule: NetRule) {
  return {
    action: rule.action,
    family: rule.family,
    addr: formatIp(rule.family, rule.addr),
    bytes: rule.addr.length,
    prefixLen: rule.prefixLen,
    portLo: rule.portLo,
    portHi: rule.portHi,
    text: rule.text,
  }
}

function policy(...rules: Array<[NetAction, string]>): NetPolicy {
  return {rules: rules.map(([action, text]) => parseNetRule(text, action))}
}

function dst(text: string, port: number) {
  const ip = parseIp(text)
  assert.ok(ip, `${text} is an address`)
  return {...ip, port}
}

describe('rules that parse', () => {
  const all = {portLo: 0, portHi: 65535}
  const cases: Array<[string, Omit<ReturnType<typeof fields>, 'action' | 'text' | 'bytes'>]> = [
    ['10.0.0.0/8', {family: 4, addr: '10.0.0.0', prefixLen: 8, ...all}],
    ['0.0.0.0/0', {family: 4, addr: '0.0.0.0', prefixLen: 0, ...all}],
    ['192.0.2.7', {family: 4, addr: '192.0.2.7', prefixLen: 32, ...all}],
    ['10.0.0.0/8:443', {family: 4, addr: '10.0.0.0', prefixLen: 8, portLo: 443, portHi: 443}],
    ['127.0.0.1:8000-8999', {family: 4, addr: '127.0.0.1', prefixLen: 32, portLo: 8000, portHi: 8999}],
    ['127.0.0.1:1-65535', {family: 4, addr: '127.0.0.1', prefixLen: 32, portLo: 1, portHi: 65535}],
    ['127.0.0.1:53-53', {family: 4, addr: '127.0.0.1', prefixLen: 32, portLo: 53, portHi: 53}],
    ['10.0.0.0/8:0', {family: 4, addr: '10.0.0.0', prefixLen: 8, ...all}],
    ['2001:db8::/32', {family: 6, addr: '2001:db8::', prefixLen: 32, ...all}],
    ['::1', {family: 6, addr: '::1', prefixLen: 128, ...all}],
    ['::/0', {family: 6, addr: '::', prefixLen: 0, ...all}],
    ['[2001:db8::/32]:443', {family: 6, addr: '2001:db8::', prefixLen: 32, portLo: 443, portHi: 443}],
    ['[::1]:53', {family: 6, addr: '::1', prefixLen: 128, portLo: 53, portHi: 53}],
    ['[::1]', {family: 6, addr: '::1', prefixLen: 128, ...all}],
    ['[fd00::/8]:8000-8999', {family: 6, addr: 'fd00::', prefixLen: 8, portLo: 8000, portHi: 8999}],
    ['2001:DB8:0:0:0:0:0:1', {family: 6, addr: '2001:db8::1', prefixLen: 128, ...all}],
    ['1:2:3:4:5:6:7:8', {family: 6, addr: '1:2:3:4:5:6:7:8', prefixLen: 128, ...all}],
    // An IPv4 address inside IPv6 that is not IPv4-mapped (NAT64) stays an IPv6 rule.
    ['64:ff9b::192.0.2.1', {family: 6, addr: '64:ff9b::c000:201', prefixLen: 128, ...all}],
    // IPv4-mapped IPv6 rules are the IPv4 rules they map, whichever way they are written.
    ['::ffff:10.0.0.0/104', {family: 4, addr: '10.0.0.0', prefixLen: 8, ...all}],
    ['::ffff:a00:1', {family: 4, addr: '10.0.0.1', prefixLen: 32, ...all}],
    ['[::ffff:127.0.0.1]:80', {family: 4, addr: '127.0.0.1', prefixLen: 32, portLo: 80, portHi: 80}],
    ['::ffff:0:0/96', {family: 4, addr: '0.0.0.0', prefixLen: 0, ...all}],
  ]
  for (const [text, expected] of cases) {
    it(text, () => {
      const rule = parseNetRule(text, 'deny')
      assert.deepEqual(fields(rule), {action: 'deny', text, bytes: expected.family === 4 ? 4 : 16, ...expected})
    })
  }

  it('trims blanks around a rule, and the action defaults to allow', () => {
    assert.deepEqual(fields(parseNetRule('  10.0.0.0/8:22\t')), {
      action: 'allow',
      family: 4,
      addr: '10.0.0.0',
      bytes: 4,
      prefixLen: 8,
      portLo: 22,
      portHi: 22,
      text: '10.0.0.0/8:22',
    })
  })

  it('formatRule writes the canonical form, which reads back as the same rule', () => {
    const cases: Array<[string, string]> = [
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['192.0.2.7/32', '192.0.2.7'],
      ['10.0.0.0/8:0', '10.0.0.0/8'],
      ['10.0.0.0/8:443', '10.0.0.0/8:443'],
      ['127.0.0.1:8000-8999', '127.0.0.1:8000-8999'],
      ['127.0.0.1:53-53', '127.0.0.1:53'],
      ['[2001:DB8:0:0:1:0:0:1]:443', '[2001:db8::1:0:0:1]:443'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['[::/0]:53', '[::/0]:53'],
      ['[::1]', '::1'],
      ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ]
    for (const [text, canonical] of cases) {
      const rule = parseNetRule(text)
      assert.equal(formatRule(rule), canonical, text)
      assert.deepEqual(fields(parseNetRule(canonical)), {...fields(rule), text: canonical}, `${canonical} reads back`)
    }
  })

  it('describeRule and describePolicy', () => {
    assert.equal(describeRule(parseNetRule('[2001:db8::/32]:443', 'deny')), 'deny [2001:db8::/32]:443')
    assert.equal(describePolicy({rules: []}), 'none (everything allowed)')
    assert.equal(describePolicy(policy(['deny', '10.1.0.0/16'])), 'deny 10.1.0.0/16; everything else allowed')
    assert.equal(describePolicy(policy(['allow', '10.0.0.0/8:443'], ['deny', '10.1.0.0/16'])), 'allow 10.0.0.0/8:443, deny 10.1.0.0/16; everything else denied')
  })
})

describe('rules that do not parse: the exact problem', () => {
  const cases: Array<[string, string]> = [
    ['', '"": a rule is an address or CIDR with an optional port or port range, like 10.0.0.0/8, 10.0.0.0/8:443, 127.0.0.1:8000-8999 or [2001:db8::/32]:443'],
    ['10.0.0.0 /8', '"10.0.0.0 /8": a rule has no blanks inside (like 10.0.0.0/8, 10.0.0.0/8:443, 127.0.0.1:8000-8999 or [2001:db8::/32]:443)'],
    // Host bits beyond the prefix, v4, v6 and IPv4-mapped.
    ['10.0.0.1/8', '"10.0.0.1/8": host bits are set beyond /8 (the network is 10.0.0.0/8)'],
    ['192.168.1.1/24:22', '"192.168.1.1/24:22": host bits are set beyond /24 (the network is 192.168.1.0/24)'],
    ['2001:db8::1/32', '"2001:db8::1/32": host bits are set beyond /32 (the network is 2001:db8::/32)'],
    ['[fd00::1/8]:53', '"[fd00::1/8]:53": host bits are set beyond /8 (the network is fd00::/8)'],
    ['::ffff:10.0.0.1/104', '"::ffff:10.0.0.1/104": host bits are set beyond /104 (the network is ::ffff:10.0.0.0/104)'],
    ['::ffff:0:0/80', '"::ffff:0:0/80": host bits are set beyond /80 (the network is ::/80)'],
    // Prefix lengths.
    ['10.0.0.0/33', '"10.0.0.0/33": /33 is longer than an IPv4 address: the prefix length is at most 32'],
    ['::/129', '"::/129": /129 is longer than an IPv6 address: the prefix length is at most 128'],
    ['10.0.0.0/', '"10.0.0.0/": the prefix length after "/" must be a number from 0 to 32, got ""'],
    ['10.0.0.0/-8', '"10.0.0.0/-8": the prefix length after "/" must be a number from 0 to 32, got "-8"'],
    ['10.0.0.0/255.0.0.0', '"10.0.0.0/255.0.0.0": the prefix length after "/" must be a number from 0 to 32, got "255.0.0.0"'],
    // Ports.
    ['10.0.0.0/8:70000', '"10.0.0.0/8:70000": port 70000 is not from 1 to 65535'],
    ['10.0.0.0/8:65536', '"10.0.0.0/8:65536": port 65536 is not from 1 to 65535'],
    ['10.0.0.0/8:', '"10.0.0.0/8:": nothing after ":": give a port (1-65535) or a range PORT-PORT'],
    ['10.0.0.0/8:https', '"10.0.0.0/8:https": the port must be a number from 1 to 65535 or a range PORT-PORT, got "https"'],
    ['10.0.0.0/8:-1', '"10.0.0.0/8:-1": the port must be a number from 1 to 65535 or a range PORT-PORT, got "-1"'],
    ['10.0.0.0/8:1-2-3', '"10.0.0.0/8:1-2-3": the port must be a number from 1 to 65535 or a range PORT-PORT, got "1-2-3"'],
    ['10.0.0.0/8:0-80', '"10.0.0.0/8:0-80": port 0 of the range 0-80 is not from 1 to 65535'],
    ['10.0.0.0/8:80-65536', '"10.0.0.0/8:80-65536": port 65536 of the range 80-65536 is not from 1 to 65535'],
    ['10.0.0.0/8:9000-8000', '"10.0.0.0/8:9000-8000": the port range 9000-8000 goes down: the first port must not be above the last'],
    ['[::1]:99999', '"[::1]:99999": port 99999 is not from 1 to 65535'],
    // Addresses.
    ['256.0.0.1', '"256.0.0.1": not an IPv4 address: four numbers from 0 to 255 separated by dots, like 10.0.0.1'],
    ['10.0.0', '"10.0.0": not an IPv4 address: four numbers from 0 to 255 separated by dots, like 10.0.0.1'],
    ['10.0.0.0.0/8', '"10.0.0.0.0/8": not an IPv4 address: four numbers from 0 to 255 separated by dots, like 10.0.0.1'],
    ['010.0.0.1', '"010.0.0.1": "010" in 010.0.0.1 has a leading zero, which some programs read as octal: write 10'],
    ['example.com', '"example.com": not an IP address: rules match addresses, not host names'],
    ['localhost:53', '"localhost:53": not an IP address: rules match addresses, not host names'],
    ['10.0.0.0/8;443', '"10.0.0.0/8;443": the prefix length after "/" must be a number from 0 to 32, got "8;443"'],
    ['*', '"*": not an IPv4 or IPv6 address (like 10.0.0.0/8, 10.0.0.0/8:443, 127.0.0.1:8000-8999 or [2001:db8::/32]:443)'],
    // IPv6 forms.
    ['2001:db8::/32:443', '"2001:db8::/32:443": an IPv6 address takes a port only in brackets: [2001:db8::/32]:443'],
    ['[2001:db8::/32', '"[2001:db8::/32": no "]" after the bracketed IPv6 address'],
    ['[::1]53', '"[::1]53": "53" after "]": a port follows as [CIDR]:PORT'],
    ['[10.0.0.1]:80', '"[10.0.0.1]:80": brackets are for IPv6 addresses; an IPv4 rule takes its port as 10.0.0.1:PORT'],
    ['fe80::1%eth0', '"fe80::1%eth0": a zone (%…) is not allowed in a rule'],
    ['1::2::3', '"1::2::3": not an IPv6 address ("::" may appear only once)'],
    ['1:2:3:4:5:6:7:8:9', '"1:2:3:4:5:6:7:8:9": not an IPv6 address (eight groups of up to four hex digits, "::" for a run of zero groups)'],
    ['1:2:3:4:5:6:7::8', '"1:2:3:4:5:6:7::8": not an IPv6 address (eight groups of up to four hex digits, "::" for a run of zero groups)'],
    ['1:2:3', '"1:2:3": not an IPv6 address (eight groups of up to four hex digits, "::" for a run of zero groups)'],
    ['gggg::1', '"gggg::1": not an IPv6 address'],
    ['12345::1', '"12345::1": not an IPv6 address'],
    [':::1', '":::1": not an IPv6 address'],
    ['::1.2.3.4:5', '"::1.2.3.4:5": not an IPv6 address'],
    ['::ffff:300.0.0.1', '"::ffff:300.0.0.1": not an IPv6 address'],
  ]
  for (const [text, problem] of cases) {
    it(JSON.stringify(text), () => {
      const checked = checkNetRule(text, 'allow')
      assert.deepEqual(checked, {ok: false, problem})
    })
  }

  it('a value that is not text (from YAML) is refused', () => {
    assert.deepEqual(checkNetRule(42, 'deny'), {
      ok: false,
      problem: 'must be a rule (CIDR, CIDR:PORT or CIDR:PORT-PORT, IPv6 in brackets before a port), got 42',
    })
    assert.equal((checkNetRule(null, 'deny') as {problem: string}).problem.endsWith('got nothing'), true)
    assert.equal((checkNetRule({}, 'deny') as {problem: string}).problem.endsWith('got a mapping'), true)
  })

  it('parseNetRule throws a ConfigError (exit status 2) that names the action and the rule', () => {
    assert.throws(
      () => parseNetRule('10.0.0.1/8', 'deny'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.equal(error.message, 'deny rule "10.0.0.1/8": host bits are set beyond /8 (the network is 10.0.0.0/8)')
        assert.equal(error.code, 'ECONFIG')
        assert.equal(error.exitCode, 2)
        assert.equal(error.setting, 'deny rule')
        return true
      },
    )
  })
})

describe('at most 128 distinct rules', () => {
  const hosts = (n: number, base = 0) => Array.from({length: n}, (_, i) => `10.${base}.${i >> 8}.${i & 0xff}`)

  it('128 fit; the same rule written another way counts once; a 129th is refused', () => {
    const set = new NetRuleSet()
    for (const text of hosts(MAX_NET_RULES)) assert.equal(set.add(parseNetRule(text)), 'added')
    assert.equal(set.add(parseNetRule('10.0.0.0/32:0')), 'duplicate')
    assert.equal(set.add(parseNetRule('::ffff:10.0.0.1')), 'duplicate')
    assert.equal(set.add(parseNetRule('10.0.0.1:443')), 'full')
    assert.equal(set.add(parseNetRule('10.0.0.1', 'deny')), 'full', 'a deny rule for the same network is another rule')
    assert.equal(set.size, MAX_NET_RULES)
    assert.equal(set.rules[0]?.text, '10.0.0.0', 'the first spelling is kept')
  })

  it('netPolicyFromLists: allow and deny together, duplicates once, the 129th named', () => {
    const ok = netPolicyFromLists({allow: hosts(64), deny: [...hosts(64, 1), '10.1.0.0']})
    assert.equal(ok.rules.length, 128)
    assert.deepEqual([ok.rules[0]?.action, ok.rules[127]?.action], ['allow', 'deny'])
    assert.throws(
      () => netPolicyFromLists({allow: hosts(64), deny: hosts(65, 1)}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError)
        assert.equal(error.message, 'deny rule "10.1.0.64" is one rule too many: at most 128 network rules in all (allow and deny together)')
        return true
      },
    )
    assert.throws(() => netPolicyFromLists({allow: ['10.0.0.1/8']}), /allow rule "10.0.0.1\/8": host bits/)
  })

  it('mergeNetPolicies keeps order and drops duplicates; undefined beyond 128', () => {
    const merged = mergeNetPolicies(policy(['allow', '10.0.0.0/8']), policy(['deny', '10.1.0.0/16'], ['allow', '10.0.0.0/8:0']))
    assert.deepEqual(merged?.rules.map(describeRule), ['allow 10.0.0.0/8', 'deny 10.1.0.0/16'])
    assert.equal(mergeNetPolicies(netPolicyFromLists({allow: hosts(100)}), netPolicyFromLists({deny: hosts(29)})), undefined)
  })
})

describe('semantics (decideNet): what the kernel enforces', () => {
  it('no rules: everything is allowed', () => {
    assert.equal(decideNet({rules: []}, dst('203.0.113.9', 443)), 'allow')
    assert.equal(decideNet({rules: []}, dst('::1', 53)), 'allow')
  })

  it('any allow rule: everything it does not allow is denied, ports included', () => {
    const p = policy(['allow', '10.0.0.0/8:443'], ['allow', '127.0.0.1:8000-8999'])
    assert.equal(decideNet(p, dst('10.200.1.2', 443)), 'allow')
    assert.equal(decideNet(p, dst('10.200.1.2', 80)), 'deny')
    assert.equal(decideNet(p, dst('11.0.0.1', 443)), 'deny')
    assert.equal(decideNet(p, dst('127.0.0.1', 8000)), 'allow')
    assert.equal(decideNet(p, dst('127.0.0.1', 8999)), 'allow')
    assert.equal(decideNet(p, dst('127.0.0.1', 7999)), 'deny')
    assert.equal(decideNet(p, dst('127.0.0.1', 9000)), 'deny')
    assert.equal(decideNet(p, dst('::1', 8000)), 'deny', 'an IPv4 allow rule does not allow IPv6 loopback')
  })

  it('deny wins over allow', () => {
    const p = policy(['allow', '10.0.0.0/8'], ['deny', '10.1.0.0/16:22'])
    assert.equal(decideNet(p, dst('10.1.2.3', 22)), 'deny')
    assert.equal(decideNet(p, dst('10.1.2.3', 23)), 'allow')
    assert.equal(decideNet(p, dst('10.2.0.1', 22)), 'allow')
    const q = policy(['deny', '0.0.0.0/0'], ['allow', '10.0.0.0/8'])
    assert.equal(decideNet(q, dst('10.0.0.1', 80)), 'deny', 'whatever the order')
  })

  it('deny rules only: what they do not match is allowed', () => {
    const p = policy(['deny', '169.254.169.254'], ['deny', '[fd00::/8]:53'])
    assert.equal(decideNet(p, dst('169.254.169.254', 80)), 'deny')
    assert.equal(decideNet(p, dst('169.254.169.253', 80)), 'allow')
    assert.equal(decideNet(p, dst('fd12::1', 53)), 'deny')
    assert.equal(decideNet(p, dst('fd12::1', 54)), 'allow')
  })

  it('IPv4 rules also match IPv4-mapped IPv6 destinations; IPv6 rules match IPv6 only', () => {
    const p = policy(['deny', '127.0.0.0/8:53'])
    assert.equal(decideNet(p, dst('::ffff:127.0.0.53', 53)), 'deny')
    assert.equal(decideNet(p, dst('::7f00:35', 53)), 'allow', 'an IPv4-compatible (not mapped) address is plain IPv6')
    assert.equal(decideNet(p, dst('::1', 53)), 'allow')
    const a = policy(['allow', '10.0.0.0/8'])
    assert.equal(decideNet(a, dst('::ffff:10.9.9.9', 1)), 'allow')
    assert.equal(decideNet(a, dst('::ffff:11.9.9.9', 1)), 'deny')
    const v6 = policy(['deny', '::/0'])
    assert.equal(decideNet(v6, dst('10.0.0.1', 80)), 'allow', 'an IPv6 rule does not match an IPv4 destination')
    assert.equal(decideNet(v6, dst('::ffff:10.0.0.1', 80)), 'deny', 'but ::/0 covers mapped destinations, which are IPv6 addresses')
  })

  it('a mapped rule is the IPv4 rule, so it also covers plain IPv4 destinations', () => {
    const p = policy(['deny', '::ffff:10.0.0.0/104'])
    assert.equal(decideNet(p, dst('10.1.1.1', 80)), 'deny')
    assert.equal(decideNet(p, dst('::ffff:10.1.1.1', 80)), 'deny')
  })

  it('port 0 or no port is every port, even a destination port 0', () => {
    assert.equal(decideNet(policy(['deny', '10.0.0.0/8:0']), dst('10.0.0.1', 0)), 'deny')
    assert.equal(decideNet(policy(['deny', '10.0.0.0/8']), dst('10.0.0.1', 65535)), 'deny')
  })

  it('/0 and /32 boundaries', () => {
    assert.equal(decideNet(policy(['deny', '0.0.0.0/0']), dst('255.255.255.255', 1)), 'deny')
    const host = policy(['allow', '192.0.2.7'])
    assert.equal(decideNet(host, dst('192.0.2.7', 1)), 'allow')
    assert.equal(decideNet(host, dst('192.0.2.6', 1)), 'deny')
    const odd = policy(['deny', '192.0.2.128/25'])
    assert.equal(decideNet(odd, dst('192.0.2.127', 1)), 'allow')
    assert.equal(decideNet(odd, dst('192.0.2.128', 1)), 'deny')
  })
})

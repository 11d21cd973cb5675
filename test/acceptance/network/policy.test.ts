// The per-session egress policy (issue 19): `record --allow-net/--deny-net` (and network_policy
// in a config file) enforced in the kernel by cgroup socket programs on the session cgroup. Any
// allow rule makes everything else denied, deny wins over allow, IPv4 rules match v4-mapped IPv6.
// A denied attempt fails with EPERM in the program and is recorded (action 1): live, in
// `events --denied`, in `replay`, and counted in session.end's event_counts.network_denied.
//
// Real sockets in a network namespace the test creates (10.77.0.0/24, 10.78.0.1, 2001:db8:77::1,
// 2001:db8:77::2, 2001:db8:78::1 are local addresses there, with listeners), netprobe inside the
// session through `ip netns exec`; and on the host's loopback for what needs the host's cgroup
// mount (a process that leaves the session cgroup).
import assert from 'node:assert/strict'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {findSessions} from '../../../src/storage/index.js'
import {cleanupTestCgroups, makeTestCgroup} from '../../helpers/cgroups.js'
import {hasStackTrace, kernelTestsSkipReason, runCli} from '../../helpers/cli.js'
import {NETPROBE, Netns, type NetEvent, type NetRecording, labelled, listen, listenUdp, probes, recordNet, sendsOf, show, to} from '../../helpers/net.js'
import {guardLeaks, leakBaseline, leftBehind, record} from '../../helpers/record.js'
import {tempDir} from '../../helpers/temp.js'

const skip = kernelTestsSkipReason()

interface Case {
  label: string
  /** netprobe's arguments */
  args: string
  /** netprobe's output, its lines joined by spaces */
  want: string
  dst: string
  port: number
  version: 4 | 6
  protocol: 'tcp' | 'udp'
  /** How a denied attempt is recorded: 0 connect (TCP, or connect() of a UDP socket), 1 send. */
  operation: 0 | 1
}

const denied = (c: Case) => c.want.split(' ').filter((w) => w === 'EPERM').length

/** The case's events: to its destination, of its protocol; an allowed v4-mapped connect may be recorded as IPv4. */
function of(r: NetRecording, c: Case, observed = false): NetEvent[] {
  const mapped = observed && c.dst.startsWith('::ffff:') ? to(r.network, c.dst.slice(7), c.port) : []
  return [...to(r.network, c.dst, c.port), ...mapped].filter((e) => e.protocol === c.protocol)
}

/** The recorded denied attempts (action 1) to a case's destination, each checked against the contract. */
function deniedEvents(r: NetRecording, c: Case): NetEvent[] {
  const events = of(r, c).filter((e) => e.action === 1)
  for (const e of events) {
    const what = `${c.label}: denied event\n${show(events)}`
    assert.equal(e.operation, c.operation, `${what}: operation`)
    assert.equal(e.protocol, c.protocol, `${what}: protocol`)
    assert.equal(e.version, c.version, `${what}: version`)
    assert.equal(e.src_addr, c.version === 4 ? '0.0.0.0' : '::', `${what}: src_addr (no source chosen yet)`)
    if (e.operation === 0) assert.equal(e.sends, undefined, `${what}: no sends on a connect`)
    assert.ok(e.pid > 1 && e.cgroup_id > 0, what)
  }
  return events
}

/** Checks every case: netprobe's results, and the attempts recorded as denied or observed. */
function checkCases(r: NetRecording, cases: Case[], program = 'netprobe'): void {
  const results = labelled(r.out)
  for (const c of cases) {
    assert.equal(results.get(c.label), c.want, `${c.label}: netprobe ${c.args}; session output:\n${r.out}`)
    const d = deniedEvents(r, c)
    assert.equal(d.length, denied(c), `${c.label}: one denied event per refused attempt (not folded)\n${show(of(r, c))}`)
    for (const e of d) assert.equal(e.program, program, `${c.label}: program`)
    if (denied(c) === 0) {
      // Allowed: recorded as observed, a connect or sends.
      const seen = of(r, c, true).filter((e) => e.action === 0)
      assert.ok(seen.length > 0, `${c.label}: the allowed attempt is recorded\n${show(r.network)}`)
      if (c.operation === 1) assert.equal(sendsOf(seen), Number(c.args.split(' ').at(-1)), `${c.label}: sends\n${show(seen)}`)
    }
  }
}

function tcp(label: string, dst: string, port: number, want: 'ok' | 'EPERM', call = 'tcp'): Case {
  return {label, args: `${call} ${dst} ${port}`, want, dst, port, version: dst.includes(':') ? 6 : 4, protocol: 'tcp', operation: 0}
}

function udp(label: string, call: string, dst: string, port: number, n: number, want: string): Case {
  return {
    label,
    args: `${call} ${dst} ${port} ${n}`,
    want,
    dst,
    port,
    version: dst.includes(':') ? 6 : 4,
    protocol: 'udp',
    operation: call === 'udp-connected' ? 0 : 1,
  }
}

const TCP_PORTS = [443, 7999, 8000, 8999, 9000]
const UDP_PORTS = [443, 9999]

describe('network policy: allow and deny rules, enforced in the kernel', {skip}, () => {
  const ns = new Netns('policy')
  let baseline: ReturnType<typeof leakBaseline>
  let dataDir: string
  let r: NetRecording

  // One session, many attempts: allow 10.77.0.0/24 on 443 and 8000-8999 and 2001:db8:77::/64 on
  // 443, deny 10.77.0.2 and [2001:db8:77::2]:443 (deny wins); everything else is denied.
  const POLICY = [
    ['--allow-net', '10.77.0.0/24:443'],
    ['--allow-net', '10.77.0.0/24:8000-8999'],
    ['--allow-net', '[2001:db8:77::/64]:443'],
    ['--deny-net', '10.77.0.2'],
    ['--deny-net', '[2001:db8:77::2]:443'],
  ].flat()

  const cases = {
    tcp4: [tcp('tcp4', '10.77.0.1', 443, 'ok'), tcp('tcp4-port', '10.77.0.1', 9000, 'EPERM'), tcp('tcp4-other', '10.78.0.1', 443, 'EPERM')],
    tcp6: [tcp('tcp6', '2001:db8:77::1', 443, 'ok'), tcp('tcp6-other', '2001:db8:78::1', 443, 'EPERM')],
    denyWins: [tcp('deny-wins4', '10.77.0.2', 443, 'EPERM'), tcp('deny-wins6', '2001:db8:77::2', 443, 'EPERM')],
    mapped: [
      tcp('mapped', '::ffff:10.77.0.1', 443, 'ok'),
      tcp('mapped-deny', '::ffff:10.77.0.2', 443, 'EPERM'),
      tcp('mapped-other', '::ffff:10.78.0.1', 443, 'EPERM'),
    ],
    ranges: [tcp('range-lo', '10.77.0.1', 8000, 'ok'), tcp('range-hi', '10.77.0.1', 8999, 'ok'), tcp('range-below', '10.77.0.1', 7999, 'EPERM')],
    udp: [
      udp('udp4', 'udp-sendto', '10.77.0.1', 443, 3, 'ok ok ok'),
      udp('udp4-denied', 'udp-sendto', '10.78.0.1', 443, 2, 'EPERM EPERM'),
      udp('udp4-sendmsg-denied', 'udp-sendmsg', '10.77.0.2', 443, 1, 'EPERM'),
      udp('udp6', 'udp-sendmsg', '2001:db8:77::1', 443, 2, 'ok ok'),
      udp('udp6-denied', 'udp-sendto', '2001:db8:78::1', 443, 1, 'EPERM'),
      udp('udp-mapped-denied', 'udp-sendto', '::ffff:10.78.0.1', 443, 1, 'EPERM'),
    ],
    sendmmsg: [udp('sendmmsg', 'udp-sendmmsg', '10.77.0.3', 443, 4, 'ok'), udp('sendmmsg-denied', 'udp-sendmmsg', '10.78.0.1', 9999, 4, 'EPERM')],
    connected: [
      udp('connected', 'udp-connected', '10.77.0.4', 443, 2, 'ok ok'),
      // Refused at connect(): one denied connect event, and no write is tried.
      udp('connected-denied', 'udp-connected', '192.0.2.1', 9999, 2, 'EPERM'),
    ],
    fork: [tcp('fork', '10.77.0.5', 443, 'ok', 'fork-tcp'), tcp('fork-denied', '192.0.2.1', 443, 'EPERM', 'fork-tcp')],
  }
  // A child cgroup made inside the session: the session cgroup's programs apply to it too.
  const child = [tcp('child', '10.77.0.6', 443, 'ok'), tcp('child-denied', '2001:db8:78::1', 7999, 'EPERM')]
  const all = [...Object.values(cases).flat(), ...child]

  before(async () => {
    baseline = leakBaseline()
    dataDir = tempDir('er-net-policy-')
    ns.create()
    await ns.serve(TCP_PORTS, UDP_PORTS)
    // The child cgroup: a shell moves itself into <session cgroup>/child, then runs netprobe.
    // /proc/self/cgroup names the session cgroup under the cgroup2 mount record uses (/cgroup2).
    const inChild = child.map((c) => `echo "${c.label} $(sh -c 'echo $$ > "$0/child/cgroup.procs" && exec ${NETPROBE} ${c.args}' "$cg")"`)
    const script = [
      probes(
        Object.values(cases)
          .flat()
          .map((c) => [c.label, c.args]),
      ),
      `cg=/cgroup2$(sed -n 's/^0:://p' /proc/self/cgroup)`,
      'mkdir "$cg/child" || echo "mkdir failed"',
      ...inChild,
    ].join('\n')
    r = await recordNet(dataDir, [...POLICY, '--', ...ns.exec(['/bin/sh', '-c', script])])
    assert.equal(r.code, 0, r.stderr)
  })

  after(async () => {
    ns.remove()
    const problems = await leftBehind(baseline, [dataDir])
    assert.deepEqual(problems, [], 'nothing may be left behind')
  })

  it('TCP over IPv4: the allowed address and port connects, another port or address gets EPERM', () => checkCases(r, cases.tcp4))
  it('TCP over IPv6: the same', () => checkCases(r, cases.tcp6))
  it('deny wins over allow, for IPv4 and IPv6', () => checkCases(r, cases.denyWins))
  it('v4-mapped IPv6 (an AF_INET6 socket to ::ffff:10.77.0.x) is matched by the IPv4 rules', () => checkCases(r, cases.mapped))
  it('port ranges: both ends are in, the port below is out', () => checkCases(r, cases.ranges))
  it('UDP sends (sendto, sendmsg): allowed ones go and are recorded, denied ones get EPERM, each attempt its own event', () => checkCases(r, cases.udp))
  it('sendmmsg: allowed, and denied (one EPERM, nothing sent)', () => checkCases(r, cases.sendmmsg))
  it('connected UDP: allowed writes go; a denied destination is refused at connect()', () => checkCases(r, cases.connected))
  it('a process that forks after the policy applies: the child is policed', () => checkCases(r, cases.fork))
  it('a child cgroup made inside the session: policed as the session', () => {
    assert.doesNotMatch(r.out, /mkdir failed/, r.out)
    checkCases(r, child)
    assert.equal(r.events.filter((e) => e.event === 'session.cgroup_escape').length, 0, 'a move inside the session is no escape')
  })

  it("the listeners got exactly the allowed attempts' connections and datagrams", async () => {
    const seen = await ns.seen()
    const conns = seen.filter((s) => s.proto === 'tcp')
    const allowedTcp = all.filter((c) => c.protocol === 'tcp' && denied(c) === 0)
    assert.equal(conns.length, allowedTcp.length, JSON.stringify(conns))
    const datagrams = seen.filter((s) => s.proto === 'udp')
    const allowedUdp = all.filter((c) => c.protocol === 'udp' && denied(c) === 0)
    const sent = allowedUdp.reduce((n, c) => n + Number(c.args.split(' ').at(-1)), 0)
    assert.equal(datagrams.length, sent, JSON.stringify(datagrams))
  })

  it('session.end counts the denied attempts (event_counts.network_denied) among the network events', () => {
    const total = all.reduce((n, c) => n + denied(c), 0)
    assert.equal(r.network.filter((e) => e.action === 1).length, total, show(r.network.filter((e) => e.action === 1)))
    assert.deepEqual(r.end.event_counts, {
      command: r.events.filter((e) => e.event === 'session.command').length,
      disk: 0,
      network: r.network.length,
      network_denied: total,
      exit: r.events.filter((e) => e.event === 'session.process_exit').length,
      disk_filtered: 0,
    })
    assert.deepEqual(r.end.lost_events, {command: 0, disk: 0, network: 0})
  })

  it('each denied attempt is a live line that says "denied", with its destination', () => {
    const lines = r.stderr.split('\n').filter((l) => /▸ network .*denied/i.test(l))
    const total = all.reduce((n, c) => n + denied(c), 0)
    assert.equal(lines.length, total, r.stderr)
    for (const c of all.filter((x) => denied(x) > 0)) {
      assert.ok(
        lines.some((l) => l.includes(c.dst) && l.includes(String(c.port))),
        `${c.label}: a live "denied" line with ${c.dst} and ${c.port}:\n${lines.join('\n')}`,
      )
    }
  })

  it('events --denied lists exactly the denied attempts; replay shows them as denied', () => {
    const ev = runCli(['events', r.sid, '--data-dir', dataDir, '--denied', '--json'])
    assert.equal(ev.status, 0, ev.stderr)
    const listed = ev.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as NetEvent & {event: string})
    assert.deepEqual(
      listed.map((e) => e.ei),
      r.network.filter((e) => e.action === 1).map((e) => e.ei),
    )
    assert.ok(listed.every((e) => e.event === 'session.network' && e.action === 1))
    const table = runCli(['events', r.sid, '--data-dir', dataDir, '--denied'])
    assert.equal(table.status, 0, table.stderr)
    assert.match(table.stdout, /10\.77\.0\.2/)

    const replay = runCli(['replay', r.sid, '--data-dir', dataDir])
    assert.equal(replay.status, 0, replay.stderr)
    const marks = replay.stdout.split(/\r?\n/).filter((l) => /\[er-shell\] network .*denied/i.test(l))
    assert.equal(marks.length, listed.length, replay.stdout)
    assert.ok(
      marks.some((l) => l.includes('10.77.0.2')),
      marks.join('\n'),
    )
  })
})

describe('network policy: io_uring, leaving the session cgroup, loopback, config files', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-net-policy-'})
  const ns = new Netns('policy2')
  before(async () => {
    ns.create()
    await ns.serve([443], [])
  })
  after(async () => {
    ns.remove()
    await cleanupTestCgroups()
  })

  it('io_uring connect (with --allow-io-uring) is policed like connect(): EPERM and a denied event', async () => {
    const cases = [tcp('uring', '10.77.0.1', 443, 'ok', 'uring-connect'), tcp('uring-denied', '10.78.0.1', 443, 'EPERM', 'uring-connect')]
    const r = await recordNet(dataDir(), [
      '--allow-io-uring',
      '--allow-net',
      '10.77.0.0/24',
      '--',
      ...ns.exec(['/bin/sh', '-c', probes(cases.map((c) => [c.label, c.args]))]),
    ])
    assert.equal(r.code, 0, r.stderr)
    // The attempt may run in an io_uring worker (its own comm): the program is not checked.
    const results = labelled(r.out)
    for (const c of cases) assert.equal(results.get(c.label), c.want, r.out)
    assert.equal(deniedEvents(r, cases[1]!).length, 1, show(r.network))
    assert.equal(deniedEvents(r, cases[0]!).length, 0, show(r.network))
    assert.equal(r.end.event_counts?.network_denied, 1)
  })

  it('a process that leaves the session cgroup: its socket made inside stays policed, a new socket made outside is not; the escape is recorded', async () => {
    const l = await listenUdp('127.0.0.1')
    try {
      const elsewhere = makeTestCgroup('leave')
      const r = await recordNet(dataDir(), [
        '--deny-net',
        `127.0.0.1:${l.port}`,
        '--',
        NETPROBE,
        'leave-cgroup',
        join(elsewhere, 'cgroup.procs'),
        '127.0.0.1',
        String(l.port),
      ])
      assert.equal(r.code, 0, r.stderr)
      // The socket's cgroup is fixed when it is made: the old one is still the session's.
      assert.match(r.out, /^move=ok\r?\nold=EPERM\r?\nnew=ok\r?$/m, r.out)
      assert.equal(await l.settle(1, 1000), 1, 'only the new socket got through')
      const esc = r.events.filter((e) => e.event === 'session.cgroup_escape') as unknown as Array<{pid: number; program?: string}>
      assert.equal(esc.length, 1, 'the escape is recorded')
      const d = to(r.network, '127.0.0.1', l.port).filter((e) => e.action === 1)
      assert.equal(d.length, 1, `one denied send: the old socket's\n${show(r.network)}`)
      assert.equal(d[0]!.operation, 1)
      assert.equal(d[0]!.protocol, 'udp')
      assert.equal(d[0]!.pid, esc[0]!.pid, 'by the process that escaped')
      assert.equal(r.end.event_counts?.network_denied, 1)
    } finally {
      await l.close()
    }
  })

  it('loopback is not special: with an allow rule, 127.0.0.1 and ::1 are denied unless a rule says so', async () => {
    const a = await listen('127.0.0.1')
    const b = await listen('::1')
    try {
      // First with no rule for loopback, then with ::1 allowed.
      const refused = [tcp('lo4-denied', '127.0.0.1', a.port, 'EPERM'), tcp('lo6-denied', '::1', b.port, 'EPERM')]
      const r1 = await recordNet(dataDir(), ['--allow-net', '10.0.0.0/8', '-c', probes(refused.map((c) => [c.label, c.args]))])
      assert.equal(r1.code, 0, r1.stderr)
      checkCases(r1, refused)
      const allowed = [tcp('lo6-allowed', '::1', b.port, 'ok'), tcp('lo4-still-denied', '127.0.0.1', a.port, 'EPERM')]
      const r2 = await recordNet(dataDir(), ['--allow-net', '10.0.0.0/8', '--allow-net', '::1', '-c', probes(allowed.map((c) => [c.label, c.args]))])
      assert.equal(r2.code, 0, r2.stderr)
      checkCases(r2, allowed)
    } finally {
      a.server.close()
      b.server.close()
    }
  })

  it('network_policy in a config file applies, and --deny-net adds to it', async () => {
    const d = dataDir()
    const config = join(d, 'er-shell.yaml')
    writeFileSync(config, 'network_policy:\n  deny:\n    - 10.78.0.0/16\n    - "[2001:db8:78::/48]:443"\n')
    const cases = [
      tcp('file-allowed', '10.77.0.1', 443, 'ok'),
      tcp('file-denied4', '10.78.0.1', 443, 'EPERM'),
      tcp('file-denied6', '2001:db8:78::1', 443, 'EPERM'),
      tcp('flag-denied', '10.77.0.9', 443, 'EPERM'),
    ]
    const r = await recordNet(d, [
      '--config',
      config,
      '--deny-net',
      '10.77.0.9',
      '--',
      ...ns.exec(['/bin/sh', '-c', probes(cases.map((c) => [c.label, c.args]))]),
    ])
    assert.equal(r.code, 0, r.stderr)
    checkCases(r, cases)
  })

  it("Teleport's network_restrictions resource, as a document of a teleport.yaml, applies", async () => {
    const d = dataDir()
    const config = join(d, 'teleport.yaml')
    writeFileSync(
      config,
      [
        'version: v3',
        'ssh_service:',
        '  enabled: true',
        '  enhanced_recording:',
        '    enabled: true',
        '---',
        'kind: network_restrictions',
        'version: v1',
        'metadata:',
        '  name: network-restrictions',
        'spec:',
        '  allow:',
        '    - cidr: 10.77.0.0/24',
        '  deny:',
        '    - cidr: 10.77.0.9/32',
        '',
      ].join('\n'),
    )
    const cases = [tcp('allowed', '10.77.0.1', 443, 'ok'), tcp('not-allowed', '10.78.0.1', 443, 'EPERM'), tcp('deny-wins', '10.77.0.9', 443, 'EPERM')]
    const r = await recordNet(d, ['--config', config, '--', ...ns.exec(['/bin/sh', '-c', probes(cases.map((c) => [c.label, c.args]))])])
    assert.equal(r.code, 0, r.stderr)
    checkCases(r, cases)
  })

  it('a policy with network events off is refused in one line, nothing started', async () => {
    const d = dataDir()
    const marker = join(d, 'ran')
    const r = await record(join(d, 'data'), ['--events', 'command', '--deny-net', '10.0.0.0/8', '-c', `touch ${marker}`], {timeoutMs: 30_000})
    assert.notEqual(r.code, 0)
    assert.equal(hasStackTrace(r.stderr), false, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /network/)
    assert.equal(existsSync(marker), false, 'the command did not run')
  })

  it('a policy file with a bad CIDR: one line file:line:col, exit 2, nothing started', async () => {
    const d = dataDir()
    const config = join(d, 'er-shell.yaml')
    const marker = join(d, 'ran')
    writeFileSync(config, '# egress\nnetwork_policy:\n  allow:\n    - 10.77.0.0/24:443\n    - 10.77.0.300/24\n')
    const r = await record(join(d, 'data'), ['--config', config, '-c', `touch ${marker}`], {timeoutMs: 30_000})
    assert.equal(r.code, 2, r.stderr)
    assert.equal(hasStackTrace(r.stderr), false, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line:\n${r.stderr}`)
    assert.match(r.stderr.trim(), new RegExp(`^(er-shell: )?${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:7: .*10\\.77\\.0\\.300`), r.stderr)
    assert.equal(existsSync(marker), false, 'the command did not run')
    assert.deepEqual(existsSync(join(d, 'data')) ? findSessions(join(d, 'data')) : [], [], 'no session recorded')

    // The same rule as a flag: one line too (no file position).
    const f = await record(join(d, 'data'), ['--allow-net', '10.77.0.0/33', '-c', `touch ${marker}`], {timeoutMs: 30_000})
    assert.notEqual(f.code, 0)
    assert.equal(f.stderr.trim().split('\n').length, 1, f.stderr)
    assert.match(f.stderr, /10\.77\.0\.0\/33/)
    assert.equal(existsSync(marker), false)
  })
})

// UDP capture (issue 19): every UDP destination a session sends to is a session.network event with
// operation 1 and protocol "udp", whichever call sent it (sendto, sendmsg, one sendmmsg, write on a
// connected socket), over IPv4, IPv6 and v4-mapped IPv6; sends to one destination by one process
// are folded to about one event per second, and the events' `sends` add up to every send.
// Real sockets: listeners on loopback count what arrives, so each send is known to have happened.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {type NetEvent, NETPROBE, Netns, type UdpListener, labelled, listenUdp, probes, recordNet, sendsOf, show, to} from '../../helpers/net.js'
import {guardLeaks} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

/** Every event is an observed UDP send by netprobe; returns them. */
function observedSends(events: NetEvent[], version: 4 | 6, what: string): NetEvent[] {
  assert.ok(events.length > 0, `${what}: recorded`)
  for (const e of events) {
    assert.equal(e.operation, 1, `${what}: operation 1 (send)\n${show(events)}`)
    assert.equal(e.action, 0, `${what}: observed`)
    assert.equal(e.protocol, 'udp', `${what}: protocol`)
    assert.equal(e.version, version, `${what}: version`)
    assert.equal(e.program, 'netprobe', `${what}: program`)
    assert.ok(Number.isInteger(e.sends) && e.sends! >= 1, `${what}: sends ${e.sends}`)
    assert.equal(e.dns_name, undefined, `${what}: no DNS fields`)
  }
  return events
}

describe('network: UDP sends are recorded', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-net-udp-'})
  const listeners: UdpListener[] = []
  const udp = async (host: string) => {
    const l = await listenUdp(host)
    listeners.push(l)
    return l
  }
  after(async () => {
    for (const l of listeners.splice(0)) await l.close()
  })

  it('sendto, sendmsg, sendmmsg and connected write, over IPv4, IPv6 and v4-mapped IPv6: each destination recorded, sends summed', async () => {
    // One listener (one destination) per case, so each case's events are told apart by port.
    const cases: Array<{label: string; host: string; call: string; n: number; dst: string; version: 4 | 6; l?: UdpListener}> = [
      {label: 'sendto4', host: '127.0.0.1', call: 'udp-sendto', n: 3, dst: '127.0.0.1', version: 4},
      {label: 'sendmsg4', host: '127.0.0.1', call: 'udp-sendmsg', n: 4, dst: '127.0.0.1', version: 4},
      {label: 'sendmmsg4', host: '127.0.0.1', call: 'udp-sendmmsg', n: 5, dst: '127.0.0.1', version: 4},
      {label: 'connected4', host: '127.0.0.1', call: 'udp-connected', n: 6, dst: '127.0.0.1', version: 4},
      {label: 'sendto6', host: '::1', call: 'udp-sendto', n: 3, dst: '::1', version: 6},
      {label: 'sendmsg6', host: '::1', call: 'udp-sendmsg', n: 2, dst: '::1', version: 6},
      {label: 'sendmmsg6', host: '::1', call: 'udp-sendmmsg', n: 7, dst: '::1', version: 6},
      {label: 'connected6', host: '::1', call: 'udp-connected', n: 2, dst: '::1', version: 6},
      // An AF_INET6 socket sending to ::ffff:127.0.0.1: the packet is IPv4, the recorded
      // destination is the address the program used (docs/event-schema.md).
      {label: 'mapped', host: '127.0.0.1', call: 'udp-sendto', n: 3, dst: '::ffff:127.0.0.1', version: 6},
      {label: 'mapped-connected', host: '127.0.0.1', call: 'udp-connected', n: 2, dst: '::ffff:127.0.0.1', version: 6},
    ]
    for (const c of cases) c.l = await udp(c.host)
    const script = probes(cases.map((c) => [c.label, `${c.call} ${c.dst} ${c.l!.port} ${c.n}`]))
    const r = await recordNet(dataDir(), ['-c', script])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.end.lost_events, {command: 0, disk: 0, network: 0}, 'nothing lost')
    const results = labelled(r.out)
    for (const c of cases) {
      // sendmmsg is one call: one result line for all its messages.
      const want = c.call === 'udp-sendmmsg' ? 'ok' : Array(c.n).fill('ok').join(' ')
      assert.equal(results.get(c.label), want, `${c.label}: netprobe's results; output:\n${r.out}`)
      assert.equal(await c.l!.settle(c.n), c.n, `${c.label}: the listener got every datagram`)
      const events = observedSends(to(r.network, c.dst, c.l!.port), c.version, c.label)
      assert.equal(sendsOf(events), c.n, `${c.label}: sends add up to ${c.n}\n${show(events)}`)
      assert.ok(events.length <= 2, `${c.label}: folded (${events.length} events for ${c.n} sends within a second)\n${show(events)}`)
      assert.equal(new Set(events.map((e) => e.pid)).size, 1, `${c.label}: one process`)
      if (c.version === 4) for (const e of events) assert.equal(e.src_addr, '127.0.0.1', `${c.label}: src_addr`)
      if (c.dst === '::1') for (const e of events) assert.equal(e.src_addr, '::1', `${c.label}: src_addr`)
    }
    // Nothing but these sends and no connects were recorded: UDP sends are not connects.
    assert.equal(r.network.length, r.network.filter((e) => e.protocol === 'udp').length, show(r.network))
    assert.equal(r.end.event_counts?.network, r.network.length, "session.end's event_counts.network")
    assert.equal(r.end.event_counts?.network_denied, 0, 'nothing denied without a policy')
  })

  it('a burst of 20000 sends to one destination is a few events whose sends add up to 20000, nothing lost', async () => {
    const l = await udp('127.0.0.1')
    const r = await recordNet(dataDir(), ['--', NETPROBE, '-s', 'udp-sendto', '127.0.0.1', String(l.port), '20000'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.out, /^ok 20000\r?$/m, r.out)
    assert.deepEqual(r.end.lost_events, {command: 0, disk: 0, network: 0}, 'nothing lost')
    const events = observedSends(to(r.network, '127.0.0.1', l.port), 4, 'burst')
    assert.equal(sendsOf(events), 20000, show(events))
    // One event per second at most, plus the remainder at the end.
    const ns = Number(/^ns (\d+)/m.exec(r.out)?.[1])
    assert.ok(events.length <= Math.ceil(ns / 1e9) + 2, `${events.length} events for ${ns / 1e6} ms of sends\n${show(events)}`)
  })

  it('sends spread over 2.5 s are about one event per second; two processes to one destination are counted apart', async () => {
    const l = await udp('::1')
    const script = [`${NETPROBE} -i 50 udp-sendto ::1 ${l.port} 50 >/dev/null`, `${NETPROBE} udp-sendto ::1 ${l.port} 7 >/dev/null`].join('\n')
    const r = await recordNet(dataDir(), ['-c', script])
    assert.equal(r.code, 0, r.stderr)
    const events = observedSends(to(r.network, '::1', l.port), 6, 'spread')
    const byPid = new Map<number, NetEvent[]>()
    for (const e of events) byPid.set(e.pid, [...(byPid.get(e.pid) ?? []), e])
    assert.equal(byPid.size, 2, `two processes\n${show(events)}`)
    const [slow, quick] = [...byPid.values()].sort((a, b) => a[0]!.ei - b[0]!.ei)
    assert.equal(sendsOf(slow!), 50, show(slow!))
    assert.equal(sendsOf(quick!), 7, show(quick!))
    // 50 sends 50 ms apart take 2.5 s: 3 or 4 one-second windows (the last one's remainder
    // written when the session ends), never one event per send.
    assert.ok(slow!.length >= 2 && slow!.length <= 5, `${slow!.length} events for 50 sends over 2.5 s\n${show(slow!)}`)
    assert.ok(quick!.length <= 2, show(quick!))
  })

  describe('in a network namespace', () => {
    const ns = new Netns('udp')
    before(async () => {
      ns.create()
      await ns.serve([], [9999])
    })
    after(() => ns.remove())

    it('sends to non-loopback addresses (10.77.0.5, 2001:db8:77::1, ::ffff:10.78.0.1) are recorded with them', async () => {
      const cases: Array<[string, string, 4 | 6]> = [
        ['v4', '10.77.0.5', 4],
        ['v6', '2001:db8:77::1', 6],
        ['mapped', '::ffff:10.78.0.1', 6],
      ]
      const script = probes(cases.map(([label, dst]) => [label, `udp-sendto ${dst} 9999 4`]))
      const r = await recordNet(dataDir(), ['--', ...ns.exec(['/bin/sh', '-c', script])])
      assert.equal(r.code, 0, r.stderr)
      const results = labelled(r.out)
      for (const [label, dst, version] of cases) {
        assert.equal(results.get(label), 'ok ok ok ok', `${label}: ${r.out}`)
        const events = observedSends(to(r.network, dst, 9999), version, label)
        assert.equal(sendsOf(events), 4, show(events))
      }
      assert.equal((await ns.seen()).filter((s) => s.proto === 'udp' && s.port === 9999).length, 12, 'the listener got all 12')
      assert.equal(to(r.network, '10.77.0.5', 9999)[0]!.src_addr, '10.77.0.1', 'the source address the kernel chose')
    })
  })
})

// DNS queries (issue 19): a query to port 53, over UDP or TCP, is recorded with the queried name
// and type (dns_name, dns_type), read from the packet; sends that are not DNS queries, or not to
// port 53, carry neither. Real queries from netprobe to listeners in a network namespace of the
// test's own (port 53 there is free, whatever resolver the host runs).
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'

import {kernelTestsSkipReason} from '../../helpers/cli.js'
import {Netns, type NetEvent, labelled, probes, recordNet, sendsOf, show, to} from '../../helpers/net.js'
import {guardLeaks} from '../../helpers/record.js'

const skip = kernelTestsSkipReason()

describe('network: DNS queries are recorded with their name and type', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-net-dns-'})
  const ns = new Netns('dns')
  before(async () => {
    ns.create()
    await ns.serve([53], [53, 5353])
  })
  after(() => ns.remove())

  it('over UDP (v4, v6, v4-mapped), the root, SRV, a numeric type, repeated queries; not for non-DNS payloads or other ports', async () => {
    const udpCases: Array<{label: string; dst: string; name: string; type: string; want?: string; n?: number; version: 4 | 6}> = [
      {label: 'a', dst: '10.77.0.1', name: 'example.com', type: 'A', version: 4},
      {label: 'aaaa6', dst: '2001:db8:77::1', name: 'ipv6.example.org', type: 'AAAA', version: 6},
      {label: 'mapped', dst: '::ffff:10.77.0.1', name: 'svc.example.net', type: 'HTTPS', version: 6},
      {label: 'root', dst: '10.77.0.1', name: '.', type: 'NS', version: 4},
      {label: 'srv', dst: '10.77.0.1', name: '_sip._tcp.example.com', type: 'SRV', version: 4},
      {label: 'numeric', dst: '10.77.0.1', name: 'odd.example', type: '999', want: 'TYPE999', version: 4},
      {label: 'mx', dst: '10.77.0.1', name: 'mail.example.com', type: 'MX', version: 4},
      {label: 'repeat', dst: '10.77.0.1', name: 'repeat.example.com', type: 'TXT', n: 5, version: 4},
    ]
    const script = probes([
      ...udpCases.map((c): [string, string] => [c.label, `dns ${c.dst} 53 ${c.name} ${c.type} ${c.n ?? 1}`]),
      // Port 53 but no DNS query in the payload ("netprobe"), and a DNS query to another port.
      ['not-dns', 'udp-sendto 10.78.0.1 53 2'],
      ['other-port', 'dns 10.77.0.1 5353 mdns.example.com A'],
    ])
    const r = await recordNet(dataDir(), ['--', ...ns.exec(['/bin/sh', '-c', script])])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.end.lost_events, {command: 0, disk: 0, network: 0}, 'nothing lost')
    const results = labelled(r.out)
    for (const c of udpCases) {
      const n = c.n ?? 1
      assert.equal(results.get(c.label), Array(n).fill('ok').join(' '), `${c.label}: ${r.out}`)
      const events = to(r.network, c.dst, 53).filter((e) => e.dns_name === c.name)
      assert.ok(events.length >= 1, `${c.label}: a query for ${c.name} to ${c.dst}:53 is recorded; recorded:\n${show(r.network)}`)
      for (const e of events) {
        assert.equal(e.dns_type, c.want ?? c.type, `${c.label}: dns_type`)
        assert.equal(e.operation, 1, `${c.label}: a send`)
        assert.equal(e.action, 0)
        assert.equal(e.protocol, 'udp')
        assert.equal(e.version, c.version)
        assert.equal(e.program, 'netprobe')
      }
      assert.equal(sendsOf(events), n, `${c.label}: sends\n${show(events)}`)
    }
    const notDns = to(r.network, '10.78.0.1', 53)
    assert.equal(sendsOf(notDns), 2, show(notDns))
    for (const e of notDns) assert.ok(e.dns_name === undefined && e.dns_type === undefined, `a payload that is no DNS query: no DNS fields\n${show(notDns)}`)
    const other = to(r.network, '10.77.0.1', 5353)
    assert.equal(sendsOf(other), 1, show(other))
    for (const e of other) assert.equal(e.dns_name, undefined, `port 5353 is not DNS\n${show(other)}`)
    assert.equal((await ns.seen()).filter((s) => s.proto === 'udp').length, 15, 'every datagram arrived')
  })

  it('over TCP: the connect, then the query (2-byte length prefix) as a send with its name and type', async () => {
    const script = probes([
      ['tcp4', 'dns-tcp 10.77.0.1 53 tcp.example.com MX'],
      ['tcp6', 'dns-tcp 2001:db8:77::1 53 tcp6.example.com AAAA'],
    ])
    const r = await recordNet(dataDir(), ['--', ...ns.exec(['/bin/sh', '-c', script])])
    assert.equal(r.code, 0, r.stderr)
    const results = labelled(r.out)
    for (const [label, dst, name, type, version] of [
      ['tcp4', '10.77.0.1', 'tcp.example.com', 'MX', 4],
      ['tcp6', '2001:db8:77::1', 'tcp6.example.com', 'AAAA', 6],
    ] as Array<[string, string, string, string, 4 | 6]>) {
      assert.equal(results.get(label), 'ok', `${label}: ${r.out}`)
      const events = to(r.network, dst, 53)
      const connects = events.filter((e) => e.operation === 0)
      assert.equal(connects.length, 1, `${label}: one connect\n${show(events)}`)
      assert.equal(connects[0]!.protocol, 'tcp')
      assert.equal(connects[0]!.sends, undefined, 'no sends on a connect')
      const queries: NetEvent[] = events.filter((e) => e.operation === 1)
      assert.equal(queries.length, 1, `${label}: one query\n${show(events)}`)
      const q = queries[0]!
      assert.equal(q.protocol, 'tcp')
      assert.equal(q.dns_name, name)
      assert.equal(q.dns_type, type)
      assert.equal(q.sends, 1)
      assert.equal(q.version, version)
      assert.equal(q.action, 0)
    }
    assert.equal((await ns.seen()).filter((s) => s.proto === 'tcp-data' && s.port === 53).length, 2, 'both queries arrived')
  })
})

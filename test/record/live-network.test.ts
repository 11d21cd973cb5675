// Live lines of network events (formatLiveLine), from hand-written bodies as the native formatter
// writes them: TCP connects as before, UDP sends with their count and DNS question, denied
// attempts marked "denied" (in red), recorded strings made harmless.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import type {SessionNetworkBody} from '../../src/events/types.js'
import {formatLiveLine, type Palette} from '../../src/record/live.js'

const plain = (text: string): string => text
const PLAIN: Palette = {green: plain, red: plain, yellow: plain, cyan: plain, magenta: plain, blue: plain, dim: plain}
/** Marks what each style wraps, so a test sees which part is red. */
const MARKED: Palette = {...PLAIN, red: (t) => `<red>${t}</red>`, magenta: (t) => `<magenta>${t}</magenta>`}

const base = {event: 'session.network' as const, pid: 12, cgroup_id: 5, program: 'curl'}

function net(fields: Partial<SessionNetworkBody>): SessionNetworkBody {
  return {...base, src_addr: '10.0.0.5', dst_addr: '10.0.0.1', dst_port: 443, version: 4, operation: 0, action: 0, ...fields}
}

describe('live lines: network', () => {
  it('an observed TCP connect: source → destination, transport and family', () => {
    assert.equal(formatLiveLine(net({protocol: 'tcp'}), PLAIN), 'network  pid 12  curl  10.0.0.5 → 10.0.0.1:443  (tcp/ipv4)')
    // Recorded before er-shell wrote `protocol`: a TCP connect, shown as it always was.
    assert.equal(formatLiveLine(net({src_addr: '::1', dst_addr: '::1', dst_port: 80, version: 6}), PLAIN), 'network  pid 12  curl  ::1 → [::1]:80  (tcp/ipv6)')
  })

  it('UDP sends: "send", the count when the event stands for more than one, the DNS question', () => {
    const dns = net({program: 'dig', dst_addr: '127.0.0.53', dst_port: 53, operation: 1, protocol: 'udp', sends: 4, dns_name: 'example.com', dns_type: 'AAAA'})
    assert.equal(formatLiveLine(dns, PLAIN), 'network  pid 12  dig  send 10.0.0.5 → 127.0.0.53:53  (udp/ipv4) ×4  DNS AAAA example.com')
    const one = net({src_addr: '::', dst_addr: '::ffff:10.0.0.1', dst_port: 9999, version: 6, operation: 1, protocol: 'udp', sends: 1})
    assert.equal(formatLiveLine(one, PLAIN), 'network  pid 12  curl  send :: → [::ffff:10.0.0.1]:9999  (udp/ipv6)')
    const overTcp = net({dst_port: 53, operation: 1, protocol: 'tcp', sends: 2, dns_name: '.', dns_type: 'NS'})
    assert.equal(formatLiveLine(overTcp, PLAIN), 'network  pid 12  curl  send 10.0.0.5 → 10.0.0.1:53  (tcp/ipv4) ×2  DNS NS .')
  })

  it('a denied attempt says "denied", in red, without the unchosen source', () => {
    const connect = net({src_addr: '0.0.0.0', action: 1, protocol: 'tcp'})
    assert.equal(formatLiveLine(connect, PLAIN), 'network  pid 12  curl  denied connect → 10.0.0.1:443  (tcp/ipv4)')
    assert.equal(formatLiveLine(connect, MARKED), '<magenta>network</magenta>  pid 12  curl  <red>denied connect</red> → 10.0.0.1:443  (tcp/ipv4)')
    const send = net({
      src_addr: '::',
      dst_addr: '2001:db8::1',
      dst_port: 53,
      version: 6,
      operation: 1,
      action: 1,
      protocol: 'udp',
      dns_name: 'x.example',
      dns_type: 'TXT',
    })
    assert.equal(formatLiveLine(send, PLAIN), 'network  pid 12  curl  denied send → [2001:db8::1]:53  (udp/ipv6)  DNS TXT x.example')
    assert.match(formatLiveLine(send, PLAIN)!, /\bdenied\b/)
    // An observed event has no red in it.
    assert.doesNotMatch(formatLiveLine(net({protocol: 'tcp'}), MARKED)!, /<red>/)
  })

  it('a DNS name is untrusted: control characters made visible, a long one shortened', () => {
    const hostile = net({operation: 1, protocol: 'udp', sends: 1, dns_name: `evil\u001b]52;c;aGk=\u0007.example`, dns_type: 'A'})
    const text = formatLiveLine(hostile, PLAIN)!
    assert.doesNotMatch(text, /[\u0000-\u001f\u007f]/)
    const long = formatLiveLine(net({operation: 1, protocol: 'udp', dns_name: 'a'.repeat(253), dns_type: 'A'}), PLAIN)!
    assert.ok(long.length < 253, `${long.length} characters`)
    assert.match(long, /DNS A a+…$/)
  })
})

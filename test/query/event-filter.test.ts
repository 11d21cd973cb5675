// The event filters behind `events` on network events, without a recording: --denied, --protocol,
// and which event types (and so which per-kind file) they can match.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {InvalidFilterError} from '../../src/errors/index.js'
import type {AuditEvent} from '../../src/events/types.js'
import {compileEventFilter, matchEvent, wantedTypes} from '../../src/query/index.js'

const header = {
  ei: 1,
  code: 'T4002I',
  uid: 'u',
  time: '2026-11-22T16:42:18.200Z',
  cluster_name: 'c',
  sid: 's',
  namespace: 'default' as const,
  server_id: 'x',
  server_hostname: 'h',
  login: 'root',
  user: 'alice',
}

function network(fields: Record<string, unknown>): AuditEvent {
  return {
    ...header,
    event: 'session.network',
    pid: 1,
    cgroup_id: 2,
    program: 'curl',
    src_addr: '127.0.0.1',
    dst_addr: '127.0.0.1',
    dst_port: 80,
    version: 4,
    operation: 0,
    action: 0,
    ...fields,
  } as AuditEvent
}

const command = {
  ...header,
  event: 'session.command',
  code: 'T4000I',
  pid: 1,
  ppid: 0,
  cgroup_id: 2,
  program: 'sh',
  path: '/bin/sh',
  argv: [],
  return_code: 0,
} as AuditEvent

describe('event filter: network', () => {
  it('--denied matches action 1 network events only, and reads only network events', () => {
    const filter = compileEventFilter({denied: true})
    assert.deepEqual([...wantedTypes(filter)!], ['session.network'])
    assert.equal(matchEvent(network({action: 1, protocol: 'tcp'}), filter), true)
    assert.equal(matchEvent(network({action: 0, protocol: 'tcp'}), filter), false)
    assert.equal(matchEvent(command, filter), false)
    assert.deepEqual([...wantedTypes(compileEventFilter({denied: true, type: 'command,disk'}))!], [])
    // --denied false (the flag's default) filters nothing.
    assert.equal(wantedTypes(compileEventFilter({denied: false})), undefined)
  })

  it('--protocol: tcp or udp, any case; a network event without the field (older recordings) is tcp', () => {
    const udp = compileEventFilter({protocol: 'UDP'})
    assert.equal(udp.protocol, 'udp')
    assert.deepEqual([...wantedTypes(udp)!], ['session.network'])
    assert.equal(matchEvent(network({protocol: 'udp', operation: 1, sends: 2}), udp), true)
    assert.equal(matchEvent(network({protocol: 'tcp'}), udp), false)
    assert.equal(matchEvent(network({}), udp), false)
    const tcp = compileEventFilter({protocol: 'tcp'})
    assert.equal(matchEvent(network({}), tcp), true)
    assert.equal(matchEvent(command, tcp), false)
  })

  it('an unknown protocol is an InvalidFilterError naming the option', () => {
    assert.throws(
      () => compileEventFilter({protocol: 'icmp'}),
      (error: unknown) => error instanceof InvalidFilterError && /--protocol.*unknown protocol "icmp" \(known: tcp, udp\)/.test((error as Error).message),
    )
  })
})

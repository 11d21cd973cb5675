// Real sockets for the network tests: TCP and UDP listeners on loopback, a network namespace with
// non-loopback addresses (and listeners in it), and netprobe (test/helpers/netprobe.c, built by
// binding.gyp as build/Release/netprobe), the program the tests run inside recorded sessions.
import type {SessionNetworkEvent} from '../../src/events/types.js'
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {createSocket, type Socket as UdpSocket} from 'node:dgram'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type {AuditEvent} from '../../src/events/types.js'
import {ROOT} from './cli.js'
import {type Recorded, type StartOptions, endOf, eventsOf, onlySession, record} from './record.js'

/** test/helpers/netprobe.c, built by `npm run build` (binding.gyp's test targets). */
export const NETPROBE = join(ROOT, 'build', 'Release', 'netprobe')

/** iproute2's ip, by its full path (a session's PATH search would record every miss as a failed exec). */
export const IP = spawnSync('/bin/sh', ['-c', 'command -v ip'], {encoding: 'utf8', env: {PATH: '/usr/sbin:/usr/bin:/sbin:/bin'}}).stdout.trim() || 'ip'

/** A TCP listener on loopback for connect tests: accepts and closes at once. */
export function listen(host: string): Promise<{server: Server; port: number}> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.end())
    server.on('error', reject)
    server.listen(0, host, () => {
      const addr = server.address()
      if (typeof addr !== 'object' || !addr) return reject(new Error('no address'))
      resolve({server, port: addr.port})
    })
  })
}

export interface UdpListener {
  socket: UdpSocket
  port: number
  /** Datagrams received so far. */
  received(): number
  /** Resolves once at least n datagrams arrived, or after ms (whatever arrived by then). */
  settle(n: number, ms?: number): Promise<number>
  close(): Promise<void>
}

/** A UDP socket bound to host (127.0.0.1 or ::1) on a free port, counting what arrives. */
export function listenUdp(host: string): Promise<UdpListener> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20})
    let count = 0
    socket.on('message', () => count++)
    socket.on('error', reject)
    socket.bind(0, host, () => {
      const port = socket.address().port
      resolve({
        socket,
        port,
        received: () => count,
        settle: async (n, ms = 2000) => {
          const deadline = Date.now() + ms
          while (count < n && Date.now() < deadline) await sleep(20)
          return count
        },
        close: () => new Promise((r) => socket.close(() => r())),
      })
    })
  })
}

// ---------------------------------------------------------------- a network namespace

/** What a listener in the namespace saw: a connection, data on one, or a datagram. */
export interface Seen {
  proto: 'tcp' | 'tcp-data' | 'udp'
  port: number
  /** TCP: the local address connected to (v4 as ::ffff:a.b.c.d: the listeners are dual-stack). */
  addr?: string
  from: string
  bytes?: number
}

// The listeners in the namespace: dual-stack on ::, TCP ports then UDP ports (comma lists) as
// arguments; one JSON line per connection, per TCP read and per datagram; `ready` once all listen.
const SERVE = `
const net = require('node:net'), dgram = require('node:dgram')
const [tcp, udp] = process.argv.slice(1).map((s) => (s ? s.split(',').map(Number) : []))
let pending = tcp.length + udp.length
const ready = () => { if (--pending === 0) console.log('ready') }
const out = (o) => console.log(JSON.stringify(o))
for (const port of tcp)
  net.createServer((s) => {
    out({proto: 'tcp', port, addr: s.localAddress, from: s.remoteAddress})
    s.on('data', (d) => { out({proto: 'tcp-data', port, addr: s.localAddress, from: s.remoteAddress, bytes: d.length}); s.end() })
    s.on('error', () => {})
  }).listen({port, host: '::', ipv6Only: false}, ready)
for (const port of udp) {
  const u = dgram.createSocket({type: 'udp6', ipv6Only: false, recvBufferSize: 4 << 20})
  u.on('message', (m, r) => out({proto: 'udp', port, from: r.address, bytes: m.length}))
  u.bind(port, '::', ready)
}
`

/**
 * A network namespace of the test's own (`ip netns add`), with its loopback up and carrying, as
 * local addresses: 10.77.0.0/24 (every address in it), 10.78.0.1, 192.0.2.1, 2001:db8:77::1,
 * 2001:db8:77::2 and 2001:db8:78::1. `serve` starts listeners in it; `remove` ends them and
 * deletes the namespace.
 */
export class Netns {
  readonly name: string
  private server?: ChildProcess
  private lines: string[] = []

  constructor(tag: string) {
    this.name = `er-net-${tag}-${process.pid}`
  }

  static readonly V4 = ['10.77.0.1/24', '10.78.0.1/32', '192.0.2.1/32']
  static readonly V6 = ['2001:db8:77::1/128', '2001:db8:77::2/128', '2001:db8:78::1/128']

  create(): this {
    this.remove()
    ip(['netns', 'add', this.name])
    ip(['-n', this.name, 'link', 'set', 'lo', 'up'])
    for (const a of Netns.V4) ip(['-n', this.name, 'addr', 'add', a, 'dev', 'lo'])
    for (const a of Netns.V6) ip(['-n', this.name, '-6', 'addr', 'add', a, 'dev', 'lo', 'nodad'])
    return this
  }

  /** argv run inside the namespace. */
  exec(argv: string[]): string[] {
    return [IP, 'netns', 'exec', this.name, ...argv]
  }

  /** Starts dual-stack listeners on these TCP and UDP ports in the namespace; resolves once they listen. */
  async serve(tcp: number[], udp: number[]): Promise<void> {
    const argv = this.exec([process.execPath, '-e', SERVE, tcp.join(','), udp.join(',')])
    const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']})
    this.server = child
    let buf = ''
    let err = ''
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const parts = buf.split('\n')
      buf = parts.pop()!
      this.lines.push(...parts)
    })
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    const deadline = Date.now() + 15_000
    while (!this.lines.includes('ready')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`listeners in ${this.name} exited: ${err}`)
      if (Date.now() > deadline) throw new Error(`listeners in ${this.name} not ready: ${err}`)
      await sleep(20)
    }
  }

  /** What the listeners saw so far (after a short wait for lines in flight). */
  async seen(): Promise<Seen[]> {
    await sleep(100)
    return this.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Seen)
  }

  /** Forgets what the listeners saw so far. */
  clearSeen(): void {
    this.lines = this.lines.filter((l) => !l.startsWith('{'))
  }

  /** Stops the listeners (the process this helper started) and deletes the namespace; never throws. */
  remove(): void {
    if (this.server && this.server.exitCode === null && this.server.signalCode === null) this.server.kill('SIGKILL')
    this.server = undefined
    this.lines = []
    spawnSync(IP, ['netns', 'del', this.name], {stdio: 'ignore'})
  }
}

function ip(args: string[]): void {
  const r = spawnSync(IP, args, {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`)
}

// ---------------------------------------------------------------- netprobe output

/**
 * The lines a session printed (the terminal turns \n into \r\n), labelled: a script prints
 * `LABEL RESULT` lines (see `probes`), and this maps each label to its result.
 */
export function labelled(output: string): Map<string, string> {
  const m = new Map<string, string>()
  for (const line of output.split(/\r?\n/)) {
    const at = line.indexOf(' ')
    if (at > 0) m.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  return m
}

/**
 * A /bin/sh script that runs each netprobe command and prints `LABEL RESULT` (a command's several
 * result lines joined by spaces), for `labelled`.
 */
export function probes(cases: Array<[label: string, args: string]>): string {
  return cases.map(([label, args]) => `echo "${label} $(${NETPROBE} ${args} | tr '\\n' ' ')"`).join('\n')
}

// ---------------------------------------------------------------- recording

/** A session.network event as recorded (docs/event-schema.md), with er-shell's protocol/sends/dns_* fields. */
/** A session.network event as recorded (the one shape, src/events/types.ts). */
export type NetEvent = SessionNetworkEvent

export interface NetRecording extends Recorded {
  /** What the session printed (its terminal output, \r\n line ends). */
  out: string
  sid: string
  events: AuditEvent[]
  network: NetEvent[]
  end: AuditEvent & Record<string, any>
}

/** `record --data-dir D ARGS`, then the session's events; throws with record's stderr when no session was recorded. */
export async function recordNet(dataDir: string, args: string[], options: StartOptions = {}): Promise<NetRecording> {
  const r = await record(dataDir, args, options)
  let sid: string
  try {
    sid = onlySession(dataDir).sid
  } catch (error) {
    throw new Error(`record ${args.join(' ')} made no session (exit ${r.code}): ${(error as Error).message}\n${r.stderr}`)
  }
  const events = await eventsOf(onlySession(dataDir))
  const network = events.filter((e) => e.event === 'session.network') as unknown as NetEvent[]
  return {...r, out: r.stdout.toString('utf8'), sid, events, network, end: endOf(events)}
}

/** The events to dst:port (dst as recorded: ::ffff:a.b.c.d for a v4-mapped destination). */
export function to(events: NetEvent[], dst: string, port: number): NetEvent[] {
  return events.filter((e) => e.dst_addr === dst && e.dst_port === port)
}

/** The sum of `sends` over events (a connect counts 0). */
export function sendsOf(events: NetEvent[]): number {
  return events.reduce((n, e) => n + (e.sends ?? 0), 0)
}

/** One line per event, for assertion messages. */
export function show(events: NetEvent[]): string {
  return events
    .map(
      (e) =>
        `  ${e.pid} ${e.program} ${e.src_addr} -> ${e.dst_addr}:${e.dst_port} v${e.version} op ${e.operation} action ${e.action} ${e.protocol ?? '?'}` +
        `${e.sends === undefined ? '' : ` sends ${e.sends}`}${e.dns_name === undefined ? '' : ` dns ${e.dns_name} ${e.dns_type}`}`,
    )
    .join('\n')
}

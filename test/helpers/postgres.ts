// A private PostgreSQL cluster for a test: Debian's postgresql package (scripts/setup.sh installs
// it), initdb in a temporary directory, a free TCP port on 127.0.0.1, a private unix socket
// directory, started and stopped by the postmaster's pid. As root, the cluster runs as the
// `postgres` account (initdb refuses root). Removed when the test ends, and at process exit when
// a test failed before its cleanup ran.
import {spawnSync} from 'node:child_process'
import {chownSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import type {TestContext} from 'node:test'

import {tempDir} from './temp.js'

const PG_ROOT = '/usr/lib/postgresql'
export const SUPERUSER = 'postgres'
export const PASSWORD = 's3cret-pw'

/** The newest installed server's bin directory, or undefined when none is installed. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(PG_ROOT, versions[0], 'bin')
}

/**
 * Why PostgreSQL tests cannot run here, or false. Only a host without the package (scripts/setup.sh
 * installs it) skips them; scripts/test.sh fails a CI run that skips anything.
 */
export function postgresSkipReason(): string | false {
  return postgresBinDir() === undefined ? `PostgreSQL is not installed (${PG_ROOT}/*/bin/initdb): run scripts/setup.sh` : false
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      server.close(() => resolve(port))
    })
  })
}

const running = new Set<PgCluster>()
process.once('exit', () => {
  for (const cluster of running) {
    cluster.stopNow()
    rmSync(cluster.root, {recursive: true, force: true})
  }
})

export class PgCluster {
  readonly root: string
  readonly dataDir: string
  readonly socketDir: string
  readonly logFile: string
  private pid: number | undefined

  private constructor(
    readonly bin: string,
    root: string,
    readonly port: number,
    private readonly owner: {uid: number; gid: number} | undefined,
    private readonly durable: boolean,
  ) {
    this.root = root
    this.dataDir = join(root, 'data')
    this.socketDir = join(root, 'sock')
    this.logFile = join(root, 'postgres.log')
  }

  /** initdb + start; with a test context, stopped and removed when the test (or suite) ends. */
  /**
   * `durable: false` (tests) turns fsync and synchronous commit off: faster, and a crash of the
   * server (not of the machine) still loses nothing committed. Benchmarks keep the defaults.
   */
  static async start(t?: TestContext | {after(fn: () => void | Promise<void>): void}, options: {durable?: boolean} = {}): Promise<PgCluster> {
    const bin = postgresBinDir()
    if (bin === undefined) throw new Error(postgresSkipReason() as string)
    const root = tempDir('er-pg-')
    const owner = process.geteuid?.() === 0 ? accountIds(SUPERUSER) : undefined
    const cluster = new PgCluster(bin, root, await freePort(), owner, options.durable === true)
    running.add(cluster)
    t?.after(() => cluster.destroy())
    try {
      cluster.init()
      await cluster.startServer()
    } catch (error) {
      await cluster.destroy()
      throw error
    }
    return cluster
  }

  /** URI over TCP with the superuser's password (database `postgres` unless named). */
  uri(options: {database?: string; password?: string; fragment?: string; query?: string} = {}): string {
    const password = encodeURIComponent(options.password ?? PASSWORD)
    const query = options.query ? `?${options.query}` : ''
    const fragment = options.fragment ? `#${options.fragment}` : ''
    return `postgres://${SUPERUSER}:${password}@127.0.0.1:${this.port}/${options.database ?? 'postgres'}${query}${fragment}`
  }

  /** Runs SQL through psql over the private socket; returns stdout (unaligned, tuples only). */
  psql(sql: string, database = 'postgres'): string {
    const r = spawnSync(
      join(this.bin, 'psql'),
      ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', this.socketDir, '-p', String(this.port), '-U', SUPERUSER, '-d', database, '-c', sql],
      {
        encoding: 'utf8',
        ...this.spawnAs(),
      },
    )
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr || r.error}`)
    return r.stdout.trim()
  }

  /** Starts the server (again, after stop()). */
  async startServer(): Promise<void> {
    const fast = this.durable ? '' : ' -c fsync=off -c full_page_writes=off -c synchronous_commit=off'
    const options = `-p ${this.port} -k ${this.socketDir} -c listen_addresses=127.0.0.1${fast}`
    const r = spawnSync(join(this.bin, 'pg_ctl'), ['start', '-w', '-t', '60', '-D', this.dataDir, '-l', this.logFile, '-o', options], {
      encoding: 'utf8',
      ...this.spawnAs(),
    })
    if (r.status !== 0) throw new Error(`pg_ctl start failed: ${r.stderr}${r.stdout}\n${this.log()}`)
    this.pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  }

  /** Stops the server by its pid: SIGINT (fast shutdown), or SIGKILL (`kill`, a crash); waits until it is gone. */
  async stop(how: 'fast' | 'kill' = 'fast'): Promise<void> {
    const pid = this.pid
    if (pid === undefined) return
    const children = how === 'kill' ? childrenOf(pid) : []
    try {
      process.kill(pid, how === 'kill' ? 'SIGKILL' : 'SIGINT')
    } catch {
      // Already gone.
    }
    for (let i = 0; i < 600 && alive(pid); i++) await sleep(50)
    this.pid = undefined
    // Backends outlive a SIGKILLed postmaster until they notice; a restart waits for them.
    for (let i = 0; i < 200 && children.some(alive); i++) await sleep(50)
  }

  get running(): boolean {
    return this.pid !== undefined && alive(this.pid)
  }

  /** The server log (for assertion messages). */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8')
    } catch {
      return ''
    }
  }

  /** Synchronous stop for process exit: SIGQUIT (immediate shutdown); the caller removes the directory. */
  stopNow(): void {
    if (this.pid !== undefined) {
      try {
        process.kill(this.pid, 'SIGQUIT')
      } catch {
        // Gone.
      }
    }
    this.pid = undefined
  }

  async destroy(): Promise<void> {
    await this.stop()
    running.delete(this)
    rmSync(this.root, {recursive: true, force: true})
  }

  private init(): void {
    const pwfile = join(this.root, 'pwfile')
    writeFileSync(pwfile, `${PASSWORD}\n`, {mode: 0o600})
    if (this.owner) for (const path of [this.root, pwfile]) chownSync(path, this.owner.uid, this.owner.gid)
    const r = spawnSync(
      join(this.bin, 'initdb'),
      [
        '-D',
        this.dataDir,
        '-U',
        SUPERUSER,
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--no-sync',
      ],
      {encoding: 'utf8', ...this.spawnAs()},
    )
    if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr}${r.stdout}`)
    spawnSync('mkdir', ['-m', '0700', this.socketDir], this.spawnAs())
    rmSync(pwfile, {force: true})
  }

  private spawnAs(): {uid?: number; gid?: number; cwd: string} {
    return this.owner ? {uid: this.owner.uid, gid: this.owner.gid, cwd: this.root} : {cwd: this.root}
  }
}

function accountIds(name: string): {uid: number; gid: number} {
  for (const candidate of [name, 'nobody']) {
    const r = spawnSync('id', ['-u', candidate], {encoding: 'utf8'})
    const g = spawnSync('id', ['-g', candidate], {encoding: 'utf8'})
    if (r.status === 0 && g.status === 0) return {uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim())}
  }
  throw new Error(`no ${name} or nobody account to run PostgreSQL as (initdb refuses root)`)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The pids whose parent is `pid` (from /proc/<pid>/stat). */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) children.push(Number(name))
    } catch {
      // Exited meanwhile.
    }
  }
  return children
}

// `er-shell verify`: prove recordings whole and unaltered (docs/integrity.md), or name the first broken place.
import * as path from 'node:path'
import * as Args from '@oclif/core/args'
import {Flags} from '../cli/oclif.js'

import {BaseCommand, note} from '../cli/base-command.js'
import {configFlags, loadConfig, storeFlags} from '../config/index.js'
import type {ErShellConfig} from '../config/schema.js'
import {IntegrityKeyError, StoreError, UsageError} from '../errors/index.js'
import {openReadingStore} from '../fleet/reading.js'
import {storedVerificationKeys} from '../fleet/verification-keys.js'
import {
  HostKeys,
  type MissingSession,
  type SessionVerdict,
  VERIFY_KEY_FILE,
  checkHostLogs,
  ensureHostKeys,
  formatVerificationKey,
  integrityDir,
  missingSessions,
  readHostVerificationKey,
  readRatchet,
  readVerificationKeyFile,
  verifySession,
  describeVerdict,
  type VerificationKey,
} from '../integrity/index.js'
import {findSessions, resolveSession, type SessionRef} from '../storage/index.js'
import {readServerId} from '../storage/layout.js'

type KeySource = 'file' | 'store' | 'host'

/** What `verify --json` returns. */
export interface VerifyReport {
  key_id: string
  /** Where the verification key came from: --key's file, the fleet store's copy, or the one kept on this host. */
  key_source: KeySource
  sessions: SessionVerdict[]
  /** With --all: numbers the host gave sessions that are not in the data dir. */
  missing_sessions: MissingSession[]
}

export default class Verify extends BaseCommand {
  static override summary = 'Check that recordings are whole and unaltered: their hash chain, checkpoints and seal, and the host numbering of sessions.'

  static override description = `Each session's files are checked against its integrity file (<sid>.integrity): every event line and every byte of terminal output, in order, up to each checkpoint, each checkpoint authenticated with the key of its time (a key ratchet that starts at the verification key), and the seal written when the session ended. --all also checks that no session the host numbered is missing.

Prints "intact (N events, M bytes, sealed at T)" per session, M being the terminal output. Otherwise the first broken place: the file, the event index, the byte offset in the file's uncompressed stream, and what is wrong — modified, missing, reordered, truncated, appended (after the seal), unsealed (the recorder did not finish: intact up to its last checkpoint), or unknown key (recorded under another key: the host's secret was replaced, or the session comes from another host).

The verification key is the ratchet's start. --show-key prints it (and creates the host's keys if there are none yet): keep it elsewhere, then remove it from the host, since root on the host can forge recordings with it. Without --key the copy on the host is used, and a note says so.`

  static override strict = false

  static override enableJsonFlag = true

  static override examples = [
    {
      description: 'Check one session',
      command: `<%= config.bin %> <%= command.id %> 86aca627 --key /root/er-shell.key
86aca627-971d-4883-854d-d309ba04c658: intact (16 events, 175 bytes, sealed at 2026-11-22T16:42:19.800Z)`,
    },
    {
      description: 'Check every session, and that none was deleted',
      command: `<%= config.bin %> <%= command.id %> --all --key /root/er-shell.key
86aca627-971d-4883-854d-d309ba04c658: damaged: missing in 86aca627-971d-4883-854d-d309ba04c658-0.events.gz at event 7, byte 2419: event 7 is missing (event 8 follows event 6)
b0b00000-0000-4000-8000-000000000001: intact (12 events, 1024 bytes, sealed at 2026-11-20T09:00:01.800Z)
host: missing: session #2 of this host is missing (deleted)`,
    },
    {description: 'Print the verification key, to keep it elsewhere', command: '<%= config.bin %> <%= command.id %> --show-key > /safe/place/er-shell.key'},
  ]

  static override args = {
    sid: Args.string({description: 'Session ids, or unique prefixes of them.', required: false}),
  }

  static override flags = {
    config: configFlags.config,
    'data-dir': configFlags['data-dir'],
    all: Flags.boolean({
      char: 'a',
      description: "Every session in the data dir, the host's numbering of sessions (deleted sessions), and the host audit log's copy of each session.",
    }),
    key: Flags.string({
      char: 'k',
      description: 'The verification key (a file with the line --show-key prints). Default: the copy kept on this host.',
      helpValue: '<file>',
    }),
    'show-key': Flags.boolean({description: "Print the host's verification key (creating the host's keys if there are none yet) and exit."}),
    'audit-events-uri': storeFlags['audit-events-uri'],
    local: Flags.boolean({description: "Don't take the verification key from the fleet store; use the copy kept on this host.", default: false}),
  }

  async run(): Promise<VerifyReport | {key_id: string; key: string; file: string}> {
    const {flags, argv} = await this.parse(Verify)
    const {config} = loadConfig(flags)
    const dataDir = config.data_dir
    const sids = argv as string[]

    if (flags['show-key']) {
      if (sids.length > 0 || flags.all || flags.key) throw new UsageError('--show-key takes no session ids, --all or --key')
      const file = path.join(integrityDir(dataDir), VERIFY_KEY_FILE)
      const vk = ensureHostKeys(dataDir)
      if (!vk) {
        const state = readRatchet(dataDir)
        throw new IntegrityKeyError(file, `is gone: the verification key of key ${state?.keyId ?? '?'} is no longer on this host (use the copy you kept)`)
      }
      if (!this.jsonEnabled()) {
        this.log(formatVerificationKey(vk))
        note(`keep this key off this host, then delete ${file}: while it is here, root can forge recordings with it`)
      }
      return {key_id: vk.id, key: vk.key.toString('hex'), file}
    }

    if (sids.length === 0 && !flags.all) throw new UsageError('name the sessions to check (session ids or prefixes), or give --all')
    if (sids.length > 0 && flags.all) throw new UsageError('give session ids or --all, not both')

    // The sessions first: a data dir that does not exist is said as such, not as a missing key.
    const refs: SessionRef[] = flags.all ? findSessions(dataDir).sort((a, b) => a.sid.localeCompare(b.sid)) : sids.map((sid) => resolveSession(dataDir, sid))
    let vk: VerificationKey
    let source: KeySource
    if (flags.key) {
      vk = readVerificationKeyFile(flags.key)
      source = 'file'
    } else {
      const stored = await this.storeKey(config, dataDir, flags.local)
      const host = readHostVerificationKey(dataDir)
      if (stored) {
        vk = stored
        source = 'store'
        if (host && host.id !== stored.id && !this.jsonEnabled())
          note(
            `the verification key on this host (${host.id}) is not the one the fleet store received from it first (${stored.id}): the host's secret was replaced`,
          )
      } else if (host) {
        vk = host
        source = 'host'
        if (!this.jsonEnabled())
          note(`checked with the verification key kept on this host (${vk.id}); root could have replaced it: use --key with a copy kept elsewhere`)
      } else {
        throw new IntegrityKeyError(
          path.join(integrityDir(dataDir), VERIFY_KEY_FILE),
          'does not exist: give the verification key with --key FILE (the line "er-shell verify --show-key" printed)',
        )
      }
    }

    const keys = new HostKeys(vk, dataDir)
    const verdicts: SessionVerdict[] = []
    for (const ref of refs) verdicts.push(await verifySession(ref, keys))
    // With --all the host audit log is read once for every session: its copy of each must match.
    if (flags.all) await checkHostLogs(dataDir, verdicts)
    const missing = flags.all ? missingSessions(dataDir, vk, verdicts) : []
    if (!this.jsonEnabled()) {
      for (const verdict of verdicts) this.log(`${verdict.sid}: ${describeVerdict(verdict)}`)
      for (const m of missing) this.log(`host: missing: ${m.detail}`)
      if (flags.all && refs.length === 0) note(`no recorded sessions in ${dataDir}`)
    }
    const damaged = missing.length > 0 || verdicts.some((v) => v.status === 'damaged' || v.status === 'unknown key')
    if (damaged) process.exitCode = 1
    else if (verdicts.some((v) => v.status === 'unsealed')) process.exitCode = 3
    return {key_id: vk.id, key_source: source, sessions: verdicts, missing_sessions: missing}
  }

  /**
   * The first verification key the fleet store received from this host (its shipper puts it there
   * when a session starts), or undefined: no store configured, --local, or none stored. A store
   * that cannot be read is said in one line, and the host's copy is used.
   */
  private async storeKey(config: ErShellConfig, dataDir: string, local: boolean): Promise<VerificationKey | undefined> {
    const serverId = readServerId(dataDir)
    if (serverId === undefined) return undefined
    let store
    try {
      store = await openReadingStore(config, local)
      if (!store) return undefined
      const keys = await storedVerificationKeys(store, serverId)
      if (keys.length === 0) {
        if (!this.jsonEnabled()) note(`the fleet store holds no verification key of this host (${serverId}) yet: its shipper has not run`)
        return undefined
      }
      if (keys.length > 1 && !this.jsonEnabled()) {
        const later = keys.slice(1).map((k) => `${k.id} (received ${k.received.toISOString()})`)
        note(
          `the fleet store received other keys from this host after ${keys[0]!.id}: ${later.join(', ')}: its secret was replaced; sessions recorded under them do not verify`,
        )
      }
      if (!this.jsonEnabled())
        note(`checked with the verification key the fleet store received from this host (${keys[0]!.id}, ${keys[0]!.received.toISOString()})`)
      return keys[0]
    } catch (error) {
      if (!(error instanceof StoreError)) throw error
      if (!this.jsonEnabled()) note(`${error.message}: the verification key kept on this host is used`)
      return undefined
    } finally {
      await store?.close()
    }
  }
}

// audit_events_uri: from er-shell's YAML, a teleport.yaml, the environment and the flag; checked,
// and never shown with its password.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {formatConfigSources, resolveConfig} from '../../src/config/index.js'
import {parseGoDuration, parseStoreUri, redactIn, redactUri} from '../../src/fleet/uri.js'
import {runCli} from '../helpers/cli.js'
import {tempDir} from '../helpers/temp.js'

const URI = 'postgresql://er:Pa55w0rd@db.example:5432/audit?sslmode=verify-full#retention_period=2160h&disable_cleanup=true'

describe('audit_events_uri', () => {
  it('parses libpq options before # and er-shell options after it', () => {
    const parsed = parseStoreUri(URI)
    assert.ok(parsed.ok)
    assert.equal(parsed.value.connectionString, 'postgresql://er:Pa55w0rd@db.example:5432/audit?sslmode=verify-full')
    assert.equal(parsed.value.redacted, 'postgresql://er:****@db.example:5432/audit?sslmode=verify-full#retention_period=2160h&disable_cleanup=true')
    assert.deepEqual(parsed.value.options, {retentionMs: 2160 * 3_600_000, cleanupIntervalMs: 3_600_000, disableCleanup: true})
    const defaults = parseStoreUri('postgres://db/audit')
    assert.ok(defaults.ok)
    assert.deepEqual(defaults.value.options, {retentionMs: 8766 * 3_600_000, cleanupIntervalMs: 3_600_000, disableCleanup: false})
    assert.equal(parseGoDuration('1h30m'), 5_400_000)
  })

  it('refuses other schemes, bad options and cloud IAM, without the password', () => {
    for (const [uri, problem] of [
      ['mysql://u:Pa55w0rd@db/x', /must be a postgres:\/\/ or postgresql:\/\/ URI, got "mysql:\/\/u:\*\*\*\*@db\/x"/],
      ['postgres://u:Pa55w0rd@db/x#retention_period=forever', /retention_period="forever": must be a positive duration/],
      ['postgres://u:Pa55w0rd@db/x#colour=1', /unknown option "colour"/],
      ['postgres://u:Pa55w0rd@db/x#auth_mode=gcp-cloudsql', /cloud IAM sign-in is not supported/],
    ] as const) {
      const parsed = parseStoreUri(uri)
      assert.equal(parsed.ok, false)
      if (!parsed.ok) {
        assert.match(parsed.problem, problem)
        assert.ok(!parsed.problem.includes('Pa55w0rd'))
      }
    }
    assert.equal(redactUri('postgres://u:p@h/d?password=x2'), 'postgres://u:****@h/d?password=****')
    assert.equal(redactIn('failed for postgres://u:p%40ss@h/d (p@ss)', 'postgres://u:p%40ss@h/d'), 'failed for postgres://u:****@h/d (****)')
  })

  it('from a teleport.yaml (postgres URIs of teleport.storage.audit_events_uri), the environment and the flag', () => {
    const dir = tempDir('er-fleet-config-')
    const teleport = join(dir, 'teleport.yaml')
    writeFileSync(
      teleport,
      `version: v3\nteleport:\n  storage:\n    type: dir\n    audit_events_uri: ['file:///var/lib/teleport/audit/events', '${URI}', 'stdout://']\n`,
    )
    const fromFile = resolveConfig({configFile: teleport, env: {}})
    assert.deepEqual(fromFile.config.audit_events_uri, [URI])
    const verbose = formatConfigSources(fromFile).join('\n')
    assert.match(verbose, /audit_events_uri = \["postgresql:\/\/er:\*\*\*\*@db\.example/)
    assert.ok(!verbose.includes('Pa55w0rd'))
    const own = join(dir, 'er-shell.yaml')
    writeFileSync(own, `audit_events_uri:\n  - ${URI}\n`)
    assert.deepEqual(resolveConfig({configFile: own, env: {}}).config.audit_events_uri, [URI])
    const env = resolveConfig({env: {ER_SHELL_AUDIT_EVENTS_URI: 'postgres://a@b/c'}, defaultConfigFile: '/nonexistent'})
    assert.deepEqual(env.config.audit_events_uri, ['postgres://a@b/c'])
    const flag = resolveConfig({
      flags: {audit_events_uri: 'postgres://x@y/z'},
      env: {ER_SHELL_AUDIT_EVENTS_URI: 'postgres://a@b/c'},
      defaultConfigFile: '/nonexistent',
    })
    assert.deepEqual(flag.config.audit_events_uri, ['postgres://x@y/z'])
    writeFileSync(own, `audit_events_uri: file:///var/log/x\n`)
    assert.throws(() => resolveConfig({configFile: own, env: {}}), /er-shell\.yaml:1:19: audit_events_uri must be a postgres:\/\/ or postgresql:\/\/ URI/)
  })

  it('a bad URI in the environment: one line, exit 2, no password', () => {
    const r = runCli(['sessions', '--data-dir', tempDir('er-fleet-')], {env: {ER_SHELL_AUDIT_EVENTS_URI: 'postgres://u:Pa55w0rd@db/x#disable_cleanup=maybe'}})
    assert.equal(r.status, 2)
    assert.equal(r.stderr, 'er-shell: ER_SHELL_AUDIT_EVENTS_URI has disable_cleanup="maybe": must be true or false\n')
  })

  it('ship: a bad URI on the command line, or none at all: one line, exit 2, no password', () => {
    const r = runCli(['ship', '--audit-events-uri', 'postgres://u:Pa55w0rd@db/x#disable_cleanup=maybe', '--data-dir', tempDir('er-fleet-')])
    assert.equal(r.status, 2)
    assert.equal(r.stderr, 'er-shell: --audit-events-uri has disable_cleanup="maybe": must be true or false\n')
    const empty = join(tempDir('er-fleet-'), 'er-shell.yaml')
    writeFileSync(empty, '', {mode: 0o600})
    const none = runCli(['ship', '--data-dir', tempDir('er-fleet-')], {env: {ER_SHELL_CONFIG: empty}})
    assert.equal(none.status, 2)
    assert.match(none.stderr, /^er-shell: no fleet store is configured: give --audit-events-uri/)
  })
})

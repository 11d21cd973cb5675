// Disk filters evaluated in the kernel (--disk-exclude, --disk-include, --disk-preset quiet): what
// they drop never reaches the recording, and is counted in session.end and `sessions`.
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import type {AuditEvent} from '../../../src/events/types.js'
import {kernelTestsSkipReason, runCli} from '../../helpers/cli.js'
import {endOf, eventsOf, guardLeaks, onlySession, record} from '../../helpers/record.js'
import {tempDir} from '../../helpers/temp.js'

const skip = kernelTestsSkipReason()

const opensOf = (events: AuditEvent[]) => (events.filter((e) => e.event === 'session.disk') as Array<Record<string, any>>).map((e) => e.path as string)

describe('disk filters in the kernel', {skip}, () => {
  const {dataDir} = guardLeaks({prefix: 'er-diskfilter-'})

  it('--disk-exclude drops a directory and a glob, --disk-include keeps only what it names; every drop is counted', async () => {
    const tree = tempDir('er-diskfilter-tree-')
    for (const d of ['noise', 'keep', 'other']) mkdirSync(join(tree, d))
    for (const f of ['noise/a', 'keep/b', 'keep/c.log', 'other/d']) writeFileSync(join(tree, f), 'x')
    const reads = `cat ${tree}/noise/a ${tree}/keep/b ${tree}/keep/c.log ${tree}/other/d >/dev/null`

    // Excludes: the directory noise/ and every *.log; the rest is recorded.
    const d1 = dataDir()
    const r1 = await record(d1, ['-q', '--events', 'command,disk', '--disk-exclude', `${tree}/noise/`, '--disk-exclude', '*.log', '--', 'sh', '-c', reads])
    assert.equal(r1.code, 0, r1.stderr.toString())
    const e1 = await eventsOf(onlySession(d1))
    const mine1 = opensOf(e1).filter((p) => p.startsWith(tree))
    assert.deepEqual(mine1.sort(), [`${tree}/keep/b`, `${tree}/other/d`])
    const counts1 = endOf(e1).event_counts
    assert.ok(counts1.disk_filtered >= 2, `filtered ${counts1.disk_filtered}`)
    assert.equal(counts1.disk, opensOf(e1).length)

    // An include: only keep/ is recorded, and an exclude inside it still wins.
    const d2 = dataDir()
    const r2 = await record(d2, ['-q', '--events', 'command,disk', '--disk-include', `${tree}/keep/`, '--disk-exclude', '*.log', '--', 'sh', '-c', reads])
    assert.equal(r2.code, 0, r2.stderr.toString())
    const e2 = await eventsOf(onlySession(d2))
    assert.deepEqual(opensOf(e2), [`${tree}/keep/b`], 'only keep/b: everything else is outside the include or excluded')
    assert.ok(endOf(e2).event_counts.disk_filtered > 10, 'the loader, locale and the other files were dropped and counted')

    // sessions shows it.
    const listed = runCli(['sessions', '--data-dir', d2])
    assert.equal(listed.status, 0, listed.stderr)
    assert.match(listed.stdout, /1 \(\+\d+ filtered\)/)
  })

  it('--disk-preset quiet drops the loader, locale, /proc/self, /sys and /dev/null noise, and keeps the rest', async () => {
    const tree = tempDir('er-diskfilter-quiet-')
    writeFileSync(join(tree, 'wanted'), 'x')
    const d = dataDir()
    const r = await record(d, [
      '-q',
      '--events',
      'command,disk',
      '--disk-preset',
      'quiet',
      '--',
      'sh',
      '-c',
      `cat ${tree}/wanted /proc/self/status >/dev/null; cat /sys/kernel/uevent_seqnum >/dev/null 2>&1; true`,
    ])
    assert.equal(r.code, 0, r.stderr.toString())
    const events = await eventsOf(onlySession(d))
    const paths = opensOf(events)
    assert.ok(paths.includes(`${tree}/wanted`), `the wanted file: ${paths.join(', ')}`)
    const noise = paths.filter((p) => /\.so(\.|$)|^\/etc\/ld\.so\.cache$|locale|^\/proc\/self\/|^\/sys\/|^\/dev\/null$/.test(p))
    assert.deepEqual(noise, [], 'no noise left')
    assert.ok(endOf(events).event_counts.disk_filtered >= 3)
  })
})

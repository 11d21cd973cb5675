// Unit tests of the host-fact parsers and the human rendering (no privileges needed).
import assert from 'node:assert/strict'
import {describe, test} from 'node:test'

import {
  atLeast,
  CAP_BPF,
  CAP_PERFMON,
  CAP_SYS_ADMIN,
  hasCapability,
  parseCapEff,
  parseKernelRelease,
  parseLockdown,
  parseMountinfo,
  topMountAt,
} from '../../src/kernel/host.js'
import {colorWanted, renderReport} from '../../src/kernel/render.js'
import type {KernelReport} from '../../src/kernel/types.js'

describe('host facts', () => {
  test('kernel release', () => {
    assert.deepEqual(parseKernelRelease('6.18.44-fc-v769'), {release: '6.18.44-fc-v769', major: 6, minor: 18})
    assert.equal(parseKernelRelease('weird'), undefined)
    assert.ok(atLeast(parseKernelRelease('5.8.0')!, 5, 8))
    assert.ok(!atLeast(parseKernelRelease('5.7.19')!, 5, 8))
    assert.ok(atLeast(parseKernelRelease('6.0.1')!, 5, 8))
    assert.ok(!atLeast(parseKernelRelease('4.19.0')!, 5, 8))
  })

  test('CapEff: root has everything, nobody nothing', () => {
    const root = parseCapEff('Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n')
    for (const cap of [CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN]) assert.ok(hasCapability(root, cap))
    const nobody = parseCapEff('CapEff:\t0000000000000000\n')
    assert.ok(!hasCapability(nobody, CAP_SYS_ADMIN))
    const bpfOnly = parseCapEff(`CapEff:\t${(1n << 39n).toString(16).padStart(16, '0')}\n`)
    assert.ok(hasCapability(bpfOnly, CAP_BPF) && !hasCapability(bpfOnly, CAP_PERFMON))
    assert.throws(() => parseCapEff('Name:\tx\n'), /no CapEff/)
  })

  test('lockdown mode', () => {
    assert.equal(parseLockdown('none [integrity] confidentiality\n'), 'integrity')
    assert.equal(parseLockdown('[none] integrity confidentiality'), 'none')
    assert.equal(parseLockdown(''), undefined)
  })

  test('mountinfo: escapes decoded, topmost mount wins', () => {
    const text = [
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
      '50 23 0:40 / /mnt/with\\040space rw shared:1 - tmpfs tmpfs rw',
      '60 23 0:41 / /cgroup2 rw - tmpfs tmpfs rw',
      '61 60 0:38 / /cgroup2 rw - cgroup2 none rw',
      '',
    ].join('\n')
    const mounts = parseMountinfo(text)
    assert.equal(mounts.length, 4)
    assert.deepEqual(mounts[1], {id: 50, mountPoint: '/mnt/with space', fsType: 'tmpfs'})
    assert.deepEqual(topMountAt('/cgroup2', mounts), {id: 61, mountPoint: '/cgroup2', fsType: 'cgroup2'})
    assert.equal(topMountAt('/nothing', mounts), undefined)
  })
})

describe('rendering', () => {
  const report: KernelReport = {
    ok: false,
    checks: [
      {id: 'btf', title: 'BTF type information', status: 'pass', detail: '/sys/kernel/btf/vmlinux', remedy: ''},
      {id: 'kprobe', title: 'kprobe (informational)', status: 'warn', detail: 'unavailable', remedy: 'none needed'},
      {id: 'privileges', title: 'Privileges', status: 'fail', detail: 'uid 1000 lacks CAP_BPF', remedy: 'run as root'},
    ],
  }

  test('colour only on a TTY and never with NO_COLOR', () => {
    assert.equal(colorWanted({isTTY: true}, {}), true)
    assert.equal(colorWanted({isTTY: true}, {NO_COLOR: '1'}), false)
    assert.equal(colorWanted({isTTY: false}, {}), false)
    assert.equal(colorWanted({}, {}), false)
  })

  test('plain: table, one remedy line per non-pass, closing line', () => {
    const text = renderReport(report, {color: false, width: 100})
    assert.doesNotMatch(text, /\u001B\[/)
    const lines = text.split('\n')
    assert.ok(lines.includes('warn kprobe: none needed'))
    assert.ok(lines.includes('FAIL privileges: run as root'))
    assert.ok(!lines.some((l) => l.startsWith('pass btf')))
    assert.equal(lines.at(-1), 'This host cannot record sessions (1 passed, 1 warning, 1 failed).')
    for (const l of lines.filter((x) => x.startsWith('│') || x.startsWith('┌'))) assert.ok(l.length <= 100, l)
  })

  test('coloured: statuses painted', () => {
    const text = renderReport(report, {color: true})
    assert.match(text, /\u001B\[31m\u001B\[1mFAIL/)
    assert.match(text, /\u001B\[32mpass/)
  })
})

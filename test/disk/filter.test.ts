// The disk filter's pattern syntax and semantics (src/disk/filter.ts), without a kernel: every
// accepted form, the refusals with their exact messages, the 64-pattern limit, the quiet preset
// against the noise recorded on this project's hosts, and the automaton the kernel runs checked
// against the straight glob matching on 50,000 random paths and patterns.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {
  ACCEPT_EXCLUDE,
  ACCEPT_INCLUDE,
  DISK_PRESET_PATTERNS,
  DiskPatternSet,
  MAX_DISK_PATTERNS,
  MAX_DISK_STATES,
  checkDiskPattern,
  checkDiskPreset,
  compileDiskFilter,
  decideAccept,
  decideDisk,
  describeDiskFilter,
  diskFilterFromLists,
  diskPatternMatches,
  hasIncludes,
  type CompiledDiskFilter,
  type DiskDecision,
  type DiskFilter,
} from '../../src/disk/filter.js'
import {ConfigError} from '../../src/errors/config-error.js'

/** What the kernel does: absolute paths through the automaton, then the accept bits. */
function simulate(compiled: CompiledDiskFilter, includes: boolean, path: Uint8Array): DiskDecision {
  if (path[0] !== 0x2f) return 'record'
  let state = 1
  for (const byte of path) {
    state = compiled.next[state * 256 + byte]!
    assert.ok(state < compiled.states, `state ${state} is one of the ${compiled.states}`)
    if (state === 0) break
  }
  return decideAccept(includes, compiled.accept[state]!)
}

function refuses(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`)
    assert.equal(error.message, message)
    assert.equal(error.exitCode, 2)
    return true
  })
}

describe('patterns that match, and what they match', () => {
  const cases: Array<[string, string[], string[]]> = [
    // [pattern, matches, does not match]
    ['/dev/null', ['/dev/null'], ['/dev/null/', '/dev/nul', '/dev/null2', '/dev']],
    ['/proc/', ['/proc/self/status', '/proc/1', '/proc/'], ['/proc', '/procfs/x', '/pro']],
    ['/', ['/', '/etc/passwd'], []],
    ['*.so', ['/usr/lib/x.so', '/a/.so', '/x/zlib.cpython-311-x86_64-linux-gnu.so'], ['/usr/lib/x.so.6', '/x.sox', '/x.s']],
    ['*.so.*', ['/usr/lib/libc.so.6', '/etc/ld.so.preload', '/a.so.'], ['/a.so', '/a.sox.1']],
    [
      '*/lib*.so.*',
      ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/r/3.11/lib/glibc-hwcaps/x86-64-v4/libpython3.11.so.1.0', '/lib/x.so.1'],
      ['/etc/ld.so.preload', '/etc/ld.so.cache', '/x/lib.so'],
    ],
    ['/home/*/.ssh/*', ['/home/ann/.ssh/id_ed25519', '/home/a/b/.ssh/c', '/home//.ssh/'], ['/home/ann/.ssh', '/root/.ssh/id_rsa', '/home/ann/ssh/x']],
    ['*', ['/', '/anything/at/all'], []],
    ['/a*b*c', ['/abc', '/aXbYc', '/abcbc', '/a/b/c'], ['/ab', '/acb', '/abcd']],
    ['/home/*/', ['/home/ann/x', '/home//'], ['/home/ann', '/home/']],
    ['/tmp/?[x]', ['/tmp/?[x]'], ['/tmp/a[x]', '/tmp/?x']],
    ['/srv/données/', ['/srv/données/a'], ['/srv/donnees/a']],
  ]
  for (const [pattern, yes, no] of cases) {
    it(pattern, () => {
      assert.equal(checkDiskPattern(pattern).ok, true)
      for (const path of yes) assert.equal(diskPatternMatches(pattern, path), true, `${pattern} matches ${path}`)
      for (const path of no) assert.equal(diskPatternMatches(pattern, path), false, `${pattern} does not match ${path}`)
      const compiled = compileDiskFilter({include: [], exclude: [pattern]})
      for (const path of yes) assert.equal(simulate(compiled, false, Buffer.from(path)), 'drop', `automaton: ${pattern} matches ${path}`)
      for (const path of no) assert.equal(simulate(compiled, false, Buffer.from(path)), 'record', `automaton: ${pattern} does not match ${path}`)
    })
  }
})

describe('patterns that are refused: one message each', () => {
  const cases: Array<[unknown, string]> = [
    ['', '"": a pattern is a path, a directory prefix ending in "/", or a glob with "*", like /etc/shadow, /proc/ or *.so'],
    ['proc/', '"proc/": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /proc/ or *proc/'],
    ['./x', '"./x": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /x or *./x'],
    ['/a\0b', '"/a\\u0000b": a pattern has no NUL byte'],
    [`/${'é'.repeat(128)}`, `"/${'é'.repeat(56)}...": a pattern is at most 255 bytes, this one is 257`],
    [42, 'must be a pattern (a path, a directory prefix ending in "/", or a glob with "*"), got 42'],
    [['/x'], 'must be a pattern (a path, a directory prefix ending in "/", or a glob with "*"), got a list'],
  ]
  for (const [value, problem] of cases) {
    it(JSON.stringify(value).slice(0, 30), () => {
      assert.deepEqual(checkDiskPattern(value), {ok: false, problem})
    })
  }

  it('255 bytes is the longest; a preset is quiet or nothing', () => {
    assert.equal(checkDiskPattern(`/${'a'.repeat(254)}`).ok, true)
    assert.deepEqual(checkDiskPreset('quiet'), {ok: true, value: 'quiet'})
    assert.deepEqual(checkDiskPreset('silent'), {ok: false, problem: 'must be quiet (the only preset), got "silent"'})
  })

  it('lists: the first bad pattern is named, and the 65th', () => {
    refuses(
      () => diskFilterFromLists({exclude: ['/proc/', 'sys/']}),
      'exclude pattern "sys/": a pattern starts with "/" (recorded paths are absolute) or "*" (a glob), like /sys/ or *sys/',
    )
    const many = Array.from({length: 60}, (_, i) => `/p${i}`)
    assert.equal(diskFilterFromLists({include: many.slice(0, 50), exclude: many.slice(50)}).exclude.length, 10)
    refuses(
      () => diskFilterFromLists({include: many, presets: ['quiet']}),
      'exclude pattern "/usr/lib/locale/" is one pattern too many: at most 64 disk filter patterns in all (include, exclude and presets together)',
    )
  })
})

describe('the pattern set', () => {
  it('the same pattern twice in one list counts once; in both lists, twice', () => {
    const set = new DiskPatternSet()
    assert.equal(set.add('exclude', '/proc/'), 'added')
    assert.equal(set.add('exclude', '/proc/'), 'duplicate')
    assert.equal(set.add('include', '/proc/'), 'added')
    assert.equal(set.size, 2)
    for (let i = set.size; i < MAX_DISK_PATTERNS; i++) assert.equal(set.add('exclude', `/x${i}`), 'added')
    assert.equal(set.add('exclude', '/one-more'), 'full')
    assert.equal(set.add('exclude', '/proc/'), 'duplicate')
  })

  it('the preset expands into excludes, after the patterns given', () => {
    const filter = diskFilterFromLists({include: ['/home/'], exclude: ['/tmp/', '/dev/null'], presets: ['quiet']})
    assert.deepEqual(filter.include, ['/home/'])
    assert.deepEqual(filter.exclude, ['/tmp/', '/dev/null', ...DISK_PRESET_PATTERNS.quiet.filter((p) => p !== '/dev/null')])
  })
})

describe('semantics', () => {
  const filter = (include: string[], exclude: string[]): DiskFilter => ({include, exclude})

  it('no patterns: everything recorded', () => {
    assert.equal(decideDisk(filter([], []), '/etc/shadow'), 'record')
    assert.equal(hasIncludes(filter([], ['/x'])), false)
  })

  it('excludes only: everything but what they match', () => {
    const f = filter([], ['/proc/', '*.so'])
    assert.equal(decideDisk(f, '/proc/1/environ'), 'drop')
    assert.equal(decideDisk(f, '/lib/x.so'), 'drop')
    assert.equal(decideDisk(f, '/etc/shadow'), 'record')
  })

  it('includes: only what they match; exclude wins over include', () => {
    const f = filter(['/home/', '/etc/*'], ['*/.cache/*'])
    assert.equal(hasIncludes(f), true)
    assert.equal(decideDisk(f, '/home/ann/notes'), 'record')
    assert.equal(decideDisk(f, '/etc/shadow'), 'record')
    assert.equal(decideDisk(f, '/home/ann/.cache/x'), 'drop')
    assert.equal(decideDisk(f, '/usr/bin/ls'), 'drop')
  })

  it('a relative path (not resolved) is never filtered, whatever the patterns', () => {
    assert.equal(decideDisk(filter(['/home/'], []), 'notes.txt'), 'record')
    assert.equal(decideDisk(filter([], ['*']), 'lib.so'), 'record')
    assert.equal(decideDisk(filter([], ['*']), ''), 'record')
    const compiled = compileDiskFilter(filter(['/home/'], ['*']))
    assert.equal(simulate(compiled, true, Buffer.from('x.so')), 'record')
  })

  it('bytes that are not UTF-8 are matched as bytes', () => {
    const path = Uint8Array.from([...Buffer.from('/srv/'), 0xff, 0xfe, ...Buffer.from('.so')])
    assert.equal(decideDisk(filter([], ['*.so']), path), 'drop')
    assert.equal(decideDisk(filter([], ['/srv/x']), path), 'record')
  })

  it('describes itself in one line', () => {
    assert.equal(describeDiskFilter(filter([], [])), 'none (every open recorded)')
    assert.equal(describeDiskFilter(filter([], ['/proc/', '*.so'])), 'exclude /proc/, *.so; everything else recorded')
    assert.equal(describeDiskFilter(filter(['/home/'], ['*.so'])), 'include /home/; exclude *.so; everything else dropped')
  })
})

describe('the quiet preset', () => {
  const quiet: DiskFilter = {include: [], exclude: [...DISK_PRESET_PATTERNS.quiet]}
  // Opens recorded on Debian 12 for `ls /`, `python3 -c 1`, `date`, `id` (and bash around them).
  const noise = [
    '/etc/ld.so.cache',
    '/usr/lib/x86_64-linux-gnu/libc.so.6',
    '/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2',
    '/usr/lib/aarch64-linux-gnu/libselinux.so.1',
    '/root/.pyenv/versions/3.11.7/lib/glibc-hwcaps/x86-64-v4/libpython3.11.so.1.0',
    '/root/.pyenv/versions/3.11.7/lib/tls/haswell/avx512_1/x86_64/libpython3.11.so.1.0',
    '/usr/lib/python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so',
    '/etc/locale.alias',
    '/usr/lib/locale/locale-archive',
    '/usr/lib/locale/C.utf8/LC_MESSAGES/SYS_LC_MESSAGES',
    '/usr/share/locale/C.UTF-8/LC_MESSAGES/bash.mo',
    '/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache',
    '/usr/lib/aarch64-linux-gnu/gconv/gconv-modules.cache',
    '/usr/share/zoneinfo/Etc/UTC',
    '/proc/self/status',
    '/proc/thread-self/attr/current',
    '/proc/filesystems',
    '/sys/devices/system/cpu/online',
    '/dev/null',
  ]
  // What an investigator wants to see stays.
  const kept = [
    '/etc/ld.so.preload',
    '/etc/ld.so.conf',
    '/etc/shadow',
    '/etc/passwd',
    '/proc/1/environ',
    '/proc/self',
    '/home/ann/.ssh/id_ed25519',
    '/dev/tty',
    '/dev/nullx',
    '/tmp/x.so.txt.gz',
    '/usr/lib/localex',
  ]

  it('drops the loader, locale, /proc/self, /sys and /dev/null noise', () => {
    for (const path of noise) assert.equal(decideDisk(quiet, path), 'drop', path)
  })

  it('keeps /etc/ld.so.preload and the opens that matter', () => {
    for (const path of kept) assert.equal(decideDisk(quiet, path), 'record', path)
  })

  it('fits the kernel with room to spare, and the automaton agrees', () => {
    const compiled = compileDiskFilter(quiet)
    assert.ok(compiled.states <= MAX_DISK_STATES / 2 + 8, `the preset takes ${compiled.states} of ${MAX_DISK_STATES} states`)
    for (const path of noise) assert.equal(simulate(compiled, false, Buffer.from(path)), 'drop', path)
    for (const path of kept) assert.equal(simulate(compiled, false, Buffer.from(path)), 'record', path)
  })
})

describe('the automaton', () => {
  it('has the shape the kernel maps take: 256 × 256 transitions, 256 accept bytes, 0 dead, 1 the start', () => {
    const compiled = compileDiskFilter({include: ['/home/'], exclude: ['/home/*.so']})
    assert.equal(compiled.next.length, 256 * 256)
    assert.equal(compiled.accept.length, 256)
    assert.ok(compiled.states >= 2 && compiled.states <= MAX_DISK_STATES)
    assert.ok(
      compiled.next.subarray(0, 256).every((s) => s === 0),
      'the dead state stays dead',
    )
    assert.equal(compiled.accept[0], 0)
    assert.ok(
      compiled.next.subarray(compiled.states * 256).every((s) => s === 0),
      'nothing beyond the states in use',
    )
    assert.ok(compiled.accept.subarray(compiled.states).every((s) => s === 0))
    // "/x" can match nothing any more: the walk ends in the dead state.
    assert.equal(compiled.next[1 * 256 + 0x78], 0)
    const home = [...Buffer.from('/home/')].reduce((s, b) => compiled.next[s * 256 + b]!, 1)
    assert.equal(compiled.accept[home], ACCEPT_INCLUDE)
    const both = [...Buffer.from('/home/a.so')].reduce((s, b) => compiled.next[s * 256 + b]!, 1)
    assert.equal(compiled.accept[both], ACCEPT_INCLUDE | ACCEPT_EXCLUDE)
    assert.equal(decideAccept(true, ACCEPT_INCLUDE | ACCEPT_EXCLUDE), 'drop')
    assert.equal(decideAccept(false, 0), 'record')
    assert.equal(decideAccept(true, 0), 'drop')
  })

  it('an empty filter: a start state that leads nowhere', () => {
    const compiled = compileDiskFilter({include: [], exclude: []})
    assert.equal(compiled.states, 2)
    assert.ok(compiled.next.every((s) => s === 0))
    assert.equal(simulate(compiled, false, Buffer.from('/etc/shadow')), 'record')
  })

  it('more than 256 states: one line that says so', () => {
    const letters = (seed: number, n: number) => Array.from({length: n}, (_, i) => String.fromCharCode(97 + ((seed * 7 + i * 13) % 26))).join('')
    refuses(
      () => compileDiskFilter({include: [], exclude: [`/${letters(1, 150)}`, `/${letters(2, 150)}`]}),
      `the disk filter's 2 patterns need 302 states in the kernel's automaton, which has room for 256: use fewer patterns, or fewer "*" in them`,
    )
    refuses(
      () => compileDiskFilter({include: [], exclude: Array.from({length: 64}, (_, i) => `*${letters(i, 2)}*${letters(i + 1, 2)}*`)}),
      `the disk filter's 64 patterns need more states than the kernel's automaton has room for (256): use fewer patterns, or fewer "*" in them`,
    )
  })

  it('agrees with the straight glob matching on 50,000 random paths and patterns', () => {
    // A small alphabet so that patterns and paths meet often; "?" and "[" are literal; 0xc3 0xa9 is "é".
    let seed = 0x5eed
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return (seed >>> 8) % n
    }
    const pieces = ['/', 'a', 'b', '.', 'so', 'lib', '?', '[', 'é', '/proc/', 'x']
    const text = (n: number) => Array.from({length: n}, () => pieces[random(pieces.length)]).join('')
    const pattern = (): string => {
      const body = Array.from({length: 1 + random(4)}, () => (random(3) === 0 ? '*' : text(1 + random(3)))).join('')
      const start = random(4) === 0 ? '*' : '/'
      return random(5) === 0 ? `${start}${body}/` : `${start}${body}`
    }
    let checked = 0
    let dropped = 0
    while (checked < 50_000) {
      const filter: DiskFilter = {
        include: Array.from({length: random(3)}, pattern),
        exclude: Array.from({length: random(4)}, pattern),
      }
      const compiled = compileDiskFilter(filter)
      assert.ok(compiled.next.subarray(0, 256).every((s) => s === 0))
      const patterns = [...filter.include, ...filter.exclude]
      for (let i = 0; i < 100; i++) {
        // Half the paths are made from a pattern (its stars filled in), so that many match.
        let path: string
        const from = patterns[random(patterns.length + 1)]
        if (from !== undefined && random(2) === 0)
          path = from.replace(/\*/g, () => text(random(3))) + (from.endsWith('/') || random(3) === 0 ? text(random(3)) : '')
        else path = (random(8) === 0 ? '' : '/') + text(random(8))
        const bytes = Buffer.from(path, 'utf8')
        const expected = decideDisk(filter, bytes)
        assert.equal(simulate(compiled, hasIncludes(filter), bytes), expected, `${JSON.stringify(filter)} ${JSON.stringify(path)}`)
        if (expected === 'drop') dropped++
        checked++
      }
    }
    assert.ok(dropped > 10_000 && dropped < 40_000, `both verdicts are common (${dropped} of ${checked} dropped)`)
  })
})

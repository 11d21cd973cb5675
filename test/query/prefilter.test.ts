// What a search requires of a raw line (src/query/prefilter.ts): only literals a pattern provably
// requires; none for alternation, classes, optional characters or case flags.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {compileEventFilter} from '../../src/query/event-filter.js'
import {linePrefilter, regexLiterals} from '../../src/query/prefilter.js'

describe('prefilter', () => {
  it('takes the runs a pattern requires, and drops what a quantifier may leave out', () => {
    const cases: Array<[string, string[]]> = [
      ['curl', ['curl']],
      ['^curl$', ['curl']],
      ['file6\\.c', ['file6.c']],
      ['c.rl', ['c', 'rl']],
      ['cur?l', ['cu', 'l']],
      ['curls*', ['curl']],
      ['cu+rl', ['cu', 'rl']],
      ['cu{0,1}rl', ['c', 'rl']],
      ['cu{2}rl', ['cu', 'rl']],
      ['x(ab)?y', ['x', 'y']],
      ['[Cc]url', ['url']],
      ['\\d+abc\\s', ['abc']],
      ['a\\/b', ['a/b']],
      ['é日本', ['é日本']],
      // Escapes whose text follows them: none of it is a literal character of the pattern.
      ['\\x41curl', ['curl']],
      ['\\u0041bc', ['bc']],
      ['a\\cJx', ['a', 'x']],
      ['a\\012b', ['a', 'b']],
      ['a\\1b', ['a', 'b']],
      // U+FFFD is also what bytes that are not UTF-8 read as.
      ['ab\ufffdcd', ['ab', 'cd']],
    ]
    for (const [source, runs] of cases) assert.deepEqual(regexLiterals(new RegExp(source)), runs, source)
  })

  it('requires nothing of alternation at the top, nor under case-insensitive or unicode flags', () => {
    for (const source of ['curl|wget', 'a|b']) assert.deepEqual(regexLiterals(new RegExp(source)), [], source)
    assert.deepEqual(regexLiterals(/x(curl|wget)y/), ['x', 'y'])
    assert.deepEqual(regexLiterals(/curl/i), [])
    assert.deepEqual(regexLiterals(/curl/u), [])
  })

  it('a line literal: the longest required run; command pieces split at spaces; the user as a JSON string', () => {
    const literal = (input: Parameters<typeof compileEventFilter>[0], json = false) =>
      linePrefilter(compileEventFilter(input), {json}).literal?.toString('utf8')
    assert.equal(literal({program: 'curl'}), 'curl')
    assert.equal(literal({command: 'cc -O2'}), '-O2')
    assert.equal(literal({command: 'a|b'}), undefined)
    assert.equal(literal({user: 'bob'}), '"bob"')
    assert.equal(literal({user: 'b\ufffd'}), undefined)
    assert.equal(literal({command: '"curl"'}), '"curl"')
    assert.equal(literal({program: 'cc', command: 'file6\\.c'}), 'file6.c')
    assert.equal(literal({type: 'command,network'}), undefined)
    // A table describes a process end with its command's line: every command line is read.
    assert.equal(literal({type: 'exit', program: 'curl'}), undefined)
    assert.equal(literal({type: 'exit', program: 'curl'}, true), 'curl')
  })

  it('a time range: only a plain time outside it is refused', () => {
    const within = (input: Parameters<typeof compileEventFilter>[0]) =>
      linePrefilter(compileEventFilter(input, Date.parse('2026-11-22T00:00:00Z')), {json: false}).timeWithin
    assert.equal(within({}), undefined)
    const gate = within({since: '2026-11-20T10:00', until: '2026-11-20T11:00'})!
    assert.equal(gate('2026-11-20T10:00:00.000Z'), true)
    assert.equal(gate('2026-11-20T11:00:00.000Z'), true)
    assert.equal(gate('2026-11-20T11:00:00.001Z'), false)
    assert.equal(gate('2026-11-20T09:59:59.999Z'), false)
    // Not plain: rolls over, another zone, no milliseconds, not a time: left to the full check.
    for (const time of ['2026-11-19T24:00:00.000Z', '2026-11-20T12:00:00.000+02:00', '2026-11-20T12:00:00Z', '2026-02-31T10:00:00.000Z', 'x'])
      assert.equal(gate(time), true, time)
    assert.equal(within({since: '1d'})!('2026-11-21T00:00:00.000Z'), true)
    assert.equal(within({since: '1d'})!('2026-11-20T23:59:59.999Z'), false)
    assert.equal(within({type: 'exit', since: '1d'}), undefined)
  })
})

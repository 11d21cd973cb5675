// What a search requires of a raw line (src/query/prefilter.ts): only literals a pattern provably
// requires; none for alternation, classes, optional characters or case flags.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {compileEventFilter} from '../../src/query/event-filter.js'
import {lineLiteral, regexLiterals} from '../../src/query/prefilter.js'

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
    const literal = (input: Parameters<typeof compileEventFilter>[0], json = false) => lineLiteral(compileEventFilter(input), {json})?.toString('utf8')
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
})

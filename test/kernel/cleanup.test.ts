// The undo stack: newest first, failures reported not thrown, shared directories left when in use.
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, test} from 'node:test'

import {Cleanup, makeDir} from '../../src/kernel/cleanup.js'
import {tempDir} from '../helpers/temp.js'

describe('Cleanup', () => {
  const scratch = tempDir('er-cleanup-')
  after(() => rmSync(scratch, {recursive: true, force: true}))

  test('runs every step newest first and reports failures as lines', () => {
    const order: string[] = []
    const cleanup = new Cleanup()
    cleanup.push('first', () => order.push('first'))
    cleanup.push('broken', () => {
      throw new Error('EBUSY: still in use')
    })
    cleanup.push('last', () => order.push('last'))
    assert.deepEqual(cleanup.runAll(), ['broken: EBUSY: still in use'])
    assert.deepEqual(order, ['last', 'first'])
    assert.deepEqual(cleanup.runAll(), [], 'steps run once')
  })

  test('unwind awaits each step, newest first, and reports failures as lines', async () => {
    const order: string[] = []
    const cleanup = new Cleanup()
    cleanup.push('slow', async () => {
      await new Promise((resolve) => setImmediate(resolve))
      order.push('slow')
    })
    cleanup.push('rejects', () => Promise.reject(new Error('EBUSY: still in use')))
    cleanup.push('last', () => order.push('last'))
    assert.deepEqual(await cleanup.unwind(), ['rejects: EBUSY: still in use'])
    assert.deepEqual(order, ['last', 'slow'])
    assert.deepEqual(await cleanup.unwind(), [], 'steps run once')
  })

  test('runAll reports a step that would need awaiting', () => {
    const cleanup = new Cleanup()
    cleanup.push('async', async () => {})
    assert.deepEqual(cleanup.runAll(), ['async: an asynchronous step (run it with unwind())'])
  })

  test('makeDir removes exactly the directories it created', () => {
    const cleanup = new Cleanup()
    mkdirSync(join(scratch, 'existing'))
    assert.equal(makeDir(join(scratch, 'existing', 'a', 'b'), cleanup), true)
    assert.equal(makeDir(join(scratch, 'existing'), cleanup), false)
    assert.deepEqual(cleanup.runAll(), [])
    assert.ok(existsSync(join(scratch, 'existing')))
    assert.ok(!existsSync(join(scratch, 'existing', 'a')))
  })

  test('a directory someone started using: reported, unless shared', () => {
    const own = new Cleanup()
    makeDir(join(scratch, 'own'), own)
    mkdirSync(join(scratch, 'own', 'theirs'))
    assert.match(own.runAll()[0]!, /^remove .*own: ENOTEMPTY/)

    const shared = new Cleanup()
    makeDir(join(scratch, 'shared'), shared, {shared: true})
    mkdirSync(join(scratch, 'shared', 'session'))
    assert.deepEqual(shared.runAll(), [])
    assert.ok(existsSync(join(scratch, 'shared', 'session')), 'left for its new user')
  })
})

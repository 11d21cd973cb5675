// The command bundles (scripts/bundle.mjs) and their V8 code caches (src/cli/bundle-loader.ts): every
// command has one, a plain Node accepts its cache, and a cache made from other source is never used.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {copyFileSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {after, describe, test} from 'node:test'

import {codeCachePath} from '../../src/cli/bundle-loader.js'
import {tempDir} from '../helpers/temp.js'

const here = dirname(fileURLToPath(import.meta.url))
const commandsDir = join(here, '../../src/commands')
const loader = join(here, '../../src/cli/bundle-loader.js')

/** Whether a plain Node (as bin/run.js runs: no flags) loads the bundle with its cache. */
function acceptedInPlainNode(bundle: string): boolean {
  const code = `import {codeCacheAccepted} from ${JSON.stringify(pathToFileURL(loader).href)}
process.stdout.write(String(codeCacheAccepted(new URL(${JSON.stringify(pathToFileURL(bundle).href)}))))`
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], {encoding: 'utf8', env: {...process.env, NODE_OPTIONS: ''}}) === 'true'
}

describe('command bundles', () => {
  const tmp = tempDir('er-bundle-')
  after(() => rmSync(tmp, {recursive: true, force: true}))

  const commands = readdirSync(commandsDir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))

  test('every command is a bundle with a code cache that a plain Node accepts', () => {
    assert.deepEqual(commands.sort(), ['check-kernel', 'events', 'record', 'replay', 'sessions', 'ship', 'verify'])
    for (const id of commands) {
      const bundle = join(commandsDir, `${id}.cjs`)
      assert.match(readFileSync(join(commandsDir, `${id}.js`), 'utf8'), /loadBundle/, `${id}.js loads its bundle`)
      assert.ok(acceptedInPlainNode(bundle), `${id}: code cache accepted`)
    }
  })

  test('a cache made from other source of the same length is not used: the new source runs', () => {
    const bundle = join(tmp, 'record.cjs')
    const source = readFileSync(join(commandsDir, 'record.cjs'), 'utf8')
    const from = 'Start a recorded shell'
    assert.ok(source.includes(from))
    writeFileSync(bundle, source.replace(from, 'START A RECORDED SHELL'))
    copyFileSync(codeCachePath(join(commandsDir, 'record.cjs')), codeCachePath(bundle))
    assert.equal(acceptedInPlainNode(bundle), false, 'cache refused')
    const code = `import {loadBundle} from ${JSON.stringify(pathToFileURL(loader).href)}
process.stdout.write(loadBundle(new URL(${JSON.stringify(pathToFileURL(bundle).href)})).default.summary)`
    const summary = execFileSync(process.execPath, ['--input-type=module', '-e', code], {encoding: 'utf8'})
    assert.match(summary, /^START A RECORDED SHELL/)
  })

  test('a cache made on another CPU architecture or by another Node is not used', () => {
    const bundle = join(tmp, 'events.cjs')
    copyFileSync(join(commandsDir, 'events.cjs'), bundle)
    const made = readFileSync(codeCachePath(join(commandsDir, 'events.cjs')))
    const nl = made.indexOf(10)
    const header = JSON.parse(made.subarray(0, nl).toString('utf8')) as Record<string, string>
    assert.equal(header.arch, process.arch)
    assert.equal(header.node, process.version)
    writeFileSync(codeCachePath(bundle), made)
    assert.equal(acceptedInPlainNode(bundle), true, 'the cache as made is accepted')
    for (const other of [{arch: process.arch === 'arm64' ? 'x64' : 'arm64'}, {node: 'v20.0.0'}]) {
      const changed = Buffer.from(JSON.stringify({...header, ...other}))
      writeFileSync(codeCachePath(bundle), Buffer.concat([changed, made.subarray(nl)]))
      assert.equal(acceptedInPlainNode(bundle), false, `refused when made for ${JSON.stringify(other)}`)
    }
  })

  test('a damaged or missing cache only means compiling: the bundle still loads', () => {
    const bundle = join(tmp, 'sessions.cjs')
    copyFileSync(join(commandsDir, 'sessions.cjs'), bundle)
    for (const cache of [Buffer.from('not a cache\n'), Buffer.alloc(0), undefined]) {
      rmSync(codeCachePath(bundle), {force: true})
      if (cache) writeFileSync(codeCachePath(bundle), cache)
      assert.equal(acceptedInPlainNode(bundle), false)
      const code = `import {loadBundle} from ${JSON.stringify(pathToFileURL(loader).href)}
const b = loadBundle(new URL(${JSON.stringify(pathToFileURL(bundle).href)}))
process.stdout.write(typeof b.default + ' ' + typeof b.execute)`
      assert.equal(execFileSync(process.execPath, ['--input-type=module', '-e', code], {encoding: 'utf8'}), 'function function')
    }
  })
})

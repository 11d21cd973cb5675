// Loads a command's bundle (scripts/bundle.mjs: the command with oclif, one CommonJS file of
// ~700 KB) with the V8 code cache the build made for it. Parsing and compiling the bundle is ~15 ms
// of every start; with the cache V8 deserialises the compiled code instead (measured: 31 -> 17 ms
// to load and run the bundle's top level).
//
// A script V8 restores from a code cache loses the options Node gave it for import() (in Node 20:
// ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so the build rewrites the bundle's import() calls (oclif
// imports command and hook modules with it) to a function this module passes in: IMPORT_FUNCTION.
//
// The cache file starts with one JSON line naming the sha256 of the bundle it was made from, and the
// CPU architecture and Node version that made it: V8 itself only checks the source's length (and
// its own version and flags), so a rebuilt bundle of the same length must not meet an old cache,
// and a cache made by an x64 Node crashes the arm64 Node of the same version that accepts it (seen
// in the arm64 kernel matrix, scripts/kernels/arm64.sh). A missing, stale or rejected cache only
// costs the compile time: the bundle then loads as require() would load it.
import {createHash} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

/** The name a bundle calls instead of import(); a parameter of the function the bundle runs in. */
export const IMPORT_FUNCTION = '__erShellImport'

/** Where the code cache of a bundle lives. */
export function codeCachePath(bundle: string): string {
  return `${bundle}.v8cache`
}

/** What a code cache must have been made for: this bundle, this CPU architecture, this Node. */
function cacheHeader(sha256: string): {sha256: string; arch: string; node: string} {
  return {sha256, arch: process.arch, node: process.version}
}

interface Loaded {
  exports: Record<string, unknown>
  script: vm.Script
  cacheUsed: boolean
}

function load(bundle: string, useCache: boolean): Loaded {
  const bytes = readFileSync(bundle)
  const hash = createHash('sha256').update(bytes).digest('hex')
  let cachedData: Buffer | undefined
  if (useCache) {
    try {
      const file = readFileSync(codeCachePath(bundle))
      const nl = file.indexOf(10)
      const header = JSON.parse(file.subarray(0, nl).toString('utf8')) as Record<string, unknown>
      const want = cacheHeader(hash)
      if (nl > 0 && header.sha256 === want.sha256 && header.arch === want.arch && header.node === want.node) {
        cachedData = file.subarray(nl + 1)
      }
    } catch {
      cachedData = undefined // no cache, or not one of ours: compile
    }
  }
  // As require() would wrap it, with one parameter more.
  const source = `(function (exports, require, module, __filename, __dirname, ${IMPORT_FUNCTION}) {${bytes.toString('utf8')}\n})`
  const script = new vm.Script(source, {filename: bundle, cachedData})
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void
  const module = {exports: {} as Record<string, unknown>, filename: bundle, id: bundle, loaded: false}
  const dynamicImport = (specifier: string): Promise<unknown> => import(specifier)
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle), dynamicImport)
  module.loaded = true
  return {exports: module.exports, script, cacheUsed: cachedData !== undefined && !script.cachedDataRejected}
}

/** The exports of the CommonJS bundle at `url`, loaded with its code cache when that is valid. */
export function loadBundle(url: URL): Record<string, unknown> {
  return load(fileURLToPath(url), true).exports
}

/**
 * Writes the code cache of a bundle (the build does, in a Node process started as `record` will
 * start: V8 rejects a cache made under other flags). The bundle's top level runs first, so the
 * cache holds the code of every function that ran during it, besides the top level itself.
 */
export function writeCodeCache(bundle: string): number {
  const {script} = load(bundle, false)
  const hash = createHash('sha256').update(readFileSync(bundle)).digest('hex')
  const data = script.createCachedData()
  writeFileSync(codeCachePath(bundle), Buffer.concat([Buffer.from(`${JSON.stringify(cacheHeader(hash))}\n`), data]))
  return data.length
}

/** True when the bundle at `url` loads with its code cache (for the tests). */
export function codeCacheAccepted(url: URL): boolean {
  return load(fileURLToPath(url), true).cacheUsed
}

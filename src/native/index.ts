// Loads the native addon and the join helper, saying which paths were tried when they are missing.
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {NativeLoadError} from '../errors/index.js'
import type {NativeAddon, NativeTestAddon} from './types.js'

export type * from './types.js'

/** The package root: dist/src/native → ../../.. (compiled) or src/native → ../.. (sources). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir
    dir = resolve(dir, '..')
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
}

function candidates(file: string): string[] {
  const root = packageRoot()
  const list = [join(root, 'build', 'Release', file), join(root, 'build', 'Debug', file)]
  const override = process.env.ER_SHELL_NATIVE_DIR
  return override ? [join(override, file), ...list] : list
}

/** The first of `paths` that loads; throws NativeLoadError naming every path it tried. */
function loadFirst<T>(paths: string[]): T {
  const require = createRequire(import.meta.url)
  const tried: string[] = []
  let lastError: unknown
  for (const path of paths) {
    tried.push(path)
    if (!existsSync(path)) continue
    try {
      return require(path) as T
    } catch (error) {
      lastError = error
    }
  }
  throw new NativeLoadError(tried, lastError)
}

let cached: NativeAddon | undefined

/** The addon; throws NativeLoadError naming every path it tried. */
export function loadNative(): NativeAddon {
  cached ??= loadFirst<NativeAddon>(candidates('er_shell.node'))
  return cached
}

let cachedTest: NativeTestAddon | undefined

/**
 * Tests only: the test addon (build/<config>/er_shell_test.node, native/test/test_addon.cc) with the
 * functions only tests use. Production code never calls this; the package does not ship it.
 */
export function loadNativeTest(): NativeTestAddon {
  const root = packageRoot()
  cachedTest ??= loadFirst<NativeTestAddon>(['Release', 'Debug'].map((c) => join(root, 'build', c, 'er_shell_test.node')))
  return cachedTest
}

/**
 * Tests only: a directory holding the test addon as er_shell.node (the build copies it there), for
 * ER_SHELL_NATIVE_DIR in the environment of a CLI run that needs the test addon's hooks.
 */
export function testAddonDir(): string {
  const root = packageRoot()
  const dirs = ['Release', 'Debug'].map((c) => join(root, 'build', c, 'test'))
  return dirs.find((d) => existsSync(join(d, 'er_shell.node'))) ?? dirs[0]!
}

/** Path of the er-shell-join helper (joins a cgroup, then execs). */
export function joinHelperPath(): string {
  const tried = candidates('er-shell-join')
  const found = tried.find((p) => existsSync(p))
  if (!found) throw new NativeLoadError(tried, new Error('er-shell-join not found'))
  return found
}

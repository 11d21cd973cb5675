// Loads the native addon and the join helper, saying which paths were tried when they are missing.
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {NativeLoadError} from '../errors/index.js'
import type {NativeAddon} from './types.js'

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

let cached: NativeAddon | undefined

/** The addon; throws NativeLoadError naming every path it tried. */
export function loadNative(): NativeAddon {
  if (cached) return cached
  const require = createRequire(import.meta.url)
  const tried: string[] = []
  let lastError: unknown
  for (const path of candidates('er_shell.node')) {
    tried.push(path)
    if (!existsSync(path)) continue
    try {
      cached = require(path) as NativeAddon
      return cached
    } catch (error) {
      lastError = error
    }
  }
  throw new NativeLoadError(tried, lastError)
}

/** Path of the er-shell-join helper (joins a cgroup, then execs). */
export function joinHelperPath(): string {
  const tried = candidates('er-shell-join')
  const found = tried.find((p) => existsSync(p))
  if (!found) throw new NativeLoadError(tried, new Error('er-shell-join not found'))
  return found
}

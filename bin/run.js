#!/usr/bin/env node
// er-shell entry point (oclif). No user-installed oclif plugins: er-shell runs as root, and oclif
// would look for them under ER_SHELL_DATA_DIR, which is er-shell's own recordings directory.
//
// `er-shell <command>` runs through oclif as bundled with that command (scripts/bundle.mjs): one
// file to load instead of oclif's ~100 CommonJS modules and the command's own. Anything else
// (--version, help, autocomplete, a mistyped command) takes oclif from node_modules.
//
// `record` first starts loading its BPF programs on a native thread, so that the kernel verifies
// them while oclif and the command load (dist/src/record/preload.js); hence the dynamic imports.
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'

const id = process.argv[2] ?? ''
const record = id === 'record'
let exitRecord
if (record) {
  const preload = await import('../dist/src/record/preload.js')
  preload.preloadRecord(process.argv.slice(3))
  exitRecord = preload.exitRecord
}
const bundled = /^[a-z][a-z-]*$/.test(id) ? new URL(`../dist/src/commands/${id}.js`, import.meta.url) : undefined
// (A dist/ that only tsc built has the plain command module there, without `execute`.)
const fromBundle = bundled && existsSync(bundled) ? (await import(bundled.href)).execute : undefined
const execute = typeof fromBundle === 'function' ? fromBundle : createRequire(import.meta.url)('@oclif/core/execute').execute

const loadOptions = {root: new URL('..', import.meta.url).pathname, userPlugins: false}
if (record) {
  // record uses neither core plugin (the help and autocomplete commands): without them oclif's
  // start is ~4-6 ms shorter. The completion hook loads them itself when it has to rebuild.
  const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  loadOptions.root = loadOptions.root.replace(/\/$/, '')
  loadOptions.pjson = {...pjson, oclif: {...pjson.oclif, plugins: []}}
}
await execute({loadOptions})
// A finished record has closed and fsynced its files, and stdout/stderr are synchronous here:
// exit at once rather than after Node has torn down its heap and threads (~10 ms).
if (record) exitRecord()

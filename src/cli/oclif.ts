// The parts of @oclif/core on every command's path (record's above all), loaded with require().
//
// @oclif/core is CommonJS. An ESM `import` of a CommonJS module makes Node scan its source (and
// that of every module it re-exports) with cjs-module-lexer to build the named exports, although
// oclif has already loaded these modules: for `flags`, `command` and `errors` that scan costs
// ~6 ms of every start (measured: ~3 ms with require, ~9 ms with import). require() returns the
// same module objects oclif itself uses.
import {createRequire} from 'node:module'

const require = createRequire(import.meta.url)

export const Flags = require('@oclif/core/flags') as typeof import('@oclif/core/flags')
export const Errors = require('@oclif/core/errors') as typeof import('@oclif/core/errors')
export const {Command} = require('@oclif/core/command') as typeof import('@oclif/core/command')

// The parts of @oclif/core the commands use, in one place.
//
// Every command module is bundled with @oclif/core (scripts/bundle.mjs) and bin/run.js runs the
// command through its bundle's own copy of oclif: one file to load instead of ~100 CommonJS
// modules (~40 ms of every start). These imports are what esbuild follows into oclif, so they are
// static; the command, its flags, its errors and oclif's runner are then one copy of oclif.
import * as Errors from '@oclif/core/errors'
import * as Flags from '@oclif/core/flags'
import {Command} from '@oclif/core/command'

export {Command, Errors, Flags}

#!/usr/bin/env node
// er-shell entry point (oclif). No user-installed oclif plugins: er-shell runs as root, and oclif
// would look for them under ER_SHELL_DATA_DIR, which is er-shell's own recordings directory.
import {execute} from '@oclif/core'

await execute({loadOptions: {root: new URL('..', import.meta.url).pathname, userPlugins: false}})

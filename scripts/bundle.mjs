// Bundles, in place after tsc, the two modules `er-shell record` starts with: its command
// (dist/src/commands/record.js) and the preload bin/run.js imports before oclif
// (dist/src/record/preload.js). Each is a graph of small ES modules (~30 for the command), and
// Node's loader pays for each one (resolve, stat, read, compile): one file imports in ~12 ms
// instead of ~30. Both bundles hold their own copy of the modules they share; the only state those
// share is the timing marks (kept on globalThis) and the native addon (one per process: require's
// cache). Packages (oclif, node-pty, chalk, yaml) stay external. Every module of these graphs lives
// at dist/src/<dir>/, as the bundles do, so `import.meta.url`-relative paths resolve the same.
import {renameSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
for (const name of ['dist/src/commands/record.js', 'dist/src/record/preload.js']) {
  const entry = join(root, name)
  const out = `${entry}.bundle`
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  })
  renameSync(out, entry)
}
console.log('record command and preload: bundled')

// Renders the kernel matrix's result files (.cache/kernels/results/*.json, written by
// test/acceptance/kernels/matrix.test.ts) as test/acceptance/kernels/RESULTS.md: per kernel, when and
// at which commit it ran, the boot and suite times, and every case's outcome.
// Usage: node scripts/kernels/results.mjs RESULTS_DIR OUT.md
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

const [dir, out] = process.argv.slice(2)
const results = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
  .sort((a, b) => a.arch.localeCompare(b.arch) || a.package.localeCompare(b.package, 'en', {numeric: true}))

const lines = [
  '# Kernel matrix: last results',
  '',
  'Written by `npm run test:kernels` (scripts/kernels/matrix.sh) from real runs of',
  '[smoke.test.ts](smoke.test.ts) inside each kernel under QEMU (TCG) on a 2-vCPU build machine.',
  'The amd64 kernels also run in every `npm test` (and so in CI); arm64 runs here only.',
  '',
  '| kernel | arch | Debian package | date (UTC) | commit | boot | suite | result |',
  '|---|---|---|---|---|---|---|---|',
]
for (const r of results) {
  const passed = r.cases.filter((c) => c.ok).length
  const verdict = r.status === 0 ? `pass (${passed}/${r.cases.length})` : `**FAIL** (${passed}/${r.cases.length} passed)`
  lines.push(
    `| ${r.kernel ?? '?'} | ${r.arch} | ${r.package} | ${r.date.slice(0, 16).replace('T', ' ')} | ${r.commit} | ` +
      `${r.boot_s ?? '?'} s | ${r.suite_s === null ? '?' : r.suite_s.toFixed(0)} s | ${verdict} |`,
  )
}
for (const r of results) {
  lines.push('', `## ${r.kernel ?? r.package} (${r.arch})`, '')
  lines.push(
    `check-kernel's informational checks expected from the kernel's configuration: ` +
      Object.entries(r.expected_features)
        .map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`)
        .join(', ') +
      '.',
    '',
  )
  for (const c of r.cases) lines.push(`- ${c.ok ? 'pass' : '**FAIL**'}: ${c.name}`)
}
writeFileSync(out, lines.join('\n') + '\n')
console.log(`${out}: ${results.length} kernels`)

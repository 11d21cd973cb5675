// Temporary directories: every test's scratch space (data dirs, config files, mount points) comes
// from tempDir.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {TestContext} from 'node:test'

const made = new Set<string>()

/**
 * A new directory under the system's temp dir (mode 0700, as mkdtemp makes it). Given a test
 * context, it is removed when that test ends; otherwise by removeDir, or by removeTempDirs.
 */
export function tempDir(prefix = 'er-test-', t?: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.add(dir)
  t?.after(() => removeDir(dir))
  return dir
}

/** Removes a directory and everything in it (nothing when it is gone already). */
export function removeDir(dir: string): void {
  rmSync(dir, {recursive: true, force: true})
  made.delete(dir)
}

/** Removes every directory tempDir made in this process and that is still there. */
export function removeTempDirs(): void {
  for (const dir of [...made]) removeDir(dir)
}

// oclif init hook: rebuilds the shell-completion cache when an upgrade changed the commands, so
// <TAB> never offers yesterday's commands. Only a cache that `er-shell autocomplete` built, and only
// one owned by this user (sudo may keep the caller's HOME: root must not take over their cache).
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {Hook} from '@oclif/core/hooks'

/** The plugin that builds the cache; `record` runs without it (bin/run.js). */
const AUTOCOMPLETE_PLUGIN = '@oclif/plugin-autocomplete'

/** What the cache was built from: the version and the command ids. */
export function completionStamp(version: string, commandIds: readonly string[]): string {
  return `${version} ${[...commandIds].sort().join(',')}\n`
}

const hook: Hook.Init = async function (options) {
  if (options.id === undefined || options.id.startsWith('autocomplete')) return
  const dir = join(this.config.cacheDir, 'autocomplete')
  let owner: number
  try {
    owner = statSync(dir).uid
  } catch {
    return // completion was never set up
  }
  if (owner !== process.geteuid?.()) return
  // The cache covers the plugins' commands too: a configuration loaded without them (record's)
  // is completed first.
  const config = this.config.plugins.has(AUTOCOMPLETE_PLUGIN)
    ? this.config
    : await (await import('@oclif/core/config')).Config.load({root: this.config.root, userPlugins: false})
  const stampFile = join(dir, 'er-shell.stamp')
  const stamp = completionStamp(config.version, config.commandIDs)
  let built: string | undefined
  try {
    built = readFileSync(stampFile, 'utf8')
  } catch {
    built = undefined
  }
  if (built === stamp) return
  try {
    await config.runCommand('autocomplete:create')
    writeFileSync(stampFile, stamp)
  } catch (error) {
    // Completion is a convenience: a cache that cannot be rebuilt must not stop the command.
    this.debug(`refreshing the completion cache in ${dir} failed: ${(error as Error).message}`)
  }
}

export default hook

// Runs the CLI in this process and writes its peak RSS (KiB, from process.resourceUsage) to a file at exit.
// Usage: node rss-child.js RSS_FILE <er-shell args…>
import * as fs from 'node:fs'
import {pathToFileURL} from 'node:url'

import {CLI} from './cli.js'

const [rssFile, ...args] = process.argv.slice(2)
if (!rssFile) throw new Error('usage: rss-child.js RSS_FILE ARGS…')
process.argv = [process.argv[0]!, CLI, ...args]
process.on('exit', () => fs.writeFileSync(rssFile, String(process.resourceUsage().maxRSS)))
await import(pathToFileURL(CLI).href)

// Human rendering of a check-kernel report: a cli-table3 table, one remedy line per non-pass, a verdict.
import {Chalk, type ChalkInstance} from 'chalk'
import Table from 'cli-table3'

import type {CheckStatus, KernelReport} from './types.js'

/** Colours only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function colorWanted(stream: {isTTY?: boolean}, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}

const LABEL: Record<CheckStatus, string> = {pass: 'pass', warn: 'warn', fail: 'FAIL'}

function paint(chalk: ChalkInstance, status: CheckStatus, text: string): string {
  if (status === 'pass') return chalk.green(text)
  if (status === 'warn') return chalk.yellow(text)
  return chalk.red.bold(text)
}

export function renderReport(report: KernelReport, options: {color: boolean; width?: number}): string {
  const chalk = new Chalk({level: options.color ? 1 : 0})
  const width = Math.max(80, options.width ?? 100)
  const detailWidth = Math.max(30, width - 42)
  const table = new Table({
    head: ['Check', 'Status', 'Detail'],
    colWidths: [30, 8, detailWidth],
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: {head: [], border: [], compact: false},
  })
  for (const c of report.checks) table.push([c.title, paint(chalk, c.status, LABEL[c.status]), c.detail])

  const lines = [table.toString()]
  const open = report.checks.filter((c) => c.status !== 'pass')
  if (open.length > 0) {
    lines.push('')
    for (const c of open) lines.push(`${paint(chalk, c.status, LABEL[c.status])} ${c.id}: ${c.remedy}`)
  }
  lines.push('')
  const failed = report.checks.filter((c) => c.status === 'fail').length
  const warned = report.checks.filter((c) => c.status === 'warn').length
  const passed = report.checks.length - failed - warned
  const counts = `${passed} passed, ${warned} warning${warned === 1 ? '' : 's'}, ${failed} failed`
  lines.push(report.ok ? chalk.green(`This host can record sessions (${counts}).`) : chalk.red.bold(`This host cannot record sessions (${counts}).`))
  return lines.join('\n')
}

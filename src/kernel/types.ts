// The result types of `er-shell check-kernel`: one CheckResult per check, and the whole report.
import type {NativeLoadParams} from '../native/types.js'

export type CheckStatus = 'pass' | 'warn' | 'fail'

export interface CheckResult {
  /** Stable identifier (kernel-version, btf, privileges, ...). */
  id: string
  title: string
  status: CheckStatus
  /** What was found, one line. */
  detail: string
  /** One line saying how to fix a non-pass; empty when the check passed. */
  remedy: string
}

export interface KernelReport {
  /** True when recording is possible: no check failed. */
  ok: boolean
  checks: CheckResult[]
}

export interface CheckOptions {
  /** Where the cgroup v2 hierarchy is (or will be) mounted; default /cgroup2. */
  cgroupPath: string
  /** Below cgroupPath, the parent of session cgroups; default /teleport. */
  rootPath: string
  /** What `record` would load (kinds, ring sizes); default: every kind at the default sizes. */
  capture?: NativeLoadParams
}

// Kernel capability checks for `er-shell check-kernel` (logic here; the command only renders).
export {DEFAULT_CGROUP_PATH, DEFAULT_ROOT_PATH, OPTIONAL_TRACEPOINTS, REQUIRED_TRACEPOINTS, runChecks} from './checks.js'
export {colorWanted, renderReport} from './render.js'
export type {CheckOptions, CheckResult, CheckStatus, KernelReport} from './types.js'

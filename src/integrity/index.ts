// Tamper evidence for recordings (docs/integrity.md): keys, the writer's chain, the verifier.
export * from './keys.js'
export {IntegrityChain} from './chain.js'
export * from './verify.js'
export {describeVerdict} from './describe.js'
export {damageWarning} from './replay-check.js'

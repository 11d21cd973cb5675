// The audit event model: types, codes and the stamping of common fields.
export * from './types.js'
export * from './stamp.js'

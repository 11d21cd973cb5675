// Filters for reading recordings back: time ranges, event filters, session filters.
export * from './time.js'
export * from './event-filter.js'
export * from './session-filter.js'

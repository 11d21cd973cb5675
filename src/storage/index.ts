// The storage layer: writing a session recording in Teleport's file layout and reading it back.
export * from './layout.js'
export {SessionWriter, type SessionWriterOptions, type SessionEndFields, type EndResult} from './session-writer.js'
export * from './reader.js'

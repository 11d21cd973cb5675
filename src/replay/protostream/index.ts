// Teleport ProtoStream recordings (`<sid>.tar`): writer, reader, the message tables (docs/protostream.md).
export * from './writer.js'
export * from './reader.js'
export {MAX_MESSAGE_BYTES, trimString} from './trim.js'

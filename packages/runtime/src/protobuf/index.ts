/**
 * Compiled protobuf codecs: encoders and decoders generated from message
 * descriptors that give exactly the bytes of `toBinary` and the messages of
 * `fromBinary`, faster. Pure functions over bytes and descriptors, no I/O.
 */
export { messageCodec, type MessageCodec } from "./message-codec.js";
export { ProtoWriter } from "./proto-writer.js";
export { FALLBACK, ProtoReader } from "./proto-reader.js";
